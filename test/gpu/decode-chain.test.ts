// Chained decode (engine/decode-chain.ts): the ring of readback buffers, the head and sampler in the step's last
// compute pass, and the profile (timestamps land beside the id in the same readback) must not change a single id.
import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import type {DecodeChainProfile} from "../../src/gpu/engine/decode-chain.js";
import {defaultConfig} from "../../src/lib/config.js";
import {generate} from "../../src/lib/generate.js";
import {randomWeights} from "../../src/lib/init.js";
import {createCpuSession} from "../../src/lib/model.js";
import {testDevice} from "./harness.js";

const shape = {
  vocab_size: 300,
  hidden_size: 96,
  intermediate_size: 160,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
};
const prompt = [1, 5, 17, 42, 99];

describe("chained decode on the GPU", () => {
  it("gives generate()'s greedy ids at every depth, profiled or not, in one or several passes", async () => {
    const device = await testDevice();
    const w = randomWeights(defaultConfig("b1.58", shape), 31);
    const want = (await generate(createCpuSession(w), prompt, {maxTokens: 10})).tokens;
    const gpu = await createWebGPUSession(w, {device});
    const first = await gpu.appendAndSample(prompt);
    expect(first).toBe(want[0]);
    const runs: [number, boolean, number][] = [
      [1, false, 1],
      [3, true, 1],
      [8, true, 1],
      [3, false, 3],
    ];
    for (const [ahead, profiled, passes] of runs) {
      gpu.passesPerToken = passes;
      gpu.reset();
      await gpu.appendAndSample(prompt);
      let p: DecodeChainProfile | undefined;
      const ids = await gpu.decodeChain(
        first,
        9,
        {},
        ahead,
        profiled ? {timestamps: true, out: (x) => (p = x)} : undefined,
      );
      expect(ids, `ahead ${ahead}, profiled ${profiled}, passes ${passes}`).toEqual(want.slice(1));
      expect(gpu.length).toBe(prompt.length + 9);
      if (!profiled) continue;
      expect(p!.steps).toBe(9);
      const split = p!.encodeMs + p!.submitMs + p!.waitMs;
      expect(split).toBeGreaterThan(0);
      expect(split).toBeLessThanOrEqual(p!.wallMs * 1.001 + 1e-3);
      if (device.features.has("timestamp-query")) {
        expect(p!.gpuMs).toBeGreaterThan(0);
        expect(p!.gapMs).toBeGreaterThanOrEqual(0);
      } else expect(p!.gpuMs).toBeUndefined();
    }
    // encoding alone submits nothing, and the uniform writes it leaves queued do not change the next chain's ids
    let p: DecodeChainProfile | undefined;
    const none = await gpu.decodeChain(first, 4, {}, 8, {timestamps: false, encodeOnly: true, out: (x) => (p = x)});
    expect(none).toEqual([]);
    expect(p!.encodeMs).toBeGreaterThan(0);
    expect(p!.submitMs).toBe(0);
    gpu.reset();
    await gpu.appendAndSample(prompt);
    expect(await gpu.decodeChain(first, 9)).toEqual(want.slice(1));
    gpu.dispose();
  });

  it("seeded sampling draws the same ids whatever the depth (one draw per step, in order)", async () => {
    const device = await testDevice();
    const w = randomWeights(defaultConfig("b1.58", shape), 32);
    const gpu = await createWebGPUSession(w, {device});
    const sampling = {temperature: 8, topK: 0, topP: 1, seed: 5}; // flat enough that the draws differ
    const chains: number[][] = [];
    for (const ahead of [1, 4]) {
      gpu.reset();
      chains.push(await gpu.generateOnGpu(prompt, 8, sampling, ahead));
    }
    expect(chains[1]).toEqual(chains[0]);
    expect(new Set(chains[0]).size, String(chains[0])).toBeGreaterThan(1);
    gpu.dispose();
  });
});
