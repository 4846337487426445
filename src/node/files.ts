// Node's side of the byte-source interface (src/lib/formats/source.ts): files read by position through a
// file handle, so multi-GB checkpoints are never one buffer, and a path (a .gguf file or a model folder)
// as a FileSet. `openModelPath` is what the CLI's model commands load through.
import {open, readdir, stat} from "node:fs/promises";
import {basename, dirname, join} from "node:path";
import type {ByteSource, FileSet} from "../lib/formats/source.js";
import {FormatError, READ_CHUNK_BYTES, checkRange, mapFileSet} from "../lib/formats/source.js";
import {openCheckpoint} from "../lib/formats/open.js";
import type {OpenOptions, OpenedCheckpoint} from "../lib/formats/open.js";
import type {ModelWeights} from "../lib/tensor.js";

export function fileSource(path: string, size: number): ByteSource {
  return {
    name: basename(path),
    size,
    async read(offset, length) {
      checkRange(this, offset, length);
      const fh = await open(path, "r");
      try {
        const out = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          // ≤ 1 GiB per call: fs.read aborts the process (a native assert) on a length ≥ 2³¹.
          const {bytesRead} = await fh.read(out, done, Math.min(READ_CHUNK_BYTES, length - done), offset + done);
          if (bytesRead === 0) throw new FormatError(`${path}: file shrank while reading (at ${offset + done})`);
          done += bytesRead;
        }
        return out;
      } finally {
        await fh.close();
      }
    },
  };
}

/** A folder's regular files (not recursive), or a single file as a one-file set (plus its folder's
 *  tokenizer.json for a .gguf without a vocabulary). */
export async function pathFileSet(path: string): Promise<FileSet> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new FormatError(`${path} does not exist (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const files = new Map<string, ByteSource>();
  if (st.isDirectory()) {
    for (const d of await readdir(path, {withFileTypes: true})) {
      // sentence-transformers' pooling settings live one folder down (1_Pooling/config.json)
      if (d.isDirectory() && /^\d+_Pooling$/.test(d.name)) {
        const p = join(path, d.name, "config.json");
        try {
          const ps = await stat(p);
          if (ps.isFile()) files.set(`${d.name}/config.json`, fileSource(p, ps.size));
        } catch {
          // no config.json inside
        }
        continue;
      }
      if (!d.isFile()) continue;
      const p = join(path, d.name);
      files.set(d.name, fileSource(p, (await stat(p)).size));
    }
    return mapFileSet(path, files);
  }
  files.set(basename(path), fileSource(path, st.size));
  const tok = join(dirname(path), "tokenizer.json");
  try {
    const ts = await stat(tok);
    if (ts.isFile() && basename(path) !== "tokenizer.json") files.set("tokenizer.json", fileSource(tok, ts.size));
  } catch {
    // no tokenizer.json beside the file
  }
  return mapFileSet(path, files);
}

export async function openModelPath(path: string, opts: OpenOptions = {}): Promise<OpenedCheckpoint> {
  return openCheckpoint(await pathFileSet(path), opts);
}

/** What the CLI's model commands need: weights, the tokenizer, the inspection and its warnings. */
export interface LoadedModelPath {
  path: string;
  opened: OpenedCheckpoint;
  weights: ModelWeights;
  tokenizer?: unknown;
  warnings: string[];
}

export async function loadModelPath(path: string, opts: OpenOptions = {}): Promise<LoadedModelPath> {
  const opened = await openModelPath(path, opts);
  const weights = await opened.load();
  return {path, opened, weights, tokenizer: opened.tokenizerJSON, warnings: opened.inspection.warnings};
}

/** The CLI's model commands' view of a checkpoint (the fields `readModelDir` gave them), for any format
 *  openCheckpoint reads: HF folders (single or sharded), a .gguf file. */
export interface ModelPath {
  dir: string;
  weights: ModelWeights;
  tokenizer?: unknown;
  warnings: string[];
  /** "packed" / "latent" / "fp", as the shipped-folder reader named them (GGUF I2_S is packed). */
  format: "packed" | "latent" | "fp";
  stored: {name: string; dtype: string; shape: number[]; bytes: number}[];
  files: {name: string; bytes: number}[];
  inspection: OpenedCheckpoint["inspection"];
  /** The opened checkpoint, for golden checks that read the file's stored rows. */
  opened: OpenedCheckpoint;
}

export async function readModelPath(path: string, opts: OpenOptions = {}): Promise<ModelPath> {
  const {opened, weights, tokenizer, warnings} = await loadModelPath(path, opts);
  const ins = opened.inspection;
  const format = ins.format === "hf-latent" ? "latent" : ins.format === "hf-fp" ? "fp" : "packed";
  return {
    dir: path,
    weights,
    tokenizer,
    warnings,
    format,
    stored: ins.tensors.map((t) => ({name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.bytes})),
    files: ins.files,
    inspection: ins,
    opened,
  };
}
