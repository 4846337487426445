// The GPU sampler honours SamplingOptions.vocabLimit (an embedding padded beyond its tokenizer): padded ids are
// never drawn, greedy or sampled — here the padded rows of the LM head are made to win by far without the limit.
import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import {defaultConfig, tensorNames} from "../../src/lib/config.js";
import {argmax} from "../../src/lib/generate.js";
import {randomWeights} from "../../src/lib/init.js";
import {createCpuSession} from "../../src/lib/model.js";
import {testDevice} from "./harness.js";

describe("GPU sampling with a padded vocabulary", () => {
  it("never picks an id ≥ vocabLimit (greedy and sampled), and picks them without the limit", async () => {
    const device = await testDevice();
    const V = 300;
    const limit = 260;
    const w = randomWeights(
      defaultConfig("b1.58", {
        vocab_size: V,
        hidden_size: 64,
        intermediate_size: 96,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        max_position_embeddings: 32,
        tie_word_embeddings: false,
      }),
      4,
    );
    const prompt = [1, 7, 42, 99];
    const before = await createCpuSession(w).append(prompt);
    const best = argmax(before);
    const head = w.float.get(tensorNames.lmHead)!;
    const C = head.shape[1];
    // Padded rows: 10× the winning row, so their logits are 10× the largest one.
    for (let r = limit; r < V; r++) for (let c = 0; c < C; c++) head.data[r * C + c] = 10 * head.data[best * C + c];
    const logits = await createCpuSession(w).append(prompt);
    expect(argmax(logits)).toBeGreaterThanOrEqual(limit);
    const gpu = await createWebGPUSession(w, {device});
    try {
      expect(await gpu.appendAndSample(prompt)).toBeGreaterThanOrEqual(limit);
      gpu.reset();
      expect(await gpu.appendAndSample(prompt, {vocabLimit: limit})).toBe(argmax(logits, limit));
      for (let seed = 0; seed < 6; seed++) {
        gpu.reset();
        expect(
          await gpu.appendAndSample(prompt, {temperature: 1, topK: 0, topP: 1, seed, vocabLimit: limit}),
        ).toBeLessThan(limit);
      }
    } finally {
      gpu.dispose();
    }
  }, 120_000);
});
