// The papers' published cost numbers, as data. Each value names its table, figure or section; "secondary" marks
// a number read off a figure by a third party (bitnet-papers.md §2.5–2.6), not printed in the paper's text.
// Transcribed from /work/shared/reference/bitnet-papers.md, which cites the arXiv versions used.

export const SOURCES = {
  bitnet: "BitNet (arXiv 2310.11453)",
  b158: "BitNet b1.58 (arXiv 2402.17764v1)",
  a48: "BitNet a4.8 (arXiv 2411.04965v1)",
  v2: "BitNet v2 (arXiv 2504.18415v2)",
  b2b4t: "BitNet b1.58 2B4T report (arXiv 2504.12285)",
  figSummary: "bzhng-development/summary-of-some-paper-in-cuda (figure labels, secondary)",
} as const;

/** Per-operation arithmetic energy, pJ (BitNet paper Table 2, from [Hor14, ZZL22]). */
export const OP_ENERGY_PJ = {
  "45nm": {add: {fp32: 0.9, fp16: 0.4, int8: 0.03}, mul: {fp32: 3.7, fp16: 1.1, int8: 0.2}},
  "7nm": {add: {fp32: 0.38, fp16: 0.16, int8: 0.007}, mul: {fp32: 1.31, fp16: 0.34, int8: 0.07}},
} as const;
export type ProcessNode = keyof typeof OP_ENERGY_PJ;
export const OP_ENERGY_SOURCE = `${SOURCES.bitnet} Table 2`;

/** BitNet paper Table 1: matmul energy (J) for input length 512. wbits 1 = BitNet. */
export interface BitNetEnergyRow {
  size: "6.7B" | "13B" | "30B";
  wbits: 32 | 16 | 1;
  mul7: number;
  add7: number;
  mul45: number;
  add45: number;
}
export const BITNET_ENERGY_TABLE1: readonly BitNetEnergyRow[] = [
  {size: "6.7B", wbits: 32, mul7: 4.41, add7: 1.28, mul45: 12.46, add45: 3.03},
  {size: "6.7B", wbits: 16, mul7: 1.14, add7: 0.54, mul45: 3.7, add45: 1.35},
  {size: "6.7B", wbits: 1, mul7: 0.02, add7: 0.04, mul45: 0.08, add45: 0.13},
  {size: "13B", wbits: 32, mul7: 8.58, add7: 2.49, mul45: 24.23, add45: 5.89},
  {size: "13B", wbits: 16, mul7: 2.23, add7: 1.05, mul45: 7.2, add45: 2.62},
  {size: "13B", wbits: 1, mul7: 0.04, add7: 0.06, mul45: 0.12, add45: 0.24},
  {size: "30B", wbits: 32, mul7: 20.09, add7: 5.83, mul45: 56.73, add45: 13.8},
  {size: "30B", wbits: 16, mul7: 5.21, add7: 2.45, mul45: 16.87, add45: 6.13},
  {size: "30B", wbits: 1, mul7: 0.06, add7: 0.14, mul45: 0.2, add45: 0.53},
];
export const BITNET_ENERGY_TABLE1_SOURCE = `${SOURCES.bitnet} Table 1 (input length 512)`;

/** b1.58 Table 1: memory (GB) and decode latency (ms per output token); FasterTransformer + Ladder 2-bit kernel. */
export interface B158Table1Row {
  model: "LLaMA" | "BitNet b1.58";
  size: "700M" | "1.3B" | "3B" | "3.9B";
  memoryGB: number;
  latencyMs: number;
  ppl: number;
}
export const B158_TABLE1: readonly B158Table1Row[] = [
  {model: "LLaMA", size: "700M", memoryGB: 2.08, latencyMs: 1.18, ppl: 12.33},
  {model: "BitNet b1.58", size: "700M", memoryGB: 0.8, latencyMs: 0.96, ppl: 12.87},
  {model: "LLaMA", size: "1.3B", memoryGB: 3.34, latencyMs: 1.62, ppl: 11.25},
  {model: "BitNet b1.58", size: "1.3B", memoryGB: 1.14, latencyMs: 0.97, ppl: 11.29},
  {model: "LLaMA", size: "3B", memoryGB: 7.89, latencyMs: 5.07, ppl: 10.04},
  {model: "BitNet b1.58", size: "3B", memoryGB: 2.22, latencyMs: 1.87, ppl: 9.91},
  {model: "BitNet b1.58", size: "3.9B", memoryGB: 2.38, latencyMs: 2.11, ppl: 9.62},
];
export const B158_TABLE1_SOURCE = `${SOURCES.b158} Table 1`;

/** b1.58 §3 text and Figure 2 at 70B. */
export const B158_70B = {
  latencySpeedup: {value: 4.1, source: `${SOURCES.b158} §3 text ("4.1 times faster", Fig. 2)`},
  memoryReduction: {value: 7.16, source: `${SOURCES.b158} Fig. 2 (read by ${SOURCES.figSummary})`, secondary: true},
} as const;

/** b1.58 §3: 71.4× less matmul arithmetic energy on 7 nm. */
export const B158_ARITHMETIC_RATIO = {value: 71.4, source: `${SOURCES.b158} §3 text (Fig. 3 left)`} as const;

