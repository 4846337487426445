// Hugging Face folder checkpoints, bytes in and bytes out (Node folder I/O lives in src/node/modeldir.ts):
//   config.json        BitNetConfig (transformers' fields + this project's bitnet_* fields)
//   model.safetensors  packed ternary projections (uint8, 4 per byte, see pack.ts) + `weight_scale`, or
//                      latent float projections for training; embeddings and norms in F32/BF16/F16
//   tokenizer.json     passed through as opaque JSON
//
// weight_scale semantics. transformers has two layer classes for packed weights (integrations/bitnet.py):
// - linear_class "bitlinear" (what we write, and what microsoft/bitnet-b1.58-2B-4T ships): BitLinear
//   computes y = (W̃ · x_q) / (s_x · weight_scale), so weight_scale = 1/γ — the stored scale is "inverted"
//   (llama.cpp's converter says so too: it dequantizes packed BitNet weights as W̃ / weight_scale). We
//   write weight_scale = s = 1/max(γ, ε) as F32 [1], the very multiplier of the absmean quantizer.
// - linear_class "autobitlinear", mode "offline": y = F.linear(x̃, W̃) · weight_scale, so weight_scale = γ.
// The reader honours both. Latent checkpoints of quantized variants carry quantization_config
// {linear_class "autobitlinear", quantization_mode "online"} (like microsoft's -bf16 release), so
// transformers ternarizes them on the fly exactly like ternarize() here; fp models carry none.

import {VARIANTS, defaultConfig, headDim, tensorNames} from "./config.js";
import type {BitNetConfig, LinearName, Variant} from "./config.js";
import {packTernary, packedRows, unpackTernary} from "./pack.js";
import {quantizeWeightsAbsmean} from "./quant.js";
import {validateModelConfig} from "./variant.js";
import {detectFamily} from "./architecture.js";
import {gemmaFields} from "./gemma.js";
import {minicpmFields} from "./minicpm.js";
import {fromFloat32, parseSafetensorsHeader, tensorBytes, toFloat32, writeSafetensors} from "./safetensors.js";
import type {DType, SafetensorsHeader, TensorEntry} from "./safetensors.js";
import type {ModelWeights, Tensor, TernaryTensor} from "./tensor.js";

export class CheckpointError extends Error {
  override name = "CheckpointError";
}
const fail = (msg: string): never => {
  throw new CheckpointError(msg);
};

// ---------------------------------------------------------------- config.json

function obj(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) fail(`${what} must be a JSON object`);
  return x as Record<string, unknown>;
}

function posInt(c: Record<string, unknown>, key: string, fallback?: number): number {
  const v = c[key] ?? fallback;
  if (v === undefined) return fail(`config.json: "${key}" is missing`);
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0)
    fail(`config.json: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

function posNum(c: Record<string, unknown>, key: string, fallback: number): number {
  const v = c[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    fail(`config.json: "${key}" must be a positive number, got ${JSON.stringify(v)}`);
  return v as number;
}

function bool(c: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = c[key] ?? fallback;
  if (typeof v !== "boolean") fail(`config.json: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v as boolean;
}

/** Validates a parsed config.json and fills what is missing. Configs written by other tools (e.g. the
 *  released BitNet b1.58 2B4T) lack the bitnet_* fields: the variant is then "b1.58" when
 *  quantization_config is present and "fp" otherwise, with sub-norms on (transformers' BitNet always has
 *  them); absent transformers fields take BitNetConfig's defaults (rope_theta 500000, relu2, untied). */
