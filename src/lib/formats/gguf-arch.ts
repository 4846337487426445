// What each GGUF architecture means to its owner's runtime, as data: read from bitnet.cpp's llama.cpp fork
// (3rdparty/llama.cpp as vendored in ygqdan/BitNet-linux 6d113cd, the fork microsoft/BitNet 16da220 builds)
// and the vendor's converters (microsoft/BitNet utils/). Line numbers are those of that tree.
//
// RoPE: llama_rope_type() (src/llama.cpp:20080-20139) returns LLAMA_ROPE_TYPE_NEOX — "the pairs of head values
// are offset by n_rot/2", i.e. rotate-half, as transformers — for LLM_ARCH_BITNET, _BITNET_25 and _BITNET_B158
// (20114-20116), and LLAMA_ROPE_TYPE_NORM (adjacent pairs) for LLM_ARCH_LLAMA. A converter permutes W_q/W_k
// rows only for NORM archs: convert-hf-to-gguf-bitnet.py's LlamaModel.permute (line 937, applied at 951-953);
// its BitnetModel (1030) and convert-ms-to-gguf-bitnet.py (every permute_lazy commented out) do not.
// freq_base: llm_load_hparams sets rope_freq_base_train = 10000 and reads "<arch>.rope.freq_base" only if
// present (src/llama.cpp:5540-5541). n_rot must equal the head dimension for bitnet-25/b1.58 (5574-5577).
// Tensors: LLM_ARCH_BITNET_25 / _B158 (1354-1405): token_embd, output_norm, optional output (tied to
// token_embd when absent, 8722-8727), optional rope_freqs, blk.N.{attn_norm, attn_q, attn_k, attn_v,
// attn_output, attn_sub_norm, ffn_norm, ffn_gate, ffn_up, ffn_down, ffn_sub_norm}.
import type {I2SLayout} from "./i2s.js";
import {FormatError} from "./source.js";

/** llama.cpp's LLAMA_ROPE_TYPE_NEOX (rotate-half: dims i and i + d/2) or _NORM (dims 2j and 2j + 1). */
export type LlamaRopeType = "neox" | "norm";

export interface GGUFArch {
  arch: string;
  /** What this project can run; otherwise `refused` says why. */
  supported: boolean;
  refused?: string;
  rope: LlamaRopeType;
  /** W_q/W_k rows are stored permuted (HF rotate-half → adjacent pairs) by the owner's converters. */
  permutedQK: boolean;
  ffn: "relu2" | "silu" | "gelu_tanh";
  subNorms: boolean;
  /** Microsoft's BitNet-embedding conversion (convert-bitnet-embedding-to-gguf.py): an RMSNorm before each of the
   *  seven projections (blk.N.<proj>_norm_in), RMSNorm on each q/k head (attn_q_norm / attn_k_norm), a pooling type. */
  embedding?: boolean;
  /** The I2_S byte layout every file of this architecture holds, when its only converter packs I2_S itself. */
  i2sLayout?: {layout: I2SLayout; how: string};
  /** Defaults llama.cpp applies when a key is missing. */
  defaults: {ropeFreqBase: number};
  source: string;
}

const LLAMA_DEFAULTS = {ropeFreqBase: 10000};

