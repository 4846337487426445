// Node-only model folder I/O: config.json + model.safetensors (+ tokenizer.json), the layout Hugging Face
// uses. The byte-level work is in src/lib/checkpoint.ts; this reads and writes files and checks the
// safetensors header against the file size before reading the (possibly large) rest.
import {open, readFile, stat, writeFile, mkdir} from "node:fs/promises";
import {existsSync} from "node:fs";
import {join} from "node:path";
import {parseConfig, readCheckpoint, writeCheckpoint} from "../lib/checkpoint.js";
import type {LoadedCheckpoint, WriteOptions} from "../lib/checkpoint.js";
import {headerLength, parseSafetensorsHeader, MAX_HEADER_BYTES} from "../lib/safetensors.js";
import type {ModelWeights} from "../lib/tensor.js";

export interface ModelDir extends LoadedCheckpoint {
  dir: string;
  /** The parsed config.json as stored. */
  configJSON: unknown;
  /** tokenizer.json as parsed JSON, if the folder has one. */
  tokenizer?: unknown;
  /** Bytes of each file read. */
  files: {name: string; bytes: number}[];
}

async function readJSON(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new Error(`${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: ${path} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Reads a model folder. Throws a specific error for a missing folder/file, a sharded checkpoint, or any
 *  inconsistency between config.json and model.safetensors. */
export async function readModelDir(dir: string): Promise<ModelDir> {
  if (!existsSync(dir)) throw new Error(`model folder ${dir} does not exist`);
  const cfgPath = join(dir, "config.json");
  const stPath = join(dir, "model.safetensors");
  if (!existsSync(cfgPath)) throw new Error(`${dir} has no config.json`);
  if (!existsSync(stPath)) {
    if (existsSync(join(dir, "model.safetensors.index.json")))
      throw new Error(
        `${dir} holds a sharded checkpoint (model.safetensors.index.json); only a single model.safetensors is supported`,
      );
    throw new Error(`${dir} has no model.safetensors`);
  }
  const configJSON = await readJSON(cfgPath, "config.json");
  // Bounds first: a config that cannot be built (num_hidden_layers 1e9) fails before the weights are read.
  try {
    parseConfig(configJSON);
  } catch (e) {
    throw new Error(`${cfgPath}: ${e instanceof Error ? e.message.replace(/^config\.json: /, "") : String(e)}`);
  }
  const size = (await stat(stPath)).size;
  // Validate the header against the file size before reading the whole file.
  const fh = await open(stPath, "r");
  try {
    const first = new Uint8Array(Math.min(8, size));
    await fh.read(first, 0, first.length, 0);
    const N = headerLength(first);
    if (N > MAX_HEADER_BYTES || 8 + N > size) parseSafetensorsHeader(first, size); // throws the specific error
    const head = new Uint8Array(8 + N);
    await fh.read(head, 0, head.length, 0);
    parseSafetensorsHeader(head, size);
  } catch (e) {
    throw new Error(`${stPath}: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    await fh.close();
  }
  const bytes = new Uint8Array(await readFile(stPath));
  const loaded = readCheckpoint(configJSON, bytes);
  const files = [
    {name: "config.json", bytes: (await stat(cfgPath)).size},
    {name: "model.safetensors", bytes: size},
  ];
  let tokenizer: unknown;
  const tokPath = join(dir, "tokenizer.json");
  if (existsSync(tokPath)) {
    tokenizer = await readJSON(tokPath, "tokenizer.json");
    files.push({name: "tokenizer.json", bytes: (await stat(tokPath)).size});
  }
  return {...loaded, dir, configJSON, tokenizer, files};
}

/** Writes config.json, model.safetensors and (if given) tokenizer.json into dir, creating it. */
export async function writeModelDir(
  dir: string,
  weights: ModelWeights,
  opts: WriteOptions & {tokenizer?: unknown} = {},
): Promise<void> {
  const {config, safetensors} = writeCheckpoint(weights, opts);
  await mkdir(dir, {recursive: true});
  await writeFile(join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  await writeFile(join(dir, "model.safetensors"), safetensors);
  if (opts.tokenizer !== undefined) await writeFile(join(dir, "tokenizer.json"), JSON.stringify(opts.tokenizer));
}
