// The GGUF writer (gguf.ts reads): a v3 file streamed through a sink, header first, then each tensor padded to
// general.alignment, one tensor in memory at a time.
import {GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUFValueType, ggmlTensorBytes, type GGUFValue} from "./gguf.js";

export type GGUFKV = {key: string; type: GGUFValueType; value: GGUFValue; elementType?: GGUFValueType};

class Bytes {
  parts: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }
  num(kind: "u8" | "u32" | "i32" | "f32" | "u64" | "i64" | "f64" | "u16" | "i16" | "i8", v: number | bigint): void {
    const size = {u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8}[kind];
    const b = new Uint8Array(size);
    const dv = new DataView(b.buffer);
    switch (kind) {
      case "u8":
        dv.setUint8(0, Number(v));
        break;
      case "i8":
        dv.setInt8(0, Number(v));
        break;
      case "u16":
        dv.setUint16(0, Number(v), true);
        break;
      case "i16":
        dv.setInt16(0, Number(v), true);
        break;
      case "u32":
        dv.setUint32(0, Number(v), true);
        break;
      case "i32":
        dv.setInt32(0, Number(v), true);
        break;
      case "f32":
        dv.setFloat32(0, Number(v), true);
        break;
      case "f64":
        dv.setFloat64(0, Number(v), true);
        break;
      case "u64":
        dv.setBigUint64(0, BigInt(v), true);
        break;
      case "i64":
        dv.setBigInt64(0, BigInt(v), true);
        break;
    }
    this.push(b);
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.num("u64", b.length);
    this.push(b);
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function writeValue(b: Bytes, type: GGUFValueType, v: GGUFValue, elementType?: GGUFValueType): void {
  switch (type) {
    case GGUFValueType.U8:
      return b.num("u8", v as number);
    case GGUFValueType.I8:
      return b.num("i8", v as number);
    case GGUFValueType.U16:
      return b.num("u16", v as number);
    case GGUFValueType.I16:
      return b.num("i16", v as number);
    case GGUFValueType.U32:
      return b.num("u32", v as number);
    case GGUFValueType.I32:
      return b.num("i32", v as number);
    case GGUFValueType.F32:
      return b.num("f32", v as number);
    case GGUFValueType.F64:
      return b.num("f64", v as number);
    case GGUFValueType.U64:
      return b.num("u64", v as number);
    case GGUFValueType.I64:
      return b.num("i64", v as number);
    case GGUFValueType.BOOL:
      return b.num("u8", v ? 1 : 0);
    case GGUFValueType.STRING:
      return b.str(v as string);
    case GGUFValueType.ARRAY: {
      if (elementType === undefined) throw new Error("gguf writer: an array needs its element type");
      const arr = v as ArrayLike<GGUFValue>;
      b.num("u32", elementType);
      b.num("u64", arr.length);
      for (let i = 0; i < arr.length; i++) writeValue(b, elementType, arr[i] as GGUFValue);
      return;
    }
  }
}

export interface GGUFTensorOut {
  name: string;
  dims: number[];
  type: number;
  /** Produces the tensor's bytes when the writer reaches it (one tensor in memory at a time). */
  data: () => Uint8Array | Promise<Uint8Array>;
}

/** Writes a GGUF v3 file through `sink` (header first, then each tensor, padded to the alignment). */
export async function writeGGUF(
  kvs: readonly GGUFKV[],
  tensors: readonly GGUFTensorOut[],
  sink: (chunk: Uint8Array) => void | Promise<void>,
  alignment = GGUF_DEFAULT_ALIGNMENT,
): Promise<number> {
  const b = new Bytes();
  b.num("u32", GGUF_MAGIC);
  b.num("u32", 3);
  b.num("u64", tensors.length);
  const all =
    kvs.some((k) => k.key === "general.alignment") || alignment === GGUF_DEFAULT_ALIGNMENT
      ? kvs
      : [...kvs, {key: "general.alignment", type: GGUFValueType.U32, value: alignment}];
  b.num("u64", all.length);
  for (const kv of all) {
    b.str(kv.key);
    b.num("u32", kv.type);
    writeValue(b, kv.type, kv.value, kv.elementType);
  }
  let off = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const n = t.dims.reduce((a, d) => a * d, 1);
    const bytes = ggmlTensorBytes(t.type, n, `gguf writer: ${t.name}`);
    sizes.push(bytes);
    b.str(t.name);
    b.num("u32", t.dims.length);
    for (const d of t.dims) b.num("u64", d);
    b.num("u32", t.type);
    b.num("u64", off);
    off += Math.ceil(bytes / alignment) * alignment;
  }
  const pad = (n: number) => new Uint8Array((alignment - (n % alignment)) % alignment);
  b.push(pad(b.length));
  let total = b.length;
  await sink(b.concat());
  for (let i = 0; i < tensors.length; i++) {
    const data = await tensors[i].data();
    if (data.length !== sizes[i])
      throw new Error(`gguf writer: ${tensors[i].name} produced ${data.length} bytes, expected ${sizes[i]}`);
    await sink(data);
    const p = pad(data.length);
    if (p.length) await sink(p);
    total += data.length + p.length;
  }
  return total;
}