export const GGUF_ARCHS: Readonly<Record<string, GGUFArch>> = {
  "bitnet-25": {
    arch: "bitnet-25",
    supported: true,
    rope: "neox",
    permutedQK: false,
    ffn: "relu2",
    subNorms: true,
    defaults: LLAMA_DEFAULTS,
    source:
      "llama_rope_type → LLAMA_ROPE_TYPE_NEOX (src/llama.cpp:20115); convert-ms-to-gguf-bitnet.py (the released 2B4T file's converter) leaves W_q/W_k unpermuted",
  },
  "bitnet-b1.58": {
    arch: "bitnet-b1.58",
    supported: true,
    rope: "neox",
    permutedQK: false,
    ffn: "relu2",
    subNorms: true,
    defaults: LLAMA_DEFAULTS,
    source:
      "llama_rope_type → LLAMA_ROPE_TYPE_NEOX (src/llama.cpp:20116); convert-hf-to-gguf-bitnet.py's BitnetModel does not permute",
  },
  bitnet: {
    arch: "bitnet",
    supported: false,
    rope: "neox",
    permutedQK: false,
    ffn: "silu",
    subNorms: true,
    defaults: LLAMA_DEFAULTS,
    refused:
      "the older 1bitLLM BitNet conversion (square W_k/W_v, separate per-projection scale tensors) is not supported yet",
    source: "llama_rope_type → LLAMA_ROPE_TYPE_NEOX (src/llama.cpp:20114)",
  },
  llama: {
    arch: "llama",
    supported: true,
    rope: "norm",
    permutedQK: true,
    ffn: "silu",
    subNorms: false,
    defaults: LLAMA_DEFAULTS,
    source:
      "llama_rope_type → LLAMA_ROPE_TYPE_NORM (src/llama.cpp:20094); LlamaModel.permute in convert-hf-to-gguf-bitnet.py:937 (and upstream convert_hf_to_gguf.py); head_dim from llama.attention.key_length",
  },
  // Microsoft's BitNet-embedding-0.6B (Qwen3 body) as its own converter writes it: microsoft/BitNet 16da220
  // utils/convert-bitnet-embedding-to-gguf.py (guide: docs/bitnet-embeddings-i2s-guide.md §3). Arch string "qwen3"
  // (SUPPORTED_ARCHS, line 28); names in build_tensor_name_map (36-87): attn_q_norm / attn_k_norm (head norms),
  // <proj>_norm_in (the RMSNorm inside each BitLinear), ffn_norm = post_attention_layernorm; projections I2_S with one
  // scale mean|W| (quantize_to_i2_s, 428-492, 128-element x86 blocks), norms and embedding F16 (601-627), no
  // output.weight (632); key_length/value_length = head_dim (356-359); pooling_type from 1_Pooling (368-392).
  // Rows are written as transformers holds them (no permute anywhere in the converter), and upstream llama.cpp runs
  // LLM_ARCH_QWEN3 with LLAMA_ROPE_TYPE_NEOX (rotate-half): read as stored. The runtime that consumes *_norm_in
  // (Microsoft's llama.cpp fork at that commit) is not vendored here.
  qwen3: {
    arch: "qwen3",
    supported: true,
    rope: "neox",
    permutedQK: false,
    ffn: "silu",
    subNorms: false,
    embedding: true,
    i2sLayout: {
      layout: "x86",
      how: "Microsoft's convert-bitnet-embedding-to-gguf.py packs I2_S itself, on any machine, in 128-element blocks of 32 bytes with shifts 6,4,2,0 (quantize_to_i2_s, lines 464-481): the x86 layout",
    },
    defaults: LLAMA_DEFAULTS,
    source:
      "microsoft/BitNet utils/convert-bitnet-embedding-to-gguf.py (arch qwen3, line 28; tensor names 36-87; no W_q/W_k permute); upstream llama.cpp runs LLM_ARCH_QWEN3 with NEOX RoPE",
  },
  // The 270M (Gemma3 body) through the same converter: arch "gemma3" (line 29).
  gemma3: {
    arch: "gemma3",
    supported: false,
    rope: "neox",
    permutedQK: false,
    ffn: "gelu_tanh",
    subNorms: false,
    embedding: true,
    defaults: LLAMA_DEFAULTS,
    refused:
      "BitNet-embedding-270M's Gemma3 body as Microsoft's convert-bitnet-embedding-to-gguf.py writes it is not read: the file records no sliding-window size nor which layers slide, nor query_pre_attn_scalar (set_gguf_parameters, lines 339-392, writes none of them), and its vocabulary is a SentencePiece one (tokenizer.ggml.model \"llama\", _set_vocab_gemma3) this project's tokenizer does not run; open the Hugging Face folder instead",
    source:
      "microsoft/BitNet utils/convert-bitnet-embedding-to-gguf.py (arch gemma3, line 29; Gemma norms stored as 1 + w, 609-618)",
  },
  // PrismML's Ternary Bonsai files (arch qwen35: a Qwen3.5 hybrid of gated-delta-net linear attention and full
  // attention layers, projections in the fork's PQ2_0/PTQ1_0 types, ggml ids 142/143).
  qwen35: {
    arch: "qwen35",
    supported: false,
    rope: "neox",
    permutedQK: false,
    ffn: "silu",
    subNorms: false,
    defaults: LLAMA_DEFAULTS,
    refused:
      "Qwen3.5 hybrid (gated-delta-net linear-attention layers beside full attention) is not an architecture this project runs; its PrismML PQ2_0/PTQ1_0 projections are refused too (see gguf.ts)",
    source: "PrismML's llama.cpp fork (Ternary-Bonsai GGUFs)",
  },
};

