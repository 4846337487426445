import {describe, expect, it} from "vitest";
import {ternarize} from "../../src/lib/checkpoint.js";
import {defaultConfig, tensorNames} from "../../src/lib/config.js";
import type {BitNetConfig, Variant} from "../../src/lib/config.js";
import {hadamardTransform} from "../../src/lib/hadamard.js";
import {randomWeights} from "../../src/lib/init.js";
import {createCpuSession, forwardFull, parameterCounts} from "../../src/lib/model.js";
import type {ModelWeights} from "../../src/lib/tensor.js";

// FFN 160 = 20·8 exercises the Kronecker (Paley) Hadamard in v2; head 16, GQA 4/2.
const shape = {
  vocab_size: 97,
  hidden_size: 64,
  intermediate_size: 160,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
};
const tokens = [1, 5, 77, 20, 96, 42, 8, 0, 13];

const variants: [string, BitNetConfig][] = [
  ["fp", defaultConfig("fp", shape)],
  ["b1.58", defaultConfig("b1.58", {...shape, hidden_act: "relu2"})],
  ["a4.8 (INT4, top-K, 3-bit KV with 4-bit BOS)", defaultConfig("a4.8", shape)],
  ["a4.8 stage 1 (INT8, no top-K)", defaultConfig("a4.8", {...shape, bitnet_activation_bits: 8, bitnet_topk_ratio: 1})],
  ["v2 a8 + Hadamard", defaultConfig("v2", shape)],
  [
    "v2 a4 + Hadamard, 4-bit KV",
    defaultConfig("v2", {...shape, bitnet_activation_bits: 4, bitnet_kv_bits: 4, bitnet_kv_bos_bits: 8}),
  ],
  ["v2 a4 without Hadamard", defaultConfig("v2", {...shape, bitnet_activation_bits: 4, bitnet_hadamard: false})],
  [
    "b1.58 without sub-norms, untied",
    defaultConfig("b1.58", {...shape, bitnet_sub_norms: false, tie_word_embeddings: false}),
  ],
];

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe("CPU reference forward", () => {
  for (const [name, config] of variants) {
    it(`decodes incrementally exactly like the full sequence: ${name}`, async () => {
      const w = randomWeights(config, 11);
      const V = config.vocab_size;
      const full = forwardFull(w, tokens).logits;
      expect(full.length).toBe(tokens.length * V);
      expect(full.every(Number.isFinite)).toBe(true);
      // One token at a time…
      const s = createCpuSession(w);
      for (let t = 0; t < tokens.length; t++) {
        const l = await s.append([tokens[t]]);
        expect(maxDiff(l, full.subarray(t * V, (t + 1) * V)), `position ${t}`).toBeLessThanOrEqual(1e-5);
      }
      expect(s.length).toBe(tokens.length);
      // …and in uneven chunks, with all logits.
      s.reset();
      let pos = 0;
      for (const n of [3, 1, 4, 1]) {
        const l = await s.append(tokens.slice(pos, pos + n), {allLogits: true});
        expect(maxDiff(l, full.subarray(pos * V, (pos + n) * V))).toBeLessThanOrEqual(1e-5);
        pos += n;
      }
    });
  }

  it("makes the variants differ from one another (the quantizers are really applied)", () => {
    const base = randomWeights(defaultConfig("b1.58", shape), 5);
    const run = (v: Variant, extra: Partial<BitNetConfig> = {}) => {
      const config = defaultConfig(v, {...shape, hidden_act: "silu", bitnet_sub_norms: true, ...extra});
      return forwardFull({...base, config}, tokens).logits;
    };
    const b158 = run("b1.58");
    expect(maxDiff(b158, run("a4.8", {bitnet_kv_bits: 16, bitnet_kv_bos_bits: 0}))).toBeGreaterThan(1e-3);
    expect(maxDiff(b158, run("v2"))).toBeGreaterThan(1e-3); // weights not trained for rotation: outputs move
    expect(maxDiff(b158, run("b1.58", {bitnet_kv_bits: 3}))).toBeGreaterThan(1e-3);
  });

  it("traces every projection with the scheme its variant prescribes", () => {
    const a48 = forwardFull(randomWeights(defaultConfig("a4.8", shape), 2), tokens, {trace: true}).trace!;
    const l0 = a48.layers[0];
    expect(l0.linears.q.act!.scheme).toBe("absmean-int4");
    expect(l0.linears.q.act).toBe(l0.linears.v.act); // q/k/v share one quantization of x
    expect(l0.linears.gate.act!.scheme).toBe("absmean-int4");
    expect(l0.linears.o.act!.scheme).toBe("topk-int8");
    expect(l0.linears.o.sparsity).toBeGreaterThanOrEqual(0.5);
    expect(l0.linears.down.act!.scheme).toBe("absmax-int8");
    expect(l0.linears.down.sparsity).toBeGreaterThan(0.3); // ReLU² zeroes about half the gate outputs
    expect(l0.kv!.bits).toEqual([4, 3, 3, 3, 3, 3, 3, 3, 3]);
    expect(l0.kv!.keyMeanAbsError).toBeGreaterThan(0);
    expect(l0.attentionShape).toEqual([4, tokens.length, tokens.length]);
    // Causal softmax rows: sum to 1, zero past the diagonal.
    for (let h = 0; h < 4; h++) {
      for (let t = 0; t < tokens.length; t++) {
        const row = l0.attention.subarray(
          (h * tokens.length + t) * tokens.length,
          (h * tokens.length + t + 1) * tokens.length,
        );
        expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
        expect(row.slice(t + 1).every((x) => x === 0)).toBe(true);
      }
    }
    expect(l0.residualNorm.input.length).toBe(tokens.length);

    const v2 = forwardFull(randomWeights(defaultConfig("v2", shape), 2), tokens, {trace: true}).trace!;
    const o = v2.layers[1].linears.o;
    const rotated = o.input.slice();
    hadamardTransform(rotated, 64);
    expect(maxDiff(o.rotated!, rotated)).toBe(0);
    expect(o.act!.scheme).toBe("absmax-int8");
    expect(v2.layers[1].linears.down.rotated!.length).toBe(tokens.length * 160);
    expect(v2.layers[1].linears.q.rotated).toBeUndefined();
    expect(forwardFull(randomWeights(defaultConfig("v2", shape), 2), tokens).trace).toBeUndefined();
  });

  it("computes a b1.58 projection exactly as transformers' BitLinear: y = (W̃·q) / (s_x · (1/γ))", () => {
    const w = randomWeights(defaultConfig("b1.58", shape), 3);
    const tr = forwardFull(w, [1, 2], {trace: true}).trace!;
    const lt = tr.layers[0].linears.up;
    const W = w.ternary.get(tensorNames.layer(0).up)!;
    const [O, I] = W.shape;
    for (let t = 0; t < 2; t++) {
      for (const o of [0, 17, O - 1]) {
        let acc = 0;
        for (let i = 0; i < I; i++) acc += W.codes[o * I + i] * lt.act!.q[t * I + i];
        const want = acc / Math.fround(lt.act!.scale[t] * Math.fround(1 / W.gamma)); // float32 weight_scale, as stored
        expect(Math.abs(lt.output[t * O + o] - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -22);
      }
    }
  });

  it("maps query heads to KV heads like repeat_kv (GQA equals MHA with duplicated K/V heads)", () => {
    const gqa = defaultConfig("fp", shape); // 4 heads, 2 KV heads of 16
    const w = randomWeights(gqa, 9);
    const mha = {...gqa, num_key_value_heads: 4};
    const float = new Map(w.float);
    for (let l = 0; l < 2; l++) {
      for (const k of [tensorNames.layer(l).k, tensorNames.layer(l).v]) {
        const src = w.float.get(k)!.data; // [2·16, 64]
        const dup = new Float32Array(4 * 16 * 64);
        for (let h = 0; h < 4; h++)
          dup.set(src.subarray(Math.floor(h / 2) * 16 * 64, (Math.floor(h / 2) + 1) * 16 * 64), h * 16 * 64);
        float.set(k, {shape: [64, 64], data: dup});
      }
    }
    const a = forwardFull(w, tokens).logits;
    const b = forwardFull({config: mha, float, ternary: new Map()}, tokens).logits;
    expect(maxDiff(a, b)).toBeLessThan(1e-5);
  });

  it("runs latent weights ternarized on the fly, identical to ternarize()", () => {
    const latent = randomWeights(defaultConfig("b1.58", shape), 4, {latent: true});
    expect(latent.ternary.size).toBe(0);
    expect(maxDiff(forwardFull(latent, tokens).logits, forwardFull(ternarize(latent), tokens).logits)).toBe(0);
  });

  it("rejects bad tokens, overlong input and missing tensors with specific errors", async () => {
    const w = randomWeights(defaultConfig("b1.58", shape), 1);
    expect(() => forwardFull(w, [1, 97])).toThrow(/token id 97 is outside the vocabulary \[0, 97\)/);
    expect(() => forwardFull(w, [])).toThrow(/no tokens/);
    const s = createCpuSession(w, {maxLength: 4});
    await s.append([1, 2, 3]);
    await expect(s.append([4, 5])).rejects.toThrow(/exceed the 4-position limit/);
    const broken: ModelWeights = {...w, float: new Map(w.float)};
    broken.float.delete(tensorNames.finalNorm);
    expect(() => forwardFull(broken, [1])).toThrow(/missing tensor model.norm.weight/);
  });

  it("makes reproducible random models and counts their parameters", () => {
    const c = defaultConfig("b1.58", shape);
    const a = randomWeights(c, 42);
    const b = randomWeights(c, 42);
    const d = randomWeights(c, 43);
    const q = tensorNames.layer(1).q;
    expect(Array.from(a.ternary.get(q)!.codes)).toEqual(Array.from(b.ternary.get(q)!.codes));
    expect(Array.from(a.ternary.get(q)!.codes)).not.toEqual(Array.from(d.ternary.get(q)!.codes));
    const zeros = a.ternary.get(q)!.codes.filter((x) => x === 0).length / (64 * 64);
    expect(zeros).toBeGreaterThan(0.2);
    expect(zeros).toBeLessThan(0.45);
    // 2 layers × (64·64·2 + 64·32·2 + 3·64·160) + 97·64 embedding + norms 2·(64+64+64+160) + 64
    expect(parameterCounts(c)).toEqual({embedding: 6208, linear: 86016, norm: 768, head: 0, total: 92992});
  });
});