/** b1.58 Figure 3 (right): end-to-end energy ratio LLaMA / b1.58 for 512 tokens, read off the figure (secondary). */
export const B158_FIG3_ENERGY_RATIO: readonly {size: "1.3B" | "3B" | "13B" | "70B"; ratio: number}[] = [
  {size: "1.3B", ratio: 18.6},
  {size: "3B", ratio: 21.7},
  {size: "13B", ratio: 32.9},
  {size: "70B", ratio: 41.2},
];
export const B158_FIG3_SOURCE = `${SOURCES.b158} Fig. 3 right (read by ${SOURCES.figSummary})`;

/** b1.58 Table 3: 70B on two A100 80GB, pipeline parallel, sequence length 512, batch grown to the memory limit. */
export const B158_TABLE3 = {
  llama: {maxBatch: 16, tokensPerSecond: 333},
  bitnet: {maxBatch: 176, tokensPerSecond: 2977},
  source: `${SOURCES.b158} Table 3`,
  setup: {devices: 2, memoryGBPerDevice: 80, context: 512},
} as const;

/** a4.8 Table 2: % zero activations per component and activated parameters (non-embedding). */
export interface A48SparsityRow {
  model: "LLaMA" | "BitNet b1.58" | "BitNet a4.8";
  size: "700M" | "1.3B" | "3B" | "7B";
  activatedParams: number;
  qkv: number;
  out: number;
  up: number;
  gate: number;
  down: number;
  overall: number;
}
export const A48_TABLE2: readonly A48SparsityRow[] = [
  {model: "LLaMA", size: "700M", activatedParams: 679e6, qkv: 0, out: 0, up: 0, gate: 0, down: 0, overall: 0},
  {
    model: "BitNet b1.58",
    size: "700M",
    activatedParams: 638e6,
    qkv: 1.2,
    out: 5.9,
    up: 1.2,
    gate: 1.2,
    down: 21.8,
    overall: 6.2,
  },
  {
    model: "BitNet a4.8",
    size: "700M",
    activatedParams: 390e6,
    qkv: 12.1,
    out: 50.0,
    up: 66.2,
    gate: 12.1,
    down: 80.9,
    overall: 42.5,
  },
  {model: "LLaMA", size: "1.3B", activatedParams: 1.2e9, qkv: 0, out: 0, up: 0, gate: 0, down: 0, overall: 0},
  {
    model: "BitNet b1.58",
    size: "1.3B",
    activatedParams: 1.1e9,
    qkv: 1.3,
    out: 5.8,
    up: 1.2,
    gate: 1.2,
    down: 22.8,
    overall: 6.4,
  },
  {
    model: "BitNet a4.8",
    size: "1.3B",
    activatedParams: 0.7e9,
    qkv: 12.0,
    out: 50.0,
    up: 65.9,
    gate: 12.1,
    down: 81.8,
    overall: 42.7,
  },
  {model: "LLaMA", size: "3B", activatedParams: 3.2e9, qkv: 0, out: 0, up: 0, gate: 0, down: 0, overall: 0},
  {
    model: "BitNet b1.58",
    size: "3B",
    activatedParams: 3.0e9,
    qkv: 1.4,
    out: 7.1,
    up: 1.3,
    gate: 1.3,
    down: 30.0,
    overall: 8.2,
  },
  {
    model: "BitNet a4.8",
    size: "3B",
    activatedParams: 1.8e9,
    qkv: 12.1,
    out: 50.0,
    up: 70.7,
    gate: 12.1,
    down: 85.6,
    overall: 44.7,
  },
  {model: "LLaMA", size: "7B", activatedParams: 6.5e9, qkv: 0, out: 0, up: 0, gate: 0, down: 0, overall: 0},
  {
    model: "BitNet b1.58",
    size: "7B",
    activatedParams: 6.0e9,
    qkv: 1.7,
    out: 11.2,
    up: 1.4,
    gate: 1.4,
    down: 24.2,
    overall: 7.3,
  },
  {
    model: "BitNet a4.8",
    size: "7B",
    activatedParams: 3.4e9,
    qkv: 12.1,
    out: 50.0,
    up: 71.4,
    gate: 12.0,
    down: 84.2,
    overall: 44.5,
  },
];
export const A48_TABLE2_SOURCE = `${SOURCES.a48} Table 2`;
export const A48_ACTIVE_FRACTION = {
  value: 0.55,
  source: `${SOURCES.a48} abstract ("activates only 55% of parameters")`,
} as const;

/** 2B4T report Table 1: non-embedding memory (GB) of the compared models; the BitNet figure is at 1.58 bits. */
export const B2B4T_TABLE1_MEMORY: readonly {shape: string; memoryGB: number; bits: number}[] = [
  {shape: "llama3.2-1B", memoryGB: 2, bits: 16},
  {shape: "gemma3-1B", memoryGB: 1.4, bits: 16},
  {shape: "qwen2.5-1.5B", memoryGB: 2.6, bits: 16},
  {shape: "smollm2-1.7B", memoryGB: 3.2, bits: 16},
  {shape: "minicpm-2B", memoryGB: 4.8, bits: 16},
  {shape: "2B4T", memoryGB: 0.4, bits: Math.log2(3)},
];
/** 2B4T report Table 1: estimated decoding energy per token, J ("[Hor14, Zha22g] during decoding"). */
export const B2B4T_TABLE1_ENERGY = {llama1B: 0.258, bitnet: 0.028} as const;
export const B2B4T_TABLE1_SOURCE = `${SOURCES.b2b4t} Table 1`;
export const B2B4T_PARAMS = {
  value: 2_412_820_480,
  source: "microsoft/bitnet-b1.58-2B-4T-bf16 layer dump (bitnet-papers.md §5.1)",
} as const;
