// What every checkpoint opener returns (open.ts: HF folders; open-gguf.ts: GGUF files) and the helpers they
// share: the inspection, conventions with how each was decided, row sources for the streamed GPU upload.
import {headDim} from "../config.js";
import type {BitNetConfig} from "../config.js";
import {expectedTensors} from "../checkpoint.js";
import {parameterCounts} from "../model.js";
import type {ModelWeights, Tensor, TernaryTensor} from "../tensor.js";
import type {LlamaRopeType} from "./gguf-arch.js";
import type {I2SLayout} from "./i2s.js";
import {FormatError} from "./source.js";
import {architectureOf, describeArchitecture, type Architecture, type FamilyDecision} from "../architecture.js";

export type CheckpointFormat = "hf-packed" | "hf-latent" | "hf-fp" | "gguf-i2s" | "gguf-tq1_0" | "gguf-tq2_0";

export const FORMAT_NAMES: Record<CheckpointFormat, string> = {
  "hf-packed": "Hugging Face safetensors, packed ternary (U8, 4 weights per byte + weight_scale)",
  "hf-latent": "Hugging Face safetensors, latent master weights (ternarized at load, quantization_mode online)",
  "hf-fp": "Hugging Face safetensors, full precision",
  "gguf-i2s": "GGUF (bitnet.cpp) with I2_S ternary projections",
  "gguf-tq1_0": "GGUF (llama.cpp) with TQ1_0 ternary projections (base-3 trits, 1.6875 bits per weight)",
  "gguf-tq2_0": "GGUF (llama.cpp) with TQ2_0 ternary projections (2 bits per weight)",
};

export type ScaleConvention = "multiply" | "divide";

export interface OpenOptions {
  /** Override the weight_scale convention of an HF packed checkpoint (the inspector says it was overridden). */
  scale?: ScaleConvention;
  /** The I2_S byte layout of a GGUF file: decided from the file when not given (open-gguf.ts), refused when the
   *  file cannot tell. */
  i2sLayout?: I2SLayout;
  /** Run a float Llama checkpoint's projections as BitNet b1.58, ternarized at load (formats/as-bitnet.ts: Falcon-E's
   *  prequantized revision, which onebitllms runs that way; the files cannot say so). */
  asBitNet?: boolean;
}

export interface Decision<T> {
  value: T;
  /** How it was decided, in a sentence. */
  how: string;
}

export interface TensorSummary {
  name: string;
  /** As stored: safetensors dtype or ggml type. */
  dtype: string;
  /** Logical shape [out, in] / [n]. */
  shape: number[];
  bytes: number;
  role: "ternary" | "latent" | "float";
}

export interface Inspection {
  format: CheckpointFormat;
  formatName: string;
  /** "BitNetForCausalLM" / the GGUF architecture. */
  architecture: string;
  config: BitNetConfig;
  files: {name: string; bytes: number}[];
  tensors: TensorSummary[];
  parameters: {embedding: number; linear: number; norm: number; head: number; total: number};
  bitsPerWeight: {projections: number; overall: number};
  scale?: Decision<ScaleConvention> & {median: number; evidence: string; otherWay: string};
  /** The row order W_q/W_k are stored in (the reader hands the model rotate-half order either way). */
  rope: Decision<"rotate-half" | "interleaved-pairs">;
  /** What the format owner's runtime does with the rows as stored (transformers; llama.cpp/bitnet.cpp for GGUF,
   *  from gguf-arch.ts): the truth the golden check holds the reader against. */
  runtime: {name: string; rope: LlamaRopeType; ropeTheta: number; source: string};
  i2s?: Decision<I2SLayout> & {
    description: string;
    maker: string;
    evidence?: {z: Partial<Record<I2SLayout, number>>; layers: number[]};
  };
  codeTable: string;
  /** Which released family (architecture.ts detectFamily) and how that was decided. */
  family: FamilyDecision;
  /** The architecture table's description of the model (what the CPU reference and the engine run). */
  arch: Architecture & {summary: string};
  /** Float projections whose values are ternary × scale (formats/pseudo.ts), checked on the first projection. */
  pseudo?: {tensor: string; axis: "tensor" | "rows" | "cols"; groups: number; alphas: number[]; description: string};
  /** An embedding model's pooling and how it was decided (sentence-transformers' modules.json / 1_Pooling). */
  pooling?: {value: "none" | "last-token-l2"; how: string};
  /** One stored word of the first projection, decoded bit by bit. */
  word?: StoredWord;
  tokenizer?: {source: string; tokens: number; bos: number; eos: number; addsBos: boolean; chat: boolean};
  /** Rough GPU bytes for the engine at a given context (weights + KV + activations). */
  gpuBytes: (ctx: number) => number;
  warnings: string[];
}

