// Issue 22.5: the engine's logits readback refuses NaN/±Infinity with the position named (before: every logit
// NaN, greedy picked id 0 — "<pad>" — and generation went on with exit 0). A final-norm weight of 3.4e38
// overflows the LM head's input.
import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import {NonFiniteLogitsError} from "../../src/lib/backend.js";
import {defaultConfig} from "../../src/lib/config.js";
import {generate} from "../../src/lib/generate.js";
import {randomWeights} from "../../src/lib/init.js";
import {testDevice} from "./harness.js";

describe("engine: non-finite logits", () => {
  it("append (last row and all rows) and generate() throw NonFiniteLogitsError naming the position", async () => {
    const device = await testDevice();
    const w = randomWeights(
      defaultConfig("b1.58", {
        vocab_size: 64,
        hidden_size: 64,
        intermediate_size: 96,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        max_position_embeddings: 16,
      }),
      2,
    );
    w.float.get("model.norm.weight")!.data.fill(3.4e38);
    const gpu = await createWebGPUSession(w, {device});
    try {
      await expect(gpu.append([1, 2, 3])).rejects.toThrow(NonFiniteLogitsError);
      gpu.reset();
      await expect(gpu.append([1, 2, 3], {allLogits: true})).rejects.toThrow(
        /logits at position 0 are not finite .* on the WebGPU engine/,
      );
      await expect(generate(gpu, [1, 2, 3, 4], {maxTokens: 3})).rejects.toThrow(/logits at position 3 are not finite/);
    } finally {
      gpu.dispose();
    }
  }, 120_000);
});
