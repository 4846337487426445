// Model shapes for the cost model: the papers' configurations and any BitNetConfig. A shape is just the numbers
// that decide bytes and operations — no weights. DOM-free and Node-free.
import type {BitNetConfig} from "../config.js";

export interface ModelShape {
  id: string;
  label: string;
  /** Where the numbers come from (and what was assumed). */
  source: string;
  hidden: number; // C
  ffn: number; // FFN width (GLU: gate/up output; MLP: up output)
  layers: number;
  heads: number;
  kvHeads: number; // < heads: grouped-query attention
  headDim: number;
  vocab: number;
  /** "glu": gate, up, down (SwiGLU / ReLU²-GLU, three matrices); "mlp": up, down (GPT-3/OPT, two matrices). */
  ffnKind: "glu" | "mlp";
  /** One matrix serves as input embedding and LM head. */
  tiedEmbedding: boolean;
  /** attn_sub_norm and ffn_sub_norm (BitNet b1.58 2B4T): two more norm vectors per layer. */
  subNorms: boolean;
}

export interface ParamCounts {
  /** Per layer, per projection (the matrices BitLinear replaces). */
  perLayer: {q: number; k: number; v: number; o: number; gate: number; up: number; down: number};
  /** All linear (projection) weights of all layers: the "non-embedding" parameters. */
  linear: number;
  /** Input embedding + LM head (once if tied). */
  embedding: number;
  /** RMSNorm gains. */
  norms: number;
  total: number;
}

export function paramCounts(s: ModelShape): ParamCounts {
  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const perLayer = {
    q: s.hidden * qDim,
    k: s.hidden * kvDim,
    v: s.hidden * kvDim,
    o: qDim * s.hidden,
    gate: s.ffnKind === "glu" ? s.hidden * s.ffn : 0,
    up: s.hidden * s.ffn,
    down: s.ffn * s.hidden,
  };
  const layerLinear = Object.values(perLayer).reduce((a, b) => a + b, 0);
  const linear = s.layers * layerLinear;
  const embedding = s.vocab * s.hidden * (s.tiedEmbedding ? 1 : 2);
  // input_layernorm + post_attention_layernorm per layer, plus the final norm; sub-norms sit on W_o's input
  // (width heads·headDim) and W_down's input (width ffn).
  const norms = s.layers * (2 * s.hidden + (s.subNorms ? qDim + s.ffn : 0)) + s.hidden;
  return {perLayer, linear, embedding, norms, total: linear + embedding + norms};
}

function llama(
  id: string,
  label: string,
  hidden: number,
  ffn: number,
  layers: number,
  heads: number,
  source: string,
  extra: Partial<ModelShape> = {},
): ModelShape {
  return {
    id,
    label,
    source,
    hidden,
    ffn,
    layers,
    heads,
    kvHeads: heads,
    headDim: hidden / heads,
    vocab: 32000,
    ffnKind: "glu",
    tiedEmbedding: false,
    subNorms: false,
    ...extra,
  };
}

const A48_T6 =
  "a4.8 paper Table 6 (same shapes as the b1.58 LLaMA sizes: its Table 2 LLaMA activated params 679M/1.2B/3.2B/6.5B equal these shapes' non-embedding counts); LLaMA vocab 32000, untied";

