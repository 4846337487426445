// GGUF ↔ this project's model: bitnet.cpp's BitNet b1.58 2B4T files (arch "bitnet-25"; "bitnet-b1.58" in
// later conversions) with I2_S projections, F32/F16/BF16 norms and embedding, and the tokenizer.ggml.* vocab.
//
// Conventions, each decided from the file where it can be and stated where it cannot:
// - tensor names follow llama.cpp (token_embd, blk.N.attn_q, …, attn_sub_norm, ffn_sub_norm, output_norm);
//   matrices are stored [out, in] row-major (ggml dims [in, out]).
// - architecture conventions (RoPE type, whether W_q/W_k rows are permuted, defaults) come from the table in
//   gguf-arch.ts, read from bitnet.cpp's own sources: its BitNet archs run rotate-half (NEOX) RoPE and the
//   vendor's converters store W_q/W_k in transformers' row order, so nothing is permuted either way. The one
//   exception is a file written by this project before 2026-12 (it permuted them, wrongly): recognised by
//   its metadata and un-permuted, with a warning.
// - arch qwen3 (Microsoft's BitNet-embedding-0.6B converter): blk.N.<proj>_norm_in (the RMSNorm inside each
//   BitLinear), attn_q_norm / attn_k_norm, <arch>.pooling_type = last token; read as the HF family's body.
// - I2_S: one scale that multiplies (W = scale · code); the byte layout is decided by open.ts (i2s.ts).
import {headDim, tensorNames} from "../config.js";
import type {BitNetConfig} from "../config.js";
import {parseConfig} from "../checkpoint.js";
import {fromFloat32, toFloat32} from "../safetensors.js";
import type {ModelWeights} from "../tensor.js";
import {GGML_I2_S, GGML_REFUSED, GGUFValueType, ggmlTypeName, readGGUFTensor} from "./gguf.js";
import {GGML_TQ1_0, GGML_TQ2_0, decodeTQ, oneScale} from "./tq.js";
import {ggufArchOf, ggufEmbeddingPooling} from "./gguf-arch.js";
import type {GGUFArch} from "./gguf-arch.js";
import type {GGUFHeader, GGUFTensorInfo, GGUFValue} from "./gguf.js";
import type {GGUFKV, GGUFTensorOut} from "./gguf-write.js";
import {decodeI2S, encodeI2S} from "./i2s.js";
import type {I2SLayout} from "./i2s.js";
import {FormatError} from "./source.js";
import type {ByteSource} from "./source.js";

/** HF tensor name → GGUF tensor name. */
export function ggufName(hf: string): string {
  if (hf === tensorNames.embed) return "token_embd.weight";
  if (hf === tensorNames.finalNorm) return "output_norm.weight";
  if (hf === tensorNames.lmHead) return "output.weight";
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  // the RMSNorm inside a BitLinear: Microsoft's BitNet-embedding converter names it <proj>_norm_in (lines 61-75)
  const inner = m && /^(.+)\.rms_norm\.weight$/.exec(m[2]);
  if (inner) return ggufName(`model.layers.${m[1]}.${inner[1]}.weight`).replace(/\.weight$/, "_norm_in.weight");
  if (!m) throw new FormatError(`no GGUF name for ${hf}`);
  const map: Record<string, string> = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.attn_sub_norm.weight": "attn_sub_norm.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "mlp.ffn_sub_norm.weight": "ffn_sub_norm.weight",
  };
  const g = map[m[2]];
  if (!g) throw new FormatError(`no GGUF name for ${hf}`);
  return `blk.${m[1]}.${g}`;
}

/** Row permutation between rotate-half (HF) and interleaved-pair (GGUF) order for a [heads·d, in] matrix:
 *  returns, for each GGUF row, the HF row it holds. */
export function ropePermutation(heads: number, d: number): Int32Array {
  const half = d / 2;
  const perm = new Int32Array(heads * d);
  for (let h = 0; h < heads; h++)
    for (let j = 0; j < half; j++) for (let i = 0; i < 2; i++) perm[h * d + 2 * j + i] = h * d + i * half + j;
  return perm;
}

