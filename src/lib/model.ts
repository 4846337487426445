// The CPU reference forward of the BitNet family: the oracle for every kernel test, the trainer's export
// check and the pages' visualizations. Readable first, fast enough second.
//
// Architecture (LLaMA-like, transformers' modeling_bitnet.py):
//   h = embed[token]
//   per layer:  x = RMSNorm(h);  q, k, v = BitLinear(x);  RoPE(q, k) (rotate_half convention)
//               a = softmax(q·kᵀ/√d, causal) · v  (grouped-query: query head j reads KV head ⌊j / (H/KV)⌋)
//               h += W_o(attn_sub_norm(a))          (sub-norm only when bitnet_sub_norms)
//               x = RMSNorm(h);  m = act(gate(x)) ⊙ up(x)  (silu → SwiGLU, relu2 → ReLU²-GLU)
//               h += W_down(ffn_sub_norm(m))
//   logits = lm_head(RMSNorm(h))  (tied: the embedding; never quantized)
// Gemma3 bodies (architecture.ts) add: h = embed[token]·√C; norms x̂·(1 + w); h += post_attention_norm(W_o(a)) and
// h += post_feedforward_norm(W_down(m)) with the FFN reading pre_feedforward_norm(h); GELU-tanh; scores ×
// query_pre_attn_scalar^-½; sliding layers see the last `window` keys and use their own RoPE θ.
//
// What each variant does to each BitLinear input (quantizer, Hadamard, top-K, bits) and to the KV cache is
// the variant table's (variant.ts: sitePlan, kvPlan); this file only reads it. The forward is written in the
// papers' units: bitLinear, hBitLinear, rope, attention, glu.
//
// Numerics: tensors are stored in float32; dot products, norms and softmax accumulate in float64; the
// integer products of BitLinear are exact. RoPE angles are computed in float64 (transformers uses
// float32; the difference is ~1e-7 relative).

import {checkLogits, type DecodeSession} from "./backend.js";
import {headDim, tensorNames} from "./config.js";
import type {BitNetConfig, LinearName} from "./config.js";
import {expectedTensors, ternarize, validateWeights} from "./checkpoint.js";
import {hadamardTransform} from "./hadamard.js";
import {dequantizeKV, quantizeAbsmaxInt8, quantizeAbsmeanInt4, quantizeKV, quantizeTopKInt8} from "./quant.js";
import type {ActQuant} from "./quant.js";
import type {ModelWeights} from "./tensor.js";
import {architectureOf, type Architecture} from "./architecture.js";
import {SITE_LINEARS, kvBitsAt, kvPlan, sitePlan, type KVPlan, type SiteInput, type SitePlan} from "./variant.js";

// ---------------------------------------------------------------- traces

export interface LinearTrace {
  name: LinearName;
  /** The float input [T, in] as the projection receives it (after the sub-norm for o and down). */
  input: Float32Array;
  /** H-BitLinear only: H·input, the values that get quantized. */
  rotated?: Float32Array;
  /** The quantized activations (codes, per-token scales, statistics); absent for fp. */
  act?: ActQuant;
  /** Fraction of exact zeros among the values multiplied into the weights (codes, or the float input for fp). */
  sparsity: number;
  /** [T, out] */
  output: Float32Array;
}

export interface LayerTrace {
  layer: number;
  linears: Record<LinearName, LinearTrace>;
  /** Softmax weights [heads, T, S] for the T new tokens over all S = past + T positions (0 past the causal edge). */
  attention: Float32Array;
  attentionShape: [number, number, number];
  /** Per token L2 norm of the residual stream entering the layer, after attention, and leaving it. */
  residualNorm: {input: Float32Array; afterAttention: Float32Array; output: Float32Array};
  /** KV quantization of the new tokens: bits used and mean |error| of K and V (absent at 16 bits). */
  kv?: {bits: number[]; keyMeanAbsError: number; valueMeanAbsError: number};
}

export interface ForwardTrace {
  tokens: number[];
  /** Position of the first of `tokens`. */
  start: number;
  layers: LayerTrace[];
  /** The final RMSNorm's output [T, C], the LM head's input. */
  final: Float32Array;
}

