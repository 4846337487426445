// The quantizers of the BitNet family, one function per paper equation, each returning the integer codes,
// the scale(s) and statistics that the pages show.
//
// Conventions (shared by the reference forward, the WebGPU kernels and the trainer):
// - Rounding is round-half-to-even, like torch.round, so the reference matches transformers bit for bit
//   where the inputs agree.
// - ε: the papers write x/(γ+ε); transformers and microsoft/unilm write x·(Q/clamp(γ, min=1e-5)). We use
//   the clamp, i.e. the divisor is max(γ, ε) with ε = 1e-5: identical to the reference code, and for any
//   γ ≫ ε it differs from γ+ε by a relative ε/γ (< 1e-4 for any realistic activation). Its only job is
//   to guard all-zero rows, where either form gives all-zero codes.
// - Scales follow transformers' convention: `scale` is the multiplier s with q = RoundClip(s·x), so the
//   dequantized value is q / s (e.g. s = 127 / max(γ, ε) for absmax INT8).
// - Like torch in float32, s and the products s·x are rounded to float32 before rounding to integers;
//   statistics (γ, β) are accumulated in float64 and rounded to float32.

export const QUANT_EPS = 1e-5;

const f32 = Math.fround;
const SQRT7 = Math.sqrt(7);

/** round-half-to-even (torch.round / numpy.round). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x - Math.trunc(x)) === 0.5) return 2 * Math.round(x / 2) + 0; // +0 turns −0 into 0
  return r + 0;
}

/** RoundClip(x, a, b) = max(a, min(b, round(x))) (b1.58 eq. 2). */
export function roundClip(x: number, a: number, b: number): number {
  const r = roundHalfEven(x);
  return r < a ? a : r > b ? b : r;
}

/** How far a quantized tensor is from its input. */
export interface QuantStats {
  count: number;
  /** Fraction of codes equal to 0 (for top-K this includes the dropped entries). */
  zeroFraction: number;
  /** Fraction of values whose scaled value fell outside [Qn, Qp] before clipping (rounded away from the range). */
  clippedFraction: number;
  /** Mean squared error of the dequantized values. */
  mse: number;
  meanAbsError: number;
  maxAbsError: number;
}

class StatsAcc {
  count = 0;
  zeros = 0;
  clipped = 0;
  se = 0;
  ae = 0;
  maxAe = 0;
  add(x: number, deq: number, code: number, clipped: boolean): void {
    this.count++;
    if (code === 0) this.zeros++;
    if (clipped) this.clipped++;
    const e = Math.abs(x - deq);
    this.se += e * e;
    this.ae += e;
    if (e > this.maxAe) this.maxAe = e;
  }
  done(): QuantStats {
    const n = Math.max(1, this.count);
    return {
      count: this.count,
      zeroFraction: this.zeros / n,
      clippedFraction: this.clipped / n,
      mse: this.se / n,
      meanAbsError: this.ae / n,
      maxAbsError: this.maxAe,
    };
  }
}

type Values = ArrayLike<number>;

// ---------------------------------------------------------------- weights

export interface TernaryQuant {
  /** W̃ ∈ {−1, 0, +1}, same layout as the input. */
  codes: Int8Array;
  /** γ = mean|W| (b1.58 eq. 3), as float32. */
  gamma: number;
  /** s = 1 / max(γ, ε): W̃ = RoundClip(s·W, −1, 1); the dequantized weight is W̃ / s = W̃ · max(γ, ε). */
  scale: number;
  stats: QuantStats;
}

/** Absmean ternary weights, per tensor (b1.58 eq. 1–3): W̃ = RoundClip(W/(γ+ε), −1, 1), γ = mean|W|. */
export function quantizeWeightsAbsmean(w: Values, eps = QUANT_EPS): TernaryQuant {
  const n = w.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.abs(w[i]);
  const gamma = f32(n > 0 ? sum / n : 0);
  const s = f32(1 / Math.max(gamma, eps));
  const codes = new Int8Array(n);
  const acc = new StatsAcc();
  for (let i = 0; i < n; i++) {
    const v = f32(w[i] * s);
    const c = roundClip(v, -1, 1);
    codes[i] = c;
    acc.add(w[i], c / s, c, Math.abs(roundHalfEven(v)) > 1);
  }
  return {codes, gamma, scale: s, stats: acc.done()};
}

// ---------------------------------------------------------------- activations (per token)

export type ActScheme = "absmax-int8" | "absmean-int4" | "topk-int8";

