// Chapter 1 (ternary weights) computations: shares of −1/0/+1, the HF 2-bit packing seen one byte at a time,
// a matrix-vector product done with additions and subtractions only, and how the absmean scale trades zeros
// against error.
import {packedRows} from "../pack.js";
import {roundClip} from "../quant.js";

type Values = ArrayLike<number>;

export interface TernaryShares {
  neg: number;
  zero: number;
  pos: number;
  total: number;
}

export function ternaryShares(codes: ArrayLike<number>): TernaryShares {
  let neg = 0;
  let zero = 0;
  let pos = 0;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) zero++;
    else if (c === 1) pos++;
    else if (c === -1) neg++;
    else throw new Error(`ternaryShares: value ${c} at ${i} is not ternary`);
  }
  return {neg, zero, pos, total: codes.length};
}

/** One byte of the Hugging Face packing (src/lib/pack.ts) taken apart: packed [p, col] holds rows
 *  p, p+R, p+2R, p+3R (R = ceil(rows/4)) of column `col`, row block i in bits 2i…2i+1, stored as value + 1. */
export interface PackedByte {
  p: number;
  col: number;
  byte: number;
  /** Four fields, bits 0–1 first. */
  fields: {block: number; row: number | null; shift: number; stored: number; value: number | null}[];
}

export function packedByteView(packed: Uint8Array, rows: number, cols: number, p: number, col: number): PackedByte {
  const R = packedRows(rows);
  if (packed.length !== R * cols)
    throw new Error(`packedByteView: ${packed.length} bytes for shape [${rows}, ${cols}]`);
  if (!(Number.isInteger(p) && p >= 0 && p < R)) throw new Error(`packedByteView: packed row ${p} outside [0, ${R})`);
  if (!(Number.isInteger(col) && col >= 0 && col < cols))
    throw new Error(`packedByteView: column ${col} outside [0, ${cols})`);
  const byte = packed[p * cols + col];
  const fields = [0, 1, 2, 3].map((i) => {
    const shift = 2 * i;
    const stored = (byte >> shift) & 3;
    const row = i * R + p;
    const real = row < rows;
    return {block: i, row: real ? row : null, shift, stored, value: real && stored !== 3 ? stored - 1 : null};
  });
  return {p, col, byte, fields};
}

export interface CountedMatVec {
  /** y = W̃·x in integers (exact: |x| ≤ 128 and ≤ 2^23 columns). */
  y: Int32Array;
  adds: number;
  subs: number;
  /** Terms skipped because the weight is 0. */
  skips: number;
}

/** y = W̃·x for ternary W̃ [rows, cols] and integer activations x (INT8 codes): each term is an addition
 *  (+1), a subtraction (−1) or nothing (0) — no multiplication, which is the point of BitNet b1.58. */
export function ternaryMatVecCounted(
  codes: Int8Array,
  rows: number,
  cols: number,
  x: ArrayLike<number>,
): CountedMatVec {
  if (codes.length !== rows * cols)
    throw new Error(`ternaryMatVecCounted: ${codes.length} codes for [${rows}, ${cols}]`);
  if (x.length !== cols) throw new Error(`ternaryMatVecCounted: x has ${x.length} values, W has ${cols} columns`);
  const y = new Int32Array(rows);
  let adds = 0;
  let subs = 0;
  let skips = 0;
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      const w = codes[o + c];
      if (w === 1) {
        acc += x[c];
        adds++;
      } else if (w === -1) {
        acc -= x[c];
        subs++;
      } else skips++;
    }
    y[r] = acc;
  }
  return {y, adds, subs, skips};
}

/** The terms of one output row, for writing the sum out: {col, sign, x}. Zeros are skipped. */
export function rowTerms(
  codes: Int8Array,
  cols: number,
  r: number,
  x: ArrayLike<number>,
  limit = Infinity,
): {col: number; sign: 1 | -1; x: number}[] {
  const out: {col: number; sign: 1 | -1; x: number}[] = [];
  for (let c = 0; c < cols && out.length < limit; c++) {
    const w = codes[r * cols + c];
    if (w !== 0) out.push({col: c, sign: w > 0 ? 1 : -1, x: x[c]});
  }
  return out;
}

/** The ordinary multiply-accumulate product in float64, for checking the counted one. */
export function denseMatVec(w: Values, rows: number, cols: number, x: Values): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c] * x[c];
    y[r] = s;
  }
  return y;
}

export interface ScaleSweepPoint {
  /** The threshold scale as a multiple of γ = mean|W| (1 = the paper's absmean). */
  multiple: number;
  zeroFraction: number;
  /** Relative error ‖W − α·RoundClip(W/α)‖² / ‖W‖², α = multiple·γ. */
  relMse: number;
}

/** How the choice of scale trades zeros against error: quantizes W with α = k·γ for each k. At k = 1 this is
 *  b1.58's absmean quantizer (the zero band is |W| < γ/2). The best k by error is reported too. */
export function absmeanScaleSweep(
  w: Values,
  multiples: readonly number[],
): {gamma: number; points: ScaleSweepPoint[]; best: ScaleSweepPoint} {
  let sa = 0;
  let s2 = 0;
  for (let i = 0; i < w.length; i++) {
    sa += Math.abs(w[i]);
    s2 += w[i] * w[i];
  }
  const gamma = sa / Math.max(1, w.length);
  const points = multiples.map((k) => {
    const a = k * gamma;
    let zeros = 0;
    let se = 0;
    for (let i = 0; i < w.length; i++) {
      const q = a > 0 ? roundClip(w[i] / a, -1, 1) : 0;
      if (q === 0) zeros++;
      const e = w[i] - a * q;
      se += e * e;
    }
    return {multiple: k, zeroFraction: zeros / Math.max(1, w.length), relMse: s2 > 0 ? se / s2 : 0};
  });
  const best = points.reduce((b, p) => (p.relMse < b.relMse ? p : b), points[0]);
  return {gamma, points, best};
}
