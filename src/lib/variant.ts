// The variant table: what each member of the BitNet family does to every BitLinear input, to the KV cache,
// and which configs are valid at all. One table, many readers — the CPU reference (model.ts), the tfjs
// trainer (train/model.ts), the WebGPU engine (src/gpu/engine/plan.ts), the checkpoint validator
// (checkpoint.ts) and, as JSON (`trainPlan` in train/plan.ts, printed by `bitnet-lab train --plan --json`), the PyTorch mirror.
//
// Sites. A BitLinear input site is one activation vector that one or more projections read; it is quantized
// once and shared (q/k/v read the same normed residual, gate/up too). One name per site everywhere:
//   qkv      RMSNorm(h)                         → W_q, W_k, W_v
//   o        [attn_sub_norm](attention output)  → W_o
//   gate_up  RMSNorm(h)                         → W_gate, W_up
//   down     [ffn_sub_norm](act(gate) ⊙ up)     → W_down
//
// What each variant does to a site's input (weights are always absmean ternary, quant.ts):
//   fp     nothing (float weights, float activations).
//   b1.58  absmax INT8 per token on every site (transformers' BitLinear).
//   a4.8   qkv, gate_up: absmean INT4 (INT8 while bitnet_activation_bits = 8, the paper's first stage);
//          o: top-K(bitnet_topk_ratio) then absmax INT8; down: absmax INT8 (ReLU² already makes it sparse).
//   v2     every site INT8 or INT4 (bitnet_activation_bits); o and down are H-BitLinear — the input is rotated
//          by the Hadamard transform before quantizing (bitnet_hadamard = false is the no-rotation ablation).
//
// KV cache (bitnet_kv_bits < 16): K after RoPE and V quantized per token and head (quantizeKV, asymmetric
// min/max). a4.8 keeps the BOS token at higher precision: the BOS token — the sequence's first token when it
// is bos_token_id, the attention sink the paper protects — gets max(bitnet_kv_bos_bits, bitnet_kv_bits); a
// window that starts mid-text (position 0 is some other token) gets no special case, and "keep BOS at 4
// bits" never lowers the precision of an 8-bit cache.
import {LINEARS, VARIANTS, headDim, type BitNetConfig, type GemmaBody, type LinearName} from "./config.js";
import {hadamardPlan} from "./hadamard.js";

export const SITES = ["qkv", "o", "gate_up", "down"] as const;
export type Site = (typeof SITES)[number];

/** The projections that read each site. */
export const SITE_LINEARS: Readonly<Record<Site, readonly LinearName[]>> = {
  qkv: ["q", "k", "v"],
  o: ["o"],
  gate_up: ["gate", "up"],
  down: ["down"],
};

/** The site a projection reads. */
export function siteOf(linear: LinearName): Site {
  return linear === "q" || linear === "k" || linear === "v"
    ? "qkv"
    : linear === "gate" || linear === "up"
      ? "gate_up"
      : linear;
}

/** The activation quantizers of quant.ts, by the names their paper equations give them. */
export type Quantizer = "none" | "absmax-int8" | "absmean-int4" | "topk-int8";

export interface SiteInput {
  site: Site;
  quantizer: Quantizer;
  /** Bits of the codes (8 or 4); 0 for "none". */
  bits: 0 | 4 | 8;
  /** H-BitLinear: rotate by the Hadamard transform of length `dim` before quantizing. */
  hadamard: boolean;
  /** top-K ratio of "topk-int8" (the fraction kept); absent otherwise. */
  topK?: number;
  /** The sub-norm applied to this site's input before everything else (o: attn_sub_norm, down: ffn_sub_norm). */
  subNorm: boolean;
  /** Length of the input vector. */
  dim: number;
}

export type SitePlan = Readonly<Record<Site, SiteInput>>;