export function parseConfig(json: unknown): BitNetConfig {
  const c = obj(json, "config.json");
  const family = detectFamily(c);
  if (!family.family.supported && family.value !== "unknown")
    fail(`config.json: ${family.family.name} (${family.how}) is not supported yet: ${family.family.refused}`);
  // "bitnet-lab-<variant>": a variant transformers' BitNet class would run as a different function (configToJSON)
  const labType = typeof c.model_type === "string" && c.model_type.startsWith(LAB_MODEL_TYPE_PREFIX);
  if (
    c.model_type !== undefined &&
    c.model_type !== "bitnet" &&
    c.model_type !== "llama" &&
    c.model_type !== "qwen3" &&
    c.model_type !== "gemma3_text" &&
    c.model_type !== "gemma3" &&
    c.model_type !== "minicpm" &&
    !labType
  )
    fail(
      `config.json: model_type must be "bitnet" (or "llama"/"qwen3" for those bodies, "${LAB_MODEL_TYPE_PREFIX}<variant>" for a variant transformers cannot run), got ${JSON.stringify(c.model_type)}`,
    );
  if (labType && c.model_type !== `${LAB_MODEL_TYPE_PREFIX}${String(c.bitnet_variant)}`)
    fail(
      `config.json: model_type ${JSON.stringify(c.model_type)} must name the config's bitnet_variant (${JSON.stringify(c.bitnet_variant)})`,
    );
  // A LLaMA config is the fp variant without sub-norms, which is what transformers' LlamaForCausalLM computes
  // (its BitNet class always applies the sub-norms, so an fp model is exported as LLaMA: configToJSON).
  // A LLaMA config with transformers' bitnet quantization_config (Falcon3-1.58bit, HF1BitLLM, Falcon-E) or with
  // 1bitLLM's weight_bits/input_bits is b1.58 on a LLaMA body: SiLU GLU, no sub-norms, untied head (architecture.ts).
  // A Qwen3 body (BitNet-embedding-0.6B) is a Llama body with RMSNorm on each q/k head (architecture.ts).
  const qwen3 = c.model_type === "qwen3";
  if (qwen3 && c.use_sliding_window === true)
    fail(`config.json: use_sliding_window true (sliding-window attention) is not supported`);
  // A Gemma3 body (BitNet-embedding-270M) adds the fields of GemmaBody (gemma.ts; architecture.ts).
  const gemma =
    c.model_type === "gemma3_text" || c.model_type === "gemma3"
      ? gemmaFields(c, posInt(c, "num_hidden_layers"), fail)
      : undefined;
  // A MiniCPM body (BitCPM4) is a Llama body with three scales (minicpm.ts; architecture.ts).
  const minicpm = c.model_type === "minicpm" ? minicpmFields(c, fail) : undefined;
  const llama = c.model_type === "llama" || qwen3 || !!gemma || !!minicpm;
  const oneBitLLM = family.value === "1bitllm";
  const llamaQuantized =
    llama && ((c.quantization_config !== undefined && c.quantization_config !== null) || oneBitLLM);
  if (llama && c.bitnet_sub_norms === true)
    fail(`config.json: model_type "llama" has no sub-norms (bitnet_sub_norms must not be true)`);
  if (llama && !llamaQuantized && (c.bitnet_variant ?? "fp") !== "fp") {
    fail(
      `config.json: model_type "llama" without a quantization_config is only read as the full-precision variant (bitnet_variant "fp")`,
    );
  }
  if (llamaQuantized && c.bitnet_variant === "fp")
    fail(`config.json: model_type "llama" with a quantization_config cannot be bitnet_variant "fp"`);
  let qc: BitNetConfig["quantization_config"];
  let linearNormEps: number | undefined;
  // 1bitLLM's BitLinear ternarizes fp16 master weights on every forward: transformers' autobitlinear/online.
  if (oneBitLLM) qc = {quant_method: "bitnet", linear_class: "autobitlinear", quantization_mode: "online"};
  if (c.quantization_config !== undefined && c.quantization_config !== null) {
    const q = obj(c.quantization_config, "config.json: quantization_config");
    if (q.quant_method !== "bitnet")
      fail(`config.json: quantization_config.quant_method must be "bitnet", got ${JSON.stringify(q.quant_method)}`);
    const linear_class = q.linear_class ?? "bitlinear";
    const quantization_mode = q.quantization_mode ?? "offline";
    if (linear_class !== "bitlinear" && linear_class !== "autobitlinear")
      fail(
        `config.json: quantization_config.linear_class must be "bitlinear" or "autobitlinear", got ${JSON.stringify(linear_class)}`,
      );
    if (quantization_mode !== "online" && quantization_mode !== "offline")
      fail(
        `config.json: quantization_config.quantization_mode must be "online" or "offline", got ${JSON.stringify(quantization_mode)}`,
      );
    if (q.use_rms_norm !== undefined && typeof q.use_rms_norm !== "boolean")
      fail(
        `config.json: quantization_config.use_rms_norm must be true or false, got ${JSON.stringify(q.use_rms_norm)}`,
      );
    if (q.use_rms_norm === true) linearNormEps = posNum(q, "rms_norm_eps", 1e-6);
    qc = {quant_method: "bitnet", linear_class: linear_class as string, quantization_mode: quantization_mode as string};
  }
  const foreign = c.bitnet_variant === undefined;
  const variant = (c.bitnet_variant ?? (qc ? "b1.58" : "fp")) as Variant;
  if (!VARIANTS.includes(variant))
    fail(`config.json: bitnet_variant must be one of ${VARIANTS.join(", ")}, got ${JSON.stringify(c.bitnet_variant)}`);
  const d = defaultConfig(variant);
  const hidden_size = posInt(c, "hidden_size");
  const num_attention_heads = posInt(c, "num_attention_heads");
  const num_key_value_heads = posInt(c, "num_key_value_heads", num_attention_heads);
  let head_dim: number | undefined;
  if (c.head_dim !== undefined && c.head_dim !== null) head_dim = posInt(c, "head_dim");
  const hidden_act = gemma ? gemma.hidden_act : (c.hidden_act ?? (llama ? "silu" : "relu2"));
  const ropeParams =
    c.rope_parameters && typeof c.rope_parameters === "object"
      ? (c.rope_parameters as Record<string, unknown>)
      : undefined;
  const rope_theta = gemma
    ? gemma.rope_theta
    : posNum(
        {rope_theta: c.rope_theta ?? ropeParams?.rope_theta},
        "rope_theta",
        minicpm?.defaults.rope_theta ?? 500000,
      );
  const scaling = (
    gemma ? undefined : c.rope_scaling && typeof c.rope_scaling === "object" ? c.rope_scaling : ropeParams
  ) as Record<string, unknown> | undefined;
  const ropeType = scaling?.rope_type ?? scaling?.type ?? "default";
  if (ropeType !== "default")
    fail(`config.json: RoPE type ${JSON.stringify(ropeType)} is not supported (only "default" rotary embeddings)`);
  const vocab_size = posInt(c, "vocab_size");
  const tokenId = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0 || v >= vocab_size)
      return fail(`config.json: "${key}" must be a token id in [0, ${vocab_size}), got ${JSON.stringify(v)}`);
    return v;
  };
  const activationBits = c.bitnet_activation_bits ?? d.bitnet_activation_bits;
  const kvBits = c.bitnet_kv_bits ?? d.bitnet_kv_bits;
  const kvBos = c.bitnet_kv_bos_bits ?? d.bitnet_kv_bos_bits;
  const topk = c.bitnet_topk_ratio ?? d.bitnet_topk_ratio;
  const config: BitNetConfig = {
    model_type: "bitnet",
    vocab_size,
    hidden_size,
    intermediate_size: posInt(c, "intermediate_size"),
    num_hidden_layers: posInt(c, "num_hidden_layers"),
    num_attention_heads,
    num_key_value_heads,
    max_position_embeddings: posInt(c, "max_position_embeddings", 2048),
    rms_norm_eps: posNum(c, "rms_norm_eps", (gemma ?? minicpm)?.defaults.rms_norm_eps ?? 1e-5),
    rope_theta,
    hidden_act: hidden_act as BitNetConfig["hidden_act"],
    tie_word_embeddings: bool(c, "tie_word_embeddings", (gemma ?? minicpm)?.defaults.tie_word_embeddings ?? false),
    bos_token_id: tokenId("bos_token_id", gemma?.defaults.bos_token_id ?? Math.min(1, vocab_size - 1)),
    eos_token_id: tokenId("eos_token_id", gemma?.defaults.eos_token_id ?? Math.min(2, vocab_size - 1)),
    bitnet_variant: variant,
    bitnet_activation_bits: activationBits as 8 | 4,
    bitnet_hadamard: bool(c, "bitnet_hadamard", d.bitnet_hadamard),
    bitnet_topk_ratio: topk as number,
    bitnet_kv_bits: kvBits as 16 | 8 | 4 | 3,
    bitnet_kv_bos_bits: kvBos as number,
    bitnet_sub_norms: bool(c, "bitnet_sub_norms", llama ? false : foreign ? true : d.bitnet_sub_norms),
  };
  if (head_dim !== undefined) config.head_dim = head_dim;
  if (linearNormEps !== undefined) {
    config.bitnet_linear_norms = true;
    config.bitnet_linear_norm_eps = linearNormEps;
  } else if (c.bitnet_linear_norms === true) {
    config.bitnet_linear_norms = true;
    config.bitnet_linear_norm_eps = posNum(c, "bitnet_linear_norm_eps", 1e-6);
  }
  if (qwen3 || gemma || c.bitnet_qk_norm === true) config.bitnet_qk_norm = true;
  if (gemma) config.bitnet_gemma = gemma.body;
  if (minicpm) config.bitnet_minicpm = minicpm.body;
  if (c.bitnet_pooling === "last-token-l2") config.bitnet_pooling = "last-token-l2";
  else if (c.bitnet_pooling !== undefined && c.bitnet_pooling !== "none")
    fail(`config.json: bitnet_pooling must be "none" or "last-token-l2", got ${JSON.stringify(c.bitnet_pooling)}`);
  if (qc) config.quantization_config = qc;
  // bounds and relations between fields: the one validator of variant.ts, before anything is sized from them
  return validateModelConfig(config, {prefix: "config.json: ", error: CheckpointError});
}

