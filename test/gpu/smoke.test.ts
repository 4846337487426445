import {describe, expect, it} from "vitest";
import {saxpy} from "../../kernels/smoke.js";
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
