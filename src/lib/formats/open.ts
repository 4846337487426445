// Opening a checkpoint someone brings: detect the format from the files, decide every convention from
// what the files say (and say how it was decided), validate all headers and shapes, and only then read
// tensors — one at a time, so a 2B4T checkpoint is never one buffer.
//
// Formats read:
//   hf-packed  config.json + model.safetensors (or shards): U8 [out/4, in] row-block packed ternary with a
//              per-tensor weight_scale; linear_class "autobitlinear" multiplies (y = W̃x · weight_scale,
//              microsoft/bitnet-b1.58-2B-4T), "bitlinear" divides (weight_scale = 1/mean|W|, Falcon-E).
//   hf-latent  bf16/f32 master weights with quantization_mode "online" (…-2B-4T-bf16): ternarized at load
//              with the library's absmean quantizer, exactly as transformers does on every forward.
//   hf-fp      no quantization_config: a float model.
//   gguf-i2s   bitnet.cpp's GGUF (arch bitnet-25) with I2_S projections.
import {headDim, tensorNames} from "../config.js";
import type {BitNetConfig} from "../config.js";
import {expectedTensors, parseConfig} from "../checkpoint.js";
import type {ExpectedTensor} from "../checkpoint.js";
import {packedRows, unpackTernary} from "../pack.js";
import {quantizeWeightsAbsmean} from "../quant.js";
import {DTYPE_BYTES, toFloat32} from "../safetensors.js";
import type {ModelWeights, Tensor, TernaryTensor} from "../tensor.js";
import {ggmlTypeName, parseGGUF} from "./gguf.js";
import type {GGUFHeader} from "./gguf.js";
import {ggufConfig, loadGGUFTensor, planGGUF} from "./gguf-model.js";
import {I2S_LAYOUTS, decodeI2S} from "./i2s.js";
import type {I2SLayout} from "./i2s.js";
import {INDEX_FILE, openSafetensorsSet} from "./safetensors-files.js";
import type {TensorRef} from "./safetensors-files.js";
import {FormatError, readJSONFile} from "./source.js";
import type {ByteSource, FileSet} from "./source.js";
import {readI2SScale, scaleOutliers} from "./scale-range.js";
import {ggufTokenizerJSON} from "./gguf-tokenizer.js";

export type CheckpointFormat = "hf-packed" | "hf-latent" | "hf-fp" | "gguf-i2s";

export const FORMAT_NAMES: Record<CheckpointFormat, string> = {
  "hf-packed": "Hugging Face safetensors, packed ternary (U8, 4 weights per byte + weight_scale)",
  "hf-latent": "Hugging Face safetensors, latent master weights (ternarized at load, quantization_mode online)",
  "hf-fp": "Hugging Face safetensors, full precision",
  "gguf-i2s": "GGUF (bitnet.cpp) with I2_S ternary projections",
};

export type ScaleConvention = "multiply" | "divide";

export interface OpenOptions {
  /** Override the weight_scale convention of an HF packed checkpoint (the inspector says it was overridden). */
  scale?: ScaleConvention;
  /** The I2_S block layout of a GGUF file (default x86, which the released file uses). */
  i2sLayout?: I2SLayout;
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
  rope: Decision<"rotate-half" | "interleaved-pairs">;
  i2s?: Decision<I2SLayout> & {description: string};
  codeTable: string;
  tokenizer?: {source: string; tokens: number; bos: number; eos: number; addsBos: boolean; chat: boolean};
  /** Rough GPU bytes for the engine at a given context (weights + KV + activations). */
  gpuBytes: (ctx: number) => number;
  warnings: string[];
}

/** Per tensor and row range: what kernels/engine's createStreamedSession reads (its WeightSource, structurally),
 *  so the engine uploads straight from the files. */
export interface RowSource {
  floatRows(name: string, row0: number, rows: number): Promise<Float32Array>;
  ternaryRows(name: string, row0: number, rows: number): Promise<Int8Array>;
  gamma(name: string): Promise<number>;
}

/** A RowSource from "load one tensor" and "read float rows": float rows are byte ranges (a 2B4T embedding is
 *  never whole in memory); a projection is decoded once, whole, and kept until another one is asked for. */
