// The model configuration shared by the reference forward, the WebGPU engine, the trainer and the cost
// model. Field names follow Hugging Face's `BitNetConfig` (config.json, model_type "bitnet") so that
// transformers can read our checkpoints; the `bitnet_*` fields are this project's additions.

/** Which member of the family a model is. */
export type Variant =
  | "fp" // full-precision baseline (LLaMA-like), no quantization anywhere
  | "b1.58" // W1.58A8: absmean ternary weights, per-token absmax INT8 activations
  | "a4.8" // W1.58A4: INT4 absmean into attention/FFN, top-K 50% + INT8 into W_o, INT8 into W_down, ReLU²
  | "v2"; // H-BitLinear on W_o and W_down (Hadamard before quantization), INT8 or INT4 activations

export const VARIANTS: readonly Variant[] = ["fp", "b1.58", "a4.8", "v2"];

export interface BitNetConfig {
  model_type: "bitnet";
  vocab_size: number;
  hidden_size: number; // C
  intermediate_size: number; // FFN width
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number; // grouped-query attention when < num_attention_heads
  head_dim?: number; // defaults to hidden_size / num_attention_heads
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  hidden_act: "relu2" | "silu" | "gelu_tanh"; // relu2 → ReLU²-GLU, silu → SwiGLU, gelu_tanh → GeGLU (Gemma)
  tie_word_embeddings: boolean;
  bos_token_id: number;
  eos_token_id: number;
  /** HF quantizes BitLinear layers only when this is present (quant_method "bitnet"). */
  quantization_config?: {quant_method: "bitnet"; linear_class?: string; quantization_mode?: string};

  // ---- BitNet Lab extensions ----
  bitnet_variant: Variant;
  /** Activation bits of the linear inputs that the variant quantizes to low precision: 8 or 4.
   *  b1.58: always 8. a4.8: 4 for attention/FFN inputs (8 in its first training stage). v2: 8 or 4. */
  bitnet_activation_bits: 8 | 4;
  /** v2 only: apply the Hadamard transform before quantizing the W_o and W_down inputs (ablation: false). */
  bitnet_hadamard: boolean;
  /** a4.8: fraction of the W_o input kept by top-K (the paper's K = 50%). */
  bitnet_topk_ratio: number;
  /** KV-cache precision: 16 means unquantized; 8/4/3 are asymmetric min/max codes per token and head, post-RoPE
   *  (quant.ts quantizeKV). */
  bitnet_kv_bits: 16 | 8 | 4 | 3;
  /** a4.8 keeps the BOS token's K/V at higher precision: the BOS token at position 0 gets
   *  max(bitnet_kv_bos_bits, bitnet_kv_bits) (variant.ts kvPlan). 0 = no special case. */
  bitnet_kv_bos_bits: number;
  /** attn_sub_norm before W_o and ffn_sub_norm before W_down, as in BitNet b1.58 2B4T. */
  bitnet_sub_norms: boolean;
  /** An RMSNorm inside each of the seven BitLinears, before its quantizer (`<proj>.rms_norm.weight`, length = the
   *  projection's input): transformers' quantization_config.use_rms_norm, as in BitNet-embedding. Absent = false. */
  bitnet_linear_norms?: boolean;
  /** ε of those norms (quantization_config.rms_norm_eps; transformers' default 1e-6). */
  bitnet_linear_norm_eps?: number;
  /** RMSNorm over each query and key head before RoPE (`self_attn.q_norm` / `k_norm`, length head_dim): Qwen3. */
  bitnet_qk_norm?: boolean;
  /** What an embedding model returns: the final-norm hidden state of the last token, L2-normalized
   *  (sentence-transformers Pooling lasttoken + Normalize). Absent = "none" (a causal LM). */
  bitnet_pooling?: "none" | "last-token-l2";
  /** Gemma3's body (architecture.ts `gemma`): every norm outside the BitLinears multiplies by (1 + w), sandwich
   *  norms around attention and FFN, the embedding × √hidden, scores × query_pre_attn_scalar^-½, sliding-window
   *  layers with their own RoPE θ. Absent = none of these. */
  bitnet_gemma?: GemmaBody;
  /** MiniCPM's scaled body (architecture.ts): embedding × scale_emb, each block's output × scale_depth / √layers
   *  before the residual add, the LM head's input ÷ (hidden_size / dim_model_base). Absent = none of these. */
  bitnet_minicpm?: MiniCPMBody;
}