// ---------------------------------------------------------------- prepared weights

type Linear =
  | {kind: "ternary"; out: number; in: number; codes: Int8Array; gamma: number}
  | {kind: "float"; out: number; in: number; w: Float32Array};

interface PreparedLayer {
  inputNorm: Float32Array;
  /** The RMSNorm inside each BitLinear (architecture.norms.perProjection), by projection. */
  linNorm?: Record<LinearName, Float32Array>;
  /** RMSNorm on each q / k head before RoPE (architecture.norms.qk). */
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  postAttnNorm: Float32Array;
  /** Gemma's sandwich norms (architecture.norms.sandwich): postAttnNorm then normalizes the attention output. */
  preFfnNorm?: Float32Array;
  postFfnNorm?: Float32Array;
  /** RoPE inverse frequencies of this layer's θ (architecture.rope.thetaPerLayer). */
  invFreq: Float64Array;
  attnSubNorm?: Float32Array;
  ffnSubNorm?: Float32Array;
  lin: Record<LinearName, Linear>;
}

interface Prepared {
  config: BitNetConfig;
  embed: Float32Array;
  finalNorm: Float32Array;
  lmHead: Float32Array;
  layers: PreparedLayer[];
  /** The architecture table's answer for this config (architecture.ts): activation, head, head_dim, RoPE. */
  arch: Architecture;
  /** The variant table's answer for this config (variant.ts). */
  sites: SitePlan;
  kv: KVPlan;
}

// Prepared state is cached per ModelWeights object: treat weights as immutable once they have been run
// (build a new ModelWeights after changing tensors, e.g. after a training step).
const prepared = new WeakMap<ModelWeights, Prepared>();

function prepare(weights: ModelWeights): Prepared {
  const hit = prepared.get(weights);
  if (hit) return hit;
  validateWeights(weights);
  const c = weights.config;
  // A latent (training) checkpoint of a quantized variant runs with its weights ternarized, as
  // transformers' AutoBitLinear "online" mode does.
  const w = c.bitnet_variant === "fp" ? weights : ternarize(weights);
  const f = (name: string) => w.float.get(name)!.data;
  const lin = (name: string): Linear => {
    const t = w.ternary.get(name);
    if (t) return {kind: "ternary", out: t.shape[0], in: t.shape[1], codes: t.codes, gamma: t.gamma};
    const x = w.float.get(name)!;
    return {kind: "float", out: x.shape[0], in: x.shape[1], w: x.data};
  };
  const layers: PreparedLayer[] = [];
  const arch = architectureOf(c);
  // Gemma's RMSNorm computes x̂ · (1 + w) in float32 (modeling_gemma3.py Gemma3RMSNorm): fold the 1 in once.
  const bn = (name: string) => (arch.norms.unitOffset ? f(name).map((v) => Math.fround(1 + v)) : f(name));
  const d = arch.headDim;
  const freqs = new Map<number, Float64Array>();
  const invFreqOf = (theta: number): Float64Array => {
    let inv = freqs.get(theta);
    if (!inv) {
      inv = new Float64Array(d / 2);
      for (let i = 0; i < d / 2; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / d);
      freqs.set(theta, inv);
    }
    return inv;
  };
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const n = tensorNames.layer(i);
    layers.push({
      inputNorm: bn(n.inputNorm),
      linNorm: arch.norms.perProjection
        ? (Object.fromEntries(
            (["q", "k", "v", "o", "gate", "up", "down"] as const).map((l) => [l, f(tensorNames.linearNorm(n[l]))]),
          ) as Record<LinearName, Float32Array>)
        : undefined,
      qNorm: arch.norms.qk ? bn(n.qNorm) : undefined,
      kNorm: arch.norms.qk ? bn(n.kNorm) : undefined,
      postAttnNorm: bn(n.postAttnNorm),
      preFfnNorm: arch.norms.sandwich ? bn(n.preFfnNorm) : undefined,
      postFfnNorm: arch.norms.sandwich ? bn(n.postFfnNorm) : undefined,
      invFreq: invFreqOf(arch.rope.thetaPerLayer[i]),
      attnSubNorm: c.bitnet_sub_norms ? f(n.attnSubNorm) : undefined,
      ffnSubNorm: c.bitnet_sub_norms ? f(n.ffnSubNorm) : undefined,
      lin: {q: lin(n.q), k: lin(n.k), v: lin(n.v), o: lin(n.o), gate: lin(n.gate), up: lin(n.up), down: lin(n.down)},
    });
  }
  const p: Prepared = {
    config: c,
    embed: f(tensorNames.embed),
    finalNorm: bn(tensorNames.finalNorm),
    lmHead: arch.head.tied ? f(tensorNames.embed) : f(tensorNames.lmHead),
    layers,
    arch,
    sites: sitePlan(c),
    kv: kvPlan(c),
  };
  prepared.set(weights, p);
  return p;
}

