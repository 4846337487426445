// The safetensors container (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {..}},
// then the data section; offsets are relative to the data section. Bytes in, bytes out, no I/O.
//
// The reader validates the whole header against the file size before anything large is allocated, with
// the same rules as the reference implementation: known dtypes, integer shapes, offsets inside the data
// section, byte length = numel × dtype size, tensors non-overlapping and covering the data section with no
// holes.
import {f16BitsToF32, f32ToF16Bits} from "./half.js";

export type DType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL";

export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** Refuse headers above this size (the reference implementation uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte range inside the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** In header order. */
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** N, the JSON header's length in bytes. */
  headerLength: number;
  /** Where the data section starts in the file (8 + N). */
  dataOffset: number;
  /** Total file size the header was validated against. */
  fileSize: number;
}

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

const fail = (msg: string): never => {
  throw new SafetensorsError(`safetensors: ${msg}`);
};

function isDType(s: unknown): s is DType {
  return typeof s === "string" && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

/** Reads N from the first 8 bytes; throws for files shorter than 8 bytes or N ≥ 2^53. */
export function headerLength(bytes: Uint8Array): number {
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  if (hi >= 2 ** 21) fail(`header length ${hi} · 2^32 + ${lo} is absurd`);
  return hi * 2 ** 32 + lo;
}

/** Parses and validates the header. `bytes` must hold at least the first 8 + N bytes; `fileSize` is the
 *  whole file's size (defaults to bytes.length), against which the offsets are checked. */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize = bytes.length): SafetensorsHeader {
  const N = headerLength(bytes);
  if (N < 2) fail(`header length ${N} is too small for a JSON object`);
  if (N > MAX_HEADER_BYTES) fail(`header length ${N} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + N > fileSize) fail(`header length ${N} runs past the end of the ${fileSize}-byte file (truncated file?)`);
  if (8 + N > bytes.length) fail(`only ${bytes.length} bytes given, the header needs ${8 + N}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", {fatal: true}).decode(bytes.subarray(8, 8 + N));
  } catch {
    return fail("header is not valid UTF-8");
  }
  if (!text.startsWith("{")) fail(`header does not start with "{"`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return fail("header is not a JSON object");
  const dataLength = fileSize - 8 - N;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v)) fail(`__metadata__ must be an object of strings`);
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== "string") fail(`__metadata__["${k}"] is not a string`);
        metadata[k] = s as string;
      }
      continue;
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail(`tensor "${name}": entry is not an object`);
    const e = v as Record<string, unknown>;
    if (!isDType(e.dtype))
      fail(
        e.dtype === undefined
          ? `tensor "${name}" has no dtype`
          : `tensor "${name}": unknown dtype ${JSON.stringify(e.dtype)}`,
      );
    const dtype = e.dtype as DType;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      fail(`tensor "${name}": shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
    }
    const shape = e.shape as number[];
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      fail(`tensor "${name}": data_offsets ${JSON.stringify(off)} is not [begin, end] with non-negative integers`);
    }
    const [begin, end] = off as [number, number];
    if (begin > end) fail(`tensor "${name}": data_offsets [${begin}, ${end}] has begin > end`);
    if (end > dataLength)
      fail(
        `tensor "${name}": data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section (truncated file?)`,
      );
    let numel = 1;
    for (const d of shape) {
      numel *= d;
      if (numel > Number.MAX_SAFE_INTEGER) fail(`tensor "${name}": shape [${shape}] is too large`);
    }
    if (end - begin !== numel * DTYPE_BYTES[dtype]) {
      fail(`tensor "${name}": ${end - begin} bytes, but ${dtype} [${shape}] needs ${numel * DTYPE_BYTES[dtype]}`);
    }
    tensors.push({name, dtype, shape: [...shape], begin, end});
  }
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of sorted) {
    if (t.begin < pos)
      fail(`tensor "${t.name}" [${t.begin}, ${t.end}) overlaps the previous tensor (ending at ${pos})`);
    if (t.begin > pos) fail(`hole of ${t.begin - pos} bytes in the data section before tensor "${t.name}"`);
    pos = t.end;
  }
  if (pos !== dataLength)
    fail(
      `data section is ${dataLength} bytes but the tensors cover ${pos} (trailing bytes or a truncated/oversized file)`,
    );
  return {tensors, metadata, headerLength: N, dataOffset: 8 + N, fileSize};
}

/** The bytes of one tensor (a view into `file`). */
export function tensorBytes(file: Uint8Array, header: SafetensorsHeader, t: TensorInfo): Uint8Array {
  if (file.length < header.fileSize)
    fail(`buffer holds ${file.length} bytes, the header was validated for ${header.fileSize}`);
  return file.subarray(header.dataOffset + t.begin, header.dataOffset + t.end);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Converts a floating tensor's bytes (F32, F16, BF16, F64) to a new Float32Array. */
export function toFloat32(bytes: Uint8Array, dtype: DType): Float32Array {
  const size = DTYPE_BYTES[dtype];
  const n = bytes.length / size;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case "F32":
      if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case "BF16": {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      return out;
    }
    case "F16":
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32(dv.getUint16(2 * i, true));
      return out;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    default:
      return fail(`dtype ${dtype} is not a floating-point type`);
  }
}

/** Encodes floats as little-endian bytes of a floating dtype (BF16/F16: round-to-nearest-even, NaN stays NaN). */
export function fromFloat32(data: Float32Array, dtype: "F32" | "BF16" | "F16"): Uint8Array {
  if (dtype === "F16") {
    const out = new Uint8Array(data.length * 2);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) dv.setUint16(2 * i, f32ToF16Bits(data[i]), true);
    return out;
  }
  if (dtype === "F32") {
    const out = new Uint8Array(data.length * 4);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) dv.setFloat32(4 * i, data[i], true);
    return out;
  }
  const out = new Uint8Array(data.length * 2);
  const dv = new DataView(out.buffer);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < data.length; i++) {
    f[0] = data[i];
    const b = u[0];
    const bits =
      (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0
        ? (b >>> 16) | 0x40
        : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    dv.setUint16(2 * i, bits & 0xffff, true);
  }
  return out;
}

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Little-endian bytes, numel × dtype size. */
  data: Uint8Array;
}

/** Serializes tensors, wider dtypes first (stable, like the reference serializer) and the header padded
 *  with spaces to a multiple of 8 bytes, so every tensor starts at a multiple of its element size. */
export function writeSafetensors(input: readonly TensorEntry[], metadata?: Record<string, string>): Uint8Array {
  const entries = [...input].sort((a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype]);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let pos = 0;
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.name === "__metadata__" || seen.has(e.name)) fail(`duplicate or reserved tensor name "${e.name}"`);
    seen.add(e.name);
    const numel = e.shape.reduce((a, b) => a * b, 1);
    if (e.data.length !== numel * DTYPE_BYTES[e.dtype])
      fail(`tensor "${e.name}": ${e.data.length} bytes for ${e.dtype} [${e.shape}]`);
    header[e.name] = {dtype: e.dtype, shape: e.shape, data_offsets: [pos, pos + e.data.length]};
    pos += e.data.length;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const pad = (8 - (hb.length % 8)) % 8;
  if (pad) hb = enc.encode(json + " ".repeat(pad));
  const out = new Uint8Array(8 + hb.length + pos);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, hb.length % 2 ** 32, true);
  dv.setUint32(4, Math.floor(hb.length / 2 ** 32), true);
  out.set(hb, 8);
  let o = 8 + hb.length;
  for (const e of entries) {
    out.set(e.data, o);
    o += e.data.length;
  }
  return out;
}
