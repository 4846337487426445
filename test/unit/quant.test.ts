import {describe, expect, it} from "vitest";
import fc from "fast-check";
import {
  QUANT_EPS,
  dequantize,
  dequantizeKV,
  quantizeAbsmaxInt8,
  quantizeAbsmeanInt4,
  quantizeKV,
  quantizeTopKInt8,
  quantizeWeightsAbsmean,
  roundClip,
  roundHalfEven,
  topKCount,
  topKMask,
} from "../../src/lib/quant.js";

const f32 = Math.fround;
const finite = fc.float({min: -1000, max: 1000, noNaN: true, noDefaultInfinity: true});
const rows = (dim: number) =>
  fc.array(finite, {minLength: dim, maxLength: dim * 3}).filter((a) => a.length % dim === 0);

describe("rounding", () => {
  it("rounds half to even like torch.round", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6, 3.5].map(roundHalfEven)).toEqual([
      0, 2, 2, 0, -2, -2, 2, -3, 4,
    ]);
    expect(Object.is(roundHalfEven(-0.5), 0)).toBe(true); // no −0 codes
    expect(roundClip(5.5, -1, 1)).toBe(1);
    expect(roundClip(-0.6, -1, 1)).toBe(-1);
  });
});

describe("absmean ternary weights (b1.58 eq. 1–3)", () => {
  it("matches a hand-worked example", () => {
    // γ = (0.2+0.6+1+0+0.1+0.3)/6 = 0.36667; W/γ = [0.55, −1.64, 2.73, 0, −0.27, 0.82]
    const q = quantizeWeightsAbsmean([0.2, -0.6, 1.0, 0.0, -0.1, 0.3]);
    expect(Array.from(q.codes)).toEqual([1, -1, 1, 0, 0, 1]);
    expect(q.gamma).toBeCloseTo(2.2 / 6, 6);
    expect(q.scale).toBe(f32(1 / f32(2.2 / 6)));
    expect(q.stats.zeroFraction).toBeCloseTo(2 / 6, 12);
    expect(q.stats.clippedFraction).toBeCloseTo(2 / 6, 12); // −1.64 and 2.73 round outside [−1, 1]
  });

  it("guards an all-zero tensor with ε (clamp semantics)", () => {
    const q = quantizeWeightsAbsmean(new Float32Array(8));
    expect(Array.from(q.codes)).toEqual(new Array(8).fill(0));
    expect(q.scale).toBe(f32(1 / QUANT_EPS));
    expect(q.stats.mse).toBe(0);
  });

  it("keeps codes ternary, the scale positive, and unclipped errors within half a step", () => {
    fc.assert(
      fc.property(fc.array(finite, {minLength: 1, maxLength: 64}), (w) => {
        const q = quantizeWeightsAbsmean(w);
        expect(q.scale).toBeGreaterThan(0);
        for (let i = 0; i < w.length; i++) {
          expect([-1, 0, 1]).toContain(q.codes[i]);
          if (Math.abs(w[i] * q.scale) <= 1)
            expect(Math.abs(w[i] - q.codes[i] / q.scale)).toBeLessThanOrEqual((0.5 / q.scale) * (1 + 1e-6));
        }
      }),
    );
  });
});

describe("absmax INT8 activations", () => {
  it("matches a hand-worked example, including a tie rounded to even", () => {
    // γ = 4, s = 127/4 = 31.75; x·s = [31.75, −63.5, 15.875, 127] → [32, −64, 16, 127]
    const a = quantizeAbsmaxInt8([1, -2, 0.5, 4], 4);
    expect(Array.from(a.q)).toEqual([32, -64, 16, 127]);
    expect(a.scale[0]).toBe(31.75);
    expect(a.gamma[0]).toBe(4);
    expect(dequantize(a)[1]).toBe(f32(-64 / 31.75));
    expect(a.stats.clippedFraction).toBe(0);
  });

  it("scales each token (row) on its own and guards all-zero rows", () => {
    const a = quantizeAbsmaxInt8([0, 0, 0, 1, -0.5, 0.25], 3);
    expect(Array.from(a.q)).toEqual([0, 0, 0, 127, -64, 32]); // −63.5 → −64, 31.75 → 32
    expect(a.scale[0]).toBe(f32(127 / QUANT_EPS));
    expect(Array.from(dequantize(a).slice(0, 3))).toEqual([0, 0, 0]);
  });

  it("stays in [−128, 127], never clips, and errs by at most half a step", () => {
    fc.assert(
      fc.property(
        fc.integer({min: 1, max: 16}).chain((d) => fc.tuple(fc.constant(d), rows(d))),
        ([dim, x]) => {
          const a = quantizeAbsmaxInt8(x, dim);
          const deq = dequantize(a);
          expect(a.stats.clippedFraction).toBe(0);
          for (let i = 0; i < x.length; i++) {
            const s = a.scale[Math.floor(i / dim)];
            expect(s).toBeGreaterThan(0);
            expect(a.q[i]).toBeGreaterThanOrEqual(-128);
            expect(a.q[i]).toBeLessThanOrEqual(127);
            expect(Math.abs(x[i] - deq[i])).toBeLessThanOrEqual((0.5 / s) * (1 + 1e-6) + 1e-6 * Math.abs(x[i]));
          }
        },
      ),
    );
  });
});