// ---------------------------------------------------------------- building blocks

/** RMSNorm per row: y = w · x / sqrt(mean(x²) + eps). */
function rmsNorm(x: Float32Array, T: number, C: number, w: Float32Array, eps: number): Float32Array {
  const y = new Float32Array(T * C);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let ss = 0;
    for (let i = 0; i < C; i++) ss += x[o + i] * x[o + i];
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let i = 0; i < C; i++) y[o + i] = w[i] * Math.fround(x[o + i] * r);
  }
  return y;
}

function rowNorms(x: Float32Array, T: number, C: number): Float32Array {
  const out = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let i = 0; i < C; i++) s += x[t * C + i] * x[t * C + i];
    out[t] = Math.sqrt(s);
  }
  return out;
}

/** Q(x): the activation quantizer the variant table gives a site (undefined for fp). */
function quantizeSite(site: SiteInput, x: Float32Array): ActQuant | undefined {
  switch (site.quantizer) {
    case "none":
      return undefined;
    case "absmax-int8":
      return quantizeAbsmaxInt8(x, site.dim);
    case "absmean-int4":
      return quantizeAbsmeanInt4(x, site.dim);
    case "topk-int8":
      return quantizeTopKInt8(x, site.dim, site.topK!);
  }
}

/** y[t, o] = Σ_i W[o, i] · x̃[t, i] for T rows, with W ternary (γ·W̃) or float, and x̃ the dequantized
 *  activations (q / s) when `act` is given or the float input otherwise. Integer products are exact. */
function matmul(lin: Linear, x: Float32Array, act: ActQuant | undefined, T: number): Float32Array {
  const {out: O, in: I} = lin;
  const y = new Float32Array(T * O);
  const xin = new Float64Array(I);
  const xint = new Int32Array(I);
  for (let t = 0; t < T; t++) {
    // Output multiplier: γ (ternary) times 1/s (quantized input).
    const post = (lin.kind === "ternary" ? lin.gamma : 1) / (act ? act.scale[t] : 1);
    const yo = t * O;
    if (lin.kind === "ternary" && act) {
      // Ternary × integer codes: exact int32 sums (|sum| ≤ 128·in < 2^31), four accumulators for speed.
      const W = lin.codes;
      for (let i = 0; i < I; i++) xint[i] = act.q[t * I + i];
      for (let o = 0; o < O; o++) {
        const r = o * I;
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        let i = 0;
        for (; i + 3 < I; i += 4) {
          a0 = (a0 + W[r + i] * xint[i]) | 0;
          a1 = (a1 + W[r + i + 1] * xint[i + 1]) | 0;
          a2 = (a2 + W[r + i + 2] * xint[i + 2]) | 0;
          a3 = (a3 + W[r + i + 3] * xint[i + 3]) | 0;
        }
        for (; i < I; i++) a0 = (a0 + W[r + i] * xint[i]) | 0;
        y[yo + o] = (a0 + a1 + a2 + a3) * post;
      }
      continue;
    }
    const src = act ? act.q : x;
    for (let i = 0; i < I; i++) xin[i] = src[t * I + i];
    if (lin.kind === "ternary") {
      const W = lin.codes;
      for (let o = 0; o < O; o++) {
        const r = o * I;
        let acc = 0;
        for (let i = 0; i < I; i++) acc += W[r + i] * xin[i];
        y[yo + o] = acc * post;
      }
    } else {
      const W = lin.w;
      for (let o = 0; o < O; o++) {
        const r = o * I;
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        let i = 0;
        for (; i + 3 < I; i += 4) {
          a0 += W[r + i] * xin[i];
          a1 += W[r + i + 1] * xin[i + 1];
          a2 += W[r + i + 2] * xin[i + 2];
          a3 += W[r + i + 3] * xin[i + 3];
        }
        for (; i < I; i++) a0 += W[r + i] * xin[i];
        y[yo + o] = (a0 + a1 + (a2 + a3)) * post;
      }
    }
  }
  return y;
}

