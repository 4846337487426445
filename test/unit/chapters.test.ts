// The chapters' own computations (src/lib/chapters/*), against float64 references, hand-worked examples
// and the reference library's quantizers.
import {describe, expect, it} from "vitest";
import fc from "fast-check";
import {packTernary} from "../../src/lib/pack.js";
import {quantizeAbsmaxInt8, quantizeAbsmeanInt4, quantizeWeightsAbsmean} from "../../src/lib/quant.js";
import {explicitHadamard} from "../../src/lib/hadamard.js";
import {Rng} from "../../src/lib/rng.js";
import {channelMaxAbs, histogram, moments, outlierChannels, zeroFraction} from "../../src/lib/chapters/stats.js";
import {
  absmeanScaleSweep,
  denseMatVec,
  packedByteView,
  rowTerms,
  ternaryMatVecCounted,
  ternaryShares,
} from "../../src/lib/chapters/ternary.js";
import {bitsSweep, quantErrorSplit} from "../../src/lib/chapters/activations.js";
import {butterflyStages, hadamardOpCount, rotateRows, rotationInvariance} from "../../src/lib/chapters/hadamard.js";
import {fmt, minus, pct, signed, ternary} from "../../src/lib/chapters/format.js";
import {
  COMPONENTS,
  componentParams,
  divergence,
  layerSparsity,
  meanSparsity,
  nextTokenLoss,
} from "../../src/lib/chapters/sparsity.js";
import {defaultConfig} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import {forwardFull} from "../../src/lib/model.js";

function normals(n: number, seed: number, std = 1): Float32Array {
  return new Rng(seed).fillNormal(new Float32Array(n), std) as Float32Array;
}

describe("stats", () => {
  it("moments: hand-worked values and a Gaussian's kurtosis near 3", () => {
    const m = moments([1, -1, 1, -1]);
    expect(m.mean).toBe(0);
    expect(m.std).toBe(1);
    expect(m.kurtosis).toBe(1); // two-point distribution: E[x⁴]/σ⁴ = 1
    expect(m.maxOverMean).toBe(1);
    const one = moments([0, 0, 0, 0, 0, 0, 0, 10]); // one outlier
    expect(one.kurtosis).toBeCloseTo(6.142857, 5); // = 43/7, from the central moments below
    const mu = 10 / 8;
    const m2 = (7 * mu ** 2 + (10 - mu) ** 2) / 8;
    const m4 = (7 * mu ** 4 + (10 - mu) ** 4) / 8;
    expect(one.kurtosis).toBeCloseTo(m4 / m2 ** 2, 10);
    expect(one.maxOverMean).toBe(8);
    expect(moments(normals(200_000, 3)).kurtosis).toBeGreaterThan(2.9);
    expect(moments(normals(200_000, 3)).kurtosis).toBeLessThan(3.1);
    expect(Number.isNaN(moments([]).mean)).toBe(true);
    expect(Number.isNaN(moments([2, 2]).kurtosis)).toBe(true);
  });

  it("histogram counts every value once, clamping the out-of-range ones into the end bins", () => {
    const b = histogram([-5, 0, 0.1, 0.5, 0.99, 1, 7], 2, [0, 1]);
    expect(b.map((x) => x.count)).toEqual([3, 4]);
    expect(b[0]).toMatchObject({x0: 0, x1: 0.5});
    fc.assert(
      fc.property(
        fc.array(fc.double({min: -1e3, max: 1e3, noNaN: true}), {minLength: 1, maxLength: 200}),
        fc.integer({min: 1, max: 30}),
        (xs, bins) => {
          const h = histogram(xs, bins);
          expect(h.reduce((s, x) => s + x.count, 0)).toBe(xs.length);
        },
      ),
      {numRuns: 100},
    );
    // A range so narrow that the bin width underflows to 0 (found by the property above).
    expect(histogram([0, 5e-324], 30).reduce((s, x) => s + x.count, 0)).toBe(2);
    expect(() => histogram([1], 0)).toThrow(/bins/);
  });

  it("channel magnitudes and outliers", () => {
    // 2 tokens × 4 channels; channel 2 is the outlier.
    const x = [0.1, -0.2, 5, 0.3, -0.4, 0.1, -9, 0.2];
    expect(Array.from(channelMaxAbs(x, 4))).toEqual([0.4, 0.2, 9, 0.3]);
    expect(outlierChannels(channelMaxAbs(x, 4), 5)).toEqual([2]);
    expect(zeroFraction([0, 1, 0, 2])).toBe(0.5);
  });
});

