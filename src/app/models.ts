// Page-side loading of the shipped models (data/models/<name>/: config.json, model.safetensors,
// tokenizer.json), parsed with the checkpoint reader (src/lib/checkpoint.ts). Framework copies an attached
// file into the build only when FileAttachment is called with a literal path, so the shipped files are
// listed literally in SHIPPED below — add a model there when it lands in data/models/.
//
// Until a model is shipped, loadModel() returns a small random model of the same variant
// (randomWeights(config, seed)) and a notice that says so; pages show it, so a reader never mistakes a
// random model for a trained one.
import {SHIPPED_RECIPES} from "../lib/recipes.js";
import {FileAttachment} from "observablehq:stdlib";
import type {AttachedFile} from "observablehq:stdlib";
import {readCheckpoint} from "../lib/checkpoint.js";
import {defaultConfig} from "../lib/config.js";
import type {Variant} from "../lib/config.js";
import {randomWeights} from "../lib/init.js";
import {parseSafetensorsHeader} from "../lib/safetensors.js";
import {Tokenizer} from "../lib/tokenizer.js";
import {h} from "../components/dom.js";
import {OPENED_MODEL_INFO, loadOpenedModel, openedModelKept} from "./format-store.js";
import type {LoadedModel, ModelInfo} from "./model-types.js";

export type {LoadedModel, ModelInfo} from "./model-types.js";

/** Every model the chapters can use, in the order of the pickers. */
export const MODELS: readonly ModelInfo[] = SHIPPED_RECIPES.map(({name, label, variant, shape}) => ({
  name,
  label,
  variant,
  shape,
}));

/** Model names a page's URL may carry: the models above and the checkpoint kept by the Open page. */
export const MODEL_NAMES = [...MODELS.map((m) => m.name), OPENED_MODEL_INFO.name];

interface ShippedFiles {
  config: AttachedFile;
  weights: AttachedFile;
  tokenizer: AttachedFile;
}

// Literal paths (relative to this module; src/data is a symlink to data/). One entry per shipped model.
const SHIPPED: Record<string, () => ShippedFiles> = {
  fp: () => ({
    config: FileAttachment("../data/models/fp/config.json"),
    weights: FileAttachment("../data/models/fp/model.safetensors"),
    tokenizer: FileAttachment("../data/models/fp/tokenizer.json"),
  }),
  "b1.58": () => ({
    config: FileAttachment("../data/models/b1.58/config.json"),
    weights: FileAttachment("../data/models/b1.58/model.safetensors"),
    tokenizer: FileAttachment("../data/models/b1.58/tokenizer.json"),
  }),
  "a4.8": () => ({
    config: FileAttachment("../data/models/a4.8/config.json"),
    weights: FileAttachment("../data/models/a4.8/model.safetensors"),
    tokenizer: FileAttachment("../data/models/a4.8/tokenizer.json"),
  }),
  "v2-a8": () => ({
    config: FileAttachment("../data/models/v2-a8/config.json"),
    weights: FileAttachment("../data/models/v2-a8/model.safetensors"),
    tokenizer: FileAttachment("../data/models/v2-a8/tokenizer.json"),
  }),
  "v2-a4": () => ({
    config: FileAttachment("../data/models/v2-a4/config.json"),
    weights: FileAttachment("../data/models/v2-a4/model.safetensors"),
    tokenizer: FileAttachment("../data/models/v2-a4/tokenizer.json"),
  }),
  "v2-a4-nohadamard": () => ({
    config: FileAttachment("../data/models/v2-a4-nohadamard/config.json"),
    weights: FileAttachment("../data/models/v2-a4-nohadamard/model.safetensors"),
    tokenizer: FileAttachment("../data/models/v2-a4-nohadamard/tokenizer.json"),
  }),
};

export function isShipped(name: string): boolean {
  return Object.hasOwn(SHIPPED, name);
}

const cache = new Map<string, Promise<LoadedModel>>();

export interface LoadOptions {
  /** Seed of the random stand-in (ignored for shipped models). */
  seed?: number;
  /** Download progress in [0, 1] with a label. */
  onProgress?: (fraction: number, label: string) => void;
}