/** Reorders rows: out[r] = rows[perm[r]] (forward: HF → GGUF) or out[perm[r]] = rows[r] (inverse). */
export function permuteRows<T extends Int8Array | Float32Array>(
  data: T,
  cols: number,
  perm: Int32Array,
  inverse: boolean,
): T {
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let r = 0; r < perm.length; r++) {
    const [dst, src] = inverse ? [perm[r], r] : [r, perm[r]];
    out.set(data.subarray(src * cols, (src + 1) * cols), dst * cols);
  }
  return out;
}

function num(md: Map<string, GGUFValue>, key: string, required: boolean): number | undefined {
  const v = md.get(key);
  if (v === undefined) {
    if (required) throw new FormatError(`GGUF: metadata "${key}" is missing`);
    return undefined;
  }
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n))
    throw new FormatError(
      `GGUF: metadata "${key}" must be a finite number, got ${typeof n === "number" ? String(n) : typeof v === "string" ? JSON.stringify(v.slice(0, 40)) : Array.isArray(v) || ArrayBuffer.isView(v) ? "an array" : typeof v}`,
    );
  return n;
}

/** The architecture named by general.architecture with its conventions (gguf-arch.ts), or a refusal. */
export function ggufArch(h: GGUFHeader): GGUFArch {
  return ggufArchOf(h.metadata.get("general.architecture"));
}

/** A bitnet-25 file written by this project's converter before 2026-12, which permuted W_q/W_k rows for an
 *  adjacent-pair RoPE that bitnet.cpp does not use for BitNet archs. Its signature: the names that writer gave,
 *  no general.quantization_version (every llama.cpp/gguf-py writer sets it) and none of the bitnet_lab.* keys
 *  the current writer adds. */
export function legacyBitnetLabFile(h: GGUFHeader): boolean {
  const md = h.metadata;
  const name = md.get("general.name");
  return (
    (name === "bitnet-lab export" || name === "b1.58") &&
    !md.has("general.quantization_version") &&
    ![...md.keys()].some((k) => k.startsWith("bitnet_lab."))
  );
}

/** BitNetConfig from a GGUF's metadata and tensor shapes, with the architecture's facts from gguf-arch.ts
 *  (FFN activation, sub-norms): bitnet-25 / bitnet-b1.58 → the 2B4T body, llama → a Llama body (b1.58 with SiLU,
 *  no sub-norms; head_dim from llama.attention.key_length). */
export function ggufConfig(h: GGUFHeader): BitNetConfig {
  const ga = ggufArch(h);
  const A = ga.arch;
  const md = h.metadata;
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const tok = byName.get("token_embd.weight");
  if (!tok) throw new FormatError("GGUF: token_embd.weight is missing");
  if (tok.dims.length !== 2) throw new FormatError(`GGUF: token_embd.weight has ${tok.dims.length} dims, expected 2`);
  const C = num(md, `${A}.embedding_length`, true)!;
  if (tok.dims[0] !== C)
    throw new FormatError(`GGUF: token_embd.weight rows have ${tok.dims[0]} values, ${A}.embedding_length is ${C}`);
  const vocab = tok.dims[1];
  const declared = num(md, `${A}.vocab_size`, false);
  if (declared !== undefined && declared !== vocab)
    throw new FormatError(`GGUF: ${A}.vocab_size ${declared} differs from token_embd.weight's ${vocab} rows`);
  const H = num(md, `${A}.attention.head_count`, true)!;
  const keyLen = num(md, `${A}.attention.key_length`, false);
  const valLen = num(md, `${A}.attention.value_length`, false);
  if (keyLen !== undefined && valLen !== undefined && keyLen !== valLen)
    throw new FormatError(`GGUF: ${A}.attention.key_length ${keyLen} ≠ value_length ${valLen}: not supported`);
  const hd = keyLen ?? C / H;
  const rot = num(md, `${A}.rope.dimension_count`, false);
  if (rot !== undefined && rot !== hd)
    throw new FormatError(
      `GGUF: ${A}.rope.dimension_count ${rot} ≠ head dimension ${hd}: partial rotary embeddings are not supported`,
    );
  const emb = ga.embedding ? ggufEmbeddingPooling(num(md, `${A}.pooling_type`, true)!, A) : undefined;
  const json = {
    model_type: emb ? A : ga.subNorms ? "bitnet" : "llama",
    ...(keyLen !== undefined && keyLen !== C / H ? {head_dim: keyLen} : {}),
    vocab_size: vocab,
    hidden_size: C,
    intermediate_size: num(md, `${A}.feed_forward_length`, true),
    num_hidden_layers: num(md, `${A}.block_count`, true),
    num_attention_heads: H,
    num_key_value_heads: num(md, `${A}.attention.head_count_kv`, false) ?? H,
    max_position_embeddings: num(md, `${A}.context_length`, false) ?? 4096,
    rms_norm_eps: num(md, `${A}.attention.layer_norm_rms_epsilon`, false) ?? 1e-5,
    rope_theta: num(md, `${A}.rope.freq_base`, false) ?? ggufArch(h).defaults.ropeFreqBase,
    hidden_act: ga.ffn,
    tie_word_embeddings: !byName.has("output.weight"),
    bos_token_id: num(md, "tokenizer.ggml.bos_token_id", false) ?? Math.min(128000, vocab - 1),
    eos_token_id: num(md, "tokenizer.ggml.eos_token_id", false) ?? Math.min(128001, vocab - 1),
    quantization_config: {
      quant_method: "bitnet",
      linear_class: "autobitlinear",
      quantization_mode: "offline",
      ...(emb
        ? {use_rms_norm: true, rms_norm_eps: num(md, `${A}.attention.layer_norm_rms_epsilon`, false) ?? 1e-6}
        : {}),
    },
  };
  try {
    const config = parseConfig(json);
    if (emb) config.bitnet_pooling = emb.pooling;
    return config;
  } catch (e) {
    throw new FormatError(
      `GGUF metadata: ${e instanceof Error ? e.message.replace(/^config\.json: /, "") : String(e)}`,
    );
  }
}

