// Chapter 2 (activations and outliers): per-token quantization error split into rounding and clipping, and
// how it grows as bits shrink. The 8-bit absmax and 4-bit absmean cases are exactly the papers' quantizers
// (src/lib/quant.ts, checked in the tests); other widths are this page's generalization, stated on the page:
// absmax b bits: s = Q/γ with Q = 2^(b−1) − 1, codes in [−Q−1, Q]; absmean b bits: s = √Q/β (√7 at b = 4).
import {QUANT_EPS, roundHalfEven} from "../quant.js";

type Values = ArrayLike<number>;
export type Scheme = "absmax" | "absmean";

export interface ErrorSplit {
  bits: number;
  scheme: Scheme;
  /** Mean squared error from rounding values that fell inside the code range. */
  rounding: number;
  /** Mean squared error of values beyond the range, which are clipped to the end code. */
  clipping: number;
  total: number;
  /** total / mean(x²): relative error. */
  relative: number;
  clippedFraction: number;
  zeroFraction: number;
}

/** Per-token quantization of [T, dim] at `bits` with the scheme's scale, splitting the squared error by cause. */
export function quantErrorSplit(x: Values, dim: number, bits: number, scheme: Scheme, eps = QUANT_EPS): ErrorSplit {
  if (!Number.isInteger(bits) || bits < 2 || bits > 16)
    throw new Error(`quantErrorSplit: bits must be an integer in [2, 16], got ${bits}`);
  if (x.length % dim !== 0 || x.length === 0)
    throw new Error(`quantErrorSplit: ${x.length} values are not rows of ${dim}`);
  const Q = 2 ** (bits - 1) - 1;
  const lo = -Q - 1;
  let rounding = 0;
  let clipping = 0;
  let energy = 0;
  let clipped = 0;
  let zeros = 0;
  for (let o = 0; o < x.length; o += dim) {
    let stat = 0;
    for (let i = 0; i < dim; i++) {
      const a = Math.abs(x[o + i]);
      if (scheme === "absmax") stat = Math.max(stat, a);
      else stat += a;
    }
    if (scheme === "absmean") stat /= dim;
    const s = Math.fround((scheme === "absmax" ? Q : Math.sqrt(Q)) / Math.max(Math.fround(stat), eps));
    for (let i = 0; i < dim; i++) {
      const v = x[o + i];
      energy += v * v;
      const r = roundHalfEven(Math.fround(v * s));
      const c = r < lo ? lo : r > Q ? Q : r;
      if (c === 0) zeros++;
      const e = v - c / s;
      if (c !== r) {
        clipping += e * e;
        clipped++;
      } else rounding += e * e;
    }
  }
  const n = x.length;
  const total = (rounding + clipping) / n;
  return {
    bits,
    scheme,
    rounding: rounding / n,
    clipping: clipping / n,
    total,
    relative: energy > 0 ? (total * n) / energy : 0,
    clippedFraction: clipped / n,
    zeroFraction: zeros / n,
  };
}

/** The error at every width in `bitsList` for both schemes. */
export function bitsSweep(x: Values, dim: number, bitsList: readonly number[]): ErrorSplit[] {
  const out: ErrorSplit[] = [];
  for (const scheme of ["absmax", "absmean"] as const)
    for (const b of bitsList) out.push(quantErrorSplit(x, dim, b, scheme));
  return out;
}
