// An embedding model's vector on the GPU (architecture.pooling, src/lib/architecture.ts): the session runs the
// tokens through every layer and the final norm block by block (no LM head), and after each block the pooling
// kernel (kernels/pool.ts) reads the final-norm rows the LM head would have read (xin, 8·⌈C/8⌉ floats apart):
// last-token pooling adds the last block's last row; the L2 normalization runs after the last block. Only the C
// floats of the vector are read back. The CPU reference is model.ts embedTokens.
import {bindGroup, pipelineChecked} from "../gpu.js";
import {poolL2WGSL, poolParams} from "../kernels/pool.js";
import type {Plan} from "./plan.js";
import type {BufferPool} from "./upload.js";

export interface Pooler {
  /** The activation buffer it reads (a rebuilt session has a new one, so a new pooler). */
  readonly xin: GPUBuffer;
  /** Encodes the pooling of a block of M tokens just encoded; `last`: the prompt's last block. */
  encode(enc: GPUCommandEncoder, M: number, last: boolean): void;
  /** Copies the normalized vector out (after the last block's submit). */
  read(enc: GPUCommandEncoder): Promise<Float32Array>;
}

export async function createPooler(device: GPUDevice, pool: BufferPool, P: Plan, xin: GPUBuffer): Promise<Pooler> {
  if (P.arch.pooling !== "last-token-l2")
    throw new Error(
      `embedding: this model has no pooling (architecture pooling "${P.arch.pooling}"): it is a causal LM, use append() for logits`,
    );
  const C = P.C;
  const stride = 8 * Math.ceil(C / 8);
  const pl = await pipelineChecked(device, poolL2WGSL(), "pool-l2");
  const acc = pool.buf(C * 4, "pool.acc");
  const out = pool.buf(C * 4, "pool.out");
  const Pu = pool.uni(poolParams(C, stride, 0, 1, false, false), "pool.P");
  const bind = bindGroup(device, pl, [Pu, xin, acc, out], "pool-l2");
  return {
    xin,
    encode(enc, M, last) {
      // last-token pooling needs only the last block (earlier blocks only fill the KV cache)
      if (!last) return;
      device.queue.writeBuffer(Pu, 0, poolParams(C, stride, M - 1, 1, false, true));
      const pass = enc.beginComputePass();
      pass.setPipeline(pl);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(1);
      pass.end();
    },
    async read(enc) {
      const rb = device.createBuffer({size: C * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
      enc.copyBufferToBuffer(out, 0, rb, 0, C * 4);
      device.queue.submit([enc.finish()]);
      await rb.mapAsync(GPUMapMode.READ);
      const v = new Float32Array(rb.getMappedRange().slice(0));
      rb.unmap();
      rb.destroy();
      for (const x of v)
        if (!Number.isFinite(x)) throw new Error("WebGPU engine: the embedding has a non-finite value (NaN or ±∞)");
      return v;
    },
  };
}