describe("ternary chapter", () => {
  it("shares count each code and reject non-ternary values", () => {
    expect(ternaryShares(Int8Array.from([-1, 0, 0, 1, 1, 1]))).toEqual({neg: 1, zero: 2, pos: 3, total: 6});
    expect(() => ternaryShares([2])).toThrow(/not ternary/);
  });

  it("a packed byte decodes to the four rows of its column (HF row blocks)", () => {
    // 8 × 3 matrix: R = 2, byte [p, c] holds rows p, p+2, p+4, p+6.
    const rows = 8;
    const cols = 3;
    const rng = new Rng(7);
    const codes = Int8Array.from({length: rows * cols}, () => rng.int(3) - 1);
    const packed = packTernary(codes, rows, cols);
    for (let p = 0; p < 2; p++) {
      for (let c = 0; c < cols; c++) {
        const v = packedByteView(packed, rows, cols, p, c);
        expect(v.fields.map((f) => f.row)).toEqual([p, p + 2, p + 4, p + 6]);
        expect(v.fields.map((f) => f.value)).toEqual([p, p + 2, p + 4, p + 6].map((r) => codes[r * cols + c]));
        // Hand-assembled byte: value + 1 in bits 2i…2i+1.
        const byte = v.fields.reduce((b, f) => b | ((f.value! + 1) << f.shift), 0);
        expect(v.byte).toBe(byte);
      }
    }
    expect(() => packedByteView(packed, rows, cols, 2, 0)).toThrow(/packed row/);
    expect(() => packedByteView(packed, rows, cols, 0, 3)).toThrow(/column/);
  });

  it("marks the padding fields of a matrix whose rows are not a multiple of 4", () => {
    const codes = Int8Array.from([1, -1, 0, 1, 0]); // 5 × 1: R = 2, rows 5, 6, 7 are padding
    const v = packedByteView(packTernary(codes, 5, 1), 5, 1, 1, 0);
    expect(v.fields.map((f) => f.row)).toEqual([1, 3, null, null]);
    expect(v.fields.map((f) => f.value)).toEqual([-1, 1, null, null]);
  });

  it("the add/subtract product equals the float64 matmul and counts every term once", () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 12}), fc.integer({min: 1, max: 40}), fc.integer(), (rows, cols, seed) => {
        const rng = new Rng(seed);
        const codes = Int8Array.from({length: rows * cols}, () => rng.int(3) - 1);
        const x = Int8Array.from({length: cols}, () => rng.int(256) - 128);
        const r = ternaryMatVecCounted(codes, rows, cols, x);
        expect(Array.from(r.y)).toEqual(Array.from(denseMatVec(codes, rows, cols, x)));
        const s = ternaryShares(codes);
        expect([r.adds, r.subs, r.skips]).toEqual([s.pos, s.neg, s.zero]);
        const t = rowTerms(codes, cols, 0, x);
        expect(t.reduce((a, b) => a + b.sign * b.x, 0)).toBe(r.y[0]);
      }),
      {numRuns: 100},
    );
    expect(() => ternaryMatVecCounted(new Int8Array(6), 2, 3, [1, 2])).toThrow(/columns/);
  });

  it("the scale sweep at k = 1 is the paper's absmean quantizer", () => {
    const w = normals(4096, 11, 0.02);
    const q = quantizeWeightsAbsmean(w);
    const sw = absmeanScaleSweep(w, [0.5, 1, 2]);
    expect(sw.gamma).toBeCloseTo(q.gamma, 6);
    expect(sw.points[1].zeroFraction).toBeCloseTo(q.stats.zeroFraction, 3);
    let e2 = 0;
    let w2 = 0;
    for (let i = 0; i < w.length; i++) {
      e2 += (w[i] - q.codes[i] * q.gamma) ** 2;
      w2 += w[i] ** 2;
    }
    expect(sw.points[1].relMse).toBeCloseTo(e2 / w2, 4);
    // A wider band zeroes more: |W| < γ/4, γ/2, γ.
    expect(sw.points[0].zeroFraction).toBeLessThan(sw.points[1].zeroFraction);
    expect(sw.points[1].zeroFraction).toBeLessThan(sw.points[2].zeroFraction);
    // Gaussian: P(|W| < γ/2) with γ = σ√(2/π) is erf(√(1/π)/2·…) ≈ 0.31.
    expect(sw.points[1].zeroFraction).toBeGreaterThan(0.29);
    expect(sw.points[1].zeroFraction).toBeLessThan(0.33);
  });
});