/** The model_type prefix of configs that transformers must refuse: its BitNetForCausalLM computes b1.58 (ternary
 *  weights, INT8 absmax activations, sub-norms, float KV cache) and silently ignores the bitnet_* fields, so an
 *  a4.8 or v2 checkpoint would load there as a different function. With model_type "bitnet-lab-a4.8" transformers
 *  stops with "…has model type `bitnet-lab-a4.8` but Transformers does not recognize this architecture" (checked with
 *  transformers 5.17); this lab reads it as model_type "bitnet" with that variant. */
export const LAB_MODEL_TYPE_PREFIX = "bitnet-lab-";

/** Whether transformers' BitNetForCausalLM computes exactly what this config means. */
export function transformersComputes(config: BitNetConfig): boolean {
  if (config.bitnet_variant === "fp") return true; // written as LLaMA without sub-norms, or BitNet with them
  return (
    config.bitnet_variant === "b1.58" &&
    config.bitnet_activation_bits === 8 &&
    !config.bitnet_hadamard &&
    config.bitnet_kv_bits >= 16 &&
    config.bitnet_sub_norms
  ); // b1.58 has no top-K site (variant.ts sitePlan)
}

/** config.json content for a config, readable by transformers' BitNetConfig — or, for a variant it would compute
 *  differently (a4.8, v2), refused by transformers with a clear message (LAB_MODEL_TYPE_PREFIX). */
