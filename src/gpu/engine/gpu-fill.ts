// Fills a GPU buffer with generated values (split from upload.ts, issue 21): the synthetic weights of the
// benchmark and of a session with no checkpoint.
import {fillWGSL} from "../kernels/embed.js";
import {bindGroup, grid2, pipelineChecked, uniformBuffer} from "../gpu.js";

/** Fills `words` u32 of a buffer on the GPU: mode 0 random ternary codes, 1 N(0, std²) f32, 2 the same as f16
 *  pairs. Shared by synthetic sessions and the benchmark. */
export async function gpuFill(
  device: GPUDevice,
  buf: GPUBuffer,
  words: number,
  mode: number,
  seed: number,
  std: number,
  offsetWords = 0,
): Promise<void> {
  const p = await pipelineChecked(device, fillWGSL, "fill");
  const maxWG = device.limits.maxComputeWorkgroupsPerDimension;
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(p);
  const temps: GPUBuffer[] = [];
  // dispatches of at most 2^24 words keep the index far from u32 overflow and the grids small
  for (let off = 0; off < words; off += 1 << 24) {
    const n = Math.min(1 << 24, words - off);
    const P = uniformBuffer(
      device,
      new Uint32Array([n, seed >>> 0, mode, new Uint32Array(new Float32Array([std]).buffer)[0], off, 0, 0, 0]),
    );
    temps.push(P);
    pass.setBindGroup(0, bindGroup(device, p, [P, {buffer: buf, offset: (offsetWords + off) * 4, size: n * 4}]));
    const [gx, gy] = grid2(Math.ceil(n / 256), maxWG);
    pass.dispatchWorkgroups(gx, gy);
  }
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  for (const t of temps) t.destroy();
}
