import {describe, expect, it} from "vitest";
import {saxpy} from "../../src/gpu/kernels/smoke.js";
import {pipelineChecked} from "../../src/gpu/gpu.js";
import {fitNormQuant, normQuantWGSL, normQuantWorkgroupBytes} from "../../src/gpu/kernels/normquant.js";
import {testDevice} from "./harness.js";

describe("WebGPU harness (Dawn in Node)", () => {
  it("finds an adapter and runs saxpy like the CPU, at odd sizes", async () => {
    const device = await testDevice();
    for (const n of [1, 63, 64, 65, 1000]) {
      const x = Float32Array.from({length: n}, () => Math.random() * 2 - 1);
      const y = Float32Array.from({length: n}, () => Math.random() * 2 - 1);
      const a = Math.random() * 4 - 2;
      const got = await saxpy(device, a, x, y);
      for (let i = 0; i < n; i++) expect(got[i]).toBeCloseTo(Math.fround(a * x[i]) + y[i], 5);
    }
  });
});

describe("pipelineChecked", () => {
  it("rejects a pipeline the device refuses (workgroup storage over the limit) instead of returning a no-op", async () => {
    const device = await testDevice();
    const words = device.limits.maxComputeWorkgroupStorageSize / 4 + 1024;
    const code = `var<workgroup> big: array<f32, ${words}>;
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) { big[i] = f32(i); workgroupBarrier(); out[i] = big[${words - 1} - i]; }`;
    await expect(pipelineChecked(device, code, "too-big")).rejects.toThrow(/too-big: the device rejected it/);
    // one that fits compiles
    await expect(pipelineChecked(device, code.replaceAll(String(words), "256"), "fits")).resolves.toBeDefined();
  });

  it("the Hadamard prologue the benchmark and the engine build fits the device at 2B4T's widths (fitNormQuant)", async () => {
    const device = await testDevice();
    const max = device.limits.maxComputeWorkgroupStorageSize;
    for (const n of [2560, 6912]) {
      const c = fitNormQuant(
        {n, src: "plain", norm: true, hadamard: true, quant: "int8", inspect: false, sub: 32, WG: 256},
        max,
      );
      expect(normQuantWorkgroupBytes(c)).toBeLessThanOrEqual(max);
      await expect(pipelineChecked(device, normQuantWGSL(c), `prologue n=${n}`)).resolves.toBeDefined();
      // the float-float rotation is kept wherever it fits
      if (normQuantWorkgroupBytes({...c, hadamardFF: true}) <= max) expect(c.hadamardFF).not.toBe(false);
    }
    // 6912 with the float-float rotation needs more than the 32/48 KiB devices give: fitNormQuant drops to f32
    const ff = {
      n: 6912,
      src: "plain" as const,
      norm: true,
      hadamard: true,
      quant: "int8" as const,
      inspect: false,
      sub: 32,
      WG: 256,
    };
    expect(normQuantWorkgroupBytes(ff)).toBeGreaterThan(49152);
    expect(fitNormQuant(ff, 49152).hadamardFF).toBe(false);
  });
});