export function configToJSON(
  config: BitNetConfig,
  opts: {quantization?: "packed" | "latent" | "none"; dtype?: "float32" | "bfloat16"} = {},
): Record<string, unknown> {
  const mode = opts.quantization ?? (config.bitnet_variant === "fp" ? "none" : "packed");
  // The body transformers must build (architecture.ts): without sub-norms it is LLaMA (transformers' BitNet class
  // always applies them) — an fp model, or a ternary one with the bitnet quantizer (Falcon3-1.58bit style); with
  // QK head norms it is Qwen3. Either loads faithfully with transformers' own class.
  const g = config.bitnet_gemma;
  const mc = config.bitnet_minicpm;
  const qwen3 = !g && !mc && !!config.bitnet_qk_norm && !config.bitnet_sub_norms;
  const llama =
    !g && !mc && !qwen3 && !config.bitnet_sub_norms && (config.bitnet_variant === "fp" ? mode === "none" : true);
  const body = g
    ? {arch: "Gemma3ForCausalLM", type: "gemma3_text"}
    : mc
      ? {arch: "MiniCPMForCausalLM", type: "minicpm"}
      : qwen3
        ? {arch: "Qwen3ForCausalLM", type: "qwen3"}
        : llama
          ? {arch: "LlamaForCausalLM", type: "llama"}
          : {arch: "BitNetForCausalLM", type: "bitnet"};
  const out: Record<string, unknown> = {
    architectures: [body.arch],
    model_type:
      body.type === "bitnet" && !transformersComputes(config)
        ? `${LAB_MODEL_TYPE_PREFIX}${config.bitnet_variant}`
        : body.type,
    vocab_size: config.vocab_size,
    hidden_size: config.hidden_size,
    intermediate_size: config.intermediate_size,
    num_hidden_layers: config.num_hidden_layers,
    num_attention_heads: config.num_attention_heads,
    num_key_value_heads: config.num_key_value_heads,
    ...(config.head_dim !== undefined ? {head_dim: config.head_dim} : {}),
    max_position_embeddings: config.max_position_embeddings,
    rms_norm_eps: config.rms_norm_eps,
    rope_theta: config.rope_theta,
    // transformers ≥ 5 reads RoPE settings from rope_parameters; older versions read rope_theta.
    ...(g ? {} : {rope_parameters: {rope_type: "default", rope_theta: config.rope_theta}}),
    ...(g
      ? {
          hidden_activation: "gelu_pytorch_tanh",
          query_pre_attn_scalar: g.query_pre_attn_scalar,
          sliding_window: g.sliding_window,
          layer_types: g.sliding.map((s) => (s ? "sliding_attention" : "full_attention")),
          rope_parameters: {
            sliding_attention: {rope_type: "default", rope_theta: g.rope_local_theta},
            full_attention: {rope_type: "default", rope_theta: config.rope_theta},
          },
          final_logit_softcapping: null,
          attn_logit_softcapping: null,
        }
      : {hidden_act: config.hidden_act}),
    // OpenBMB's MiniCPMConfig keys (run with trust_remote_code and their modeling_minicpm.py)
    ...(mc ? {scale_emb: mc.scale_emb, scale_depth: mc.scale_depth, dim_model_base: mc.dim_model_base} : {}),
    tie_word_embeddings: config.tie_word_embeddings,
    bos_token_id: config.bos_token_id,
    eos_token_id: config.eos_token_id,
    attention_bias: false,
    ...(llama ? {mlp_bias: false} : qwen3 ? {use_sliding_window: false} : {}),
    attention_dropout: 0,
    initializer_range: 0.02,
    use_cache: true,
    torch_dtype: opts.dtype ?? "float32",
  };
  const rms = config.bitnet_linear_norms
    ? {use_rms_norm: true, rms_norm_eps: config.bitnet_linear_norm_eps ?? 1e-6}
    : {};
  if (mode === "packed")
    out.quantization_config = {quant_method: "bitnet", linear_class: "bitlinear", quantization_mode: "offline", ...rms};
  else if (mode === "latent" && config.bitnet_variant !== "fp")
    out.quantization_config = {
      quant_method: "bitnet",
      linear_class: "autobitlinear",
      quantization_mode: "online",
      ...rms,
    };
  // bitnet_gemma / bitnet_minicpm are written as the bodies' own keys above
  for (const [k, v] of Object.entries(config))
    if (k.startsWith("bitnet_") && k !== "bitnet_gemma" && k !== "bitnet_minicpm") out[k] = v;
  return out;
}