const FLOAT_TYPES: Record<number, "F32" | "F16" | "BF16"> = {0: "F32", 1: "F16", 30: "BF16"};

export interface GGUFPlanEntry {
  hf: string;
  info: GGUFTensorInfo;
  kind: "ternary" | "float";
  shape: [number, number] | [number];
  /** Q and K: their head count (for the legacy row permutation and the golden check). */
  rope?: {heads: number};
}

/** Checks every tensor's presence, type and shape against the config, before any tensor data is read. */
export function planGGUF(h: GGUFHeader, config: BitNetConfig): GGUFPlanEntry[] {
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const C = config.hidden_size;
  const d = headDim(config);
  const F = config.intermediate_size;
  const out: GGUFPlanEntry[] = [];
  const TERNARY = [GGML_I2_S, GGML_TQ1_0, GGML_TQ2_0];
  const add = (hf: string, shape: [number, number] | [number], kind: "ternary" | "float", rope?: {heads: number}) => {
    const g = ggufName(hf);
    const info = byName.get(g);
    if (!info) throw new FormatError(`GGUF: tensor ${g} is missing`);
    const want = shape.length === 2 ? [shape[1], shape[0]] : [shape[0]];
    if (info.dims.length !== want.length || info.dims.some((x, i) => x !== want[i]))
      throw new FormatError(`GGUF: ${g} has dims [${info.dims}], expected [${want}] (ggml order: columns first)`);
    if (kind === "ternary" && GGML_REFUSED[info.type])
      throw new FormatError(`GGUF: projection ${g} is ${ggmlTypeName(info.type)}: ${GGML_REFUSED[info.type]}`);
    if (kind === "ternary" && !TERNARY.includes(info.type)) {
      throw new FormatError(
        `GGUF: projection ${g} is ${ggmlTypeName(info.type)}; only I2_S, TQ1_0 or TQ2_0 ternary projections are read (TL1/TL2 and k-quants are refused)`,
      );
    }
    if (kind === "float" && !(info.type in FLOAT_TYPES))
      throw new FormatError(
        `GGUF: ${g} is ${ggmlTypeName(info.type)}; norms and the embedding must be F32, F16 or BF16${g === "token_embd.weight" ? " (a --quant-embd conversion: reconvert without it)" : ""}`,
      );
    out.push({hf, info, kind, shape, rope});
  };
  add(tensorNames.embed, [config.vocab_size, C], "float");
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const n = tensorNames.layer(l);
    const inNorm = (proj: string, cols: number) => {
      if (config.bitnet_linear_norms) add(tensorNames.linearNorm(proj), [cols], "float");
    };
    add(n.inputNorm, [C], "float");
    add(n.q, [config.num_attention_heads * d, C], "ternary", {heads: config.num_attention_heads});
    add(n.k, [config.num_key_value_heads * d, C], "ternary", {heads: config.num_key_value_heads});
    add(n.v, [config.num_key_value_heads * d, C], "ternary");
    add(n.o, [C, config.num_attention_heads * d], "ternary");
    for (const p of [n.q, n.k, n.v]) inNorm(p, C);
    inNorm(n.o, config.num_attention_heads * d);
    if (config.bitnet_qk_norm) {
      add(n.qNorm, [d], "float");
      add(n.kNorm, [d], "float");
    }
    if (config.bitnet_sub_norms) add(n.attnSubNorm, [config.num_attention_heads * d], "float");
    add(n.postAttnNorm, [C], "float");
    add(n.gate, [F, C], "ternary");
    add(n.up, [F, C], "ternary");
    add(n.down, [C, F], "ternary");
    inNorm(n.gate, C);
    inNorm(n.up, C);
    inNorm(n.down, F);
    if (config.bitnet_sub_norms) add(n.ffnSubNorm, [F], "float");
  }
  add(tensorNames.finalNorm, [C], "float");
  if (!config.tie_word_embeddings) add(tensorNames.lmHead, [config.vocab_size, C], "float");
  const types = new Set(out.filter((e) => e.kind === "ternary").map((e) => e.info.type));
  if (types.size > 1)
    throw new FormatError(
      `GGUF: projections mix ${[...types].map(ggmlTypeName).join(" and ")}: one ternary type per file is read`,
    );
  const used = new Set(out.map((e) => e.info.name));
  const extra = h.tensors.filter((t) => !used.has(t.name) && t.name !== "rope_freqs.weight");
  if (extra.length)
    throw new FormatError(
      `GGUF: ${extra.length} unexpected tensor(s): ${extra
        .slice(0, 4)
        .map((t) => t.name)
        .join(", ")}`,
    );
  return out;
}

