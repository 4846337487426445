// The trainable model in TensorFlow.js: the same architecture and variants as the CPU reference
// (src/lib/model.ts) — RMSNorm, RoPE (rotate-half, as transformers' LLaMA/BitNet), GQA, SwiGLU or
// ReLU²-GLU, optional sub-norms, tied head — with full-precision latent weights quantized on the fly.
// Every quantizer passes the gradient straight through (STE): forward q(x), backward ∂L/∂x = ∂L/∂q.
// The quantizers follow src/lib/quant.ts exactly (round half to even, divisor max(γ, ε), dequantized
// value q/s), so the forward matches the reference on the same weights.
import {topKCount} from "../quant.js";
import {LINEARS, headDim, tensorNames, type BitNetConfig, type LinearName} from "../config.js";
import {Rng} from "../rng.js";
import type {TF, TfTensor, Variable} from "./tf.js";
import {explicitHadamard} from "../hadamard.js";
import {sitePlan, type Site, type SiteInput} from "../variant.js";

export const EPS = 1e-5;

/** Parameters by Hugging Face tensor name: latent weights, or (TrainForwardOptions.weightsQuantized) the
 *  already ternarized BitLinear weights W̃·γ that the trainer computes for all layers at once. */
export type Params = Map<string, TfTensor>;

export const isQuantized = (c: BitNetConfig) => c.bitnet_variant !== "fp";

// ------------------------------------------------------------------ straight-through quantizers

/** Forward `fn(x)`, backward identity. */
export function ste(tf: TF, x: TfTensor, fn: (x: TfTensor) => TfTensor): TfTensor {
  const f = tf.customGrad((xx, save) => {
    void save;
    return {value: fn(xx as TfTensor), gradFunc: (dy) => dy};
  });
  return f(x) as TfTensor;
}

/** Absmean ternary weight, dequantized: W̃·max(γ, ε), γ = mean|W| (b1.58 eq. 1–3). */
export function weightQuant(tf: TF, w: TfTensor): TfTensor {
  return tf.tidy(() => {
    const gamma = tf.maximum(tf.mean(tf.abs(w)), EPS);
    const s = tf.div(1, gamma);
    return tf.div(tf.clipByValue(tf.round(tf.mul(w, s)), -1, 1), s);
  });
}

/** Per-token absmax INT8: q = RoundClip(s·x, −128, 127), s = 127/max(max|x|, ε); returns q/s. */
export function absmaxInt8(tf: TF, x: TfTensor): TfTensor {
  return tf.tidy(() => {
    const s = tf.div(127, tf.maximum(tf.max(tf.abs(x), -1, true), EPS));
    return tf.div(tf.clipByValue(tf.round(tf.mul(x, s)), -128, 127), s);
  });
}

/** Per-token absmean INT4: q = RoundClip(s·x, −8, 7), s = √7/max(mean|x|, ε); returns q/s. */
export function absmeanInt4(tf: TF, x: TfTensor): TfTensor {
  return tf.tidy(() => {
    const s = tf.div(Math.sqrt(7), tf.maximum(tf.mean(tf.abs(x), -1, true), EPS));
    return tf.div(tf.clipByValue(tf.round(tf.mul(x, s)), -8, 7), s);
  });
}

/** a4.8 sparsify-then-quantize: Q_INT8(X) ⊙ TopK(|X|). The mask keeps entries at or above the K-th
 *  largest magnitude (exact ties at the threshold, which the reference breaks by index, are kept). */
export function topkInt8(tf: TF, x: TfTensor, ratio: number): TfTensor {
  return tf.tidy(() => {
    const dim = x.shape[x.shape.length - 1];
    const K = topKCount(dim, ratio);
    const q = absmaxInt8(tf, x);
    if (K >= dim) return q;
    if (K === 0) return tf.zerosLike(x);
    const a = tf.abs(x);
    const thr = tf.slice(
      tf.topk(a, K, true).values,
      [...x.shape.slice(0, -1).map(() => 0), K - 1],
      [...x.shape.slice(0, -1), 1],
    );
    return tf.mul(q, tf.cast(tf.greaterEqual(a, thr), "float32"));
  });
}

