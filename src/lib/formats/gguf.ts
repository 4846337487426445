// The GGUF container (llama.cpp / bitnet.cpp model files), read from a ByteSource (the writer: gguf-write.ts).
// Layout (v2/v3, little-endian): "GGUF", u32 version, u64 tensor count, u64 key/value count; key/values
// (string key, u32 type, value); tensor infos (string name, u32 n_dims, u64 dims[n_dims] with dims[0] the
// fastest-varying = a matrix's columns, u32 ggml type, u64 offset); then, at the next multiple of
// general.alignment (default 32), the data section holding each tensor at its (aligned) offset.
//
// Hand-written rather than @huggingface/gguf: that package is not among this project's dependencies (the
// build is offline, node_modules is fixed), and it has no entry for bitnet.cpp's I2_S type (36), whose size
// (n/4 + 32 bytes) is needed to validate the data section. Every count, length and offset is checked
// against the file size before anything is allocated.
import {i2sBytes} from "./i2s.js";
import {Cursor, FormatError, checkTensorBytes} from "./source.js";
import {CONFIG_LIMITS} from "../variant.js";
import type {ByteSource} from "./source.js";

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
const MAX_COUNT = 1_000_000; // tensors or key/values: far above any model (2B4T: 332 tensors, ~30 keys)
const MAX_STRING = 100_000_000;
/** Metadata arrays hold per-token data at most (tokens, scores, types, merges): bounded by the largest
 *  vocabulary a config may declare. Without it a 3e9-element array in a sparse file was read one element at
 *  a time for a minute before running out of memory. */
const MAX_ARRAY = CONFIG_LIMITS.vocab_size;

export enum GGUFValueType {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
}

/** ggml tensor types this reader can size (block elements, bytes per block), with their names. I2_S is
 *  special-cased (a per-tensor scale after the codes). Others are named so refusals are specific. */
export const GGML_TYPES: Readonly<Record<number, {name: string; block: number; bytes: number}>> = {
  0: {name: "F32", block: 1, bytes: 4},
  1: {name: "F16", block: 1, bytes: 2},
  2: {name: "Q4_0", block: 32, bytes: 18},
  3: {name: "Q4_1", block: 32, bytes: 20},
  6: {name: "Q5_0", block: 32, bytes: 22},
  7: {name: "Q5_1", block: 32, bytes: 24},
  8: {name: "Q8_0", block: 32, bytes: 34},
  9: {name: "Q8_1", block: 32, bytes: 36},
  10: {name: "Q2_K", block: 256, bytes: 84},
  11: {name: "Q3_K", block: 256, bytes: 110},
  12: {name: "Q4_K", block: 256, bytes: 144},
  13: {name: "Q5_K", block: 256, bytes: 176},
  14: {name: "Q6_K", block: 256, bytes: 210},
  15: {name: "Q8_K", block: 256, bytes: 292},
  24: {name: "I8", block: 1, bytes: 1},
  25: {name: "I16", block: 1, bytes: 2},
  26: {name: "I32", block: 1, bytes: 4},
  27: {name: "I64", block: 1, bytes: 8},
  28: {name: "F64", block: 1, bytes: 8},
  30: {name: "BF16", block: 1, bytes: 2},
  34: {name: "TQ1_0", block: 256, bytes: 54},
  35: {name: "TQ2_0", block: 256, bytes: 66},
  // PrismML's llama.cpp fork (Ternary Bonsai): sized so their files parse and are refused by name (gguf-model.ts).
  142: {name: "PQ2_0", block: 128, bytes: 34},
  143: {name: "PTQ1_0", block: 128, bytes: 28},
};

/** Projection types that are named and refused, with why. */
export const GGML_REFUSED: Readonly<Record<number, string>> = {
  142: "PrismML's PQ2_0 is not ternary: its four 2-bit codes mean −1, 0, +1 and +2, with an f16 scale per 128 weights stored first",
  143: "PrismML's PTQ1_0 is TQ1_0's trit packing with one f16 scale per 128 weights: a scale per group, where this project runs one ternary scale per tensor",
};
export const GGML_I2_S = 36;

export function ggmlTypeName(t: number): string {
  if (t === GGML_I2_S) return "I2_S";
  return GGML_TYPES[t]?.name ?? `type ${t}`;
}

