// The CPU reference forward's attention (model.ts): RoPE, causal grouped-query attention over the KV cache, the
// per-head q / k norms, and the KV cache with its per-token quantization (variant table's kvPlan).
import type {LayerTrace} from "./forward-trace.js";
import {rmsNorm} from "./bitlinear.js";
import {dequantizeKV, quantizeKV} from "./quant.js";
import {kvBitsAt, type KVPlan} from "./variant.js";

/** RMSNorm of every d-long head of [T, heads·d] in place (Qwen3's q_norm / k_norm). */
export function headNorm(x: Float32Array, T: number, heads: number, d: number, w: Float32Array, eps: number): void {
  const y = rmsNorm(x, T * heads, d, w, eps);
  x.set(y);
}

/** RoPE (rotate_half convention) in place on [T, heads, d] with the tables of the T new positions. */
export function rope(x: Float32Array, T: number, heads: number, d: number, cos: Float64Array, sin: Float64Array): void {
  const half = d / 2;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * d;
      for (let i = 0; i < half; i++) {
        const x1 = x[o + i];
        const x2 = x[o + i + half];
        const cs = cos[t * half + i];
        const sn = sin[t * half + i];
        x[o + i] = x1 * cs - x2 * sn;
        x[o + i + half] = x2 * cs + x1 * sn;
      }
    }
  }
}

export function ropeTables(invFreq: Float64Array, P: number, T: number): {cos: Float64Array; sin: Float64Array} {
  const half = invFreq.length;
  const cos = new Float64Array(T * half);
  const sin = new Float64Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = (P + t) * invFreq[i];
      cos[t * half + i] = Math.cos(a);
      sin[t * half + i] = Math.sin(a);
    }
  }
  return {cos, sin};
}

/** Causal grouped-query attention of T new queries at positions P … P+T−1 over the cache:
 *  a = softmax(q·Kᵀ/√d) · V, query head j reading KV head ⌊j / (H/KV)⌋. Returns [T, H·d] and, when asked,
 *  the weights [H, T, S]. */
export function attention(
  q: Float32Array,
  Kc: Float32Array,
  Vc: Float32Array,
  T: number,
  P: number,
  H: number,
  KV: number,
  d: number,
  withWeights: boolean,
  scale = 1 / Math.sqrt(d),
  window = Infinity,
): {out: Float32Array; weights?: Float32Array} {
  const S = P + T;
  const group = H / KV;
  const out = new Float32Array(T * H * d);
  const weights = withWeights ? new Float32Array(H * T * S) : undefined;
  const scores = new Float64Array(S);
  const acc = new Float64Array(d);
  for (let t = 0; t < T; t++) {
    const last = P + t; // causal: attend to positions first … last (first > 0 only in a sliding window)
    const first = Math.max(0, last - window + 1);
    for (let hh = 0; hh < H; hh++) {
      const kvh = Math.floor(hh / group);
      const qo = (t * H + hh) * d;
      let mx = -Infinity;
      for (let j = first; j <= last; j++) {
        const ko = (j * KV + kvh) * d;
        let s = 0;
        for (let i = 0; i < d; i++) s += q[qo + i] * Kc[ko + i];
        s *= scale;
        scores[j] = s;
        if (s > mx) mx = s;
      }
      let z = 0;
      for (let j = first; j <= last; j++) {
        scores[j] = Math.exp(scores[j] - mx);
        z += scores[j];
      }
      acc.fill(0);
      for (let j = first; j <= last; j++) {
        const wj = scores[j] / z;
        if (weights) weights[(hh * T + t) * S + j] = wj;
        const vo = (j * KV + kvh) * d;
        for (let i = 0; i < d; i++) acc[i] += wj * Vc[vo + i];
      }
      for (let i = 0; i < d; i++) out[qo + i] = acc[i];
    }
  }
  return {out, weights};
}
/** KV-cache quantization of the T new tokens in place (k, v: [T, KV·d]); bits per token from the variant
 *  table (kvBitsAt: the BOS token at position 0 may keep more). */
export function quantizeKVRows(
  kvp: KVPlan,
  k: Float32Array,
  v: Float32Array,
  tokens: readonly number[],
  P: number,
  rowSize: number,
  d: number,
): LayerTrace["kv"] {
  if (kvp.bits >= 16 && kvp.bosBits >= 16) return undefined;
  let kErr = 0;
  let vErr = 0;
  let n = 0;
  const bits: number[] = [];
  for (let t = 0; t < tokens.length; t++) {
    const b = kvBitsAt(kvp, P + t, tokens[t]);
    bits.push(b);
    if (b >= 16) continue;
    for (const arr of [k, v]) {
      const row = arr.subarray(t * rowSize, (t + 1) * rowSize);
      const deq = dequantizeKV(quantizeKV(row, d, b));
      for (let i = 0; i < row.length; i++) {
        const e = Math.abs(row[i] - deq[i]);
        if (arr === k) kErr += e;
        else vErr += e;
      }
      row.set(deq);
    }
    n += rowSize;
  }
  return bits.some((b) => b < 16)
    ? {bits, keyMeanAbsError: n ? kErr / n : 0, valueMeanAbsError: n ? vErr / n : 0}
    : undefined;
}

// ---------------------------------------------------------------- KV cache

export class KVCache {
  length = 0;
  capacity = 0;
  k: Float32Array[];
  v: Float32Array[];
  constructor(
    private readonly layers: number,
    private readonly rowSize: number, // kvHeads · headDim
    private readonly maxLength: number,
  ) {
    this.k = Array.from({length: layers}, () => new Float32Array(0));
    this.v = Array.from({length: layers}, () => new Float32Array(0));
  }
  ensure(n: number): void {
    if (n > this.maxLength)
      throw new Error(`KV cache: ${n} positions exceed max_position_embeddings ${this.maxLength}`);
    if (n <= this.capacity) return;
    const cap = Math.min(this.maxLength, Math.max(n, this.capacity * 2, 16));
    for (let l = 0; l < this.layers; l++) {
      const k = new Float32Array(cap * this.rowSize);
      k.set(this.k[l].subarray(0, this.length * this.rowSize));
      this.k[l] = k;
      const v = new Float32Array(cap * this.rowSize);
      v.set(this.v[l].subarray(0, this.length * this.rowSize));
      this.v[l] = v;
    }
    this.capacity = cap;
  }
}
