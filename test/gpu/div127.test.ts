import {describe, expect, it} from "vitest";
import {exactDivWGSL, floatFloatWGSL} from "../../src/gpu/kernels/exact.js";
import {bindGroup, pipelineChecked, readBuffer, storageBuffer} from "../../src/gpu/gpu.js";
import {Rng} from "../../src/lib/rng.js";
import {testDevice} from "./harness.js";

// div127 (the INT8 step without the long division) against exactDiv and the reference's f32(127 / d)
describe("div127", () => {
  it("equals exactDiv(127, d) and the reference's f32(127 / d) bit for bit", async () => {
    const device = await testDevice();
    const r = new Rng(5);
    const ds: number[] = [1e-5, 1, 2, 0.5, 127, 254, 63.5, 3.4e38, 1.1754944e-38 * 4, 1e-5 * 1.0000001];
    for (let k = -17; k < 127; k += 3) for (const f of [1, 127 / 128, 1 + 2 ** -23, 2 - 2 ** -22]) ds.push(2 ** k * f);
    for (let i = 0; i < 20000; i++) ds.push(Math.exp(Math.log(1e-5) + r.uniform() * (Math.log(1e30) - Math.log(1e-5))));
    // quotients next to f32 midpoints: d = 127 / (c ± ulp/2 ± a little)
    for (let i = 0; i < 4000; i++) {
      const c = Math.fround(1 + r.uniform()) * 2 ** Math.floor(r.uniform() * 40 - 10);
      const ulp = 2 ** (Math.floor(Math.log2(c)) - 23);
      ds.push(127 / (c + ulp / 2 + (r.uniform() - 0.5) * ulp * 1e-6));
    }
    const d = Float32Array.from(ds.filter((x) => Math.fround(x) >= 1e-5 && Math.fround(x) < 3.4e38));
    const n = d.length;
    const code = `
@group(0) @binding(0) var<storage, read> d: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
${exactDivWGSL}
${floatFloatWGSL}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  OPQ = arrayLength(&d) >> 31u;
  let i = g.x;
  if (i < ${n}u) { o[2u * i] = div127(d[i]); o[2u * i + 1u] = exactDiv(0u, 127u, 0, d[i]); }
}`;
    const pl = await pipelineChecked(device, code, "div127");
    const dBuf = storageBuffer(device, d);
    const oBuf = storageBuffer(device, 8 * n);
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pl);
    pass.setBindGroup(0, bindGroup(device, pl, [dBuf, oBuf]));
    pass.dispatchWorkgroups(Math.ceil(n / 64));
    pass.end();
    device.queue.submit([enc.finish()]);
    const o = new Float32Array(await readBuffer(device, oBuf));
    let bad = 0;
    const ex: string[] = [];
    for (let i = 0; i < n; i++) {
      const ref = Math.fround(127 / d[i]);
      if (o[2 * i] !== ref || o[2 * i + 1] !== ref) {
        bad++;
        if (ex.length < 5) ex.push(`d=${d[i]}: div127 ${o[2 * i]} exactDiv ${o[2 * i + 1]} ref ${ref}`);
      }
    }
    expect(ex).toEqual([]);
    expect(bad).toBe(0);
    dBuf.destroy();
    oBuf.destroy();
  });
});
