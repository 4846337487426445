// The checkpoint a reader opened on the "Open a checkpoint" page, kept for the chapters: the dropped files'
// Blobs (not their contents in JS memory) and the chosen conventions go to IndexedDB; loadOpenedModel() opens
// them again and returns the LoadedModel shape the chapters' model pickers use (app/models.ts), like
// loadBrowserTrainedModel() does for the model trained in the browser. models.ts lists it in modelOptions()
// (the chapters' pickers) while one is kept, and loadModel("opened") loads it.
import {openCheckpoint} from "../lib/formats/open.js";
import type {OpenOptions} from "../lib/formats/open.js";
import {blobSource, mapFileSet} from "../lib/formats/source.js";
import type {ByteSource} from "../lib/formats/source.js";
import {Tokenizer} from "../lib/tokenizer.js";
import {bytesCodec} from "../lib/chapters/opened-model.js";
import type {LoadedModel, ModelInfo} from "./model-types.js";

const DB = "bitnet-lab-opened";
const STORE = "checkpoints";
const KEY = "opened";
const FLAG = "bitnet-lab-opened"; // localStorage: the kept checkpoint's label, so pickers can list it synchronously

/** The kept checkpoint's label, or null (read synchronously for the pickers). */
export function openedModelKept(): string | null {
  try {
    return globalThis.localStorage?.getItem(FLAG) ?? null;
  } catch {
    return null;
  }
}

export const OPENED_MODEL_INFO: ModelInfo = {
  name: "opened",
  label: "your checkpoint (Open a checkpoint page)",
  variant: "b1.58",
  shape: {},
};

interface Record_ {
  label: string;
  files: {name: string; blob: Blob}[];
  opts: OpenOptions;
}

function db(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === "undefined") return reject(new Error("this browser has no IndexedDB (private mode?)"));
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB: could not open the database"));
  });
}

async function tx<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const d = await db();
  try {
    return await new Promise<T>((resolve, reject) => {
      const t = d.transaction(STORE, mode);
      const r = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(r.result);
      t.onerror = () => reject(t.error ?? r.error ?? new Error("IndexedDB: the transaction failed"));
      t.onabort = () => reject(t.error ?? new Error("IndexedDB: the transaction was aborted (storage full?)"));
    });
  } finally {
    d.close();
  }
}

/** Keeps the opened files (as Blobs: the browser stores them, JS does not read them) and the conventions. */
export async function saveOpenedFiles(
  label: string,
  files: {name: string; blob: Blob}[],
  opts: OpenOptions,
): Promise<void> {
  await tx("readwrite", (s) => s.put({label, files, opts} satisfies Record_, KEY));
  try {
    globalThis.localStorage?.setItem(FLAG, label);
  } catch {
    // no localStorage: the pickers will not list it, loadModel("opened") still works
  }
}

/** The checkpoint kept by the Open page as a LoadedModel (weights loaded), or null when none was kept. */
export async function loadOpenedModel(): Promise<LoadedModel | null> {
  let rec: Record_ | undefined;
  try {
    rec = (await tx("readonly", (s) => s.get(KEY))) as Record_ | undefined;
  } catch {
    return null;
  }
  if (!rec) return null;
  const opened = await openCheckpoint(
    mapFileSet(rec.label, new Map(rec.files.map((f) => [f.name, blobSource(f.blob, f.name)] as [string, ByteSource]))),
    rec.opts,
  );
  const weights = await opened.load();
  // Without a tokenizer the prompt's UTF-8 bytes are the ids after BOS (as the Open page and the CLI); the pages use
  // only what TextCodec has of a Tokenizer (encode, decode, eosId, vocabSize).
  const tokenizer = opened.tokenizerJSON
    ? Tokenizer.fromJSON(opened.tokenizerJSON)
    : (bytesCodec(weights.config) as unknown as Tokenizer);
  return {
    info: {
      ...OPENED_MODEL_INFO,
      label: `${OPENED_MODEL_INFO.label}: ${rec.label}`,
      variant: weights.config.bitnet_variant,
    },
    weights,
    tokenizer,
    // a real model, not a random stand-in: pages show no stand-in notice for it
    shipped: true,
    notice: null,
    encode: (text) => tokenizer.encode(text, {addSpecialTokens: true}),
  };
}
