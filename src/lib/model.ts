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
import {expectedTensors} from "./checkpoint.js";
import type {ModelWeights} from "./tensor.js";
import {attention, headNorm, KVCache, quantizeKVRows, rope, ropeTables} from "./attention.js";
import {glu, matmul, projectSite, rmsNorm, rowNorms, type Traces} from "./bitlinear.js";
import type {ForwardTrace, LinearTrace} from "./forward-trace.js";
import {prepare, type Prepared} from "./prepared.js";

// The trace types live in forward-trace.ts; the pages and chapters read them with the forward from here.
export type {ForwardTrace, LayerTrace, LinearTrace} from "./forward-trace.js";

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