/** Q(x) of a site, as the variant table (variant.ts sitePlan) gives it, with the straight-through gradient. */
export function quantizeActivation(tf: TF, x: TfTensor, site: SiteInput): TfTensor {
  switch (site.quantizer) {
    case "none":
      return x;
    case "absmax-int8":
      return ste(tf, x, (v) => absmaxInt8(tf, v));
    case "absmean-int4":
      return ste(tf, x, (v) => absmeanInt4(tf, v));
    case "topk-int8":
      return ste(tf, x, (v) => topkInt8(tf, v, site.topK!));
  }
}

// ------------------------------------------------------------------ parameters

/** The shape of every parameter, by tensor name. */
export function paramShapes(c: BitNetConfig): Map<string, number[]> {
  const C = c.hidden_size;
  const D = headDim(c);
  const F = c.intermediate_size;
  const m = new Map<string, number[]>();
  m.set(tensorNames.embed, [c.vocab_size, C]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const n = tensorNames.layer(i);
    m.set(n.inputNorm, [C]);
    m.set(n.q, [c.num_attention_heads * D, C]);
    m.set(n.k, [c.num_key_value_heads * D, C]);
    m.set(n.v, [c.num_key_value_heads * D, C]);
    m.set(n.o, [C, c.num_attention_heads * D]);
    if (c.bitnet_sub_norms) m.set(n.attnSubNorm, [c.num_attention_heads * D]);
    m.set(n.postAttnNorm, [C]);
    m.set(n.gate, [F, C]);
    m.set(n.up, [F, C]);
    m.set(n.down, [C, F]);
    if (c.bitnet_sub_norms) m.set(n.ffnSubNorm, [F]);
  }
  m.set(tensorNames.finalNorm, [C]);
  if (!c.tie_word_embeddings) m.set(tensorNames.lmHead, [c.vocab_size, C]);
  return m;
}

/** Names of the BitLinear weights (quantized in the forward), layer by layer. */
export function linearNames(c: BitNetConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const n = tensorNames.layer(i);
    for (const l of LINEARS) out.push(n[l as LinearName]);
  }
  return out;
}

/** Fresh latent parameters: N(0, 0.02²) for matrices (a deterministic stream per seed), ones for norms. */
export function initParams(tf: TF, c: BitNetConfig, seed: number, std = 0.02): Map<string, Variable> {
  const rng = new Rng(seed);
  const p = new Map<string, Variable>();
  for (const [name, shape] of paramShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data =
      shape.length === 1 ? new Float32Array(n).fill(1) : (rng.fillNormal(new Float32Array(n), std) as Float32Array);
    const init = tf.tensor(data, shape, "float32");
    p.set(name, tf.variable(init, true, name));
    init.dispose(); // the variable holds its own reference to the data
  }
  return p;
}

/** One-hot rows as float32. Built as int32 and cast: tfjs-backend-wasm 4.22's OneHot ignores a float32 dtype and
 *  writes int32 bits (1 reads as 1.4e-45), which made every logit 0 and the loss stay at ln V on WASM. */
function oneHotF32(tf: TF, indices: TfTensor, depth: number): TfTensor {
  return tf.cast(tf.oneHot(indices, depth), "float32");
}

/** Checks a parameter set against the config's shapes; names the first mismatch. */
export function checkParams(c: BitNetConfig, p: ReadonlyMap<string, {shape: number[]}>): void {
  for (const [name, shape] of paramShapes(c)) {
    const t = p.get(name);
    if (!t) throw new Error(`model: missing parameter ${name}`);
    if (t.shape.join() !== shape.join())
      throw new Error(`model: ${name} has shape [${t.shape}], the config needs [${shape}]`);
  }
}

// ------------------------------------------------------------------ forward

/** Per-forward constants (RoPE tables, causal mask, Hadamard matrices) kept between steps. */
export class ForwardCache {
  private readonly map = new Map<string, TfTensor>();
  /** The cached tensor, made on first use and kept out of any enclosing tidy scope. */
  get(tf: TF, key: string, make: () => TfTensor): TfTensor {
    let t = this.map.get(key);
    if (!t) {
      t = tf.keep(make());
      this.map.set(key, t);
    }
    return t;
  }
  dispose(): void {
    for (const t of this.map.values()) t.dispose();
    this.map.clear();
  }
}