// ---------------------------------------------------------------- expected tensors

export interface ExpectedTensor {
  name: string;
  shape: [number, number] | [number];
  /** A projection (BitLinear when the variant quantizes) or a float tensor (embedding, norm, head). */
  kind: "linear" | "float";
  linear?: LinearName;
  layer?: number;
}

/** Every tensor a model of this config has, in checkpoint order. */
export function expectedTensors(config: BitNetConfig): ExpectedTensor[] {
  const C = config.hidden_size;
  const d = headDim(config);
  const qDim = config.num_attention_heads * d;
  const kvDim = config.num_key_value_heads * d;
  const F = config.intermediate_size;
  const out: ExpectedTensor[] = [{name: tensorNames.embed, shape: [config.vocab_size, C], kind: "float"}];
  const shapes: Record<LinearName, [number, number]> = {
    q: [qDim, C],
    k: [kvDim, C],
    v: [kvDim, C],
    o: [C, qDim],
    gate: [F, C],
    up: [F, C],
    down: [C, F],
  };
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const n = tensorNames.layer(i);
    const proj = (l: LinearName) => {
      out.push({name: n[l], shape: shapes[l], kind: "linear", linear: l, layer: i});
      if (config.bitnet_linear_norms)
        out.push({name: tensorNames.linearNorm(n[l]), shape: [shapes[l][1]], kind: "float", layer: i});
    };
    out.push({name: n.inputNorm, shape: [C], kind: "float", layer: i});
    for (const l of ["q", "k", "v", "o"] as const) proj(l);
    if (config.bitnet_qk_norm) {
      out.push({name: n.qNorm, shape: [d], kind: "float", layer: i});
      out.push({name: n.kNorm, shape: [d], kind: "float", layer: i});
    }
    if (config.bitnet_sub_norms) out.push({name: n.attnSubNorm, shape: [qDim], kind: "float", layer: i});
    out.push({name: n.postAttnNorm, shape: [C], kind: "float", layer: i});
    if (config.bitnet_gemma) {
      out.push({name: n.preFfnNorm, shape: [C], kind: "float", layer: i});
      out.push({name: n.postFfnNorm, shape: [C], kind: "float", layer: i});
    }
    for (const l of ["gate", "up", "down"] as const) proj(l);
    if (config.bitnet_sub_norms) out.push({name: n.ffnSubNorm, shape: [F], kind: "float", layer: i});
  }
  out.push({name: tensorNames.finalNorm, shape: [C], kind: "float"});
  if (!config.tie_word_embeddings) out.push({name: tensorNames.lmHead, shape: [config.vocab_size, C], kind: "float"});
  return out;
}

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Checks that weights hold exactly the tensors the config needs (projections float or ternary). */
export function validateWeights(w: ModelWeights): void {
  validateModelConfig(w.config, {prefix: "weights: config ", error: CheckpointError});
  const expected = expectedTensors(w.config);
  const names = new Set(expected.map((e) => e.name));
  for (const e of expected) {
    const f = w.float.get(e.name);
    const t = w.ternary.get(e.name);
    if (e.kind === "float") {
      if (!f) fail(`weights: missing tensor ${e.name}`);
      else if (!sameShape(f.shape, e.shape))
        fail(`weights: ${e.name} has shape ${fmt(f.shape)}, expected ${fmt(e.shape)}`);
      continue;
    }
    if (f && t) fail(`weights: ${e.name} is both float and ternary`);
    if (t) {
      if (w.config.bitnet_variant === "fp") fail(`weights: ${e.name} is ternary but the variant is fp`);
      if (!sameShape(t.shape, e.shape)) fail(`weights: ${e.name} has shape ${fmt(t.shape)}, expected ${fmt(e.shape)}`);
      if (t.codes.length !== e.shape[0] * (e.shape[1] ?? 1))
        fail(`weights: ${e.name} has ${t.codes.length} codes for shape ${fmt(e.shape)}`);
      if (!(t.gamma > 0 && Number.isFinite(t.gamma)))
        fail(`weights: ${e.name} has scale γ = ${t.gamma}, expected a positive number`);
    } else if (f) {
      if (!sameShape(f.shape, e.shape)) fail(`weights: ${e.name} has shape ${fmt(f.shape)}, expected ${fmt(e.shape)}`);
    } else fail(`weights: missing tensor ${e.name}`);
  }
  for (const n of [...w.float.keys(), ...w.ternary.keys()]) {
    if (!names.has(n) && !(n === tensorNames.lmHead && w.config.tie_word_embeddings))
      fail(`weights: unexpected tensor ${n}`);
  }
}