function quantizerOf(c: BitNetConfig, site: Site): Quantizer {
  const low: Quantizer = c.bitnet_activation_bits === 4 ? "absmean-int4" : "absmax-int8";
  switch (c.bitnet_variant) {
    case "fp":
      return "none";
    case "b1.58":
      return "absmax-int8";
    case "a4.8":
      return site === "o" ? "topk-int8" : site === "down" ? "absmax-int8" : low;
    case "v2":
      return low;
  }
}

/** Which quantizer, Hadamard, top-K and bits each BitLinear input of this config gets. */
export function sitePlan(c: BitNetConfig): SitePlan {
  const d = headDim(c);
  const dims: Record<Site, number> = {
    qkv: c.hidden_size,
    o: c.num_attention_heads * d,
    gate_up: c.hidden_size,
    down: c.intermediate_size,
  };
  const one = (site: Site): SiteInput => {
    const quantizer = quantizerOf(c, site);
    const input: SiteInput = {
      site,
      quantizer,
      bits: quantizer === "none" ? 0 : quantizer === "absmean-int4" ? 4 : 8,
      hadamard: c.bitnet_variant === "v2" && c.bitnet_hadamard && (site === "o" || site === "down"),
      subNorm: c.bitnet_sub_norms && (site === "o" || site === "down"),
      dim: dims[site],
    };
    if (quantizer === "topk-int8") input.topK = c.bitnet_topk_ratio;
    return input;
  };
  return {qkv: one("qkv"), o: one("o"), gate_up: one("gate_up"), down: one("down")};
}

// ---------------------------------------------------------------- KV cache

export interface KVPlan {
  /** Bits of every cached position (16 = unquantized). */
  bits: number;
  /** Bits of the BOS token at position 0: max(bitnet_kv_bos_bits, bits), or `bits` when no special case. */
  bosBits: number;
  /** The token id the BOS rule is keyed on. */
  bosToken: number;
}

export function kvPlan(c: BitNetConfig): KVPlan {
  const bits = c.bitnet_kv_bits >= 16 ? 16 : c.bitnet_kv_bits;
  const bos = c.bitnet_kv_bos_bits > 0 ? Math.min(16, Math.max(c.bitnet_kv_bos_bits, bits)) : bits;
  return {bits, bosBits: bos, bosToken: c.bos_token_id};
}

/** KV bits of the token `token` at position `pos` (16 = unquantized). */
export function kvBitsAt(plan: KVPlan, pos: number, token: number): number {
  return pos === 0 && token === plan.bosToken ? plan.bosBits : plan.bits;
}

// ---------------------------------------------------------------- validation

export class ModelConfigError extends Error {
  override name = "ModelConfigError";
}

/** Upper bounds on a config, checked before any array, buffer or tensor is sized from it. Generous enough for
 *  every released BitNet / LLaMA-family model (2B4T: C 2560, F 6912, 30 layers, vocab 128256, 4096 positions). */
export const CONFIG_LIMITS = {
  vocab_size: 1 << 22,
  hidden_size: 1 << 16,
  intermediate_size: 1 << 18,
  num_hidden_layers: 1024,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 1024,
  max_position_embeddings: 1 << 20,
  /** Elements of the largest single tensor (the embedding or a projection). */
  tensorElements: 2 ** 34,
  /** Parameters of the whole model. */
  parameters: 2 ** 40,
} as const;

export interface ValidateOptions {
  /** Put before the field name in every message (e.g. "config.json: ", "model."). Default "config: ". */
  prefix?: string;
  /** The error class to throw (CheckpointError, ConfigError, …). */
  error?: new (
    message: string,
  ) => Error;
}

/** The one validator of a model config: every field typed and bounded, the relations between fields (heads,
 *  head dim, GQA groups, variant options) and a Hadamard construction for v2's rotated sites. Throws naming the
 *  field. Runs on plain numbers only, so nothing is allocated from an unchecked field. */
