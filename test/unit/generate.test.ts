import {describe, expect, it} from "vitest";
import {defaultConfig} from "../../src/lib/config.js";
import {argmax, generate, sampleToken, samplingDistribution} from "../../src/lib/generate.js";
import {randomWeights} from "../../src/lib/init.js";
import {createCpuSession, forwardFull} from "../../src/lib/model.js";
import {Rng} from "../../src/lib/rng.js";

const logits = [2, 1, 0, 2, -1];
const base = {temperature: 1, topK: 0, topP: 1, seed: 0};

describe("sampling", () => {
  it("takes the argmax (lowest index on ties) when greedy", () => {
    expect(argmax(logits)).toBe(0);
    expect(Array.from(samplingDistribution(logits, {...base, temperature: 0}))).toEqual([1, 0, 0, 0, 0]);
  });

  it("applies temperature, then top-k, then top-p", () => {
    const z = (T: number) => logits.reduce((a, l) => a + Math.exp(l / T), 0);
    const p = samplingDistribution(logits, {...base, temperature: 2});
    logits.forEach((l, i) => expect(p[i]).toBeCloseTo(Math.exp(l / 2) / z(2), 12));
    // top-k 2: the two 2s (indices 0 and 3), equal halves.
    expect(Array.from(samplingDistribution(logits, {...base, topK: 2}))).toEqual([0.5, 0, 0, 0.5, 0]);
    // top-k 1 on a tie keeps the lower index.
    expect(Array.from(samplingDistribution(logits, {...base, topK: 1}))).toEqual([1, 0, 0, 0, 0]);
    // top-p: probabilities e²,e²,e,1,e⁻¹ / Z ≈ .39,.39,.14,.05,.02: p = 0.8 needs the first three.
    const q = samplingDistribution(logits, {...base, topP: 0.8});
    const e = Math.E;
    expect(q[0]).toBeCloseTo((e * e) / (2 * e * e + e), 12);
    expect(q[1]).toBeCloseTo(e / (2 * e * e + e), 12);
    expect(q[2]).toBe(0);
    expect(q[4]).toBe(0);
    expect(() => samplingDistribution(logits, {...base, topP: 0})).toThrow(/topP/);
    expect(() => samplingDistribution(logits, {...base, temperature: -1})).toThrow(/temperature/);
  });

  it("draws reproducibly from the distribution for a seed", () => {
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({length: 4000}, () => sampleToken(logits, {...base, seed}, rng));
    };
    const a = draw(7);
    expect(draw(7)).toEqual(a);
    expect(draw(8)).not.toEqual(a);
    const p = samplingDistribution(logits, base);
    for (let i = 0; i < 5; i++) {
      const f = a.filter((x) => x === i).length / a.length;
      expect(Math.abs(f - p[i])).toBeLessThan(0.03);
    }
  });
});

describe("generate", () => {
  const shape = {
    vocab_size: 50,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    max_position_embeddings: 12,
  };
  const w = randomWeights(defaultConfig("b1.58", shape), 1, {embedStd: 2});

  it("greedy-decodes the same tokens as repeated full forwards", async () => {
    const prompt = [1, 7, 9];
    const r = await generate(createCpuSession(w), prompt, {maxTokens: 5});
    expect(r.stop).toBe("max-tokens");
    const seq = [...prompt];
    for (let i = 0; i < 5; i++) {
      const l = forwardFull(w, seq).logits;
      seq.push(argmax(l.subarray((seq.length - 1) * 50)));
    }
    expect(r.tokens).toEqual(seq.slice(3));
  });

  it("stops at a stop token, on the callback, and when the context is full", async () => {
    const s = createCpuSession(w);
    const free = await generate(s, [1], {maxTokens: 3, sampling: {temperature: 1, seed: 3}});
    const stopAt = await generate(s, [1], {
      maxTokens: 3,
      sampling: {temperature: 1, seed: 3},
      stopAt: [free.tokens[0]],
    });
    expect(stopAt).toEqual({tokens: [free.tokens[0]], stop: "stop-token"});
    const seen: number[] = [];
    const cb = await generate(s, [1], {maxTokens: 9, onToken: (id, i) => (seen.push(id), i < 1)});
    expect(cb.stop).toBe("callback");
    expect(cb.tokens).toEqual(seen);
    expect(cb.tokens.length).toBe(2);
    const full = await generate(s, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], {maxTokens: 9});
    expect(full.stop).toBe("context-full");
    expect(full.tokens.length).toBe(3); // positions 10 and 11 fill the 12-position context
    expect((await generate(s, [1], {maxTokens: 0})).tokens).toEqual([]);
    await expect(generate(s, [], {maxTokens: 1})).rejects.toThrow(/no tokens/);
  });
});