// ---------------------------------------------------------------- ternarize

/** Turns latent float projections into ternary ones with the absmean quantizer (b1.58 eq. 1–3):
 *  codes = RoundClip(W·s, −1, 1), s = 1/max(mean|W|, ε), γ = 1/s. Other tensors are shared, not copied.
 *  fp models are returned unchanged. */
export function ternarize(w: ModelWeights): ModelWeights {
  if (w.config.bitnet_variant === "fp") return w;
  const float = new Map(w.float);
  const ternary = new Map(w.ternary);
  for (const e of expectedTensors(w.config)) {
    if (e.kind !== "linear") continue;
    const f = float.get(e.name);
    if (!f) continue;
    const q = quantizeWeightsAbsmean(f.data);
    ternary.set(e.name, {shape: [e.shape[0], e.shape[1] as number], codes: q.codes, gamma: 1 / q.scale});
    float.delete(e.name);
  }
  return {config: w.config, float, ternary};
}

// ---------------------------------------------------------------- reader

export interface StoredTensor {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: number;
}

export interface LoadedCheckpoint {
  weights: ModelWeights;
  /** What the file holds, tensor by tensor (for `bitnet-lab inspect`). */
  stored: StoredTensor[];
  /** "packed": ternary uint8; "latent": float projections of a quantized variant; "fp": an fp model. */
  format: "packed" | "latent" | "mixed" | "fp";
  metadata: Record<string, string>;
  /** Tied checkpoints that also stored lm_head.weight: ignored (transformers ties it to the embedding). */
  warnings: string[];
}

