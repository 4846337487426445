// Gemma3's config.json (transformers' configuration_gemma3.py Gemma3TextConfig) → the fields the architecture table
// reads (config.ts GemmaBody). Every default here is Gemma3TextConfig's; everything the lab does not run is refused
// by name rather than ignored.
import type {GemmaBody} from "./config.js";

type Raw = Record<string, unknown>;

export interface GemmaFields {
  body: GemmaBody;
  /** θ of the full-attention layers (rope_parameters.full_attention.rope_theta, legacy rope_theta; default 1e6). */
  rope_theta: number;
  hidden_act: "gelu_tanh";
  /** Gemma3TextConfig's defaults for fields a Llama config defaults differently. */
  defaults: {tie_word_embeddings: true; rms_norm_eps: number; bos_token_id: number; eos_token_id: number};
}

const ACTIVATIONS = new Set(["gelu_pytorch_tanh", "gelu_tanh"]);

/** Reads a gemma3_text config; `fail` throws the caller's error. */
export function gemmaFields(c: Raw, layers: number, fail: (msg: string) => never): GemmaFields {
  const at = (k: string) => `config.json: ${k}`;
  if (c.model_type === "gemma3")
    fail(
      `${at("model_type")} "gemma3" is the multimodal Gemma3 (text_config + vision tower); only the text body "gemma3_text" is read`,
    );
  const act = c.hidden_activation ?? c.hidden_act ?? "gelu_pytorch_tanh";
  if (typeof act !== "string" || !ACTIVATIONS.has(act))
    fail(`${at("hidden_activation")} must be "gelu_pytorch_tanh" (Gemma3's GELU-tanh GLU), got ${JSON.stringify(act)}`);
  for (const k of ["final_logit_softcapping", "attn_logit_softcapping"]) {
    if (c[k] !== undefined && c[k] !== null)
      fail(`${at(k)} ${JSON.stringify(c[k])}: tanh soft-capping is not run (Gemma3 ships it null)`);
  }
  if (c.use_bidirectional_attention === true)
    fail(
      `${at("use_bidirectional_attention")} true (EmbeddingGemma's encoder mask) is not run: the lab's attention is causal`,
    );
  const num = (v: unknown, what: string, int = false): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || (int && !Number.isSafeInteger(v)))
      fail(`${at(what)} must be a positive ${int ? "integer" : "number"}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  // layer_types, or the legacy sliding_window_pattern (every pattern-th layer full): Gemma3TextConfig.__post_init__
  let types = c.layer_types;
  if (types === undefined || types === null) {
    const pattern = num(c.sliding_window_pattern ?? c._sliding_window_pattern ?? 6, "sliding_window_pattern", true);
    types = Array.from({length: layers}, (_, i) => ((i + 1) % pattern ? "sliding_attention" : "full_attention"));
  }
  if (!Array.isArray(types) || types.length !== layers)
    fail(`${at("layer_types")} must list ${layers} layer types, got ${JSON.stringify(types)}`);
  const sliding = (types as unknown[]).map((t, i) => {
    if (t !== "sliding_attention" && t !== "full_attention")
      fail(`${at(`layer_types[${i}]`)} must be "sliding_attention" or "full_attention", got ${JSON.stringify(t)}`);
    return t === "sliding_attention";
  });
  const window = sliding.some((s) => s) ? num(c.sliding_window ?? 4096, "sliding_window", true) : 4096;
  // RoPE θ per layer type: rope_parameters {sliding_attention: {…}, full_attention: {…}} (transformers ≥ 5), or the
  // legacy rope_theta (full) and rope_local_base_freq (sliding); defaults 1e6 / 1e4 (Gemma3TextConfig.default_theta)
  const rp = c.rope_parameters && typeof c.rope_parameters === "object" ? (c.rope_parameters as Raw) : {};
  const theta = (type: string, legacy: unknown, fallback: number): number => {
    const p = rp[type] && typeof rp[type] === "object" ? (rp[type] as Raw) : {};
    const rt = p.rope_type ?? "default";
    if (rt !== "default")
      fail(`${at(`rope_parameters.${type}.rope_type`)} ${JSON.stringify(rt)} is not supported (only "default")`);
    return num(p.rope_theta ?? legacy ?? fallback, `rope_parameters.${type}.rope_theta`);
  };
  if (c.rope_scaling !== undefined && c.rope_scaling !== null)
    fail(`${at("rope_scaling")} ${JSON.stringify(c.rope_scaling)} is not supported (only "default" rotary embeddings)`);
  return {
    body: {
      query_pre_attn_scalar: num(c.query_pre_attn_scalar ?? 256, "query_pre_attn_scalar"),
      sliding_window: window,
      sliding,
      rope_local_theta: theta("sliding_attention", c.rope_local_base_freq, 10000),
    },
    rope_theta: theta("full_attention", c.rope_theta, 1e6),
    hidden_act: "gelu_tanh",
    defaults: {tie_word_embeddings: true, rms_norm_eps: 1e-6, bos_token_id: 2, eos_token_id: 1},
  };
}
