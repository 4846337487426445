// config.json of a Hugging Face folder checkpoint (checkpoint.ts reads and writes the folder): BitNetConfig from
// transformers' fields + this project's bitnet_* fields, every field validated (parseConfig), and the JSON written
// back so that transformers either computes exactly this model or refuses it by name (configToJSON).
import {VARIANTS, defaultConfig} from "./config.js";
import type {BitNetConfig, Variant} from "./config.js";
import {validateModelConfig} from "./variant.js";
import {detectFamily} from "./architecture.js";
import {gemmaFields} from "./gemma.js";
import {minicpmFields} from "./minicpm.js";

export class CheckpointError extends Error {
  override name = "CheckpointError";
}
export const fail = (msg: string): never => {
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

/** transformers' quantization_config (or 1bitLLM's implied one): the layer class and mode, and the eps of an RMSNorm
 *  inside each BitLinear (use_rms_norm). */
function quantizationConfig(
  c: Record<string, unknown>,
  oneBitLLM: boolean,
): {qc: BitNetConfig["quantization_config"]; linearNormEps: number | undefined} {
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
  return {qc, linearNormEps};
}

/** RoPE θ from rope_theta or rope_parameters; only the default rotary embedding is supported. */
function ropeTheta(c: Record<string, unknown>, fallback: number): number {
  const ropeParams =
    c.rope_parameters && typeof c.rope_parameters === "object"
      ? (c.rope_parameters as Record<string, unknown>)
      : undefined;
  const theta = posNum({rope_theta: c.rope_theta ?? ropeParams?.rope_theta}, "rope_theta", fallback);
  const scaling = (c.rope_scaling && typeof c.rope_scaling === "object" ? c.rope_scaling : ropeParams) as
    | Record<string, unknown>
    | undefined;
  const ropeType = scaling?.rope_type ?? scaling?.type ?? "default";
  if (ropeType !== "default")
    fail(`config.json: RoPE type ${JSON.stringify(ropeType)} is not supported (only "default" rotary embeddings)`);
  return theta;
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
  const {qc, linearNormEps} = quantizationConfig(c, oneBitLLM);
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
  // Gemma's θ per layer type comes from gemmaFields (its rope_parameters are keyed by layer type)
  const rope_theta = gemma ? gemma.rope_theta : ropeTheta(c, minicpm?.defaults.rope_theta ?? 500000);
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