/** MiniCPM's three scales (OpenBMB's modeling_minicpm.py: MiniCPMModel, MiniCPMDecoderLayer, MiniCPMForCausalLM). */
export interface MiniCPMBody {
  scale_emb: number;
  scale_depth: number;
  dim_model_base: number;
}

/** What Gemma3's body adds (transformers' modeling_gemma3.py). */
export interface GemmaBody {
  /** Attention scores are scaled by query_pre_attn_scalar^-½ instead of head_dim^-½. */
  query_pre_attn_scalar: number;
  /** Tokens a sliding layer sees: positions q − window + 1 … q (masking_utils.sliding_window_overlay). */
  sliding_window: number;
  /** Per layer: true = sliding_attention (window, θ rope_local_theta), false = full_attention (θ rope_theta); entries
   *  past num_hidden_layers are unused. */
  sliding: boolean[];
  /** RoPE θ of the sliding layers (rope_parameters.sliding_attention.rope_theta, legacy rope_local_base_freq). */
  rope_local_theta: number;
}

export function headDim(c: BitNetConfig): number {
  return c.head_dim ?? c.hidden_size / c.num_attention_heads;
}

/** Defaults for a variant; spread a partial config over it. */
export function defaultConfig(variant: Variant, shape: Partial<BitNetConfig> = {}): BitNetConfig {
  const base: BitNetConfig = {
    model_type: "bitnet",
    vocab_size: 4096,
    hidden_size: 256,
    intermediate_size: 688,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: variant === "a4.8" ? "relu2" : "silu",
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
    bitnet_variant: variant,
    bitnet_activation_bits: variant === "a4.8" ? 4 : 8,
    bitnet_hadamard: variant === "v2",
    bitnet_topk_ratio: 0.5,
    bitnet_kv_bits: variant === "a4.8" ? 3 : 16,
    bitnet_kv_bos_bits: variant === "a4.8" ? 4 : 0,
    bitnet_sub_norms: variant !== "fp",
  };
  const c = {...base, ...shape};
  if (variant !== "fp" && !c.quantization_config) {
    c.quantization_config = {quant_method: "bitnet", linear_class: "bitlinear", quantization_mode: "offline"};
  }
  return c;
}

/** Tensor names, exactly as Hugging Face's LLaMA/BitNet checkpoints spell them. */
export const tensorNames = {
  embed: "model.embed_tokens.weight",
  finalNorm: "model.norm.weight",
  lmHead: "lm_head.weight",
  layer: (i: number) => ({
    inputNorm: `model.layers.${i}.input_layernorm.weight`,
    q: `model.layers.${i}.self_attn.q_proj.weight`,
    k: `model.layers.${i}.self_attn.k_proj.weight`,
    v: `model.layers.${i}.self_attn.v_proj.weight`,
    o: `model.layers.${i}.self_attn.o_proj.weight`,
    attnSubNorm: `model.layers.${i}.self_attn.attn_sub_norm.weight`,
    postAttnNorm: `model.layers.${i}.post_attention_layernorm.weight`,
    gate: `model.layers.${i}.mlp.gate_proj.weight`,
    up: `model.layers.${i}.mlp.up_proj.weight`,
    down: `model.layers.${i}.mlp.down_proj.weight`,
    ffnSubNorm: `model.layers.${i}.mlp.ffn_sub_norm.weight`,
    qNorm: `model.layers.${i}.self_attn.q_norm.weight`,
    preFfnNorm: `model.layers.${i}.pre_feedforward_layernorm.weight`,
    postFfnNorm: `model.layers.${i}.post_feedforward_layernorm.weight`,
    kNorm: `model.layers.${i}.self_attn.k_norm.weight`,
  }),
  /** The RMSNorm inside a BitLinear (transformers' use_rms_norm): `<proj>.rms_norm.weight`. */
  linearNorm: (projection: string) => projection.replace(/\.weight$/, ".rms_norm.weight"),
} as const;

/** The seven projection matrices of a layer that BitLinear replaces. */
export const LINEARS = ["q", "k", "v", "o", "gate", "up", "down"] as const;
export type LinearName = (typeof LINEARS)[number];