/** The papers' configurations. Ids are stable (CLI --model, URL state). */
export const SHAPES: readonly ModelShape[] = [
  // b1.58 paper sizes (its Table 1 / Fig. 2). The paper gives no shapes; 700M–7B follow a4.8 Table 6 (same
  // authors, same baselines), 13B/70B are LLaMA(-2)'s.
  llama("700M", "700M (b1.58 / a4.8)", 1536, 4096, 24, 24, A48_T6),
  llama("1.3B", "1.3B (b1.58 / a4.8)", 2048, 5460, 24, 32, A48_T6),
  llama("3B", "3B (b1.58 / a4.8)", 3200, 8640, 26, 32, A48_T6),
  llama(
    "3.9B",
    "3.9B (b1.58)",
    3200,
    8640,
    32,
    32,
    "ASSUMED: the b1.58 paper gives no shape for 3.9B; the 3B shape with 32 layers has 3.96B non-embedding parameters",
  ),
  llama("7B", "7B (b1.58 / a4.8 / LLaMA)", 4096, 11008, 32, 32, A48_T6 + "; = LLaMA-7B"),
  llama(
    "13B",
    "13B (b1.58 / LLaMA)",
    5120,
    13824,
    40,
    40,
    "LLaMA-13B shape (the b1.58 paper scales to 13B without giving it)",
  ),
  llama(
    "70B",
    "70B (b1.58 / LLaMA-2)",
    8192,
    28672,
    80,
    64,
    "LLaMA-2-70B shape (grouped-query attention, 8 KV heads); the b1.58 paper gives no shape",
    {kvHeads: 8, headDim: 128},
  ),
  // BitNet v2 Table 8 (vocab not given: the LLaMA tokenizer's 32000 is assumed).
  llama("v2-400M", "400M (v2)", 1024, 4096, 24, 16, "v2 paper Table 8; vocab 32000 assumed"),
  llama("v2-1.3B", "1.3B (v2)", 2048, 8192, 18, 32, "v2 paper Table 8; vocab 32000 assumed"),
  llama("v2-3B", "3B (v2)", 4096, 8192, 20, 32, "v2 paper Table 8; vocab 32000 assumed"),
  llama("v2-7B", "7B (v2)", 4096, 16384, 24, 32, "v2 paper Table 8; vocab 32000 assumed"),
  {
    id: "2B4T",
    label: "BitNet b1.58 2B4T",
    hidden: 2560,
    ffn: 6912,
    layers: 30,
    heads: 20,
    kvHeads: 5,
    headDim: 128,
    vocab: 128256,
    ffnKind: "glu",
    tiedEmbedding: true,
    subNorms: true,
    source: "2B4T report §2; microsoft/bitnet-b1.58-2B-4T-bf16 config.json (2,412,820,480 parameters)",
  },
  // The original BitNet paper's energy table sizes: GPT-3/OPT shapes (FFN 4·C, two matrices). Its Table 1 energies
  // follow from exactly these shapes (see the reproduction table); vocab does not enter that table.
  {
    ...llama(
      "bitnet-6.7B",
      "6.7B (BitNet, OPT shape)",
      4096,
      16384,
      32,
      32,
      "GPT-3/OPT-6.7B shape (BitNet paper sizes); FFN 4C, no GLU",
    ),
    ffnKind: "mlp",
    vocab: 50272,
  },
  {
    ...llama(
      "bitnet-13B",
      "13B (BitNet, OPT shape)",
      5120,
      20480,
      40,
      40,
      "GPT-3/OPT-13B shape (BitNet paper sizes); FFN 4C, no GLU",
    ),
    ffnKind: "mlp",
    vocab: 50272,
  },
  {
    ...llama(
      "bitnet-30B",
      "30B (BitNet, OPT shape)",
      7168,
      28672,
      48,
      56,
      "GPT-3/OPT-30B shape (BitNet paper sizes); FFN 4C, no GLU",
    ),
    ffnKind: "mlp",
    vocab: 50272,
  },
  // The full-precision models the 2B4T report compares against (its Table 1), from their config.json files.
  {
    ...llama("llama3.2-1B", "LLaMA 3.2 1B", 2048, 8192, 16, 32, "meta-llama/Llama-3.2-1B config.json"),
    kvHeads: 8,
    headDim: 64,
    vocab: 128256,
    tiedEmbedding: true,
  },
  {
    ...llama("gemma3-1B", "Gemma-3 1B", 1152, 6912, 26, 4, "google/gemma-3-1b config (head_dim 256, 1 KV head)"),
    kvHeads: 1,
    headDim: 256,
    vocab: 262144,
    tiedEmbedding: true,
  },
  {
    ...llama("qwen2.5-1.5B", "Qwen2.5 1.5B", 1536, 8960, 28, 12, "Qwen/Qwen2.5-1.5B config.json (QKV biases ignored)"),
    kvHeads: 2,
    headDim: 128,
    vocab: 151936,
    tiedEmbedding: true,
  },
  {
    ...llama("smollm2-1.7B", "SmolLM2 1.7B", 2048, 8192, 24, 32, "HuggingFaceTB/SmolLM2-1.7B config.json"),
    vocab: 49152,
    tiedEmbedding: true,
  },
  {
    ...llama("minicpm-2B", "MiniCPM 2B", 2304, 5760, 40, 36, "openbmb/MiniCPM-2B config.json"),
    vocab: 122753,
    tiedEmbedding: true,
  },
];

/** The b1.58 size ladder used for the scaling curves. */
export const B158_LADDER = ["700M", "1.3B", "3B", "3.9B", "7B", "13B", "70B"] as const;

export function findShape(id: string): ModelShape | undefined {
  const key = id.toLowerCase();
  return SHAPES.find((s) => s.id.toLowerCase() === key);
}

export function getShape(id: string): ModelShape {
  const s = findShape(id);
  if (!s) throw new Error(`unknown model "${id}"; known: ${SHAPES.map((x) => x.id).join(", ")}`);
  return s;
}

/** The shape of a BitNetConfig (e.g. a shipped tiny model's config.json). Validates what the cost model needs. */
export function shapeFromConfig(c: BitNetConfig, id = "custom", label = id): ModelShape {
  const need = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size"] as const;
  for (const k of need) {
    const v = (c as unknown as Record<string, unknown>)[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
      throw new Error(`config: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  }
  const heads = c.num_attention_heads;
  const kvHeads = c.num_key_value_heads ?? heads;
  if (!Number.isInteger(kvHeads) || kvHeads <= 0 || heads % kvHeads !== 0) {
    throw new Error(
      `config: num_key_value_heads (${kvHeads}) must be a positive divisor of num_attention_heads (${heads})`,
    );
  }
  const headDim = c.head_dim ?? c.hidden_size / heads;
  if (!Number.isInteger(headDim) || headDim <= 0)
    throw new Error(`config: head_dim ${headDim} is not a positive integer`);
  return {
    id,
    label,
    source: "config.json",
    hidden: c.hidden_size,
    ffn: c.intermediate_size,
    layers: c.num_hidden_layers,
    heads,
    kvHeads,
    headDim,
    vocab: c.vocab_size,
    ffnKind: "glu",
    tiedEmbedding: c.tie_word_embeddings !== false,
    subNorms: Boolean(c.bitnet_sub_norms),
  };
}