/** Optional per-forward statistics (scalars, owned by the caller). */
export interface ForwardStats {
  /** γ = mean|W| per BitLinear weight, by tensor name. */
  gamma?: Map<string, TfTensor>;
  /** Filled with the site inputs the forward applied, in order (which quantizer / Hadamard each site got). */
  sites?: SiteInput[];
}

function rmsNorm(tf: TF, x: TfTensor, w: TfTensor, eps: number): TfTensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

function ropeTables(
  tf: TF,
  c: BitNetConfig,
  T: number,
  cache: ForwardCache,
): {cos: TfTensor; sin: TfTensor; rot: TfTensor} {
  const D = headDim(c);
  const cos = cache.get(tf, `cos${T}`, () => {
    const a = new Float32Array(T * D);
    for (let t = 0; t < T; t++)
      for (let i = 0; i < D / 2; i++) {
        const v = Math.cos(t * Math.pow(c.rope_theta, (-2 * i) / D));
        a[t * D + i] = v;
        a[t * D + i + D / 2] = v;
      }
    return tf.tensor(a, [T, D]);
  });
  const sin = cache.get(tf, `sin${T}`, () => {
    const a = new Float32Array(T * D);
    for (let t = 0; t < T; t++)
      for (let i = 0; i < D / 2; i++) {
        const v = Math.sin(t * Math.pow(c.rope_theta, (-2 * i) / D));
        a[t * D + i] = v;
        a[t * D + i + D / 2] = v;
      }
    return tf.tensor(a, [T, D]);
  });
  // rotate_half(x) = concat(−x₂, x₁) = x·R
  const rot = cache.get(tf, `rot${D}`, () => {
    const r = new Float32Array(D * D);
    for (let j = 0; j < D / 2; j++) {
      r[(j + D / 2) * D + j] = -1;
      r[j * D + j + D / 2] = 1;
    }
    return tf.tensor(r, [D, D]);
  });
  return {cos, sin, rot};
}

/** A BitLinear (or plain linear for fp) on an already quantized input: y = x̃ · W̃ᵀ, several weights
 *  side by side (q|k|v, gate|up) in one matmul. */
function linear(
  tf: TF,
  c: BitNetConfig,
  x: TfTensor,
  ws: TfTensor[],
  names: string[],
  stats?: ForwardStats,
  quantized = false,
): TfTensor {
  const wq = ws.map((w, i) => {
    if (!isQuantized(c) || quantized) return w;
    if (stats?.gamma) stats.gamma.set(names[i], tf.keep(tf.mean(tf.abs(w))));
    return ste(tf, w, (v) => weightQuant(tf, v));
  });
  const w = wq.length === 1 ? wq[0] : tf.concat(wq, 0);
  return tf.matMul(x, w, false, true);
}

export interface TrainForwardOptions {
  cache?: ForwardCache;
  stats?: ForwardStats;
  /** The BitLinear weights in `p` are already ternarized (the trainer's flat path); skip the per-weight
   *  quantizer. */
  weightsQuantized?: boolean;
  /** Leave every activation unquantized (the full-precision phase before a late switch to ternary, TrainConfig
   *  ternaryFrom); a Hadamard rotation still applies. */
  floatActivations?: boolean;
}