/** Per tensor and row range: what src/gpu/engine's createStreamedSession reads (its WeightSource, structurally),
 *  so the engine uploads straight from the files. */
export interface RowSource {
  floatRows(name: string, row0: number, rows: number): Promise<Float32Array>;
  ternaryRows(name: string, row0: number, rows: number): Promise<Int8Array>;
  gamma(name: string): Promise<number>;
}

/** A RowSource from "load one tensor" and "read float rows": float rows are byte ranges (a 2B4T embedding is
 *  never whole in memory); a projection is decoded once, whole, and kept until another one is asked for. */
export function rowSource(
  one: (name: string) => Promise<LoadedTensor>,
  floatRange: (name: string, row0: number, rows: number) => Promise<Float32Array> | undefined,
): RowSource {
  let cached: LoadedTensor | undefined;
  const get = async (name: string) => (cached?.name === name ? cached : (cached = await one(name)));
  return {
    async floatRows(name, row0, rows) {
      const direct = floatRange(name, row0, rows);
      if (direct) return direct;
      const t = (await get(name)).float;
      if (!t) throw new FormatError(`${name} is not a float tensor`);
      const cols = t.shape.length > 1 ? t.shape[1] : t.shape[0];
      return t.data.subarray(row0 * cols, (row0 + rows) * cols);
    },
    async ternaryRows(name, row0, rows) {
      const t = (await get(name)).ternary;
      if (!t) throw new FormatError(`${name} is not a ternary projection`);
      return t.codes.subarray(row0 * t.shape[1], (row0 + rows) * t.shape[1]);
    },
    async gamma(name) {
      const t = (await get(name)).ternary;
      if (!t) throw new FormatError(`${name} is not a ternary projection`);
      return t.gamma;
    },
  };
}

export type LoadedTensor =
  | {name: string; float: Tensor; ternary?: undefined}
  | {name: string; ternary: TernaryTensor; float?: undefined};

/** Collects a tensor stream into ModelWeights. */
export async function collect(
  config: BitNetConfig,
  it: AsyncGenerator<LoadedTensor>,
  total: number,
  onProgress?: (done: number, total: number, name: string) => void,
): Promise<ModelWeights> {
  const float = new Map<string, Tensor>();
  const ternary = new Map<string, TernaryTensor>();
  let i = 0;
  for await (const t of it) {
    onProgress?.(i++, total, t.name);
    if (t.ternary) ternary.set(t.name, t.ternary);
    else float.set(t.name, t.float!);
  }
  onProgress?.(total, total, "");
  return {config, float, ternary};
}