/** The architecture's conventions, or a specific refusal. */
export function ggufArchOf(arch: unknown): GGUFArch {
  if (typeof arch !== "string") throw new FormatError("GGUF: general.architecture is missing");
  const a = GGUF_ARCHS[arch];
  const known = Object.values(GGUF_ARCHS)
    .filter((x) => x.supported)
    .map((x) => x.arch)
    .join(", ");
  if (!a)
    throw new FormatError(
      `GGUF: architecture "${arch}" is not supported; this reader knows ${known} (BitNet b1.58 2B4T; Llama-architecture ternary models; BitNet-embedding-0.6B)`,
    );
  if (!a.supported)
    throw new FormatError(
      `GGUF: architecture "${arch}": ${a.refused}; this reader knows ${known} (BitNet b1.58 2B4T; Llama-architecture ternary models; BitNet-embedding-0.6B)`,
    );
  return a;
}

/** llama.cpp's LLAMA_POOLING_TYPE_LAST (gguf-py PoolingType.LAST), which the converter writes for
 *  sentence-transformers' pooling_mode_lasttoken (lines 385-386). */
const POOLING_LAST = 3;

/** A BitNet-embedding GGUF's pooling: last token, L2-normalized. The file records the pooling type only; the
 *  normalization is llama.cpp's embedding default (--embd-normalize 2, Euclidean), which BitNet-embedding's
 *  sentence-transformers Normalize module matches. Its BitLinear norms use <arch>.attention.layer_norm_rms_epsilon:
 *  the converter writes no other ε. */
export function ggufEmbeddingPooling(p: number, A: string): {pooling: "last-token-l2"} {
  if (p !== POOLING_LAST)
    throw new FormatError(
      `GGUF: ${A}.pooling_type ${p} (${["none", "mean", "cls", "last", "rank"][p] ?? "unknown"}): only last-token pooling (3), BitNet-embedding's, is run`,
    );
  return {pooling: "last-token-l2"};
}

/** What llama.cpp computes for RoPE on a head vector (as stored in the file's row order), in place:
 *  the reference the golden check holds the reader's rows against. */
export function llamaRope(x: Float64Array | Float32Array, pos: number, theta: number, type: LlamaRopeType): void {
  const d = x.length,
    half = d / 2;
  for (let i = 0; i < half; i++) {
    const f = pos * Math.pow(theta, (-2 * i) / d);
    const c = Math.cos(f),
      s = Math.sin(f);
    const [a, b] = type === "neox" ? [i, i + half] : [2 * i, 2 * i + 1];
    const x0 = x[a],
      x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
  }
}

/** llama.cpp's names for the pre-tokenizer (tokenizer.ggml.pre) it accepts (src/llama.cpp:6395-6512), and
 *  which split this project's tokenizer applies for each. "default" (and a missing key) apply four regexes
 *  in sequence (src/llama-vocab.cpp:495-503), which this tokenizer does not. */
export const GGUF_PRE_TOKENIZERS: Readonly<Record<string, "llama3" | "gpt2">> = {
  "llama-bpe": "llama3",
  llama3: "llama3",
  "llama-v3": "llama3",
  "gpt-2": "gpt2",
};