function rowSource(one: (name: string) => Promise<LoadedTensor>, floatRange: (name: string, row0: number, rows: number) => Promise<Float32Array> | undefined): RowSource {
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

export type LoadedTensor = {name: string; float: Tensor; ternary?: undefined} | {name: string; ternary: TernaryTensor; float?: undefined};

/** Collects a tensor stream into ModelWeights. */
async function collect(config: BitNetConfig, it: AsyncGenerator<LoadedTensor>, total: number, onProgress?: (done: number, total: number, name: string) => void): Promise<ModelWeights> {
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
  /** The same tensors as an async stream, one converted tensor at a time and nothing retained: what a
   *  per-tensor GPU upload consumes without the model ever sitting whole in memory. */
  tensors(): AsyncGenerator<LoadedTensor>;
  /** Row ranges straight from the files, for kernels/engine's createStreamedSession(config, source). */
  rowSource(): RowSource;
  /** One tensor by its Hugging Face name, converted (projections ternary). */
  tensor(name: string): Promise<LoadedTensor>;
  /** The first rows of a projection decoded under the chosen convention and under the other one
   *  (scale convention for HF packed, I2_S layout for GGUF): W values [rows, in]. */
  goldenRows(name: string, rows: number): Promise<{chosen: Float32Array; other: Float32Array; otherLabel: string; cols: number}>;
}

function params(config: BitNetConfig): Inspection["parameters"] {
  let linear = 0, norm = 0, embedding = 0, head = 0;
  for (const e of expectedTensors(config)) {
    const n = e.shape.reduce((a: number, b: number) => a * b, 1);
    if (e.kind === "linear") linear += n;
    else if (e.name === tensorNames.embed) embedding += n;
    else if (e.name === tensorNames.lmHead) head += n;
    else norm += n;
  }
  return {embedding, linear, norm, head, total: embedding + linear + norm + head};
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

function tokenizerInfo(json: unknown, source: string): Inspection["tokenizer"] {
  const j = json as {added_tokens?: {id: number; content: string}[]; model?: {vocab?: object}; post_processor?: {type?: string; processors?: {type?: string}[]}};
  // A summary only, before Tokenizer.fromJSON validates the file: malformed parts count as absent here
  // (never "….map is not a function"); the tokenizer's own check names what is wrong.
  const added = (Array.isArray(j.added_tokens) ? j.added_tokens : []).filter((a) => a && typeof a === "object" && Number.isInteger(a.id));
  const vocab = j.model?.vocab && typeof j.model.vocab === "object" ? Object.keys(j.model.vocab).length : 0;
  const tokens = added.reduce((m, a) => Math.max(m, a.id + 1), vocab);
  const pp = j.post_processor && typeof j.post_processor === "object" ? j.post_processor : undefined;
  const hasTemplate = pp?.type === "TemplateProcessing" || (Array.isArray(pp?.processors) && pp.processors.some((p) => p?.type === "TemplateProcessing"));
  const id = (names: string[]) => added.find((a) => names.includes(a.content))?.id ?? -1;
  return {source, tokens, bos: id(["<s>", "<|begin_of_text|>"]), eos: id(["</s>", "<|end_of_text|>"]), addsBos: hasTemplate, chat: added.some((a) => a.content === "<|eot_id|>")};
}

// ------------------------------------------------------------------ HF

const GGUF_FLOAT: Record<number, "F32" | "F16" | "BF16"> = {0: "F32", 1: "F16", 30: "BF16"};

function finite(data: Float32Array, what: string): Float32Array {
  for (let k = 0; k < data.length; k++) if (!Number.isFinite(data[k])) throw new FormatError(`${what} holds a non-finite value at flat index ${k}`);
  return data;
}

/** `lc` is linear_class as config.json spells it (undefined when absent: parseConfig fills in a default). */
function decideScale(lc: unknown, scales: number[], override?: ScaleConvention): Inspection["scale"] {
  const sorted = [...scales].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
  let value: ScaleConvention;
  let how: string;
  if (override) {
    value = override;
    how = `set by you (overriding config.json's linear_class ${JSON.stringify(lc ?? null)})`;
  } else if (lc === "autobitlinear") {
    value = "multiply";
    how = "config.json quantization_config.linear_class = \"autobitlinear\": transformers' AutoBitLinear multiplies the output by weight_scale (weight_scale = mean|W|)";
  } else if (lc === "bitlinear") {
    value = "divide";
    how = "config.json quantization_config.linear_class = \"bitlinear\": transformers' BitLinear divides the output by weight_scale (weight_scale = 1/mean|W|, Falcon-E style)";
  } else {
    value = "divide";
    how = "config.json gives no linear_class; transformers then uses \"bitlinear\", which divides by weight_scale";
  }
  // A latent weight's mean|W| is far below 1 in every trained or initialized model we know, so the stored
  // scales' magnitude is independent evidence for the convention.
  const looksInverse = median > 1;
  const evidence = `median weight_scale ${median.toPrecision(4)} over ${scales.length} projections: ${looksInverse ? "above 1, like 1/mean|W| (a dividing scale)" : "below 1, like mean|W| (a multiplying scale)"}`;
  const factor = value === "multiply" ? median * median : 1 / (median * median);
  const otherWay = `with the other convention (${value === "multiply" ? "divide" : "multiply"}) every projection's output would be scaled by ≈ ${factor.toPrecision(3)}× (weight_scale${value === "multiply" ? "⁻²" : "²"}): ${factor > 1 ? "activations blow up" : "activations shrink toward zero"} and the output is garbage`;
  return {value, how, median, evidence, otherWay};
}

async function openHF(files: FileSet, opts: OpenOptions): Promise<OpenedCheckpoint> {
  const cfgSrc = files.get("config.json");
  if (!cfgSrc) throw new FormatError(`${files.label}: a Hugging Face checkpoint needs config.json next to the safetensors`);
  const configJSON = await readJSONFile(cfgSrc);
  let config: BitNetConfig;
  try {
    config = parseConfig(configJSON);
  } catch (e) {
    throw new FormatError(e instanceof Error ? e.message : String(e));
  }
  const set = await openSafetensorsSet(files);
  const warnings: string[] = [];
  const expected = expectedTensors(config);
  const qmode = config.quantization_config?.quantization_mode;
  const plan: {e: ExpectedTensor; ref: TensorRef; packed: boolean; scale?: TensorRef}[] = [];
  const missing: string[] = [];
  const used = new Set<string>();
  const FLOAT = ["F32", "F16", "BF16", "F64"];
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  for (const e of expected) {
    const ref = set.tensors.get(e.name);
    if (!ref) { missing.push(e.name); continue; }
    used.add(e.name);
    if (e.kind === "float" || config.bitnet_variant === "fp" || FLOAT.includes(ref.dtype)) {
      if (!FLOAT.includes(ref.dtype)) throw new FormatError(`${ref.file}: ${e.name} is ${ref.dtype}, expected a float type`);
      if (!same(ref.shape, e.shape)) throw new FormatError(`${ref.file}: ${e.name} has shape [${ref.shape}], expected [${e.shape}]`);
      plan.push({e, ref, packed: false});
      continue;
    }
    const [out, inp] = e.shape as [number, number];
    if (ref.dtype !== "U8" && ref.dtype !== "I8") throw new FormatError(`${ref.file}: ${e.name} is ${ref.dtype}, expected U8 (packed) or a float type (latent)`);
    if (!config.quantization_config) throw new FormatError(`${ref.file}: ${e.name} is packed but config.json has no quantization_config`);
    if (!same(ref.shape, [packedRows(out), inp])) {
      const hint = same(ref.shape, [out, inp]) ? " — one code per byte, not 4: not the transformers packing" : same(ref.shape, [out, inp / 4]) ? " — packed along the input dimension, not transformers' row blocks" : "";
      throw new FormatError(`${ref.file}: packed ${e.name} has shape [${ref.shape}], expected [${packedRows(out)}, ${inp}] (4 rows per byte)${hint}`);
    }
    const sn = e.name.replace(/\.weight$/, ".weight_scale");
    const scale = set.tensors.get(sn);
    if (!scale) throw new FormatError(`${ref.file}: packed ${e.name} has no ${sn}`);
    if (!FLOAT.includes(scale.dtype) || !(scale.shape.length === 0 || same(scale.shape, [1]))) throw new FormatError(`${scale.file}: ${sn} is ${scale.dtype} [${scale.shape}], expected one float ([] or [1])`);
    used.add(sn);
    plan.push({e, ref, packed: true, scale});
  }
  if (missing.length) throw new FormatError(`${files.label}: missing ${missing.length} tensor(s) for this config.json: ${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ", …" : ""}`);
  if (config.tie_word_embeddings && set.tensors.has(tensorNames.lmHead)) {
    used.add(tensorNames.lmHead);
    warnings.push(`${tensorNames.lmHead} is stored but tie_word_embeddings is true: ignored, the embedding is the head`);
  }
  const unknown = [...set.tensors.keys()].filter((n) => !used.has(n));
  if (unknown.length) throw new FormatError(`${files.label}: ${unknown.length} tensor(s) this config does not use: ${unknown.slice(0, 4).join(", ")}`);
  const nPacked = plan.filter((p) => p.packed).length;
  const nLatent = plan.filter((p) => !p.packed && p.e.kind === "linear").length;
  if (nPacked && nLatent) throw new FormatError(`${files.label}: ${nPacked} projections are packed and ${nLatent} are float: a mixed checkpoint is refused`);
  const format: CheckpointFormat = config.bitnet_variant === "fp" ? "hf-fp" : nPacked ? "hf-packed" : "hf-latent";
  if (format === "hf-latent" && qmode !== "online") warnings.push(`float projections with quantization_mode ${JSON.stringify(qmode ?? null)}: ternarized at load like "online" (transformers would expect packed weights)`);
  if (format === "hf-packed" && qmode === "online") throw new FormatError(`${files.label}: config.json says quantization_mode "online" (float master weights) but the projections are packed U8`);

  let scale: Inspection["scale"];
  const scaleOf = new Map<string, number>();
  if (format === "hf-packed") {
    for (const p of plan) if (p.scale) {
      const v = toFloat32(await p.scale.read(), p.scale.dtype)[0];
      if (!(v > 0 && Number.isFinite(v))) throw new FormatError(`${p.scale.file}: ${p.scale.name} = ${v}, expected a positive finite scale`);
      scaleOf.set(p.e.name, v);
    }
    const rawLC = ((configJSON as {quantization_config?: {linear_class?: unknown}}).quantization_config ?? {}).linear_class;
    scale = decideScale(rawLC, [...scaleOf.values()], opts.scale);
    const strong = scale!.value === "multiply" ? scale!.median > 8 : scale!.median < 1 / 8;
    if (strong && !opts.scale) {
      throw new FormatError(`scale convention mismatch: ${scale!.how}, but the ${scale!.evidence}. ${scale!.otherWay.replace(/^with the other convention/, "Read the other way")}; here it is the chosen way that looks wrong. If the file is right, fix config.json's linear_class (${scale!.value === "multiply" ? "\"bitlinear\"" : "\"autobitlinear\""}) or override the convention (the Open page's selector; \`--scale\` of bitnet-lab convert).`);
    }
    // An override against strong evidence is obeyed, but said: every projection is then off by ≈ scale².
    if (strong && opts.scale) warnings.push(`the scale convention "${scale!.value}" was set by you against the evidence (${scale!.evidence}): if the file follows its linear_class instead, every projection's output is off by ≈ ${(scale!.value === "multiply" ? scale!.median ** 2 : 1 / scale!.median ** 2).toPrecision(3)}× and the output is garbage`);
    if (rawLC === undefined) warnings.push("config.json has no linear_class: the scale convention follows transformers' default (divide); check the evidence line");
    warnings.push(...scaleOutliers([...scaleOf], "weight_scale"));
  }

  const tokSrc = files.get("tokenizer.json");
  const tokenizerJSON = tokSrc ? await readJSONFile(tokSrc) : undefined;
  const pc = params(config);
  const projBytes = plan.filter((p) => p.e.kind === "linear").reduce((a, p) => a + p.ref.bytes + (p.scale?.bytes ?? 0), 0);
  const totalBytes = set.files.reduce((a, f) => a + f.bytes, 0);
  const tensors: TensorSummary[] = plan.map((p) => ({
    name: p.e.name, dtype: p.ref.dtype, shape: [...p.e.shape], bytes: p.ref.bytes + (p.scale?.bytes ?? 0),
    role: p.packed ? "ternary" : p.e.kind === "linear" ? "latent" : "float",
  }));
  const inspection: Inspection = {
    format, formatName: FORMAT_NAMES[format],
    architecture: ((configJSON as {architectures?: string[]}).architectures ?? ["BitNetForCausalLM"]).join(", "),
    config,
    files: [{name: "config.json", bytes: cfgSrc.size}, ...set.files.map((f) => ({name: f.name, bytes: f.bytes})), ...(files.get(INDEX_FILE) ? [{name: INDEX_FILE, bytes: files.get(INDEX_FILE)!.size}] : []), ...(tokSrc ? [{name: "tokenizer.json", bytes: tokSrc.size}] : [])],
    tensors,
    parameters: pc,
    bitsPerWeight: {projections: pc.linear ? (projBytes * 8) / pc.linear : 0, overall: (totalBytes * 8) / pc.total},
    scale,
    rope: {value: "rotate-half", how: "Hugging Face checkpoints store W_q/W_k unpermuted; transformers' BitNet applies rotate_half (pairs i and i + d/2)"},
    codeTable: format === "hf-packed" ? "2-bit code = w + 1: 0 → −1, 1 → 0, 2 → +1 (3 invalid); byte bits 2i..2i+1 hold row block i (rows i·out/4 … (i+1)·out/4 − 1)" : format === "hf-latent" ? "none stored: codes = RoundClip(W / mean|W|, −1, 1) computed at load (absmean, b1.58 eq. 1–3)" : "none (float projections)",
    tokenizer: tokenizerJSON ? tokenizerInfo(tokenizerJSON, "tokenizer.json") : undefined,
    gpuBytes: (ctx) => engineBytes(config, ctx),
    warnings,
  };
  const multiply = scale?.value === "multiply";
  const loadOne = async (p: (typeof plan)[number]): Promise<LoadedTensor> => {
    const bytes = await p.ref.read();
    if (p.packed) {
      const [out, inp] = p.e.shape as [number, number];
      let codes: Int8Array;
      try {
        codes = unpackTernary(bytes, out, inp);
      } catch (err) {
        throw new FormatError(`${p.ref.file}: ${p.e.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const ws = scaleOf.get(p.e.name)!;
      return {name: p.e.name, ternary: {shape: [out, inp], codes, gamma: multiply ? ws : 1 / ws}};
    }
    const data = finite(toFloat32(bytes, p.ref.dtype), `${p.ref.file}: ${p.e.name}`);
    if (p.e.kind === "linear" && config.bitnet_variant !== "fp") {
      const q = quantizeWeightsAbsmean(data); // ternarize now, so the float master never accumulates
      return {name: p.e.name, ternary: {shape: [p.e.shape[0], p.e.shape[1] as number], codes: q.codes, gamma: 1 / q.scale}};
    }
    return {name: p.e.name, float: {shape: [...p.e.shape], data}};
  };
  const opened: OpenedCheckpoint = {
    inspection,
    tokenizerJSON,
    async load(onProgress) {
      const w = await collect(config, this.tensors(), plan.length, onProgress);
      // Float projections' scales (mean|W|) are known only once read: flagged here, beside the inspection's.
      if (format === "hf-latent") warnings.push(...scaleOutliers([...w.ternary].map(([n, t]) => [n, t.gamma] as const), "mean |W|"));
      return w;
    },
    async *tensors() {
      for (const p of plan) yield await loadOne(p);
    },
    tensor(name) {
      const p = plan.find((x) => x.e.name === name);
      if (!p) return Promise.reject(new FormatError(`${files.label}: no tensor ${name}`));
      return loadOne(p);
    },
    rowSource() {
      const byName = new Map(plan.map((p) => [p.e.name, p]));
      return rowSource((name) => opened.tensor(name), (name, row0, rows) => {
        const p = byName.get(name);
        if (!p || p.packed || (p.e.kind === "linear" && config.bitnet_variant !== "fp")) return undefined;
        const cols = p.e.shape.length > 1 ? (p.e.shape[1] as number) : p.e.shape[0];
        const size = DTYPE_BYTES[p.ref.dtype];
        return p.ref.readRange(row0 * cols * size, rows * cols * size).then((b) => finite(toFloat32(b, p.ref.dtype), `${p.ref.file}: ${name}`));
      });
    },
    async goldenRows(name, rows) {
      const p = plan.find((x) => x.e.name === name);
      if (!p || p.e.kind !== "linear") throw new FormatError(`goldenRows: ${name} is not a projection of this checkpoint`);
      const [out, inp] = p.e.shape as [number, number];
      const n = Math.min(rows, out);
      const chosen = new Float32Array(n * inp);
      const other = new Float32Array(n * inp);
      const bytes = await p.ref.read();
      if (p.packed) {
        const codes = unpackTernary(bytes, out, inp);
        const ws = scaleOf.get(name)!;
        const [a, b] = multiply ? [ws, 1 / ws] : [1 / ws, ws];
        for (let k = 0; k < n * inp; k++) { chosen[k] = codes[k] * a; other[k] = codes[k] * b; }
        return {chosen, other, otherLabel: multiply ? "divide" : "multiply", cols: inp};
      }
      const data = toFloat32(bytes, p.ref.dtype);
      const q = quantizeWeightsAbsmean(data);
      for (let k = 0; k < n * inp; k++) { chosen[k] = q.codes[k] / q.scale; other[k] = data[k]; }
      return {chosen, other, otherLabel: "latent (unquantized)", cols: inp};
    },
  };
  return opened;
}

// ------------------------------------------------------------------ GGUF

async function openGGUFFile(src: ByteSource, opts: OpenOptions, extra: FileSet): Promise<OpenedCheckpoint> {
  const h: GGUFHeader = await parseGGUF(src);
  const config = ggufConfig(h);
  const plan = planGGUF(h, config);
  // The file does not record the layout; only sizes can rule one out (x86 needs multiples of 128 elements).
  const odd = plan.find((p) => p.kind === "ternary" && p.info.n % 128 !== 0);
  const layout: I2SLayout = opts.i2sLayout ?? (odd && odd.info.n % 64 === 0 ? "arm" : "x86");
  const d = headDim(config);
  const warnings: string[] = [];
  const {json: tokJSON, note: tokNote} = ggufTokenizerJSON(h);
  if (tokNote) warnings.push(tokNote);
  const folderTok = extra.get("tokenizer.json");
  const tokenizerJSON = tokJSON ?? (folderTok ? await readJSONFile(folderTok) : undefined);
  if (!tokenizerJSON) warnings.push("no tokenizer.ggml.* vocabulary in the file and no tokenizer.json beside it");
  const i2sScales: [string, number][] = [];
  for (const p of plan) if (p.kind === "ternary") i2sScales.push([p.info.name, await readI2SScale(src, h.dataOffset + p.info.offset + p.info.n / 4)]);
  warnings.push(...scaleOutliers(i2sScales.filter(([, v]) => v > 0 && Number.isFinite(v)), "I2_S scale"));
  const pc = params(config);
  const projBytes = plan.filter((p) => p.kind === "ternary").reduce((a, p) => a + p.info.bytes, 0);
  const arch = h.metadata.get("general.architecture") as string;
  const loadOne = async (p: (typeof plan)[number]): Promise<LoadedTensor> => {
    const t = await loadGGUFTensor(src, h, p, layout, d);
    return t instanceof Float32Array ? {name: p.hf, float: {shape: [...p.shape], data: t}} : {name: p.hf, ternary: {shape: p.shape as [number, number], codes: t.codes, gamma: t.gamma}};
  };
  const layoutHow = opts.i2sLayout
    ? `set by you (${layout})`
    : layout === "arm"
      ? `the file does not record it, but ${odd!.info.name} has ${odd!.info.n} elements, not a multiple of x86's 128-element block: ARM (64-element blocks)`
      : "the file does not record it; x86 assumed (bitnet.cpp's x86 builds and the released ggml-model-i2_s.gguf); an ARM-converted file needs the ARM layout — compare the golden rows";
  const inspection: Inspection = {
    format: "gguf-i2s", formatName: FORMAT_NAMES["gguf-i2s"], architecture: `${arch} (GGUF v${h.version})`, config,
    files: [{name: src.name, bytes: src.size}],
    tensors: plan.map((p) => ({name: p.hf, dtype: ggmlTypeName(p.info.type), shape: [...p.shape], bytes: p.info.bytes, role: p.kind === "ternary" ? "ternary" : "float"})),
    parameters: pc,
    bitsPerWeight: {projections: (projBytes * 8) / pc.linear, overall: (src.size * 8) / pc.total},
    scale: undefined,
    rope: {value: "interleaved-pairs", how: `${arch} runs llama.cpp's adjacent-pair RoPE, so W_q/W_k rows are stored permuted within each head; they are un-permuted at load to the rotate-half order (reading them unpermuted would rotate the wrong pairs and scramble attention from position 1 on)`},
    i2s: {value: layout, how: layoutHow, description: I2S_LAYOUTS[layout].name},
    codeTable: "I2_S code: 0 → −1, 1 → 0, 2 → +1 (3 invalid); W = code · scale, one f32 scale per tensor after the n/4 code bytes (+32 bytes)",
    tokenizer: tokenizerJSON ? tokenizerInfo(tokenizerJSON, tokJSON ? "GGUF tokenizer.ggml.*" : "tokenizer.json") : undefined,
    gpuBytes: (ctx) => engineBytes(config, ctx),
    warnings,
  };
  const opened: OpenedCheckpoint = {
    inspection,
    tokenizerJSON,
    load(onProgress) {
      return collect(config, this.tensors(), plan.length, onProgress);
    },
    async *tensors() {
      for (const p of plan) yield await loadOne(p);
    },
    tensor(name) {
      const p = plan.find((x) => x.hf === name);
      if (!p) return Promise.reject(new FormatError(`${src.name}: no tensor ${name}`));
      return loadOne(p);
    },
    rowSource() {
      const byName = new Map(plan.map((p) => [p.hf, p]));
      return rowSource((name) => opened.tensor(name), (name, row0, rows) => {
        const p = byName.get(name);
        if (!p || p.kind !== "float") return undefined;
        const cols = p.shape.length > 1 ? (p.shape[1] as number) : p.shape[0];
        const dt = GGUF_FLOAT[p.info.type];
        const size = DTYPE_BYTES[dt];
        return src.read(h.dataOffset + p.info.offset + row0 * cols * size, rows * cols * size).then((b) => finite(toFloat32(b, dt), `${src.name}: ${p.info.name}`));
      });
    },
    async goldenRows(name, rows) {
      const p = plan.find((x) => x.hf === name && x.kind === "ternary");
      if (!p) throw new FormatError(`goldenRows: ${name} is not a projection of this checkpoint`);
      const [out, inp] = p.shape as [number, number];
      const n = Math.min(rows, out);
      const bytes = await src.read(h.dataOffset + p.info.offset, p.info.bytes);
      const otherLayout: I2SLayout = layout === "x86" ? "arm" : "x86";
      const a = decodeI2S(bytes, out * inp, layout, name);
      const b = decodeI2S(bytes, out * inp, otherLayout, name);
      const chosen = new Float32Array(n * inp);
      const other = new Float32Array(n * inp);
      // rows as stored (before the RoPE un-permutation), so both layouts are compared like for like
      for (let k = 0; k < n * inp; k++) { chosen[k] = a.codes[k] * a.scale; other[k] = b.codes[k] * b.scale; }
      return {chosen, other, otherLabel: `${otherLayout} I2_S layout`, cols: inp};
    },
  };
  return opened;
}

// ------------------------------------------------------------------ detection

/** Opens whatever `files` holds: a .gguf file, or an HF folder (config.json + model.safetensors or shards). */
export async function openCheckpoint(files: FileSet, opts: OpenOptions = {}): Promise<OpenedCheckpoint> {
  const names = files.names();
  const ggufs = names.filter((n) => n.toLowerCase().endsWith(".gguf"));
  if (ggufs.length > 1) throw new FormatError(`${files.label}: ${ggufs.length} GGUF files (${ggufs.join(", ")}): open one at a time`);
  if (ggufs.length === 1) return openGGUFFile(files.get(ggufs[0])!, opts, files);
  // A lone file that is GGUF by content (renamed): sniff the magic.
  for (const n of names) {
    const s = files.get(n)!;
    if (s.size >= 4 && !n.endsWith(".json")) {
      const m = await s.read(0, 4);
      if (m[0] === 0x47 && m[1] === 0x47 && m[2] === 0x55 && m[3] === 0x46) return openGGUFFile(s, opts, files);
    }
  }
  if (names.includes("model.safetensors") || names.includes(INDEX_FILE)) return openHF(files, opts);
  const st = names.filter((n) => n.endsWith(".safetensors"));
  if (st.length) throw new FormatError(`${files.label}: safetensors files (${st.slice(0, 3).join(", ")}) but no model.safetensors or ${INDEX_FILE}; drop the whole model folder`);
  if (names.includes("config.json")) throw new FormatError(`${files.label}: config.json but no weights (model.safetensors, ${INDEX_FILE} or a .gguf)`);
  throw new FormatError(`${files.label}: no checkpoint found (expected a .gguf file, or a folder with config.json and model.safetensors / ${INDEX_FILE}); got ${names.slice(0, 5).join(", ") || "nothing"}`);
}