export function validateModelConfig(c: BitNetConfig, opts: ValidateOptions = {}): BitNetConfig {
  const prefix = opts.prefix ?? "config: ";
  const E = opts.error ?? ModelConfigError;
  const fail = (field: string, msg: string): never => {
    throw new E(`${prefix}${field} ${msg}`);
  };
  if (typeof c !== "object" || c === null) return fail("(top level)", "must be an object");
  const int = (k: keyof typeof CONFIG_LIMITS & keyof BitNetConfig, min = 1) => {
    const v = c[k] as unknown;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min)
      return fail(k, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    if (v > CONFIG_LIMITS[k]) fail(k, `${v} is larger than this implementation supports (≤ ${CONFIG_LIMITS[k]})`);
    return v;
  };
  if (!VARIANTS.includes(c.bitnet_variant))
    fail("bitnet_variant", `must be one of ${VARIANTS.join(", ")}, got ${JSON.stringify(c.bitnet_variant)}`);
  const V = int("vocab_size");
  const C = int("hidden_size");
  const F = int("intermediate_size");
  const L = int("num_hidden_layers");
  const H = int("num_attention_heads");
  const KV = int("num_key_value_heads");
  int("max_position_embeddings");
  if (KV > H || H % KV !== 0)
    fail("num_key_value_heads", `(${KV}): num_attention_heads ${H} is not a multiple of num_key_value_heads ${KV}`);
  if (c.head_dim !== undefined) int("head_dim");
  else if (C % H !== 0) fail("hidden_size", `${C} is not divisible by num_attention_heads ${H} (set head_dim)`);
  const d = headDim(c);
  if (d % 2 !== 0) fail("head_dim", `(head dimension ${d}) must be even for rotary embeddings`);
  if (d > CONFIG_LIMITS.head_dim)
    fail("head_dim", `${d} is larger than this implementation supports (≤ ${CONFIG_LIMITS.head_dim})`);
  // sizes of the tensors this config implies, before anything is allocated from them
  const qDim = H * d;
  const biggest = Math.max(V * C, qDim * C, F * C);
  if (biggest > CONFIG_LIMITS.tensorElements)
    fail("(shape)", `implies a tensor of ${biggest} elements (limit ${CONFIG_LIMITS.tensorElements})`);
  const perLayer = C * (qDim + 2 * KV * d) + qDim * C + 3 * C * F;
  const params = V * C * (c.tie_word_embeddings ? 1 : 2) + L * perLayer;
  if (params > CONFIG_LIMITS.parameters)
    fail(
      "(shape)",
      `implies ${params.toExponential(2)} parameters (limit ${CONFIG_LIMITS.parameters.toExponential(2)})`,
    );
  const pos = (k: "rms_norm_eps" | "rope_theta", max: number) => {
    const v = c[k] as unknown;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || v > max)
      fail(k, `must be a number in (0, ${max}], got ${JSON.stringify(v)}`);
  };
  pos("rms_norm_eps", 1);
  pos("rope_theta", 1e12);
  if (c.hidden_act !== "relu2" && c.hidden_act !== "silu" && c.hidden_act !== "gelu_tanh")
    fail("hidden_act", `must be "relu2", "silu" or "gelu_tanh", got ${JSON.stringify(c.hidden_act)}`);
  const g = c.bitnet_gemma as GemmaBody | undefined;
  if (g !== undefined) {
    // at least one per layer: a config cut to its first layers (the Open page's one-layer golden check) keeps its list
    if (!Array.isArray(g.sliding) || g.sliding.length < L || g.sliding.some((s) => typeof s !== "boolean"))
      fail("bitnet_gemma.sliding", `must hold a boolean for each of the ${L} layers, got ${JSON.stringify(g.sliding)}`);
    if (!Number.isSafeInteger(g.sliding_window) || g.sliding_window < 1)
      fail("bitnet_gemma.sliding_window", `must be a positive integer, got ${JSON.stringify(g.sliding_window)}`);
    for (const k of ["query_pre_attn_scalar", "rope_local_theta"] as const) {
      if (typeof g[k] !== "number" || !Number.isFinite(g[k]) || g[k] <= 0 || g[k] > 1e12)
        fail(`bitnet_gemma.${k}`, `must be a number in (0, 1e12], got ${JSON.stringify(g[k])}`);
    }
  }
  for (const k of ["tie_word_embeddings", "bitnet_hadamard", "bitnet_sub_norms"] as const) {
    if (typeof c[k] !== "boolean") fail(k, `must be true or false, got ${JSON.stringify(c[k])}`);
  }
  for (const k of ["bos_token_id", "eos_token_id"] as const) {
    const v = c[k] as unknown;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v >= V)
      fail(k, `must be a token id in [0, ${V}), got ${JSON.stringify(v)}`);
  }
  for (const k of ["bitnet_linear_norms", "bitnet_qk_norm"] as const) {
    if (c[k] !== undefined && typeof c[k] !== "boolean") fail(k, `must be true or false, got ${JSON.stringify(c[k])}`);
  }
  if (c.bitnet_linear_norms) {
    const e = c.bitnet_linear_norm_eps as unknown;
    if (typeof e !== "number" || !Number.isFinite(e) || e <= 0 || e > 1)
      fail("bitnet_linear_norm_eps", `must be a number in (0, 1], got ${JSON.stringify(e)}`);
  }
  if (c.bitnet_pooling !== undefined && c.bitnet_pooling !== "none" && c.bitnet_pooling !== "last-token-l2")
    fail("bitnet_pooling", `must be "none" or "last-token-l2", got ${JSON.stringify(c.bitnet_pooling)}`);
  const ab = c.bitnet_activation_bits as unknown;
  if (ab !== 8 && ab !== 4) fail("bitnet_activation_bits", `must be 8 or 4, got ${JSON.stringify(ab)}`);
  if (c.bitnet_variant === "b1.58" && ab !== 8) fail("bitnet_activation_bits", "must be 8 for b1.58");
  const tk = c.bitnet_topk_ratio as unknown;
  if (typeof tk !== "number" || !(tk > 0 && tk <= 1))
    fail("bitnet_topk_ratio", `must be a number in (0, 1], got ${JSON.stringify(tk)}`);
  const kv = c.bitnet_kv_bits as unknown;
  if (kv !== 16 && kv !== 8 && kv !== 4 && kv !== 3)
    fail("bitnet_kv_bits", `must be 16, 8, 4 or 3, got ${JSON.stringify(kv)}`);
  const kb = c.bitnet_kv_bos_bits as unknown;
  if (typeof kb !== "number" || !Number.isInteger(kb) || kb < 0 || kb > 16)
    fail("bitnet_kv_bos_bits", `must be an integer in [0, 16], got ${JSON.stringify(kb)}`);
  if (kb !== 0 && kb !== 16 && kb !== 8 && kb !== 4 && kb !== 3)
    fail("bitnet_kv_bos_bits", `must be 0 (no special case), 3, 4, 8 or 16, got ${kb}`);
  if (c.bitnet_variant === "v2" && c.bitnet_hadamard) {
    for (const s of ["o", "down"] as const) {
      const n = s === "o" ? qDim : F;
      try {
        hadamardPlan(n);
      } catch (e) {
        fail(
          s === "o" ? "num_attention_heads" : "intermediate_size",
          `gives a ${n}-long ${s} input with no Hadamard construction for v2: ${(e as Error).message}`,
        );
      }
    }
  }
  return c;
}

// ---------------------------------------------------------------- the plan as data

/** The site plan and KV plan of a config as plain JSON (what `bitnet-lab train --plan --json` prints per stage). */
export function sitePlanJSON(c: BitNetConfig): {
  sites: Record<Site, SiteInput & {linears: readonly LinearName[]}>;
  kv: KVPlan;
  linears: Record<LinearName, Site>;
} {
  const p = sitePlan(c);
  const sites = Object.fromEntries(SITES.map((s) => [s, {...p[s], linears: SITE_LINEARS[s]}])) as Record<
    Site,
    SiteInput & {linears: readonly LinearName[]}
  >;
  const linears = Object.fromEntries(LINEARS.map((l) => [l, siteOf(l)])) as Record<LinearName, Site>;
  return {sites, kv: kvPlan(c), linears};
}