describe("absmean INT4 activations (a4.8, v2)", () => {
  it("matches a hand-worked example", () => {
    // β = 7.5/4 = 1.875, s = √7/β = 1.41108; x·s = [1.41, −2.82, 0.71, 5.64] → [1, −3, 1, 6]
    const a = quantizeAbsmeanInt4([1, -2, 0.5, 4], 4);
    expect(Array.from(a.q)).toEqual([1, -3, 1, 6]);
    expect(a.gamma[0]).toBe(1.875);
    expect(a.scale[0]).toBe(f32(Math.sqrt(7) / 1.875));
  });

  it("clips outliers to [−8, 7] and reports them", () => {
    // β = 2.575, s = 1.0275: 10·s = 10.27 → clipped to 7
    const a = quantizeAbsmeanInt4([10, 0.1, 0.1, 0.1], 4);
    expect(a.q[0]).toBe(7);
    expect(a.stats.clippedFraction).toBe(0.25);
    const b = quantizeAbsmeanInt4([-10, 0.1, 0.1, 0.1], 4);
    expect(b.q[0]).toBe(-8);
  });

  it("stays in [−8, 7] and errs by at most half a step where it does not clip", () => {
    fc.assert(
      fc.property(
        fc.integer({min: 1, max: 16}).chain((d) => fc.tuple(fc.constant(d), rows(d))),
        ([dim, x]) => {
          const a = quantizeAbsmeanInt4(x, dim);
          const deq = dequantize(a);
          for (let i = 0; i < x.length; i++) {
            const s = a.scale[Math.floor(i / dim)];
            expect(s).toBeGreaterThan(0);
            expect(a.q[i]).toBeGreaterThanOrEqual(-8);
            expect(a.q[i]).toBeLessThanOrEqual(7);
            const v = f32(x[i] * s);
            if (v >= -8.5 && v <= 7.5)
              expect(Math.abs(x[i] - deq[i])).toBeLessThanOrEqual((0.5 / s) * (1 + 1e-6) + 1e-6 * Math.abs(x[i]));
          }
        },
      ),
    );
  });
});

describe("top-K sparsify-then-quantize (a4.8 W_o input)", () => {
  it("keeps the K largest magnitudes, lower index first on ties", () => {
    expect(Array.from(topKMask([0.1, -3, 2, 2, -0.5, 1], 6, 0.5).mask)).toEqual([0, 1, 1, 1, 0, 0]);
    expect(Array.from(topKMask([1, -1, 1, 1], 4, 0.5).mask)).toEqual([1, 1, 0, 0]);
    expect(topKCount(5, 0.5)).toBe(3); // round(2.5) = 3
    expect(() => topKCount(4, 1.5)).toThrow(/ratio/);
  });

  it("quantizes with γ of the whole row and zeroes the dropped entries", () => {
    const a = quantizeTopKInt8([0.1, -3, 2, 2, -0.5, 1], 6, 0.5);
    const s = 127 / 3;
    expect(Array.from(a.q)).toEqual([0, -127, roundHalfEven(f32(2 * f32(s))), roundHalfEven(f32(2 * f32(s))), 0, 0]);
    expect(a.kept).toBe(3);
    expect(a.stats.zeroFraction).toBe(0.5);
  });

  it("keeps exactly K per token", () => {
    fc.assert(
      fc.property(
        fc
          .integer({min: 1, max: 12})
          .chain((d) => fc.tuple(fc.constant(d), rows(d), fc.double({min: 0, max: 1, noNaN: true}))),
        ([dim, x, ratio]) => {
          const {mask, kept} = topKMask(x, dim, ratio);
          for (let t = 0; t < x.length / dim; t++) {
            let n = 0;
            let minKept = Infinity;
            let maxDropped = -Infinity;
            for (let i = 0; i < dim; i++) {
              const m = Math.abs(x[t * dim + i]);
              if (mask[t * dim + i]) {
                n++;
                minKept = Math.min(minKept, m);
              } else maxDropped = Math.max(maxDropped, m);
            }
            expect(n).toBe(kept);
            if (n > 0 && n < dim) expect(minKept).toBeGreaterThanOrEqual(maxDropped);
          }
        },
      ),
    );
  });
});

describe("KV-cache quantization (min/max unsigned per head vector)", () => {
  it("is exact on a grid and rounds half to even between levels", () => {
    const a = quantizeKV([0, 1, 2, 3, 7], 5, 3); // step = 7/7 = 1
    expect(Array.from(a.q)).toEqual([0, 1, 2, 3, 7]);
    expect(Array.from(dequantizeKV(a))).toEqual([0, 1, 2, 3, 7]);
    const b = quantizeKV([-1, 0, 0.5, 2], 4, 2); // step 1, (x+1) = [0, 1, 1.5, 3] → [0, 1, 2, 3]
    expect(Array.from(b.q)).toEqual([0, 1, 2, 3]);
    expect(b.min[0]).toBe(-1);
    expect(b.step[0]).toBe(1);
  });

  it("keeps both extremes exact and every value within half a step", () => {
    fc.assert(
      fc.property(
        fc.integer({min: 2, max: 16}).chain((d) => fc.tuple(fc.constant(d), rows(d), fc.constantFrom(3, 4, 8))),
        ([dim, x, bits]) => {
          const a = quantizeKV(x, dim, bits);
          const deq = dequantizeKV(a);
          for (let r = 0; r < x.length / dim; r++) {
            const row = x.slice(r * dim, (r + 1) * dim);
            const st = a.step[r];
            expect(st).toBeGreaterThan(0);
            for (let i = 0; i < dim; i++) {
              expect(a.q[r * dim + i]).toBeLessThanOrEqual(2 ** bits - 1);
              expect(Math.abs(row[i] - deq[r * dim + i])).toBeLessThanOrEqual(
                st * 0.5 * (1 + 1e-5) + 1e-5 * Math.abs(row[i]),
              );
            }
            const lo = Math.min(...row);
            expect(deq[r * dim + row.indexOf(lo)]).toBeCloseTo(lo, 4);
          }
        },
      ),
    );
  });
});
