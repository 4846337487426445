import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import {encodeDispatches} from "../../src/gpu/gpu.js";
import {defaultConfig} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import {testDevice} from "./harness.js";

// session.prefillDispatches (bench/prefill-parts.ts times it) must be the prefill append runs: its KV cache is what a
// following decode step reads, so running the list and then decoding must give append's logits bit for bit.
describe("prefillDispatches", () => {
  it("runs the same prefill as append: the next decode step's logits agree bit for bit", async () => {
    const device = await testDevice();
    const cfg = defaultConfig("b1.58", {
      vocab_size: 300,
      hidden_size: 128,
      intermediate_size: 160,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 32,
    });
    const w = randomWeights(cfg, 5);
    const prompt = [1, 5, 17, 42, 99, 7, 250, 3, 64];
    const M = prompt.length;
    const ref = await createWebGPUSession(w, {device, maxBlock: 16});
    await ref.append(prompt);
    const want = await ref.append([11]);
    const s = await createWebGPUSession(w, {device, maxBlock: 16});
    const list = s.prefillDispatches(prompt);
    const kinds = list.map((d) => d.tag.kind);
    expect(kinds[0]).toBe("embed");
    expect(list[0].grid[1]).toBe(M); // one embedding row per token
    expect(kinds.slice(-3)).toEqual(["lm-head", "argmax", "argmax"]);
    expect(kinds.filter((k) => k === "attention" || k === "rope+attention").length).toBe(2); // per layer
    expect(s.length).toBe(0); // the position is left alone
    expect(() => s.prefillDispatches(Array(17).fill(1))).toThrow(/maxBlock/);
    // without running the list, the cache is empty and the decode step differs
    s.setLengthForBenchmark(M);
    const empty = await s.append([11]);
    expect(empty.some((x, i) => x !== want[i])).toBe(true);
    s.setLengthForBenchmark(0);
    const again = s.prefillDispatches(prompt);
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, again);
    pass.end();
    device.queue.submit([enc.finish()]);
    s.setLengthForBenchmark(M);
    const got = await s.append([11]);
    expect(Array.from(got)).toEqual(Array.from(want));
    ref.dispose();
    s.dispose();
  });
});
