import {describe, expect, it} from "vitest";
import {bindGroup, pipelineChecked, readBuffer, storageBuffer, uniformBuffer} from "../../src/gpu/gpu.js";
import {ARGMAX_PER, argmaxFinalWGSL, argmaxPartialWGSL, sampleWGSL} from "../../src/gpu/kernels/sample.js";
import {argmax, samplingDistribution} from "../../src/lib/generate.js";
import type {SamplingOptions} from "../../src/lib/backend.js";
import {testDevice} from "./harness.js";

async function gpuArgmax(device: GPUDevice, logits: Float32Array): Promise<number> {
  const V = logits.length;
  const n = Math.ceil(V / (256 * ARGMAX_PER));
  const lb = storageBuffer(device, logits);
  const part = storageBuffer(device, n * 8);
  const out = storageBuffer(device, 16);
  const p1 = await pipelineChecked(device, argmaxPartialWGSL, "argmax");
  const p2 = await pipelineChecked(device, argmaxFinalWGSL, "argmax-final");
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(p1);
  pass.setBindGroup(0, bindGroup(device, p1, [uniformBuffer(device, new Uint32Array([V, 0])), lb, part]));
  pass.dispatchWorkgroups(n);
  pass.setPipeline(p2);
  pass.setBindGroup(0, bindGroup(device, p2, [uniformBuffer(device, new Uint32Array([n, 2])), part, out]));
  pass.dispatchWorkgroups(1);
  pass.end();
  device.queue.submit([enc.finish()]);
  return new Uint32Array(await readBuffer(device, out, 16))[2];
}

async function gpuSamples(
  device: GPUDevice,
  logits: Float32Array,
  s: SamplingOptions,
  draws: number,
): Promise<number[]> {
  const V = logits.length;
  const lb = storageBuffer(device, logits);
  const out = storageBuffer(device, draws * 4);
  const pl = await pipelineChecked(device, sampleWGSL, "sample");
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pl);
  for (let k = 0; k < draws; k++) {
    const u = new Uint32Array(8);
    const f = new Float32Array(u.buffer);
    u[0] = V;
    u[2] = s.topK;
    u[3] = k;
    f[4] = 1 / s.temperature;
    f[5] = s.topP;
    u[6] = s.seed;
    u[7] = k;
    pass.setBindGroup(0, bindGroup(device, pl, [uniformBuffer(device, u), lb, out]));
    pass.dispatchWorkgroups(1);
  }
  pass.end();
  device.queue.submit([enc.finish()]);
  return Array.from(new Uint32Array(await readBuffer(device, out, draws * 4)));
}

describe("token choice on the GPU", () => {
  it("argmax: ties go to the lowest index, any vocabulary size", async () => {
    const device = await testDevice();
    for (const V of [1, 300, 4096, 5000, 9001]) {
      const logits = Float32Array.from({length: V}, (_, i) => Math.sin(i * 12.9898) * 3);
      expect(await gpuArgmax(device, logits)).toBe(argmax(logits));
      if (V > 10) {
        logits[V - 1] = 100;
        logits[7] = 100; // a tie: index 7 wins
        expect(await gpuArgmax(device, logits)).toBe(7);
      }
    }
  });

  it("temperature / top-k / top-p draws follow samplingDistribution", async () => {
    const device = await testDevice();
    const logits = Float32Array.from([1.0, 2.5, 0.3, 2.5, -1.0, 1.8, 0.9]);
    const cases: SamplingOptions[] = [
      {temperature: 0.7, topK: 3, topP: 1, seed: 2},
      {temperature: 1.3, topK: 0, topP: 0.8, seed: 3},
      {temperature: 1, topK: 4, topP: 0.6, seed: 4},
    ];
    const N = 300;
    for (const s of cases) {
      const p = samplingDistribution(logits, s);
      const got = await gpuSamples(device, logits, s, N);
      const counts = new Array(logits.length).fill(0);
      for (const t of got) counts[t]++;
      for (let i = 0; i < logits.length; i++) {
        if (p[i] === 0) expect(counts[i], `case ${JSON.stringify(s)} token ${i} is filtered out`).toBe(0);
        else {
          const sd = Math.sqrt(N * p[i] * (1 - p[i]) || 1);
          expect(
            Math.abs(counts[i] - N * p[i]),
            `case ${JSON.stringify(s)} token ${i}: ${counts[i]} draws vs expected ${N * p[i]}`,
          ).toBeLessThanOrEqual(4.5 * sd + 1);
        }
      }
    }
  });

  it("top-k 1 and a tiny top-p reduce to the argmax; a different seed changes the stream", async () => {
    const device = await testDevice();
    const logits = Float32Array.from({length: 1000}, (_, i) => Math.cos(i * 0.37) * 2);
    const best = argmax(logits);
    for (const t of await gpuSamples(device, logits, {temperature: 2, topK: 1, topP: 1, seed: 9}, 20))
      expect(t).toBe(best);
    for (const t of await gpuSamples(device, logits, {temperature: 0.5, topK: 0, topP: 1e-6, seed: 9}, 20))
      expect(t).toBe(best);
    const a = await gpuSamples(device, logits, {temperature: 3, topK: 0, topP: 1, seed: 1}, 30);
    const b = await gpuSamples(device, logits, {temperature: 3, topK: 0, topP: 1, seed: 2}, 30);
    expect(a).not.toEqual(b);
  });
});
