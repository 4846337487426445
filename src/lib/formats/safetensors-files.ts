// Safetensors checkpoints read through ByteSources: one model.safetensors, or shards listed by
// model.safetensors.index.json ({"weight_map": {tensor: shard file}}). Each shard's header is validated
// against its file size (src/lib/safetensors.ts) before any tensor is read; the index must agree with the
// shards exactly (every mapped tensor in its shard, no tensor in two shards, no unlisted tensors).
import {MAX_HEADER_BYTES, headerLength, parseSafetensorsHeader} from "../safetensors.js";
import type {DType, SafetensorsHeader} from "../safetensors.js";
import {FormatError, checkTensorBytes, readJSONFile} from "./source.js";
import type {ByteSource, FileSet} from "./source.js";

/** One stored tensor, wherever it lives; read() fetches only its bytes. */
export interface TensorRef {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: number;
  file: string;
  read(): Promise<Uint8Array>;
  /** `length` bytes from `offset` inside the tensor (rows of a big embedding without reading it whole). */
  readRange(offset: number, length: number): Promise<Uint8Array>;
}

export async function readSafetensorsHeaderFrom(src: ByteSource): Promise<SafetensorsHeader> {
  try {
    if (src.size < 8) throw new FormatError(`file is ${src.size} bytes, shorter than the 8-byte header length`);
    const first = await src.read(0, 8);
    const N = headerLength(first);
    if (N > MAX_HEADER_BYTES || 8 + N > src.size) parseSafetensorsHeader(first, src.size); // throws the specific error
    return parseSafetensorsHeader(await src.read(0, 8 + N), src.size);
  } catch (e) {
    throw new FormatError(`${src.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function refs(src: ByteSource, h: SafetensorsHeader): TensorRef[] {
  return h.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    bytes: t.end - t.begin,
    file: src.name,
    read: () => {
      checkTensorBytes(src.name, t.name, t.end - t.begin);
      return src.read(h.dataOffset + t.begin, t.end - t.begin);
    },
    readRange: (offset: number, length: number) => {
      if (offset < 0 || length < 0 || offset + length > t.end - t.begin)
        throw new FormatError(`${src.name}: ${t.name}: range [${offset}, +${length}) is outside the tensor`);
      return src.read(h.dataOffset + t.begin + offset, length);
    },
  }));
}

export interface SafetensorsSet {
  tensors: Map<string, TensorRef>;
  metadata: Record<string, string>;
  /** The shard files (one for an unsharded checkpoint). */
  files: {name: string; bytes: number; tensors: number}[];
  sharded: boolean;
}

export const INDEX_FILE = "model.safetensors.index.json";

/** Opens model.safetensors or the shards of model.safetensors.index.json in `files`. */
export async function openSafetensorsSet(files: FileSet): Promise<SafetensorsSet> {
  const single = files.get("model.safetensors");
  const index = files.get(INDEX_FILE);
  if (single && index)
    throw new FormatError(
      `${files.label} holds both model.safetensors and ${INDEX_FILE}: remove one, it is ambiguous which is the checkpoint`,
    );
  if (single) {
    const h = await readSafetensorsHeaderFrom(single);
    return {
      tensors: new Map(refs(single, h).map((r) => [r.name, r])),
      metadata: h.metadata,
      files: [{name: single.name, bytes: single.size, tensors: h.tensors.length}],
      sharded: false,
    };
  }
  if (!index) throw new FormatError(`${files.label} has neither model.safetensors nor ${INDEX_FILE}`);
  const json = await readJSONFile(index);
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new FormatError(`${INDEX_FILE}: expected a JSON object`);
  const wm = (json as Record<string, unknown>).weight_map;
  if (typeof wm !== "object" || wm === null || Array.isArray(wm))
    throw new FormatError(`${INDEX_FILE}: "weight_map" must be an object {tensor: shard file}`);
  const byShard = new Map<string, string[]>();
  for (const [t, f] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof f !== "string" || !f)
      throw new FormatError(`${INDEX_FILE}: weight_map["${t}"] must be a file name, got ${JSON.stringify(f)}`);
    if (f.includes("/") || f.includes("\\") || f === "..")
      throw new FormatError(`${INDEX_FILE}: weight_map["${t}"] = "${f}" must name a file in the same folder`);
    if (!byShard.has(f)) byShard.set(f, []);
    byShard.get(f)!.push(t);
  }
  if (byShard.size === 0) throw new FormatError(`${INDEX_FILE}: weight_map is empty`);
  const tensors = new Map<string, TensorRef>();
  const metadata: Record<string, string> = {};
  const shardFiles: SafetensorsSet["files"] = [];
  for (const [f, names] of byShard) {
    const src = files.get(f);
    if (!src)
      throw new FormatError(
        `${INDEX_FILE} lists shard "${f}" (${names.length} tensors, e.g. ${names[0]}), which is not among the files`,
      );
    const h = await readSafetensorsHeaderFrom(src);
    const inShard = new Map(refs(src, h).map((r) => [r.name, r]));
    for (const n of names) {
      const r = inShard.get(n);
      if (!r) throw new FormatError(`${INDEX_FILE} maps ${n} to ${f}, but ${f} does not hold it`);
      tensors.set(n, r);
      inShard.delete(n);
    }
    if (inShard.size)
      throw new FormatError(
        `${f} holds ${inShard.size} tensor(s) the index does not map to it: ${[...inShard.keys()].slice(0, 3).join(", ")}`,
      );
    Object.assign(metadata, h.metadata);
    shardFiles.push({name: f, bytes: src.size, tensors: h.tensors.length});
  }
  return {tensors, metadata, files: shardFiles, sharded: true};
}