const FLOAT_DTYPES: readonly DType[] = ["F32", "F16", "BF16", "F64"];

/** Reads config.json (parsed) and model.safetensors (bytes) into ModelWeights, validating every tensor's
 *  name, dtype and shape against the config before converting anything. */
export function readCheckpoint(configJSON: unknown, safetensors: Uint8Array): LoadedCheckpoint {
  const config = parseConfig(configJSON);
  const header: SafetensorsHeader = parseSafetensorsHeader(safetensors);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const expected = expectedTensors(config);
  const used = new Set<string>();
  const warnings: string[] = [];
  const missing: string[] = [];
  const plan: {e: ExpectedTensor; packed: boolean}[] = [];
  const scaleName = (n: string) => n.replace(/\.weight$/, ".weight_scale");
  for (const e of expected) {
    const t = byName.get(e.name);
    if (!t) {
      missing.push(e.name);
      continue;
    }
    used.add(e.name);
    if (e.kind === "float" || config.bitnet_variant === "fp") {
      if (!FLOAT_DTYPES.includes(t.dtype))
        fail(
          `model.safetensors: ${e.name} has dtype ${t.dtype}, expected a float type (${FLOAT_DTYPES.join("/")})${e.kind === "linear" ? " for an fp model" : ""}`,
        );
      if (!sameShape(t.shape, e.shape))
        fail(`model.safetensors: ${e.name} has shape ${fmt(t.shape)}, expected ${fmt(e.shape)}`);
      plan.push({e, packed: false});
      continue;
    }
    const [out, inp] = e.shape as [number, number];
    if (t.dtype === "U8" || t.dtype === "I8") {
      if (!config.quantization_config)
        fail(`model.safetensors: ${e.name} is packed (${t.dtype}) but config.json has no quantization_config`);
      if (!sameShape(t.shape, [packedRows(out), inp]))
        fail(
          `model.safetensors: packed ${e.name} has shape ${fmt(t.shape)}, expected [${packedRows(out)}, ${inp}] (4 rows per byte)`,
        );
      const sn = scaleName(e.name);
      const s = byName.get(sn);
      if (!s) fail(`model.safetensors: packed ${e.name} has no ${sn}`);
      else {
        if (!FLOAT_DTYPES.includes(s.dtype))
          fail(`model.safetensors: ${sn} has dtype ${s.dtype}, expected a float type`);
        if (!(s.shape.length === 0 || sameShape(s.shape, [1])))
          fail(`model.safetensors: ${sn} has shape ${fmt(s.shape)}, expected a single value ([] or [1])`);
      }
      used.add(sn);
      plan.push({e, packed: true});
    } else if (FLOAT_DTYPES.includes(t.dtype)) {
      if (!sameShape(t.shape, e.shape))
        fail(`model.safetensors: latent ${e.name} has shape ${fmt(t.shape)}, expected ${fmt(e.shape)}`);
      if (byName.has(scaleName(e.name)))
        fail(`model.safetensors: latent (${t.dtype}) ${e.name} must not have a ${scaleName(e.name)}`);
      plan.push({e, packed: false});
    } else fail(`model.safetensors: ${e.name} has dtype ${t.dtype}, expected U8 (packed) or a float type (latent)`);
  }
  if (missing.length)
    fail(
      `model.safetensors: missing ${missing.length} tensor(s): ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}`,
    );
  if (config.tie_word_embeddings && byName.has(tensorNames.lmHead)) {
    const t = byName.get(tensorNames.lmHead)!;
    if (!sameShape(t.shape, [config.vocab_size, config.hidden_size]))
      fail(
        `model.safetensors: ${tensorNames.lmHead} has shape ${fmt(t.shape)}, expected [${config.vocab_size}, ${config.hidden_size}]`,
      );
    used.add(tensorNames.lmHead);
    warnings.push(
      `${tensorNames.lmHead} is stored but tie_word_embeddings is true: it is ignored, the embedding is used`,
    );
  }
  const unknown = header.tensors.filter((t) => !used.has(t.name)).map((t) => t.name);
  if (unknown.length)
    fail(
      `model.safetensors: ${unknown.length} unexpected tensor(s) for this config: ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? ", …" : ""}`,
    );

  // Validated: now convert.
  const scaleIsInverse = config.quantization_config?.linear_class !== "autobitlinear";
  const float = new Map<string, Tensor>();
  const ternary = new Map<string, TernaryTensor>();
  let nPacked = 0;
  let nLatent = 0;
  for (const {e, packed} of plan) {
    const t = byName.get(e.name)!;
    const bytes = tensorBytes(safetensors, header, t);
    if (packed) {
      const [out, inp] = e.shape as [number, number];
      let codes: Int8Array;
      try {
        codes = unpackTernary(
          t.dtype === "I8" ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : bytes,
          out,
          inp,
        );
      } catch (err) {
        return fail(`model.safetensors: ${e.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const st = byName.get(scaleName(e.name))!;
      const ws = toFloat32(tensorBytes(safetensors, header, st), st.dtype)[0];
      if (!(ws > 0 && Number.isFinite(ws)))
        fail(`model.safetensors: ${scaleName(e.name)} = ${ws}, expected a positive finite scale`);
      ternary.set(e.name, {shape: [out, inp], codes, gamma: scaleIsInverse ? 1 / ws : ws});
      nPacked++;
    } else {
      const data = toFloat32(bytes, t.dtype);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]))
          fail(`model.safetensors: ${e.name} holds a non-finite value (${data[i]}) at flat index ${i}`);
      }
      float.set(e.name, {shape: [...e.shape], data});
      if (e.kind === "linear") nLatent++;
    }
  }
  const format = config.bitnet_variant === "fp" ? "fp" : nPacked && nLatent ? "mixed" : nPacked ? "packed" : "latent";
  const stored = header.tensors.map((t) => ({name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.end - t.begin}));
  return {weights: {config, float, ternary}, stored, format, metadata: header.metadata, warnings};
}

// ---------------------------------------------------------------- writer

export interface WriteOptions {
  /** "packed" (default for quantized variants): uint8 + weight_scale; "latent": float projections. */
  format?: "packed" | "latent";
  /** dtype of float tensors (embedding, norms, head, latent projections). Default F32. */
  floatDtype?: "F32" | "BF16";
  metadata?: Record<string, string>;
}

/** Serializes weights into config.json content and model.safetensors bytes. Packing a model whose
 *  projections are still latent ternarizes them first; writing a ternary model as latent stores γ·W̃
 *  (which ternarizes back to the same codes). */
export function writeCheckpoint(
  w: ModelWeights,
  opts: WriteOptions = {},
): {config: Record<string, unknown>; safetensors: Uint8Array} {
  validateWeights(w);
  const fp = w.config.bitnet_variant === "fp";
  const format = fp ? "latent" : (opts.format ?? "packed");
  const src = format === "packed" ? ternarize(w) : w;
  const fd = opts.floatDtype ?? "F32";
  const entries: TensorEntry[] = [];
  for (const e of expectedTensors(w.config)) {
    if (e.kind === "float") {
      const f = src.float.get(e.name)!;
      entries.push({name: e.name, dtype: fd, shape: [...e.shape], data: fromFloat32(f.data, fd)});
      continue;
    }
    const [out, inp] = e.shape as [number, number];
    if (format === "packed") {
      const t = src.ternary.get(e.name)!;
      entries.push({name: e.name, dtype: "U8", shape: [packedRows(out), inp], data: packTernary(t.codes, out, inp)});
      entries.push({
        name: e.name.replace(/\.weight$/, ".weight_scale"),
        dtype: "F32",
        shape: [1],
        data: fromFloat32(new Float32Array([1 / t.gamma]), "F32"),
      });
    } else {
      const f = src.float.get(e.name);
      let data: Float32Array;
      if (f) data = f.data;
      else {
        const t = src.ternary.get(e.name)!;
        data = new Float32Array(t.codes.length);
        for (let i = 0; i < data.length; i++) data[i] = t.codes[i] * t.gamma;
      }
      entries.push({name: e.name, dtype: fd, shape: [out, inp], data: fromFloat32(data, fd)});
    }
  }
  const config = configToJSON(w.config, {
    quantization: fp ? "none" : format,
    dtype: fd === "BF16" ? "bfloat16" : "float32",
  });
  return {config, safetensors: writeSafetensors(entries, {format: "pt", ...opts.metadata})};
}
