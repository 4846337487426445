// v2 decode through the engine with the H-BitLinear prologue's FWHT laid out differently — every stage through
// workgroup memory (fwhtLanes 0), registers only (1), shuffles (default), and the split path's norm + FWHT over
// several workgroups per token (fwhtParts) — gives the logits of the one-kernel path bit for bit.
import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import {defaultConfig} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import {testDevice} from "./harness.js";

describe("v2 decode: FWHT layouts and split workgroups", () => {
  it("fwhtLanes 0 / 1 / default and fwhtParts 4 / 20 give the one-kernel logits", async () => {
    const device = await testDevice();
    // FFN 160 = 20·8: W_down's plan has a 20-block cross-block step, which the split path spreads out
    const cfg = defaultConfig("v2", {
      vocab_size: 300,
      hidden_size: 128,
      intermediate_size: 160,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 96,
      bitnet_activation_bits: 4,
    });
    const w = randomWeights(cfg, 23);
    const one = await createWebGPUSession(w, {device, hadamardSplit: false, tuning: {fwhtLanes: 0}});
    const others = await Promise.all(
      [{fwhtParts: 4}, {fwhtParts: 20, fwhtLanes: 1}].map((tuning) =>
        createWebGPUSession(w, {device, hadamardSplit: true, fuse: true, tuning}),
      ),
    );
    const prompt = [1, 5, 17, 42, 99, 7];
    const want = await one.append(prompt);
    for (const s of others) expect(Array.from(await s.append(prompt))).toEqual(Array.from(want));
    for (const tok of [3, 77]) {
      const ref = await one.append([tok]);
      for (const s of others) expect(Array.from(await s.append([tok]))).toEqual(Array.from(ref));
    }
    for (const s of [one, ...others]) s.dispose();
  });
});