/** Reads one planned tensor into the model's representation. */
/** A ternary projection's codes (rows as stored) and its one scale: I2_S under `layout`, TQ1_0/TQ2_0 by blocks. */
export function decodeTernary(
  bytes: Uint8Array,
  e: GGUFPlanEntry,
  layout: I2SLayout | undefined,
): {codes: Int8Array; scale: number} {
  const [rows, cols] = e.shape as [number, number];
  const what = `GGUF: ${e.info.name}`;
  if (e.info.type === GGML_I2_S) {
    if (!layout) throw new FormatError(`${what}: I2_S without a decided layout`);
    return decodeI2S(bytes, rows, cols, layout, what);
  }
  const {codes, scales} = decodeTQ(bytes, rows, cols, e.info.type, what);
  return {codes, scale: oneScale(codes, scales, what)};
}

export async function loadGGUFTensor(
  src: ByteSource,
  h: GGUFHeader,
  e: GGUFPlanEntry,
  layout: I2SLayout | undefined,
  d: number,
  permutedQK: boolean,
): Promise<{codes: Int8Array; gamma: number} | Float32Array> {
  const bytes = await readGGUFTensor(src, h, e.info);
  if (e.kind === "float") {
    const data = toFloat32(bytes, FLOAT_TYPES[e.info.type]);
    for (let i = 0; i < data.length; i++)
      if (!Number.isFinite(data[i])) throw new FormatError(`GGUF: ${e.info.name} holds a non-finite value at ${i}`);
    return data;
  }
  const cols = e.shape[1] as number;
  let {codes, scale} = decodeTernary(bytes, e, layout);
  if (e.rope && permutedQK) codes = permuteRows(codes, cols, ropePermutation(e.rope.heads, d), true);
  return {codes, gamma: scale};
}

// ------------------------------------------------------------------ writer

