// The architecture table: what the network around the BitLinears is, as data, next to the variant table
// (variant.ts says what each BitLinear input gets; this says what the blocks are). One description, many readers —
// the CPU reference (model.ts), the WebGPU engine plan (src/gpu/engine/plan.ts, upload.ts), the checkpoint
// openers (formats/open.ts) and the inspector (Open page, `bitnet-lab inspect`). Nothing else branches on a family.
//
// The released ternary families differ in a handful of facts, every one a field here:
//   activation        GLU gate: ReLU² (BitNet b1.58 2B4T, a4.8) or SiLU (Llama-architecture families)
//   norms             pre-norm residual blocks; sub-norms before W_o and W_down (2B4T) or none (Llama);
//                     an RMSNorm inside each BitLinear (transformers' use_rms_norm, BitNet-embedding) and RMSNorm
//                     on q and k per head (Qwen3): run by the CPU reference and the engine (src/gpu/kernels/headnorm.ts; the
//                     engine refuses per-projection norms combined with sub-norms, makePlan)
//   head              tied to the embedding or a separate float matrix; never quantized
//   headDim           from config.json's head_dim, or hidden / heads
//   rope              rotate-half pairs (i, i + d/2) with base θ — every HF checkpoint; GGUF files of NORM archs
//                     store W_q/W_k permuted and are un-permuted by the reader (formats/gguf-arch.ts)
//   pooling           none for causal LMs; last-token + L2 for the embedding models (model.ts embedTokens)
//   Gemma3 (gemma)    GELU-tanh GLU; RMSNorms that multiply by (1 + w); sandwich norms (post-attention on the
//                     attention output, pre- and post-feedforward around the FFN); embedding × √hidden; scores ×
//                     query_pre_attn_scalar^-½; sliding-window layers (window W: keys q − W + 1 … q) with their own
//                     RoPE θ — transformers' modeling_gemma3.py, read by model.ts and refused by the engine where
//                     its kernels lack a piece (makePlan)
//
// Families. `detectFamily` names which released family a config.json belongs to and says how it was decided;
// the family only names — every behaviour comes from the config fields (variant, sub-norms, activation, head,
// head_dim, θ) that parseConfig (checkpoint.ts) fills from the same JSON.
import {headDim, type BitNetConfig} from "./config.js";

export interface Architecture {
  activation: "silu" | "relu2" | "gelu_tanh";
  norms: {
    placement: "pre";
    /** attn_sub_norm before W_o, ffn_sub_norm before W_down. */
    subNorms: boolean;
    /** An RMSNorm inside each BitLinear, before its quantizer (transformers' quantization_config.use_rms_norm). */
    perProjection: boolean;
    /** RMSNorm on each query and key head before RoPE (Qwen3, Gemma3). */
    qk: boolean;
    /** Gemma: the block's norms (not the BitLinears' own) compute x̂ · (1 + w), so stored weights are offsets from 1. */
    unitOffset: boolean;
    /** Gemma: post_attention_layernorm on the attention output and post_feedforward_layernorm on the FFN output
     *  before each residual add; the FFN input norm is pre_feedforward_layernorm. */
    sandwich: boolean;
  };
  /** The embedding row is multiplied by this before the first layer (√hidden for Gemma, scale_emb for MiniCPM, else 1;
   *  tied heads read the unscaled table). */
  embedScale: number;
  /** Each block's output is multiplied by this before the residual add (MiniCPM: scale_depth / √layers, else 1). */
  residualScale: number;
  /** The final norm's output is divided by this before the LM head (MiniCPM: hidden_size / dim_model_base, else 1). */
  headDivisor: number;
  attention: {
    /** Scores = q·k × scale. */
    scale: number;
    scaleFrom: "head_dim^-1/2" | "query_pre_attn_scalar^-1/2";
    /** Per layer: the sliding window (keys q − window + 1 … q), or undefined = every earlier position. */
    window: (number | undefined)[];
  };
  head: {tied: boolean; precision: "float"};
  headDim: number;
  headDimFrom: "config.head_dim" | "hidden_size / num_attention_heads";
  /** θ per layer (Gemma's sliding layers have their own), and the one most layers use. */
  rope: {pairs: "rotate-half"; theta: number; thetaPerLayer: number[]};
  weights: "ternary" | "float";
  pooling: "none" | "last-token-l2";
}

