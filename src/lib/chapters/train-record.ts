// Chapter 6 (train your own): the record a browser-trained checkpoint is stored as (IndexedDB) so the
// forward-pass page can load it, and its validation on the way back.
import {readCheckpoint, writeCheckpoint} from "../checkpoint.js";
import {Tokenizer} from "../tokenizer.js";
import type {ModelWeights} from "../tensor.js";
import {SIZE_NAMES, type SizeName} from "./train.js";

/** What the page stores (IndexedDB) so other pages can load the reader's model. */
export interface TrainedRecord {
  version: 1;
  /** config.json content (checkpoint.ts configToJSON). */
  config: Record<string, unknown>;
  /** model.safetensors bytes, ternary weights packed. */
  safetensors: Uint8Array;
  /** tokenizer.json content. */
  tokenizer: object;
  meta: TrainedMeta;
}

export interface TrainedMeta {
  size: SizeName;
  steps: number;
  seed: number;
  lr: number;
  /** Mean training loss of the last steps (b1.58 and fp). */
  loss: number;
  fpLoss: number;
  /** Validation loss at the end, when evaluated. */
  valLoss: number | null;
  tokensSeen: number;
  savedAt: string;
}

export function makeTrainedRecord(weights: ModelWeights, tokenizer: Tokenizer, meta: TrainedMeta): TrainedRecord {
  if (weights.config.vocab_size !== tokenizer.vocabSize) {
    throw new Error(
      `trained model: vocab_size ${weights.config.vocab_size} does not match the tokenizer's ${tokenizer.vocabSize}`,
    );
  }
  const {config, safetensors} = writeCheckpoint(weights, {
    metadata: {bitnet_lab_source: "browser training (chapter 6)", bitnet_lab_steps: String(meta.steps)},
  });
  return {version: 1, config, safetensors, tokenizer: tokenizer.toJSON(), meta};
}

export interface LoadedTrained {
  weights: ModelWeights;
  tokenizer: Tokenizer;
  meta: TrainedMeta;
  safetensors: Uint8Array;
}

/** Validates and loads a stored record; throws an Error naming what is wrong. */
export function readTrainedRecord(raw: unknown): LoadedTrained {
  if (typeof raw !== "object" || raw === null) throw new Error("trained model record: not an object");
  const r = raw as Partial<TrainedRecord>;
  if (r.version !== 1)
    throw new Error(`trained model record: version ${JSON.stringify(r.version)} is not supported (expected 1)`);
  if (!(r.safetensors instanceof Uint8Array)) throw new Error("trained model record: safetensors is not a byte array");
  if (typeof r.config !== "object" || r.config === null) throw new Error("trained model record: config is missing");
  if (typeof r.tokenizer !== "object" || r.tokenizer === null)
    throw new Error("trained model record: tokenizer is missing");
  const m = r.meta as Partial<TrainedMeta> | undefined;
  if (!m || typeof m.steps !== "number" || typeof m.loss !== "number" || !SIZE_NAMES.includes(m.size as SizeName)) {
    throw new Error("trained model record: meta (size, steps, loss) is missing or malformed");
  }
  const {weights} = readCheckpoint(r.config, r.safetensors);
  const tokenizer = Tokenizer.fromJSON(r.tokenizer);
  if (tokenizer.vocabSize !== weights.config.vocab_size) {
    throw new Error(
      `trained model record: the tokenizer has ${tokenizer.vocabSize} tokens, the model ${weights.config.vocab_size}`,
    );
  }
  return {weights, tokenizer, meta: m as TrainedMeta, safetensors: r.safetensors};
}
