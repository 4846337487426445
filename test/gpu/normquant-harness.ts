// Runs normquant.ts kernels on the test device: one norm-quant dispatch per token (runNQ), or the split decode
// path's FWHT-only norm-quant followed by hadamardMixWGSL (runSplit).
import {bindGroup, pipelineChecked, readBuffer, storageBuffer, uniformBuffer} from "../../src/gpu/gpu.js";
import {
  hadamardMixWGSL,
  hadamardSignBits,
  normQuantBindings,
  normQuantWGSL,
  type NormQuantConfig,
} from "../../src/gpu/kernels/normquant.js";
import {hadamardPlan} from "../../src/lib/hadamard.js";
import {Rng} from "../../src/lib/rng.js";

/** Uniform [0, 1) numbers from the library's seeded generator. */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform();
}

export interface Run {
  codes: Int8Array; // [M, n]
  /** the per-token scale s the kernel wrote */
  invScale: Float32Array;
  sum: Int32Array;
  f32: Float32Array; // quant "none" output [M, n]
  dbg: Float32Array; // [M, 2n]
}

export async function runNQ(
  device: GPUDevice,
  cfg: NormQuantConfig,
  M: number,
  src: Float32Array,
  srcStride: number,
  normW?: Float32Array,
  nC = 1,
): Promise<Run> {
  const n = cfg.n;
  const words = cfg.quant === "none" ? 8 * Math.ceil(n / 8) : 16 * Math.ceil(n / 64);
  const out = storageBuffer(device, M * words * 4);
  // stale data in the padding must be overwritten with zeros
  device.queue.writeBuffer(out, 0, new Uint32Array(M * words).fill(0xdeadbeef));
  const xmeta = storageBuffer(device, M * 8);
  const dbg = storageBuffer(device, M * 2 * n * 4);
  const map: Record<string, GPUBuffer> = {
    P: uniformBuffer(
      device,
      new Uint32Array([
        srcStride,
        words,
        ...new Uint32Array(new Float32Array([1e-5, 1e-5 - Math.fround(1e-5)]).buffer),
      ]),
    ),
    src: storageBuffer(device, src),
    normW: storageBuffer(device, normW ?? new Float32Array(n).fill(1)),
    out,
    xmeta,
    dbg,
    st: uniformBuffer(device, new Uint32Array([M, 0, nC, 64, 0, 0, 0, 0])),
  };
  if (cfg.hadamard) map.had = storageBuffer(device, hadamardSignBits(n));
  const pl = await pipelineChecked(device, normQuantWGSL(cfg), "nq-test");
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pl);
  pass.setBindGroup(
    0,
    bindGroup(
      device,
      pl,
      normQuantBindings(cfg).map((k) => map[k]),
    ),
  );
  pass.dispatchWorkgroups(M);
  pass.end();
  device.queue.submit([enc.finish()]);
  const raw = await readBuffer(device, out, M * words * 4);
  const meta = new Uint32Array(await readBuffer(device, xmeta, M * 8));
  const codes = new Int8Array(M * n);
  const f32 = new Float32Array(M * n);
  const bytes = new Int8Array(raw);
  const fl = new Float32Array(raw);
  for (let m = 0; m < M; m++) {
    for (let i = 0; i < n; i++) {
      codes[m * n + i] = bytes[m * words * 4 + i];
      f32[m * n + i] = fl[m * words + i];
    }
    // padding words must be zero
    const padStart = cfg.quant === "none" ? n : Math.ceil(n / 4) * 4;
    for (let i = padStart; i < words * (cfg.quant === "none" ? 1 : 4); i++) {
      const v = cfg.quant === "none" ? fl[m * words + i] : bytes[m * words * 4 + i];
      if (v !== 0) throw new Error(`padding not zeroed at token ${m}, element ${i}: ${v}`);
    }
  }
  const invScale = new Float32Array(M);
  const sum = new Int32Array(M);
  const mf = new Float32Array(meta.buffer);
  for (let m = 0; m < M; m++) {
    invScale[m] = mf[2 * m]; // xmeta holds the scale s itself (field kept under its old name)
    sum[m] = meta[2 * m + 1] | 0;
  }
  const d = new Float32Array(await readBuffer(device, dbg, M * 2 * n * 4));
  for (const b of Object.values(map)) b.destroy();
  return {codes, invScale, sum, f32, dbg: d};
}

/** The split decode path: a fwhtOnly norm-quant (hi and lo rows per token) then hadamardMixWGSL, as blocks.ts builds it. */
export async function runSplit(
  device: GPUDevice,
  cfg: NormQuantConfig,
  M: number,
  src: Float32Array,
  normW?: Float32Array,
): Promise<Float32Array> {
  const n = cfg.n;
  const stride = 8 * Math.ceil(n / 8);
  const mid = storageBuffer(device, M * 2 * stride * 4);
  device.queue.writeBuffer(mid, 0, new Uint32Array(M * 2 * stride).fill(0xdeadbeef));
  const y = storageBuffer(device, M * stride * 4);
  const had = storageBuffer(device, hadamardSignBits(n));
  const map: Record<string, GPUBuffer> = {
    P: uniformBuffer(
      device,
      new Uint32Array([n, stride, ...new Uint32Array(new Float32Array([1e-5, 1e-5 - Math.fround(1e-5)]).buffer)]),
    ),
    src: storageBuffer(device, src),
    normW: storageBuffer(device, normW ?? new Float32Array(n).fill(1)),
    out: mid,
  };
  const pl = await pipelineChecked(device, normQuantWGSL(cfg), "nq-fwht-test");
  const mpl = await pipelineChecked(device, hadamardMixWGSL(n), "mix-test");
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pl);
  pass.setBindGroup(
    0,
    bindGroup(
      device,
      pl,
      normQuantBindings(cfg).map((k) => map[k]),
    ),
  );
  pass.dispatchWorkgroups(M * (cfg.fwhtParts ?? 1));
  pass.setPipeline(mpl);
  pass.setBindGroup(0, bindGroup(device, mpl, [mid, had, y]));
  pass.dispatchWorkgroups(hadamardPlan(n).m, M);
  pass.end();
  device.queue.submit([enc.finish()]);
  const raw = new Float32Array(await readBuffer(device, y, M * stride * 4));
  for (const b of [...Object.values(map), y, had]) b.destroy();
  const out = new Float32Array(M * n);
  for (let m = 0; m < M; m++) out.set(raw.subarray(m * stride, m * stride + n), m * n);
  return out;
}