function zeroFraction(a: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) z++;
  return a.length ? z / a.length : 0;
}

type Traces = Partial<Record<LinearName, LinearTrace>> | undefined;

/** BitLinear (b1.58 eq. 1–3): y = Q_w(W) · Q(x) for each projection reading this site, with the input quantized
 *  once and shared (q/k/v, gate/up). `x` is what gets quantized; `input` is the site's input as traced. */
function bitLinear(
  site: SiteInput,
  lins: readonly Linear[],
  x: Float32Array,
  T: number,
  trace?: {traces: NonNullable<Traces>; input: Float32Array; rotated?: Float32Array},
  names: readonly LinearName[] = SITE_LINEARS[site.site],
): Float32Array[] {
  const act = quantizeSite(site, x);
  return lins.map((lin, i) => {
    const y = matmul(lin, x, act, T);
    if (trace) {
      const name = names[i];
      trace.traces[name] = {
        name,
        input: trace.input,
        rotated: trace.rotated,
        act,
        sparsity: act ? act.stats.zeroFraction : zeroFraction(x),
        output: y.slice(), // q and k are rotated in place afterwards; keep the projection's own output
      };
    }
    return y;
  });
}

/** H-BitLinear (v2 §2): y = Q_w(W) · Q(H·x). The stored weight is the one trained against rotated inputs, so
 *  the forward only rotates. */
function hBitLinear(
  site: SiteInput,
  lins: readonly Linear[],
  x: Float32Array,
  T: number,
  traces: Traces,
  names?: readonly LinearName[],
): Float32Array[] {
  const rotated = x.slice();
  hadamardTransform(rotated, site.dim);
  return bitLinear(site, lins, rotated, T, traces && {traces, input: x, rotated}, names);
}

/** A site's projections, as the variant table says (BitLinear or H-BitLinear). With an RMSNorm inside each BitLinear
 *  (architecture.norms.perProjection) every projection normalizes the site's input with its own weights and so
 *  quantizes its own copy: the site is no longer shared. */
function projectSite(
  site: SiteInput,
  layer: PreparedLayer,
  x: Float32Array,
  T: number,
  traces: Traces,
  linEps = 0,
): Float32Array[] {
  const names = SITE_LINEARS[site.site];
  if (layer.linNorm) {
    return names.map((n) => {
      const xn = rmsNorm(x, T, site.dim, layer.linNorm![n], linEps);
      return (
        site.hadamard
          ? hBitLinear(site, [layer.lin[n]], xn, T, traces, [n])
          : bitLinear(site, [layer.lin[n]], xn, T, traces && {traces, input: xn}, [n])
      )[0];
    });
  }
  const lins = names.map((n) => layer.lin[n]);
  return site.hadamard
    ? hBitLinear(site, lins, x, T, traces)
    : bitLinear(site, lins, x, T, traces && {traces, input: x});
}