/** GGUF key/values and tensors for a ternary model (bitnet-25, I2_S, F32 norms, F16 or F32 embedding), as
 *  bitnet.cpp reads them: W_q/W_k in transformers' row order (its BitNet archs run rotate-half RoPE),
 *  rope.freq_base always written (llama.cpp would otherwise take 10000), and the I2_S layout recorded under
 *  bitnet_lab.i2s_layout (llama.cpp ignores keys it does not know). */
export function ggufFromWeights(
  w: ModelWeights,
  opts: {layout?: I2SLayout; embedding?: "F16" | "F32"; tokenizer?: GGUFKV[]; name?: string} = {},
): {kvs: GGUFKV[]; tensors: GGUFTensorOut[]} {
  const c = w.config;
  if (c.bitnet_variant !== "b1.58")
    throw new FormatError(`GGUF export: only b1.58 models map to bitnet-25 (this is ${c.bitnet_variant})`);
  if (!c.bitnet_sub_norms || c.hidden_act !== "relu2")
    throw new FormatError("GGUF export: bitnet-25 needs sub-norms and a ReLU² FFN");
  const A = "bitnet-25";
  const U32 = GGUFValueType.U32;
  const F32 = GGUFValueType.F32;
  const kvs: GGUFKV[] = [
    {key: "general.architecture", type: GGUFValueType.STRING, value: A},
    {key: "general.name", type: GGUFValueType.STRING, value: opts.name ?? "bitnet-lab export"},
    {key: "general.file_type", type: U32, value: 40},
    {key: `${A}.vocab_size`, type: U32, value: c.vocab_size},
    {key: `${A}.context_length`, type: U32, value: c.max_position_embeddings},
    {key: `${A}.embedding_length`, type: U32, value: c.hidden_size},
    {key: `${A}.block_count`, type: U32, value: c.num_hidden_layers},
    {key: `${A}.feed_forward_length`, type: U32, value: c.intermediate_size},
    {key: `${A}.attention.head_count`, type: U32, value: c.num_attention_heads},
    {key: `${A}.attention.head_count_kv`, type: U32, value: c.num_key_value_heads},
    {key: `${A}.rope.freq_base`, type: F32, value: c.rope_theta},
    {key: `${A}.rope.dimension_count`, type: U32, value: headDim(c)},
    {key: `${A}.attention.layer_norm_rms_epsilon`, type: F32, value: c.rms_norm_eps},
    {key: "general.quantization_version", type: U32, value: 2},
    {key: "bitnet_lab.i2s_layout", type: GGUFValueType.STRING, value: opts.layout ?? "x86"},
    ...(opts.tokenizer ?? []),
  ];
  const layout = opts.layout ?? "x86";
  const embType = opts.embedding ?? "F16";
  const tensors: GGUFTensorOut[] = [];
  const push = (hf: string) => {
    const name = ggufName(hf);
    const t = w.ternary.get(hf);
    if (t) {
      const [rows, cols] = t.shape;
      tensors.push({
        name,
        dims: [cols, rows],
        type: GGML_I2_S,
        data: () => encodeI2S(t.codes, rows, cols, t.gamma, layout, name),
      });
      return;
    }
    const f = w.float.get(hf);
    if (!f) throw new FormatError(`GGUF export: missing ${hf}`);
    const matrix = f.shape.length === 2;
    if (matrix && hf !== tensorNames.embed && hf !== tensorNames.lmHead)
      throw new FormatError(`GGUF export: projection ${hf} is not ternary (ternarize the model first)`);
    const type = matrix && embType === "F16" ? 1 : 0;
    tensors.push({
      name,
      dims: matrix ? [f.shape[1], f.shape[0]] : [f.shape[0]],
      type,
      data: () => fromFloat32(f.data, type === 1 ? "F16" : "F32"),
    });
  };
  push(tensorNames.embed);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const n = tensorNames.layer(l);
    for (const k of [
      n.inputNorm,
      n.q,
      n.k,
      n.v,
      n.o,
      n.attnSubNorm,
      n.postAttnNorm,
      n.gate,
      n.up,
      n.down,
      n.ffnSubNorm,
    ])
      push(k);
  }
  push(tensorNames.finalNorm);
  if (!c.tie_word_embeddings) push(tensorNames.lmHead);
  return {kvs, tensors};
}