/** The architecture a config describes. */
export function architectureOf(c: BitNetConfig): Architecture {
  const g = c.bitnet_gemma;
  const m = c.bitnet_minicpm;
  const layers = Array.from({length: c.num_hidden_layers}, (_, l) => !!g?.sliding[l]);
  return {
    activation: c.hidden_act,
    norms: {
      placement: "pre",
      subNorms: c.bitnet_sub_norms,
      perProjection: !!c.bitnet_linear_norms,
      qk: !!c.bitnet_qk_norm,
      unitOffset: !!g,
      sandwich: !!g,
    },
    head: {tied: c.tie_word_embeddings, precision: "float"},
    headDim: headDim(c),
    headDimFrom: c.head_dim !== undefined ? "config.head_dim" : "hidden_size / num_attention_heads",
    // transformers: embed_scale = torch.tensor(hidden ** 0.5) (float32), multiplied in the weights' dtype
    embedScale: g ? Math.fround(Math.sqrt(c.hidden_size)) : (m?.scale_emb ?? 1),
    residualScale: m ? m.scale_depth / Math.sqrt(c.num_hidden_layers) : 1,
    headDivisor: m ? c.hidden_size / m.dim_model_base : 1,
    attention: {
      scale: 1 / Math.sqrt(g ? g.query_pre_attn_scalar : headDim(c)),
      scaleFrom: g ? "query_pre_attn_scalar^-1/2" : "head_dim^-1/2",
      window: layers.map((s) => (s ? g!.sliding_window : undefined)),
    },
    rope: {
      pairs: "rotate-half",
      theta: c.rope_theta,
      thetaPerLayer: layers.map((s) => (s ? g!.rope_local_theta : c.rope_theta)),
    },
    weights: c.bitnet_variant === "fp" ? "float" : "ternary",
    pooling: c.bitnet_pooling ?? "none",
  };
}

/** One line for the inspector. */
export function describeArchitecture(a: Architecture): string {
  const parts = [
    `${a.activation === "relu2" ? "ReLU²" : a.activation === "gelu_tanh" ? "GELU-tanh" : "SiLU"} GLU`,
    a.norms.subNorms ? "sub-norms before W_o and W_down" : "no sub-norms",
    ...(a.norms.sandwich ? ["norms before and after attention and FFN (sandwich)"] : []),
    ...(a.norms.unitOffset ? ["RMSNorm weights 1 + w"] : []),
    ...(a.embedScale !== 1
      ? [`embedding × ${+a.embedScale.toPrecision(6)} (${a.norms.unitOffset ? "√hidden" : "scale_emb"})`]
      : []),
    ...(a.residualScale !== 1 ? [`block outputs × ${+a.residualScale.toPrecision(6)} (scale_depth / √layers)`] : []),
    ...(a.headDivisor !== 1 ? [`LM head input ÷ ${+a.headDivisor.toPrecision(6)} (hidden / dim_model_base)`] : []),
    ...(a.attention.scaleFrom !== "head_dim^-1/2"
      ? [`scores × ${a.attention.scale.toPrecision(6)} (${a.attention.scaleFrom})`]
      : []),
    ...slidingSummary(a),
    ...(a.norms.perProjection ? ["an RMSNorm inside each BitLinear"] : []),
    ...(a.norms.qk ? ["RMSNorm on each q/k head"] : []),
    `${a.head.tied ? "tied" : "untied"} float LM head`,
    `head_dim ${a.headDim} (${a.headDimFrom})`,
    `RoPE rotate-half, θ ${[...new Set(a.rope.thetaPerLayer)].join(" / ") || a.rope.theta}`,
    a.weights === "ternary" ? "ternary projections" : "float projections",
    ...(a.pooling === "last-token-l2" ? ["embedding = last token's final hidden state, L2-normalized"] : []),
  ];
  return parts.join(", ");
}

function slidingSummary(a: Architecture): string[] {
  const n = a.attention.window.filter((w) => w !== undefined).length;
  if (!n) return [];
  return [`${n} of ${a.attention.window.length} layers sliding-window (${a.attention.window.find((w) => w)} keys)`];
}

// ---------------------------------------------------------------- families

export type FamilyId =
  | "bitnet-lab"
  | "bitnet-2b4t"
  | "llama-bitnet"
  | "1bitllm"
  | "llama-float"
  | "bitnet-embedding"
  | "gemma3-embedding"
  | "minicpm"
  | "unknown";

export interface Family {
  id: FamilyId;
  name: string;
  /** Released models this family covers (what a reader would recognise). */
  releases: string;
  supported: boolean;
  /** Why not, when not supported. */
  refused?: string;
}