/** Loads a model by name (cached per page and seed). Throws for an unknown name. */
export function loadModel(name: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  if (name === OPENED_MODEL_INFO.name) {
    return loadOpenedModel().then(
      (m) =>
        m ??
        Promise.reject(
          new Error(
            `no checkpoint is kept in this browser: open one on the "Open a checkpoint" page and press "Keep for the chapters"`,
          ),
        ),
    );
  }
  const info = MODELS.find((m) => m.name === name);
  if (!info) return Promise.reject(new Error(`unknown model "${name}" (known: ${MODEL_NAMES.join(", ")})`));
  const seed = opts.seed ?? 1;
  const key = isShipped(name) ? name : `${name}#${seed}`;
  let p = cache.get(key);
  if (!p) {
    p = isShipped(name) ? loadShipped(info, SHIPPED[name](), opts) : Promise.resolve(standIn(info, seed));
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

let byteTokenizer: Tokenizer | undefined;

function standIn(info: ModelInfo, seed: number): LoadedModel {
  const config = defaultConfig(info.variant, info.shape);
  const weights = randomWeights(config, seed);
  // A tokenizer with no merges: every byte is one token (ids 3…258), valid for the 4096-token vocabulary.
  byteTokenizer ??= Tokenizer.train("", 259);
  const tokenizer = byteTokenizer;
  return {
    info,
    weights,
    tokenizer,
    shipped: false,
    notice: `The trained ${info.name} model is not in data/models/ yet: this page is running a random ${info.variant} model of the same shape (seed ${seed}) with a byte-level tokenizer. Its numbers are real computations, but on random weights.`,
    encode: (text) => tokenizer.encode(text, {addSpecialTokens: true}),
  };
}

async function fetchWithProgress(
  file: AttachedFile,
  label: string,
  onProgress?: LoadOptions["onProgress"],
): Promise<Uint8Array> {
  const res = await fetch(await file.url());
  if (!res.ok) throw new Error(`${file.name}: HTTP ${res.status}`);
  const total = Number(res.headers.get("content-length")) || 0;
  if (!res.body || !onProgress) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let got = 0;
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    onProgress(
      total ? got / total : 0,
      `${label}: ${(got / 1048576).toFixed(1)} MiB${total ? ` of ${(total / 1048576).toFixed(1)} MiB` : ""}`,
    );
  }
  const out = new Uint8Array(got);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

async function loadShipped(info: ModelInfo, files: ShippedFiles, opts: LoadOptions): Promise<LoadedModel> {
  const [config, tokJSON] = await Promise.all([files.config.json(), files.tokenizer.json()]);
  const bytes = await fetchWithProgress(files.weights, `Loading ${info.name}`, opts.onProgress);
  const {weights} = readCheckpoint(config, bytes);
  const tokenizer = Tokenizer.fromJSON(tokJSON);
  return {
    info,
    weights,
    tokenizer,
    shipped: true,
    notice: null,
    file: {bytes, header: parseSafetensorsHeader(bytes)},
    encode: (text) => tokenizer.encode(text, {addSpecialTokens: true}),
  };
}

/** The notice a page shows next to anything computed on a stand-in model (null for a shipped one). */
export function modelNotice(m: LoadedModel): HTMLElement | null {
  if (!m.notice) return null;
  return h(
    "div",
    {class: "notice model-notice", role: "note", "data-model-shipped": "false"},
    h("strong", {}, "Not the trained model. "),
    m.notice,
  );
}

/** Options for a model <select>: every known model, restricted to some variants. */
export function modelOptions(variants?: readonly Variant[]): {value: string; label: string}[] {
  const opts = MODELS.filter((m) => !variants || variants.includes(m.variant)).map((m) => ({
    value: m.name,
    label: `${m.label}${isShipped(m.name) ? "" : " — random stand-in"}`,
  }));
  const kept = openedModelKept();
  return kept ? [...opts, {value: OPENED_MODEL_INFO.name, label: `${OPENED_MODEL_INFO.label}: ${kept}`}] : opts;
}