/** RMSNorm of every d-long head of [T, heads·d] in place (Qwen3's q_norm / k_norm). */
function headNorm(x: Float32Array, T: number, heads: number, d: number, w: Float32Array, eps: number): void {
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

/** The gated linear unit: act(g) ⊙ u with act = SiLU (SwiGLU), ReLU² (a4.8's ReLU²-GLU) or GELU-tanh (Gemma's GeGLU). */
function glu(g: Float32Array, u: Float32Array, act: Architecture["activation"]): Float32Array {
  const m = new Float32Array(g.length);
  if (act === "relu2") {
    for (let i = 0; i < m.length; i++) {
      const r = g[i] > 0 ? g[i] : 0;
      m[i] = Math.fround(r * r) * u[i];
    }
  } else if (act === "gelu_tanh") {
    // transformers' gelu_pytorch_tanh: ½ g (1 + tanh(√(2/π) (g + 0.044715 g³)))
    const k = Math.sqrt(2 / Math.PI);
    for (let i = 0; i < m.length; i++) {
      const x = g[i];
      m[i] = Math.fround(0.5 * x * (1 + Math.tanh(k * (x + 0.044715 * x * x * x)))) * u[i];
    }
  } else {
    for (let i = 0; i < m.length; i++) m[i] = Math.fround(g[i] / (1 + Math.exp(-g[i]))) * u[i];
  }
  return m;
}

/** KV-cache quantization of the T new tokens in place (k, v: [T, KV·d]); bits per token from the variant
 *  table (kvBitsAt: the BOS token at position 0 may keep more). */
function quantizeKVRows(
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

class KVCache {
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

// ---------------------------------------------------------------- the forward over a block of tokens

interface BlockResult {
  /** [T, V] (allLogits) or [V] (last token only). */
  logits: Float32Array;
  trace?: ForwardTrace;
}

function checkTokens(c: BitNetConfig, tokens: readonly number[]): void {
  if (tokens.length === 0) throw new Error("forward: no tokens given");
  for (const t of tokens) {
    if (!Number.isInteger(t) || t < 0 || t >= c.vocab_size)
      throw new Error(`forward: token id ${t} is outside the vocabulary [0, ${c.vocab_size})`);
  }
}

/** Runs T new tokens at positions cache.length … cache.length+T−1, appending their K/V to the cache. */
function forwardBlock(
  p: Prepared,
  cache: KVCache,
  tokens: readonly number[],
  opts: {allLogits: boolean; trace: boolean},
): BlockResult {
  const c = p.config;
  checkTokens(c, tokens);
  const T = tokens.length;
  const C = c.hidden_size;
  const H = c.num_attention_heads;
  const KV = c.num_key_value_heads;
  const d = p.arch.headDim;
  const P = cache.length;
  const S = P + T;
  cache.ensure(S);
  const eps = c.rms_norm_eps;
  const sites = p.sites;
  const tables = new Map<Float64Array, {cos: Float64Array; sin: Float64Array}>();
  for (const L of p.layers) if (!tables.has(L.invFreq)) tables.set(L.invFreq, ropeTables(L.invFreq, P, T));

  const h = new Float32Array(T * C);
  for (let t = 0; t < T; t++) h.set(p.embed.subarray(tokens[t] * C, tokens[t] * C + C), t * C);
  // Gemma: × √hidden, MiniCPM: × scale_emb — a float32 scalar times float32 rows, as torch does
  const es = Math.fround(p.arch.embedScale);
  if (es !== 1) for (let i = 0; i < h.length; i++) h[i] = Math.fround(h[i] * es);
  // MiniCPM: residual + block(x) · scale_depth / √layers (MiniCPMDecoderLayer.forward)
  const rs = Math.fround(p.arch.residualScale);
  const addScaled = (y: Float32Array) => {
    if (rs === 1) for (let i = 0; i < h.length; i++) h[i] += y[i];
    else for (let i = 0; i < h.length; i++) h[i] += Math.fround(y[i] * rs);
  };

  const trace: ForwardTrace | undefined = opts.trace
    ? {tokens: [...tokens], start: P, layers: [], final: new Float32Array(0)}
    : undefined;

  for (let l = 0; l < c.num_hidden_layers; l++) {
    const L = p.layers[l];
    const lt: Traces = trace ? {} : undefined;
    const normIn = trace ? rowNorms(h, T, C) : undefined;

    // attention: q, k, v = BitLinear(RMSNorm(h)); RoPE; KV cache; h += W_o(attn_sub_norm(attention))
    const linEps = c.bitnet_linear_norm_eps ?? 0;
    const [q, k, v] = projectSite(sites.qkv, L, rmsNorm(h, T, C, L.inputNorm, eps), T, lt, linEps);
    if (L.qNorm) headNorm(q, T, H, d, L.qNorm, eps);
    if (L.kNorm) headNorm(k, T, KV, d, L.kNorm, eps);
    const {cos, sin} = tables.get(L.invFreq)!;
    rope(q, T, H, d, cos, sin);
    rope(k, T, KV, d, cos, sin);
    const kvInfo = quantizeKVRows(p.kv, k, v, tokens, P, KV * d, d);
    cache.k[l].set(k, P * KV * d);
    cache.v[l].set(v, P * KV * d);
    const win = p.arch.attention.window[l] ?? Infinity;
    const att = attention(q, cache.k[l], cache.v[l], T, P, H, KV, d, !!trace, p.arch.attention.scale, win);
    const a = L.attnSubNorm ? rmsNorm(att.out, T, H * d, L.attnSubNorm, eps) : att.out;
    const [o0] = projectSite(sites.o, L, a, T, lt, linEps);
    const o = L.preFfnNorm ? rmsNorm(o0, T, C, L.postAttnNorm, eps) : o0; // Gemma: post-attention norm
    addScaled(o);
    const normMid = trace ? rowNorms(h, T, C) : undefined;

    // feed-forward: h += W_down(ffn_sub_norm(act(gate(x)) ⊙ up(x))), x = RMSNorm(h)
    const [g, u] = projectSite(sites.gate_up, L, rmsNorm(h, T, C, L.preFfnNorm ?? L.postAttnNorm, eps), T, lt, linEps);
    const m = glu(g, u, p.arch.activation);
    const mm = L.ffnSubNorm ? rmsNorm(m, T, c.intermediate_size, L.ffnSubNorm, eps) : m;
    const [dn0] = projectSite(sites.down, L, mm, T, lt, linEps);
    const dn = L.postFfnNorm ? rmsNorm(dn0, T, C, L.postFfnNorm, eps) : dn0;
    addScaled(dn);

    if (trace && lt && normIn && normMid) {
      trace.layers.push({
        layer: l,
        linears: lt as Record<LinearName, LinearTrace>,
        attention: att.weights!,
        attentionShape: [H, T, S],
        residualNorm: {input: normIn, afterAttention: normMid, output: rowNorms(h, T, C)},
        kv: kvInfo,
      });
    }
  }
  cache.length = S;

  // LM head on the last token, or on all of them.
  const V = c.vocab_size;
  const rows = opts.allLogits ? T : 1;
  const first = T - rows;
  const fin = rmsNorm(h.subarray(first * C), rows, C, p.finalNorm, eps);
  // MiniCPM: lm_head(h / (hidden_size / dim_model_base)) (MiniCPMForCausalLM.forward)
  const hd = Math.fround(p.arch.headDivisor);
  const headIn = hd === 1 ? fin : fin.map((v) => v / hd);
  if (trace) trace.final = opts.allLogits ? fin : rmsNorm(h, T, C, p.finalNorm, eps);
  const logits = matmul({kind: "float", out: V, in: C, w: p.lmHead}, headIn, undefined, rows);
  return {logits, trace};
}

// ---------------------------------------------------------------- public API

export interface ForwardOptions {
  /** Record every intermediate (see ForwardTrace). Off by default; costs nothing when off. */
  trace?: boolean;
}

/** The whole sequence at once (positions 0 … T−1): logits [T, vocab] and, optionally, the trace. */
export function forwardFull(
  weights: ModelWeights,
  tokens: readonly number[],
  opts: ForwardOptions = {},
): {logits: Float32Array; trace?: ForwardTrace} {
  const p = prepare(weights);
  const c = p.config;
  const cache = new KVCache(c.num_hidden_layers, c.num_key_value_heads * headDim(c), c.max_position_embeddings);
  return forwardBlock(p, cache, tokens, {allLogits: true, trace: !!opts.trace});
}

export interface CpuSessionOptions {
  /** Cache positions to allow (default and maximum: max_position_embeddings). */
  maxLength?: number;
}

export interface AppendOptions {
  allLogits?: boolean;
  /** Keep this call's trace in `lastTrace`. */
  trace?: boolean;
}

/** DecodeSession on the CPU reference forward. */
export class CpuSession implements DecodeSession {
  readonly backend = "cpu" as const;
  readonly config: BitNetConfig;
  /** The trace of the last append called with {trace: true}. */
  lastTrace: ForwardTrace | undefined;
  private readonly p: Prepared;
  private cache: KVCache;
  private readonly maxLength: number;

  constructor(weights: ModelWeights, opts: CpuSessionOptions = {}) {
    this.p = prepare(weights);
    this.config = this.p.config;
    const max = this.config.max_position_embeddings;
    this.maxLength = Math.min(max, opts.maxLength ?? max);
    if (!(this.maxLength >= 1)) throw new Error(`createCpuSession: maxLength must be ≥ 1, got ${opts.maxLength}`);
    this.cache = this.newCache();
  }

  private newCache(): KVCache {
    const c = this.config;
    return new KVCache(c.num_hidden_layers, c.num_key_value_heads * headDim(c), this.maxLength);
  }

  get length(): number {
    return this.cache.length;
  }

  get maxPositions(): number {
    return this.maxLength;
  }

  /** Synchronous append (the CPU needs no await). */
  appendSync(tokens: readonly number[], opts: AppendOptions = {}): Float32Array {
    if (this.cache.length + tokens.length > this.maxLength) {
      throw new Error(
        `session: ${this.cache.length} + ${tokens.length} tokens exceed the ${this.maxLength}-position limit`,
      );
    }
    const first = this.cache.length;
    const r = forwardBlock(this.p, this.cache, tokens, {allLogits: !!opts.allLogits, trace: !!opts.trace});
    if (opts.trace) this.lastTrace = r.trace;
    checkLogits(
      r.logits,
      this.p.config.vocab_size,
      opts.allLogits ? first : first + tokens.length - 1,
      "CPU reference",
    );
    return r.logits;
  }

  append(tokens: readonly number[], opts: AppendOptions = {}): Promise<Float32Array> {
    try {
      return Promise.resolve(this.appendSync(tokens, opts));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  reset(): void {
    this.cache = this.newCache();
    this.lastTrace = undefined;
  }

  dispose(): void {
    this.cache = this.newCache();
    this.lastTrace = undefined;
  }
}

export function createCpuSession(weights: ModelWeights, opts: CpuSessionOptions = {}): CpuSession {
  return new CpuSession(weights, opts);
}

/** Parameter counts by kind (embedding counted once when tied). */
export function parameterCounts(config: BitNetConfig): {
  embedding: number;
  linear: number;
  norm: number;
  head: number;
  total: number;
} {
  let linear = 0;
  let norm = 0;
  let embedding = 0;
  let head = 0;
  for (const e of expectedTensors(config)) {
    const n = e.shape.reduce((a: number, b: number) => a * b, 1);
    if (e.kind === "linear") linear += n;
    else if (e.name === tensorNames.embed) embedding += n;
    else if (e.name === tensorNames.lmHead) head += n;
    else norm += n;
  }
  return {embedding, linear, norm, head, total: embedding + linear + norm + head};
}

/** An embedding model's output (architecture.pooling "last-token-l2"): the final-norm hidden state of the last
 *  token, L2-normalized — what sentence-transformers' Pooling(lasttoken) + Normalize return. */
export function embedTokens(weights: ModelWeights, tokens: readonly number[]): Float32Array {
  const c = weights.config;
  if ((c.bitnet_pooling ?? "none") === "none")
    throw new Error(
      "embedTokens: this model has no pooling (a causal LM); its config sets bitnet_pooling only for embedding models",
    );
  const {trace} = forwardFull(weights, tokens, {trace: true});
  const C = c.hidden_size;
  const last = trace!.final.subarray((tokens.length - 1) * C, tokens.length * C);
  let ss = 0;
  for (let i = 0; i < C; i++) ss += last[i] * last[i];
  const n = Math.max(Math.sqrt(ss), 1e-12);
  return Float32Array.from(last, (v) => v / n);
}