export interface OpenedCheckpoint {
  inspection: Inspection;
  /** The tokenizer as tokenizer.json content (from the folder or built from GGUF metadata). */
  tokenizerJSON?: unknown;
  /** Reads every tensor (one at a time) into the model's weights; projections end up ternary. */
  load(onProgress?: (done: number, total: number, name: string) => void): Promise<ModelWeights>;
  /** Only where the file holds float master weights (hf-latent): the same model with its projections unquantized
   *  (config bitnet_variant "fp"; per-projection and QK norms kept) — what ternary costs, measured. */
  loadFloat?(onProgress?: (done: number, total: number, name: string) => void): Promise<ModelWeights>;
  /** The same tensors as an async stream, one converted tensor at a time and nothing retained: what a
   *  per-tensor GPU upload consumes without the model ever sitting whole in memory. */
  tensors(): AsyncGenerator<LoadedTensor>;
  /** Row ranges straight from the files, for src/gpu/engine's createStreamedSession(config, source). */
  rowSource(): RowSource;
  /** One tensor by its Hugging Face name, converted (projections ternary). */
  tensor(name: string): Promise<LoadedTensor>;
  /** The first rows of a projection decoded under the chosen convention and under the other one
   *  (scale convention for HF packed, I2_S layout for GGUF): W values [rows, in]. `firstDiff` is the first
   *  flat index where the two differ (-1: identical in these rows), so a view can show where they part. */
  goldenRows(
    name: string,
    rows: number,
  ): Promise<{chosen: Float32Array; other: Float32Array; otherLabel: string; cols: number; firstDiff: number}>;
  /** A projection's rows exactly as the file stores them (no reordering by the reader), as W values
   *  [out, in]: what the format owner's runtime multiplies (inspection.runtime says how it applies RoPE). */
  storedRows(name: string): Promise<{data: Float32Array; shape: [number, number]}>;
}

