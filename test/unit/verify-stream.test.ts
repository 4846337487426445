import {describe, expect, it} from "vitest";
import {compareLogits} from "../../src/lib/verify.js";
import {decodeRate, streamTokens} from "../../src/lib/stream.js";
import {generate} from "../../src/lib/generate.js";
import {createCpuSession} from "../../src/lib/model.js";
import {randomWeights} from "../../src/lib/init.js";
import {defaultConfig} from "../../src/lib/config.js";

describe("compareLogits", () => {
  it("measures the largest difference and greedy agreement", () => {
    const ref = [1, 5, 2, /**/ 0, 0, 9];
    const r = compareLogits(ref, [1, 5.01, 2, 0, 0.02, 9], 3, 0.05);
    expect(r.maxAbsDiff).toBeCloseTo(0.02, 12);
    expect(r.maxRelDiff).toBeCloseTo(0.02 / 9, 12);
    expect(r).toMatchObject({positions: 2, argmaxAgree: 2, pass: true});
    expect(compareLogits(ref, [1, 5, 2, 0, 0, 9.2], 3, 0.05).pass).toBe(false);
  });
  it("fails a changed greedy token unless the reference was a near tie", () => {
    expect(compareLogits([1, 2], [2, 1], 2, 0.1).pass).toBe(false);
    const tie = compareLogits([1, 1.001], [1.0015, 1.0005], 2, 0.01);
    expect(tie.argmaxAgree).toBe(0);
    expect(tie.pass).toBe(true);
  });
  it("rejects mismatched shapes and treats NaN as a failure", () => {
    expect(() => compareLogits([1, 2], [1], 2, 1)).toThrow(/2 vs 1/);
    expect(() => compareLogits([1, 2, 3], [1, 2, 3], 2, 1)).toThrow(/rows of 2/);
    expect(compareLogits([1, 2], [NaN, 2], 2, 1).pass).toBe(false);
  });
});

describe("streamTokens", () => {
  it("yields exactly generate()'s tokens, seeded, and times every step", async () => {
    const w = randomWeights(
      defaultConfig("b1.58", {
        vocab_size: 64,
        hidden_size: 32,
        intermediate_size: 48,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        max_position_embeddings: 32,
      }),
      7,
    );
    const sampling = {temperature: 0.8, topK: 10, topP: 0.9, seed: 3};
    const expected = await generate(createCpuSession(w), [1, 5, 9], {maxTokens: 6, sampling});
    const events = [];
    let clock = 0;
    for await (const e of streamTokens(createCpuSession(w), [1, 5, 9], {
      maxTokens: 6,
      sampling,
      yieldToPage: async () => {},
      now: () => (clock += 10),
    }))
      events.push(e);
    expect(events.map((e) => e.id)).toEqual(expected.tokens);
    expect(events.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(decodeRate(events)).toEqual({tokensPerSecond: 100, prefillMs: 10, decodeMs: 50});
  });
});

import {forwardFull} from "../../src/lib/model.js";
import {layerTokenMetric} from "../../src/lib/chapters/inspect.js";

describe("layerTokenMetric", () => {
  const c = defaultConfig("a4.8", {
    vocab_size: 64,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    max_position_embeddings: 32,
  });
  const {trace} = forwardFull(randomWeights(c, 3), [1, 7, 9, 11], {trace: true});
  it("gives the trace's own residual norms and their growth per layer and token", () => {
    const r = layerTokenMetric(trace!, "residual", "o");
    const g = layerTokenMetric(trace!, "growth", "o");
    expect(r.length).toBe(8);
    expect(r[1 * 4 + 2]).toBeCloseTo(trace!.layers[1].residualNorm.output[2], 6);
    expect(g[0 * 4 + 3]).toBeCloseTo(
      trace!.layers[0].residualNorm.output[3] - trace!.layers[0].residualNorm.input[3],
      6,
    );
  });
  it("sees a4.8's top-K 50% on the W_o input and bounded INT4 error", () => {
    const sp = layerTokenMetric(trace!, "sparsity", "o");
    for (const v of sp) expect(v).toBeGreaterThanOrEqual(0.5); // top-K keeps half; rounding may zero more
    const err = layerTokenMetric(trace!, "error", "q");
    for (const v of err) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
  });
  it("is zero for an fp model's projections", () => {
    const fp = forwardFull(randomWeights({...c, bitnet_variant: "fp", quantization_config: undefined}, 3), [1, 2], {
      trace: true,
    }).trace!;
    expect(Array.from(layerTokenMetric(fp, "sparsity", "down"))).toEqual([0, 0, 0, 0]);
  });
});