export interface ActQuant {
  scheme: ActScheme;
  bits: 8 | 4;
  tokens: number;
  dim: number;
  /** Integer codes, [tokens, dim] row-major. */
  q: Int8Array;
  /** Per token multiplier s: q = RoundClip(s·x, Qn, Qp); dequantized x̃ = q / s. */
  scale: Float32Array;
  /** Per token statistic the scale comes from: γ = max|x| (absmax) or β = mean|x| (absmean). */
  gamma: Float32Array;
  /** top-K only: entries kept per token. */
  kept?: number;
  stats: QuantStats;
}

function checkRows(x: Values, dim: number, who: string): number {
  if (!Number.isInteger(dim) || dim <= 0) throw new Error(`${who}: dim must be a positive integer, got ${dim}`);
  if (x.length % dim !== 0) throw new Error(`${who}: ${x.length} values are not a whole number of rows of ${dim}`);
  return x.length / dim;
}

/** Absmax INT8 per token (b1.58 / a4.8 / v2): Q_INT8(X) = (γ/127)·RoundClip(127X/(γ+ε), −128, 127), γ = max|X|.
 *  Exactly transformers' BitLinear.activation_quant (scale = 127 / clamp(max|x|, 1e-5)). */
export function quantizeAbsmaxInt8(x: Values, dim: number, eps = QUANT_EPS): ActQuant {
  const T = checkRows(x, dim, "quantizeAbsmaxInt8");
  const q = new Int8Array(x.length);
  const scale = new Float32Array(T);
  const gamma = new Float32Array(T);
  const acc = new StatsAcc();
  for (let t = 0; t < T; t++) {
    const o = t * dim;
    let m = 0;
    for (let i = 0; i < dim; i++) {
      const a = Math.abs(x[o + i]);
      if (a > m) m = a;
    }
    const g = f32(m);
    const s = f32(127 / Math.max(g, eps));
    gamma[t] = g;
    scale[t] = s;
    for (let i = 0; i < dim; i++) {
      const v = f32(x[o + i] * s);
      const r = roundHalfEven(v);
      const c = r < -128 ? -128 : r > 127 ? 127 : r;
      q[o + i] = c;
      acc.add(x[o + i], c / s, c, c !== r);
    }
  }
  return {scheme: "absmax-int8", bits: 8, tokens: T, dim, q, scale, gamma, stats: acc.done()};
}

/** Absmean INT4 per token (a4.8 §2, v2 §2): Q_INT4(X) = (β/√7)·RoundClip(√7X/(β+ε), −8, 7), β = mean|X|. */
export function quantizeAbsmeanInt4(x: Values, dim: number, eps = QUANT_EPS): ActQuant {
  const T = checkRows(x, dim, "quantizeAbsmeanInt4");
  const q = new Int8Array(x.length);
  const scale = new Float32Array(T);
  const gamma = new Float32Array(T);
  const acc = new StatsAcc();
  for (let t = 0; t < T; t++) {
    const o = t * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += Math.abs(x[o + i]);
    const b = f32(sum / dim);
    const s = f32(SQRT7 / Math.max(b, eps));
    gamma[t] = b;
    scale[t] = s;
    for (let i = 0; i < dim; i++) {
      const v = f32(x[o + i] * s);
      const r = roundHalfEven(v);
      const c = r < -8 ? -8 : r > 7 ? 7 : r;
      q[o + i] = c;
      acc.add(x[o + i], c / s, c, c !== r);
    }
  }
  return {scheme: "absmean-int4", bits: 4, tokens: T, dim, q, scale, gamma, stats: acc.done()};
}

/** K for a ratio: round(ratio·dim), clamped to [0, dim]. The a4.8 paper's K = 50% of the W_o input. */
export function topKCount(dim: number, ratio: number): number {
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`top-K ratio must be in [0, 1], got ${ratio}`);
  return Math.min(dim, Math.max(0, Math.round(ratio * dim)));
}

/** The top-K mask per token by magnitude (a4.8: M = TopK(|X|)). Ties at the threshold keep the lower
 *  index first, so exactly K entries survive in every row and the choice is deterministic. */
export function topKMask(x: Values, dim: number, ratio: number): {mask: Uint8Array; kept: number} {
  const T = checkRows(x, dim, "topKMask");
  const K = topKCount(dim, ratio);
  const mask = new Uint8Array(x.length);
  const mags = new Float64Array(dim);
  for (let t = 0; t < T; t++) {
    const o = t * dim;
    if (K === 0) continue;
    if (K === dim) {
      mask.fill(1, o, o + dim);
      continue;
    }
    for (let i = 0; i < dim; i++) mags[i] = Math.abs(x[o + i]);
    const sorted = mags.slice().sort(); // ascending, numeric for typed arrays
    const thr = sorted[dim - K]; // the K-th largest magnitude
    let above = 0;
    for (let i = 0; i < dim; i++) if (mags[i] > thr) above++;
    let ties = K - above; // entries equal to thr still to keep, lowest index first
    for (let i = 0; i < dim; i++) {
      if (mags[i] > thr) mask[o + i] = 1;
      else if (mags[i] === thr && ties > 0) {
        mask[o + i] = 1;
        ties--;
      }
    }
  }
  return {mask, kept: K};
}