describe("activations chapter", () => {
  const x = normals(8 * 64, 5);
  x[3] = 40; // an outlier channel in token 0

  it("at 8-bit absmax and 4-bit absmean equals the papers' quantizers (src/lib/quant.ts)", () => {
    const a8 = quantErrorSplit(x, 64, 8, "absmax");
    const q8 = quantizeAbsmaxInt8(x, 64);
    expect(a8.total).toBeCloseTo(q8.stats.mse, 12);
    expect(a8.clipping).toBe(0); // absmax never clips
    expect(a8.zeroFraction).toBeCloseTo(q8.stats.zeroFraction, 12);
    const a4 = quantErrorSplit(x, 64, 4, "absmean");
    const q4 = quantizeAbsmeanInt4(x, 64);
    expect(a4.total).toBeCloseTo(q4.stats.mse, 12);
    expect(a4.clippedFraction).toBeCloseTo(q4.stats.clippedFraction, 12);
    expect(a4.clipping).toBeGreaterThan(0); // the outlier is clipped
  });

  it("splits a hand-worked example into rounding and clipping", () => {
    // One token [4, 1, 0, -1] at 4-bit absmean: β = 1.5, s = √7/1.5 = 1.7638; 4·s = 7.06 → 7 (round, not clipped):
    // codes 7, 2, 0, −2. Errors: 4 − 7/s = 0.0313, 1 − 2/s = −0.1339, 0, same as 1 with sign.
    const r = quantErrorSplit([4, 1, 0, -1], 4, 4, "absmean");
    const s = Math.fround(Math.sqrt(7) / 1.5);
    const e = (4 - 7 / s) ** 2 + 2 * (1 - 2 / s) ** 2;
    expect(r.clipping).toBe(0);
    expect(r.total).toBeCloseTo(e / 4, 10);
    // [8, 0, 0, 0]: β = 2, 8·√7/2 = 10.58 → clipped to 7: clipping error (8 − 7·2/√7)².
    const c = quantErrorSplit([8, 0, 0, 0], 4, 4, "absmean");
    const s2 = Math.fround(Math.sqrt(7) / 2);
    expect(c.rounding).toBe(0);
    expect(c.clipping).toBeCloseTo((8 - 7 / s2) ** 2 / 4, 10);
    expect(c.clippedFraction).toBe(0.25);
  });

  it("error shrinks as bits grow (absmax)", () => {
    const sweep = bitsSweep(x, 64, [2, 3, 4, 5, 6, 7, 8]).filter((r) => r.scheme === "absmax");
    for (let i = 1; i < sweep.length; i++) expect(sweep[i].total).toBeLessThan(sweep[i - 1].total);
    expect(() => quantErrorSplit(x, 64, 1, "absmax")).toThrow(/bits/);
  });
});

describe("hadamard chapter", () => {
  it("rotating rows equals the explicit matrix product", () => {
    for (const n of [8, 12, 24]) {
      const H = explicitHadamard(n);
      const x = normals(2 * n, n);
      const r = rotateRows(x, n);
      for (let t = 0; t < 2; t++) {
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += H[i * n + j] * x[t * n + j];
          expect(r[t * n + i]).toBeCloseTo(s, 5);
        }
      }
    }
  });

  it("W·x = (W·Hᵀ)·(H·x), also for a non-symmetric (Paley) H, and detects a wrong rotation", () => {
    for (const n of [16, 12, 40]) {
      const w = normals(5 * n, 100 + n);
      const x = normals(n, 200 + n);
      const inv = rotationInvariance(w, 5, n, x);
      expect(inv.relDiff).toBeLessThan(1e-12);
      const direct = denseMatVec(w, 5, n, x);
      expect(Array.from(inv.y)).toEqual(Array.from(direct));
    }
    expect(() => rotationInvariance(new Float32Array(6), 2, 4, new Float32Array(4))).toThrow(/W has/);
  });

  it("butterfly stages: hand-worked n = 4 and the last stage is √n·H·x", () => {
    const b = butterflyStages([1, 2, 3, 4]);
    expect(b.stages.map((s) => s.h)).toEqual([1, 2]);
    expect(b.stages[0].values).toEqual([3, -1, 7, -1]);
    expect(b.stages[1].values).toEqual([10, -2, -4, 0]);
    expect(b.stages[0].pairs).toEqual([
      [0, 1],
      [2, 3],
    ]);
    const x = Array.from(normals(16, 9));
    const last = butterflyStages(x)
      .stages.at(-1)!
      .values.map((v) => v / 4);
    const r = rotateRows(x, 16);
    last.forEach((v, i) => expect(v).toBeCloseTo(r[i], 5));
    expect(() => butterflyStages([1, 2, 3])).toThrow(/power of two/);
  });

  it("counts the fast transform's operations", () => {
    expect(hadamardOpCount(256)).toMatchObject({fast: 256 * 8, dense: 65536});
  });
});