/** First flat index where a and b differ, or -1. */
export function firstDifference(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Parameter counts by kind (embedding counted once when tied). */
export const params: (config: BitNetConfig) => Inspection["parameters"] = parameterCounts;

/** The stream/lookup half of an OpenedCheckpoint, over a plan of named entries and a loader for one. */
export function tensorAccess<P>(
  config: BitNetConfig,
  plan: readonly P[],
  nameOf: (p: P) => string,
  loadOne: (p: P) => Promise<LoadedTensor>,
  label: string,
): Pick<OpenedCheckpoint, "load" | "tensors" | "tensor"> {
  const access: Pick<OpenedCheckpoint, "load" | "tensors" | "tensor"> = {
    load: (onProgress) => collect(config, access.tensors(), plan.length, onProgress),
    async *tensors() {
      for (const p of plan) yield await loadOne(p);
    },
    tensor(name) {
      const p = plan.find((x) => nameOf(x) === name);
      if (!p) return Promise.reject(new FormatError(`${label}: no tensor ${name}`));
      return loadOne(p);
    },
  };
  return access;
}

/** GPU memory the WebGPU engine needs, roughly: 2-bit ternary rows (+8 bytes of scale per row), f32
 *  embedding/head rows, norms, the f32 KV cache at `ctx` positions, and a few MB of activations. */
export function engineBytes(config: BitNetConfig, ctx: number): number {
  let b = 0;
  for (const e of expectedTensors(config)) {
    const n = e.shape.reduce((a: number, x: number) => a * x, 1);
    b += e.kind === "linear" ? n / 4 + e.shape[0] * 8 : n * 4;
  }
  const kvDim = config.num_key_value_heads * headDim(config);
  b += config.num_hidden_layers * 2 * ctx * kvDim * 4;
  b += 128 * (config.hidden_size * 4 + config.intermediate_size * 8) + config.vocab_size * 8;
  return b;
}

export function tokenizerInfo(json: unknown, source: string): Inspection["tokenizer"] {
  const j = json as {
    added_tokens?: {id: number; content: string}[];
    model?: {vocab?: object};
    post_processor?: {type?: string; processors?: {type?: string}[]};
  };
  // A summary only, before Tokenizer.fromJSON validates the file: malformed parts count as absent here
  // (never "….map is not a function"); the tokenizer's own check names what is wrong.
  const added = (Array.isArray(j.added_tokens) ? j.added_tokens : []).filter(
    (a) => a && typeof a === "object" && Number.isInteger(a.id),
  );
  const vocab = j.model?.vocab && typeof j.model.vocab === "object" ? Object.keys(j.model.vocab).length : 0;
  const tokens = added.reduce((m, a) => Math.max(m, a.id + 1), vocab);
  const pp = j.post_processor && typeof j.post_processor === "object" ? j.post_processor : undefined;
  const hasTemplate =
    pp?.type === "TemplateProcessing" ||
    (Array.isArray(pp?.processors) && pp.processors.some((p) => p?.type === "TemplateProcessing"));
  const id = (names: string[]) => added.find((a) => names.includes(a.content))?.id ?? -1;
  return {
    source,
    tokens,
    bos: id(["<s>", "<|begin_of_text|>"]),
    eos: id(["</s>", "<|end_of_text|>"]),
    addsBos: hasTemplate,
    chat: added.some((a) => a.content === "<|eot_id|>"),
  };
}

export const GGUF_FLOAT: Record<number, "F32" | "F16" | "BF16"> = {0: "F32", 1: "F16", 30: "BF16"};

export function finite(data: Float32Array, what: string): Float32Array {
  for (let k = 0; k < data.length; k++)
    if (!Number.isFinite(data[k])) throw new FormatError(`${what} holds a non-finite value at flat index ${k}`);
  return data;
}

/** One word of a projection as the file stores it, split into its bit fields. */
export interface StoredWord {
  tensor: string;
  /** Byte offset of the word inside the tensor's data. */
  offset: number;
  /** The word's bytes as stored (little-endian), hex. */
  hex: string;
  /** The word's bits, most significant first. */
  bits: string;
  /** Bit fields, most significant first: the bits and what they mean. */
  fields: {bits: string; meaning: string}[];
  /** What the word decodes to, in a sentence. */
  value: string;
}

export function archInfo(config: BitNetConfig): Inspection["arch"] {
  const a = architectureOf(config);
  return {...a, summary: describeArchitecture(a)};
}

const hex = (b: ArrayLike<number>) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
const bin = (v: number, n: number) => v.toString(2).padStart(n, "0");

/** An HF packed byte: four 2-bit codes, one per row block (bits 2i..2i+1 → row i·out/4 + r). */
export function packedByteWord(
  tensor: string,
  byte: number,
  out: number,
  inp: number,
  offset: number,
  gammaLabel: string,
): StoredWord {
  const rows = out / 4;
  const r = Math.floor(offset / inp),
    k = offset % inp;
  const fields = [3, 2, 1, 0].map((i) => {
    const v = (byte >> (2 * i)) & 3;
    return {
      bits: bin(v, 2),
      meaning: `bits ${2 * i + 1}..${2 * i}: row ${i * rows + r}, column ${k}: code ${v} → w = ${v === 3 ? "invalid" : v - 1}${v === 3 ? "" : ` (W = ${v - 1} · ${gammaLabel})`}`,
    };
  });
  return {
    tensor,
    offset,
    hex: hex([byte]),
    bits: bin(byte, 8),
    fields,
    value: `four ternary weights from four row blocks of ${rows} rows`,
  };
}

/** A float word (F32, F16, BF16) split into sign, exponent and mantissa; `alpha` names a pseudo-ternary scale. */
export function floatWord(
  tensor: string,
  bytes: Uint8Array,
  dtype: string,
  offset: number,
  value: number,
  alpha?: number,
): StoredWord {
  const n = bytes.length;
  let u = 0;
  for (let i = n - 1; i >= 0; i--) u = u * 256 + bytes[i];
  const [eb, mb] = dtype === "F16" ? [5, 10] : dtype === "BF16" ? [8, 7] : [8, 23];
  const bits = bin(u, n * 8);
  const sign = bits.slice(0, 1),
    exp = bits.slice(1, 1 + eb),
    man = bits.slice(1 + eb);
  const bias = (1 << (eb - 1)) - 1;
  const e = parseInt(exp, 2);
  const fields = [
    {bits: sign, meaning: `sign: ${sign === "1" ? "−" : "+"}`},
    {bits: exp, meaning: `exponent ${e} − ${bias} = ${e - bias}`},
    {bits: man, meaning: `mantissa 1.${man} (binary) = ${(1 + parseInt(man, 2) / 2 ** mb).toPrecision(8)}`},
  ];
  const code = value > 0 ? 1 : value < 0 ? -1 : 0;
  return {
    tensor,
    offset,
    hex: hex(bytes),
    bits,
    fields,
    value: `${dtype} ${value}${alpha !== undefined ? ` = ${code} · α (α = ${alpha})` : ""}`,
  };
}