export const FAMILIES: Readonly<Record<FamilyId, Family>> = {
  "bitnet-lab": {
    id: "bitnet-lab",
    name: "BitNet Lab model",
    releases: "this project's fp / b1.58 / a4.8 / v2 models",
    supported: true,
  },
  "bitnet-2b4t": {
    id: "bitnet-2b4t",
    name: "BitNet b1.58 2B4T architecture",
    releases: "microsoft/bitnet-b1.58-2B-4T (packed, -bf16)",
    supported: true,
  },
  "llama-bitnet": {
    id: "llama-bitnet",
    name: "Llama-architecture BitNet (transformers bitnet quantizer)",
    releases: "tiiuae/Falcon3-*-1.58bit, HF1BitLLM/Llama3-8B-1.58-*, tiiuae/Falcon-E-* (packed and bf16 revisions)",
    supported: true,
  },
  "1bitllm": {
    id: "1bitllm",
    name: "1bitLLM BitNet b1.58 reproduction",
    releases: "1bitLLM/bitnet_b1_58-large, -3B (fp16 latent weights, ternarized on the fly)",
    supported: true,
  },
  "llama-float": {
    id: "llama-float",
    name: "Llama-architecture float model",
    releases:
      "full-precision Llama checkpoints; pseudo-quantized ones (SpectraSuite TriLM unpacked, Falcon-E prequantized) are recognised by their values (formats/pseudo.ts)",
    supported: true,
  },
  "bitnet-embedding": {
    id: "bitnet-embedding",
    name: "Ternary embedding model, Qwen3 body",
    releases: "BitNet-embedding-0.6B (RMSNorm on q/k heads, an RMSNorm inside each BitLinear, last-token pooling + L2)",
    supported: true,
  },
  "gemma3-embedding": {
    id: "gemma3-embedding",
    name: "Ternary embedding model, Gemma3 body",
    releases:
      "microsoft/bitnet-embedding-270m (GELU-tanh GLU, sandwich norms with weights 1 + w, embedding × √hidden, sliding-window layers, an RMSNorm inside each BitLinear, last-token pooling + L2)",
    supported: true,
  },
  minicpm: {
    id: "minicpm",
    name: "MiniCPM (BitCPM)",
    releases:
      "openbmb/BitCPM4-0.5B / -1B (fake-quantized floats: ternary × α, recognised by formats/pseudo.ts), MiniCPM 1/2 bodies; scale_emb, scale_depth / √layers, hidden / dim_model_base as in OpenBMB's modeling_minicpm.py. Refused by name: LongRoPE (rope_scaling), InfLLM-v2 sparse_config, pytorch_model.bin (BitCPM-CANN)",
    supported: true,
  },
  unknown: {
    id: "unknown",
    name: "unrecognised",
    releases: "",
    supported: false,
    refused: "config.json matches no known family",
  },
};

export interface FamilyDecision {
  value: FamilyId;
  family: Family;
  how: string;
}

type Raw = Record<string, unknown>;

/** Which family a config.json belongs to, and from which keys that was decided. */
export function detectFamily(raw: unknown): FamilyDecision {
  const c = (raw && typeof raw === "object" ? raw : {}) as Raw;
  const arch = Array.isArray(c.architectures) ? (c.architectures as unknown[]).map(String) : [];
  const mt = c.model_type;
  const qc =
    c.quantization_config && typeof c.quantization_config === "object" ? (c.quantization_config as Raw) : undefined;
  const d = (value: FamilyId, how: string): FamilyDecision => ({value, family: FAMILIES[value], how});
  const rms =
    qc?.use_rms_norm === true ? ", quantization_config.use_rms_norm = true (an RMSNorm inside every BitLinear)" : "";
  if (mt === "qwen3")
    return d("bitnet-embedding", `model_type "qwen3"${qc ? ` with a bitnet quantization_config${rms}` : ""}`);
  if (mt === "gemma3" || mt === "gemma3_text")
    return d(
      "gemma3-embedding",
      `model_type ${JSON.stringify(mt)}${qc ? ` with a bitnet quantization_config${rms}` : ""}`,
    );
  if (mt === "minicpm") return d("minicpm", 'model_type "minicpm"');
  if (c.bitnet_variant !== undefined)
    return d(
      "bitnet-lab",
      `config.json carries bitnet_variant ${JSON.stringify(c.bitnet_variant)} (this project's field)`,
    );
  if (mt === "bitnet" || arch.includes("BitNetForCausalLM"))
    return d(
      "bitnet-2b4t",
      `model_type ${JSON.stringify(mt)}, architectures ${JSON.stringify(arch)}: transformers' BitNet (sub-norms, ReLU²)`,
    );
  if (mt === "llama" && c.weight_bits === 1 && c.input_bits === 8 && !qc) {
    return d(
      "1bitllm",
      `model_type "llama" with weight_bits 1 and input_bits 8 and no quantization_config (1bitLLM's configuration_bitnet; architectures ${JSON.stringify(arch)})`,
    );
  }
  if (mt === "llama" && qc?.quant_method === "bitnet") {
    const lc = qc.linear_class;
    return d(
      "llama-bitnet",
      `model_type "llama" with quantization_config.quant_method "bitnet" (${lc === undefined ? "no linear_class: a legacy config, as Falcon3-1.58bit and HF1BitLLM ship" : `linear_class ${JSON.stringify(lc)}`})${rms}`,
    );
  }
  if (mt === "llama") return d("llama-float", 'model_type "llama" without a quantization_config');
  return d("unknown", `model_type ${JSON.stringify(mt)}, architectures ${JSON.stringify(arch)}`);
}
