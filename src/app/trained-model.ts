// The model a reader trained on the "Train your own" page (src/train.md), kept in the browser's IndexedDB so
// other pages can run it: saveBrowserTrainedModel() stores a TrainedRecord (config.json content, packed
// model.safetensors, tokenizer.json, a few facts about the run); loadBrowserTrainedModel() gives it back as
// a LoadedModel, the shape the chapter pages already use for the shipped models (app/models.ts).
import type {RunSettings, SavedTwin} from "../lib/chapters/train.js";
import {readTrainedRecord, type TrainedRecord} from "../lib/chapters/train-record.js";
import {parseSafetensorsHeader} from "../lib/safetensors.js";
import type {LoadedModel, ModelInfo} from "./model-types.js";

const DB_NAME = "bitnet-lab";
const STORE = "trained-models";
/** The one slot: the last model saved from the training page. */
export const TRAINED_MODEL_KEY = "browser-b1.58";

export const BROWSER_MODEL_INFO: ModelInfo = {
  name: "browser-trained",
  label: "your b1.58 (trained on the Train page)",
  variant: "b1.58",
  shape: {},
};

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === "undefined") {
      reject(new Error("this browser has no IndexedDB (private mode?)"));
      return;
    }
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB: could not open the database"));
    req.onblocked = () => reject(new Error("IndexedDB: the database is blocked by another tab"));
  });
}

async function withStore<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? req.error ?? new Error("IndexedDB: the transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB: the transaction was aborted (storage full?)"));
    });
  } finally {
    db.close();
  }
}

/** The training page's autosaved runs: one slot per tab (key TRAIN_SESSION_KEY + ":" + the tab's id, which
 *  sessionStorage keeps across reloads), so two tabs training at once never overwrite each other's run — with
 *  one shared slot, the tab that saved last took the other's autosave. The newest few slots are kept. */
export const TRAIN_SESSION_KEY = "train-session";
const KEEP_SESSIONS = 3;

export interface TrainSessionRecord {
  version: 1;
  settings: RunSettings;
  /** The page's query for these settings (to come back to the same setup). */
  query: string;
  saved: SavedTwin;
  elapsedMs: number;
  savedAt: string;
  /** The slot it was read from (set by loadTrainSession). */
  key?: string;
}

/** This tab's slot. */
function tabKey(): string {
  let id: string | null = null;
  try {
    id = sessionStorage.getItem("bitnet-lab-tab");
    if (!id) sessionStorage.setItem("bitnet-lab-tab", (id = Math.random().toString(36).slice(2, 10)));
  } catch {
    // no sessionStorage (sandboxed frame): one shared slot, as before
  }
  return id ? `${TRAIN_SESSION_KEY}:${id}` : TRAIN_SESSION_KEY;
}

const isSessionKey = (k: IDBValidKey) =>
  typeof k === "string" && (k === TRAIN_SESSION_KEY || k.startsWith(`${TRAIN_SESSION_KEY}:`));

export async function saveTrainSession(rec: TrainSessionRecord): Promise<void> {
  const key = tabKey();
  const {key: _drop, ...plain} = rec;
  await withStore("readwrite", (s) => s.put(plain, key));
  // Keep the newest few slots (tabs closed long ago leave theirs behind).
  const all = await sessionSlots();
  for (const old of all.slice(KEEP_SESSIONS))
    if (old.key !== key) await withStore("readwrite", (s) => s.delete(old.key!)).catch(() => undefined);
}

/** Clears this tab's slot, or the named one (an offered run from another tab). */
export async function clearTrainSession(key = tabKey()): Promise<void> {
  await withStore("readwrite", (s) => s.delete(key)).catch(() => undefined);
}

function validSession(raw: unknown): raw is TrainSessionRecord {
  if (typeof raw !== "object" || raw === null) return false;
  const r = raw as Partial<TrainSessionRecord>;
  return (
    r.version === 1 &&
    typeof r.query === "string" &&
    !!r.settings &&
    r.saved instanceof Object &&
    r.saved.bitnet instanceof Uint8Array &&
    r.saved.fp instanceof Uint8Array &&
    Array.isArray(r.saved.points) &&
    Array.isArray(r.saved.evals)
  );
}

/** Every readable autosaved run, newest first. */
async function sessionSlots(): Promise<TrainSessionRecord[]> {
  const keys = await withStore<IDBValidKey[]>("readonly", (s) => s.getAllKeys()).catch(() => [] as IDBValidKey[]);
  const out: TrainSessionRecord[] = [];
  for (const k of keys.filter(isSessionKey)) {
    const raw = await withStore<unknown>("readonly", (s) => s.get(k)).catch(() => null);
    if (validSession(raw)) out.push({...raw, key: k as string});
  }
  return out.sort((a, b) => b.savedAt.localeCompare(a.savedAt));
}

/** This tab's autosaved run, else the newest one saved in this browser, or null (none, IndexedDB unavailable,
 *  or records this version cannot read). */
export async function loadTrainSession(): Promise<TrainSessionRecord | null> {
  const slots = await sessionSlots();
  return slots.find((r) => r.key === tabKey()) ?? slots[0] ?? null;
}

export async function saveBrowserTrainedModel(record: TrainedRecord): Promise<void> {
  await withStore("readwrite", (s) => s.put(record, TRAINED_MODEL_KEY));
}

/** Removes the stored model (no error when there is none). */
export async function clearBrowserTrainedModel(): Promise<void> {
  await withStore("readwrite", (s) => s.delete(TRAINED_MODEL_KEY));
}

/** The reader's browser-trained b1.58 model, or null when none was saved (or IndexedDB is unavailable).
 *  A stored record that cannot be read throws, with the reason. */
export async function loadBrowserTrainedModel(): Promise<LoadedModel | null> {
  let raw: unknown;
  try {
    raw = await withStore("readonly", (s) => s.get(TRAINED_MODEL_KEY));
  } catch {
    return null;
  }
  if (raw === undefined || raw === null) return null;
  const {weights, tokenizer, meta, safetensors} = readTrainedRecord(raw);
  const c = weights.config;
  return {
    info: BROWSER_MODEL_INFO,
    weights,
    tokenizer,
    shipped: false,
    notice: `This is the model you trained in this browser on the "Train your own" page: ${c.num_hidden_layers} layer${c.num_hidden_layers === 1 ? "" : "s"}, hidden size ${c.hidden_size}, ${meta.steps} steps on ${meta.tokensSeen.toLocaleString("en-US")} tokens (training loss ${meta.loss.toFixed(2)}), with the shipped ${tokenizer.vocabSize}-token tokenizer. It is tiny, so expect rough text.`,
    file: {bytes: safetensors, header: parseSafetensorsHeader(safetensors)},
    encode: (text) => tokenizer.encode(text, {addSpecialTokens: true}),
  };
}