/** Logits [B·T, vocab] of a batch of token ids [B, T]. Call inside tf.tidy (or variableGrads). */
export function forward(
  tf: TF,
  c: BitNetConfig,
  p: Params,
  tokens: TfTensor,
  opts: TrainForwardOptions = {},
): TfTensor {
  const [B, T] = tokens.shape as [number, number];
  const cache = opts.cache ?? new ForwardCache();
  const H = c.num_attention_heads;
  const KV = c.num_key_value_heads;
  const D = headDim(c);
  const F = c.intermediate_size;
  const P = (name: string) => {
    const v = p.get(name);
    if (!v) throw new Error(`model: missing parameter ${name}`);
    return v;
  };
  const eps = c.rms_norm_eps;
  const sites = sitePlan(c);
  const q8 = (x: TfTensor, name: Site) => {
    const site = sites[name];
    opts.stats?.sites?.push(site);
    let xx = x;
    if (site.hadamard) {
      const n = x.shape[x.shape.length - 1];
      const Hm = cache.get(tf, `had${n}`, () => tf.tensor(Float32Array.from(explicitHadamard(n)), [n, n]));
      // Row-vector form of H·x with exactly src/lib/hadamard.ts's construction (block-diagonal for 688);
      // autodiff gives the gradient Hᵀ·g = H⁻¹·g, the transform's own inverse (v2 §2).
      xx = tf.matMul(x, Hm, false, true);
    }
    return opts.floatActivations ? xx : quantizeActivation(tf, xx, site);
  };
  const {cos, sin, rot} = ropeTables(tf, c, T, cache);
  const mask = cache.get(tf, `mask${T}`, () => {
    const m = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
    return tf.tensor(m, [T, T]);
  });
  const rope = (x: TfTensor) =>
    tf.add(tf.mul(x, cos), tf.mul(tf.matMul(x.reshape([-1, D]), rot).reshape(x.shape), sin));

  // The embedding lookup as one-hot × E: its gradient is a matmul, where tfjs's gather gradient is a
  // scatter with float atomics that contend on frequent tokens.
  const V = c.vocab_size;
  let h: TfTensor = tf.matMul(oneHotF32(tf, tokens.reshape([B * T]), V), P(tensorNames.embed));
  const lin = (x: TfTensor, names: string[]) =>
    linear(tf, c, x, names.map(P), names, opts.stats, opts.weightsQuantized);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const n = tensorNames.layer(i);
    // attention
    const a = q8(rmsNorm(tf, h, P(n.inputNorm), eps), "qkv");
    const qkv = lin(a, [n.q, n.k, n.v]);
    const [q0, k0, v0] = tf.split(qkv, [H * D, KV * D, KV * D], 1);
    const q = rope(q0.reshape([B, T, H, D]).transpose([0, 2, 1, 3]));
    const k = rope(k0.reshape([B, T, KV, D]).transpose([0, 2, 1, 3]));
    const v = v0.reshape([B, T, KV, D]).transpose([0, 2, 1, 3]);
    // GQA without copying K/V: query head h = kv·rep + r reads KV head kv = ⌊h/rep⌋ (transformers'
    // repeat_kv), so the rep query heads of one KV head are stacked along the sequence axis.
    const rep = H / KV;
    const qg = q.reshape([B, KV, rep * T, D]);
    const scores = tf.add(tf.mul(tf.matMul(qg, k, false, true), 1 / Math.sqrt(D)).reshape([B, H, T, T]), mask);
    const probs = tf.softmax(scores).reshape([B, KV, rep * T, T]);
    let att = tf
      .matMul(probs, v)
      .reshape([B, H, T, D])
      .transpose([0, 2, 1, 3])
      .reshape([B * T, H * D]);
    if (c.bitnet_sub_norms) att = rmsNorm(tf, att, P(n.attnSubNorm), eps);
    h = tf.add(h, lin(q8(att, "o"), [n.o]));
    // feed-forward
    const f = q8(rmsNorm(tf, h, P(n.postAttnNorm), eps), "gate_up");
    const gu = lin(f, [n.gate, n.up]);
    const [g, u] = tf.split(gu, [F, F], 1);
    const act = c.hidden_act === "relu2" ? tf.square(tf.relu(g)) : tf.mul(g, tf.sigmoid(g));
    let inner = tf.mul(act, u);
    if (c.bitnet_sub_norms) inner = rmsNorm(tf, inner, P(n.ffnSubNorm), eps);
    h = tf.add(h, lin(q8(inner, "down"), [n.down]));
  }
  h = rmsNorm(tf, h, P(tensorNames.finalNorm), eps);
  const head = c.tie_word_embeddings ? P(tensorNames.embed) : P(tensorNames.lmHead);
  return tf.matMul(h, head, false, true);
}

/** Mean next-token cross-entropy (nats) of logits [N, V] against targets [N] (int32). */
export function crossEntropy(tf: TF, logits: TfTensor, targets: TfTensor): TfTensor {
  const [N, V] = logits.shape as [number, number];
  const lse = tf.logSumExp(logits, -1);
  // Picking the target logit with a one-hot product keeps the backward free of scatter atomics.
  const picked = tf.sum(tf.mul(logits, oneHotF32(tf, tf.cast(targets.reshape([N]), "int32"), V)), -1);
  return tf.mean(tf.sub(lse, picked));
}