/** Bytes of a tensor of `n` elements of ggml type `t` (throws for unknown types and partial blocks). */
export function ggmlTensorBytes(t: number, n: number, what: string): number {
  if (t === GGML_I2_S) {
    if (n % 4 !== 0) throw new FormatError(`${what}: I2_S needs a multiple of 4 elements, got ${n}`);
    return i2sBytes(n);
  }
  const info = GGML_TYPES[t];
  if (!info) {
    const hint =
      t === 37 || t === 38
        ? " (bitnet.cpp's fork numbers its TL1/TL2 lookup-table layouts after I2_S: reconvert with --quant-type i2_s)"
        : "";
    throw new FormatError(`${what}: unknown ggml tensor type ${t}${hint}`);
  }
  if (n % info.block !== 0)
    throw new FormatError(`${what}: ${n} elements is not a multiple of ${info.name}'s block of ${info.block}`);
  return (n / info.block) * info.bytes;
}

export type GGUFValue = number | bigint | boolean | string | GGUFValue[] | Int32Array | Float32Array;

export interface GGUFTensorInfo {
  name: string;
  /** ggml order: dims[0] is the row length (columns). */
  dims: number[];
  type: number;
  /** Offset inside the data section. */
  offset: number;
  bytes: number;
  /** Number of elements. */
  n: number;
}

export interface GGUFHeader {
  version: number;
  metadata: Map<string, GGUFValue>;
  /** The value type of each key (for the inspector and writers). */
  types: Map<string, GGUFValueType>;
  tensors: GGUFTensorInfo[];
  alignment: number;
  /** Absolute offset of the data section. */
  dataOffset: number;
  fileSize: number;
}

async function readString(c: Cursor, what: string): Promise<string> {
  const len = await c.u64(`${what} length`);
  if (len > MAX_STRING || len > c.remaining)
    throw new FormatError(
      `${what}: string of ${len} bytes runs past the end of the file or the ${MAX_STRING}-byte limit`,
    );
  try {
    return new TextDecoder("utf-8", {fatal: true}).decode(await c.bytes(len));
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(`${what}: string is not valid UTF-8`);
  }
}

const MIN_BYTES: Record<number, number> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  8: 8,
  9: 12,
  10: 8,
  11: 8,
  12: 8,
};

async function readValue(c: Cursor, type: number, what: string, depth = 0): Promise<GGUFValue> {
  switch (type) {
    case GGUFValueType.U8:
      return c.u8();
    case GGUFValueType.I8:
      return c.i8();
    case GGUFValueType.U16:
      return c.u16();
    case GGUFValueType.I16:
      return c.i16();
    case GGUFValueType.U32:
      return c.u32();
    case GGUFValueType.I32:
      return c.i32();
    case GGUFValueType.F32:
      return c.f32();
    case GGUFValueType.F64:
      return c.f64();
    case GGUFValueType.U64:
      return c.u64(what);
    case GGUFValueType.I64:
      return c.i64(what);
    case GGUFValueType.BOOL: {
      const b = await c.u8();
      if (b > 1) throw new FormatError(`${what}: bool byte ${b} is neither 0 nor 1`);
      return b === 1;
    }
    case GGUFValueType.STRING:
      return readString(c, what);
    case GGUFValueType.ARRAY: {
      if (depth > 2) throw new FormatError(`${what}: arrays nested deeper than 2`);
      const et = await c.u32();
      if (!(et in MIN_BYTES)) throw new FormatError(`${what}: unknown array element type ${et}`);
      const count = await c.u64(`${what} array length`);
      if (count > MAX_ARRAY)
        throw new FormatError(
          `${what}: array of ${count} elements is more than any GGUF key holds (limit ${MAX_ARRAY}, the largest vocabulary)`,
        );
      if (count * MIN_BYTES[et] > c.remaining)
        throw new FormatError(
          `${what}: array of ${count} elements cannot fit in the ${c.remaining} bytes left (truncated or corrupt file)`,
        );
      if (et === GGUFValueType.I32) {
        const raw = await c.bytes(count * 4);
        const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, true);
        return out;
      }
      if (et === GGUFValueType.F32) {
        const raw = await c.bytes(count * 4);
        const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
        return out;
      }
      const out: GGUFValue[] = new Array(count);
      for (let i = 0; i < count; i++) out[i] = await readValue(c, et, `${what}[${i}]`, depth + 1);
      return out;
    }
    default:
      throw new FormatError(`${what}: unknown value type ${type}`);
  }
}