/** Sparsify-then-quantize (a4.8 §2, the W_o input): Q_INT8(X) ⊙ M, M = TopK(|X|) with K = ratio·dim.
 *  γ comes from the whole row; since the largest entry is always kept (K ≥ 1) this equals γ of the kept
 *  entries. Dropped entries get code 0 and count as zeros (and their error) in the statistics. */
export function quantizeTopKInt8(x: Values, dim: number, ratio: number, eps = QUANT_EPS): ActQuant {
  const T = checkRows(x, dim, "quantizeTopKInt8");
  const {mask, kept} = topKMask(x, dim, ratio);
  const q = new Int8Array(x.length);
  const scale = new Float32Array(T);
  const gamma = new Float32Array(T);
  const acc = new StatsAcc();
  for (let t = 0; t < T; t++) {
    const o = t * dim;
    let m = 0;
    for (let i = 0; i < dim; i++) {
      const a = Math.abs(x[o + i]);
      if (a > m) m = a;
    }
    const g = f32(m);
    const s = f32(127 / Math.max(g, eps));
    gamma[t] = g;
    scale[t] = s;
    for (let i = 0; i < dim; i++) {
      if (!mask[o + i]) {
        acc.add(x[o + i], 0, 0, false);
        continue;
      }
      const v = f32(x[o + i] * s);
      const r = roundHalfEven(v);
      const c = r < -128 ? -128 : r > 127 ? 127 : r;
      q[o + i] = c;
      acc.add(x[o + i], c / s, c, c !== r);
    }
  }
  return {scheme: "topk-int8", bits: 8, tokens: T, dim, q, scale, gamma, kept, stats: acc.done()};
}

/** x̃ = q / s, row by row. */
export function dequantize(a: ActQuant): Float32Array {
  const out = new Float32Array(a.q.length);
  for (let t = 0; t < a.tokens; t++) {
    const s = a.scale[t];
    for (let i = 0, o = t * a.dim; i < a.dim; i++) out[o + i] = a.q[o + i] / s;
  }
  return out;
}

// ---------------------------------------------------------------- KV cache

export interface KVQuant {
  bits: number;
  dim: number;
  /** Unsigned codes in [0, 2^bits − 1], one row per vector. */
  q: Uint8Array;
  /** Per vector: the zero point (the row minimum) and the step (max − min) / (2^bits − 1). */
  min: Float32Array;
  step: Float32Array;
}

/** KV-cache quantization, post-RoPE, per head vector. a4.8 (§3, Table 3) and v2 (Tables 2–3) quantize
 *  Q/K/V heads "to unsigned integers with absmax, no calibration"; their code is not public. The faithful
 *  unsigned reading is asymmetric min/max per vector (per token, per head): step = (max − min)/(2^b − 1),
 *  q = RoundClip((x − min)/step, 0, 2^b − 1), x̃ = min + q·step. The minimum is exact, the maximum up to the
 *  float32 rounding of step (x̃ = min + (2^b − 1)·step), and every value in between is within step/2 (more when
 *  max − min < ε, where step is ε's); a symmetric absmax code would waste one of only 8 levels at 3 bits.
 *  max − min is guarded by ε like the other quantizers. */
export function quantizeKV(x: Values, dim: number, bits: number, eps = QUANT_EPS): KVQuant {
  const rows = checkRows(x, dim, "quantizeKV");
  if (!Number.isInteger(bits) || bits < 1 || bits > 8)
    throw new Error(`quantizeKV: bits must be an integer in [1, 8], got ${bits}`);
  const L = 2 ** bits - 1;
  const q = new Uint8Array(x.length);
  const min = new Float32Array(rows);
  const step = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < dim; i++) {
      const v = x[o + i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const st = f32(Math.max(hi - lo, eps) / L);
    min[r] = f32(lo);
    step[r] = st;
    for (let i = 0; i < dim; i++) q[o + i] = roundClip((x[o + i] - min[r]) / st, 0, L);
  }
  return {bits, dim, q, min, step};
}

export function dequantizeKV(k: KVQuant): Float32Array {
  const out = new Float32Array(k.q.length);
  const rows = k.q.length / k.dim;
  for (let r = 0; r < rows; r++) {
    for (let i = 0, o = r * k.dim; i < k.dim; i++) out[o + i] = k.min[r] + k.q[o + i] * k.step[r];
  }
  return out;
}
