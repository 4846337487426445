import {describe, expect, it} from "vitest";
import {bindGroup, pipelineChecked, readF32, storageBuffer, uniformBuffer} from "../../src/gpu/gpu.js";
import {poolL2WGSL, poolParams} from "../../src/gpu/kernels/pool.js";
import {testDevice} from "./harness.js";

// The embedding models' pooling + L2 kernel (src/gpu/kernels/pool.ts) against a float64 CPU reference on fresh
// random rows at odd shapes: last-token (one row of a block), mean (rows summed over two blocks, the 1/N cancelling
// in the normalization), a row stride wider than C, C below and above the workgroup's 256 threads.

function rand(n: number, seed: number): Float32Array<ArrayBuffer> {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 8;
  }
  return out;
}

function ref64(blocks: {x: Float32Array; stride: number; first: number; count: number}[], C: number): Float64Array {
  const acc = new Float64Array(C);
  for (const b of blocks)
    for (let r = b.first; r < b.first + b.count; r++) for (let j = 0; j < C; j++) acc[j] += b.x[r * b.stride + j];
  let n = 0;
  for (const v of acc) n += v * v;
  n = Math.max(Math.sqrt(n), 1e-12);
  return acc.map((v) => v / n);
}

describe("poolL2WGSL: pooling + L2 normalization", () => {
  const cases = [
    {C: 1, stride: 8, rows: [3], mode: "last"},
    {C: 7, stride: 8, rows: [5], mode: "last"},
    {C: 96, stride: 96, rows: [1], mode: "last"},
    {C: 333, stride: 336, rows: [13, 4], mode: "mean"},
    {C: 1030, stride: 1032, rows: [9], mode: "last"},
    {C: 640, stride: 640, rows: [17, 1, 6], mode: "mean"},
  ] as const;
  for (const [i, t] of cases.entries()) {
    it(`C ${t.C}, stride ${t.stride}, ${t.mode} over blocks of ${t.rows.join("+")} rows`, async () => {
      const device = await testDevice();
      const pl = await pipelineChecked(device, poolL2WGSL(), "pool");
      const acc = storageBuffer(device, t.C * 4);
      const out = storageBuffer(device, t.C * 4);
      // acc starts dirty: the first block must overwrite it
      device.queue.writeBuffer(acc, 0, rand(t.C, 99 + i));
      const blocks = t.rows.map((M, b) => {
        const x = rand(M * t.stride, 1000 * i + b);
        const first = t.mode === "last" ? M - 1 : 0;
        return {x, stride: t.stride, first, count: t.mode === "last" ? 1 : M};
      });
      for (const [b, blk] of blocks.entries()) {
        const P = poolParams(t.C, t.stride, blk.first, blk.count, b > 0, b === blocks.length - 1);
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(pl);
        pass.setBindGroup(0, bindGroup(device, pl, [uniformBuffer(device, P), storageBuffer(device, blk.x), acc, out]));
        pass.dispatchWorkgroups(1);
        pass.end();
        device.queue.submit([enc.finish()]);
      }
      const got = await readF32(device, out, t.C);
      const want = ref64(blocks, t.C);
      let d = 0;
      let n = 0;
      for (let j = 0; j < t.C; j++) {
        d = Math.max(d, Math.abs(got[j] - want[j]));
        n += got[j] * got[j];
      }
      // f32 sums of ≤ 18 rows and a 256-way tree of squares: a few f32 ulps of a unit vector's entries
      expect(d).toBeLessThan(2e-6);
      expect(Math.abs(Math.sqrt(n) - 1)).toBeLessThan(2e-6);
    });
  }
});