describe("format", () => {
  it("uses a real minus sign", () => {
    expect(fmt(-1.5)).toBe("\u22121.5");
    expect(fmt(1.2e-7)).toBe("1.20e\u22127");
    expect(minus("-3")).toBe("\u22123");
    expect(ternary(-1)).toBe("\u22121");
    expect(ternary(1)).toBe("+1");
    expect(signed(-4)).toBe("\u22124");
    expect(pct(0.123)).toBe("12.3%");
  });
});

describe("sparsity chapter", () => {
  const config = defaultConfig("a4.8", {
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 300,
  });
  const weights = randomWeights(config, 5);
  const ids = [1, 17, 99, 250, 42, 7, 180, 33];
  const {trace} = forwardFull(weights, ids, {trace: true});

  it("measures each component as a4.8 Table 2 defines it", () => {
    const layers = layerSparsity(trace!, config);
    expect(layers).toHaveLength(2);
    const P = componentParams(config);
    expect(P).toEqual({qkv: 64 * (64 + 2 * 32), out: 64 * 64, up: 64 * 128, gate: 64 * 128, down: 128 * 64});
    layers.forEach((s, l) => {
      const lin = trace!.layers[l].linears;
      // top-K 50% drops exactly half of the W_o input; INT8 may round a few kept values to 0 as well.
      expect(s.out).toBeGreaterThanOrEqual(0.5);
      expect(s.out).toBe(lin.o.act!.stats.zeroFraction);
      // ReLU²: the gate output is zero exactly where the gate pre-activation is ≤ 0.
      const g = lin.gate.output;
      const gz = Array.from(g).filter((v) => v <= 0).length / g.length;
      expect(s.gateOutput).toBeCloseTo(gz, 12);
      expect(s.up).toBeCloseTo(1 - (1 - lin.up.sparsity) * (1 - gz), 12);
      const total = COMPONENTS.reduce((a, k) => a + P[k], 0);
      expect(s.overall).toBeCloseTo(COMPONENTS.reduce((a, k) => a + s[k] * P[k], 0) / total, 12);
      // The down input is ffn_sub_norm(ReLU²(gate) ⊙ up): at least as sparse as the gate output.
      expect(s.down).toBeGreaterThanOrEqual(gz - 1e-12);
    });
    const mean = meanSparsity(layers);
    expect(mean.down).toBeCloseTo((layers[0].down + layers[1].down) / 2, 12);
  });

  it("divergence and loss: zero for identical logits, hand-worked for two tokens", () => {
    const {logits} = forwardFull(weights, ids);
    const d = divergence(logits, logits, config.vocab_size);
    expect(d.kl).toBeCloseTo(0, 12);
    expect(d.top1Agreement).toBe(1);
    // Vocabulary of 2: p = softmax(0, 0) = (½, ½), q = softmax(0, ln 3) = (¼, ¾): KL = ½ ln 2 + ½ ln(2/3).
    const r = divergence([0, 0], [0, Math.log(3)], 2);
    expect(r.kl).toBeCloseTo(0.5 * Math.log(2) + 0.5 * Math.log(2 / 3), 12);
    // Next-token loss of ids [0, 1] under logits row 0 = (0, ln 3): −ln ¾.
    expect(nextTokenLoss([0, Math.log(3), 5, 5], [0, 1], 2)).toBeCloseTo(-Math.log(0.75), 12);
    expect(() => divergence([0, 0], [0], 2)).toThrow(/shapes/);
  });

  it("top-K at 100% removes the W_o sparsity and changes the output", () => {
    const off = forwardFull({...weights, config: {...config, bitnet_topk_ratio: 1}}, ids, {trace: true});
    const s = meanSparsity(layerSparsity(off.trace!, config));
    expect(s.out).toBeLessThan(0.1);
    const {logits} = forwardFull(weights, ids);
    expect(divergence(off.logits, logits, config.vocab_size).kl).toBeGreaterThan(0);
  });
});