/** Parses and validates a GGUF header: keys, tensor infos, and that every tensor lies inside the data
 *  section, aligned, without overlaps. Reads only the header bytes. */
export async function parseGGUF(src: ByteSource): Promise<GGUFHeader> {
  const name = src.name;
  if (src.size < 24) throw new FormatError(`${name}: ${src.size} bytes is too short for a GGUF header`);
  const c = new Cursor(src);
  const magic = await c.u32();
  if (magic !== GGUF_MAGIC)
    throw new FormatError(`${name}: not a GGUF file (magic ${magic.toString(16).padStart(8, "0")}, expected "GGUF")`);
  const version = await c.u32();
  if (version !== 2 && version !== 3)
    throw new FormatError(`${name}: GGUF version ${version} is not supported (2 or 3)`);
  const nTensors = await c.u64("tensor count");
  const nKV = await c.u64("key/value count");
  if (nTensors > MAX_COUNT || nKV > MAX_COUNT)
    throw new FormatError(`${name}: ${nTensors} tensors / ${nKV} keys is absurd (corrupt header?)`);
  if (nKV * 12 + nTensors * 24 > c.remaining)
    throw new FormatError(`${name}: ${nKV} keys and ${nTensors} tensors cannot fit in the file (truncated?)`);
  const metadata = new Map<string, GGUFValue>();
  const types = new Map<string, GGUFValueType>();
  for (let i = 0; i < nKV; i++) {
    const key = await readString(c, `${name}: key ${i}`);
    if (metadata.has(key)) throw new FormatError(`${name}: key "${key}" appears twice`);
    const type = await c.u32();
    metadata.set(key, await readValue(c, type, `${name}: "${key}"`));
    types.set(key, type);
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (metadata.has("general.alignment")) {
    const a = metadata.get("general.alignment");
    if (typeof a !== "number" || !Number.isInteger(a) || a < 1 || (a & (a - 1)) !== 0 || a > 1 << 20)
      throw new FormatError(`${name}: general.alignment ${String(a)} must be a power of two`);
    alignment = a as number;
  }
  const tensors: GGUFTensorInfo[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const tname = await readString(c, `${name}: tensor ${i} name`);
    if (seen.has(tname)) throw new FormatError(`${name}: tensor "${tname}" appears twice`);
    seen.add(tname);
    const nd = await c.u32();
    if (nd < 1 || nd > 4) throw new FormatError(`${name}: tensor "${tname}" has ${nd} dimensions (1–4 allowed)`);
    const dims: number[] = [];
    let n = 1;
    for (let d = 0; d < nd; d++) {
      const v = await c.u64(`tensor "${tname}" dim`);
      if (v < 1) throw new FormatError(`${name}: tensor "${tname}" has a zero dimension`);
      dims.push(v);
      n *= v;
      if (n > 2 ** 40) throw new FormatError(`${name}: tensor "${tname}" [${dims}] is too large`);
    }
    const type = await c.u32();
    const offset = await c.u64(`tensor "${tname}" offset`);
    if (offset % alignment !== 0)
      throw new FormatError(
        `${name}: tensor "${tname}" offset ${offset} is not a multiple of the alignment ${alignment}`,
      );
    const bytes = ggmlTensorBytes(type, n, `${name}: tensor "${tname}"`);
    tensors.push({name: tname, dims, type, offset, bytes, n});
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const dataLength = src.size - dataOffset;
  if (dataLength < 0) throw new FormatError(`${name}: the header ends past the end of the file`);
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const t of sorted) {
    if (t.offset < end)
      throw new FormatError(
        `${name}: tensor "${t.name}" at ${t.offset} overlaps the previous tensor (ending at ${end})`,
      );
    end = t.offset + t.bytes;
    if (end > dataLength)
      throw new FormatError(
        `${name}: tensor "${t.name}" [${t.offset}, ${end}) runs past the ${dataLength}-byte data section (truncated file?)`,
      );
  }
  return {version, metadata, types, tensors, alignment, dataOffset, fileSize: src.size};
}

/** The bytes of one tensor. */
export function readGGUFTensor(src: ByteSource, h: GGUFHeader, t: GGUFTensorInfo): Promise<Uint8Array> {
  checkTensorBytes(src.name, t.name, t.bytes);
  return src.read(h.dataOffset + t.offset, t.bytes);
}
