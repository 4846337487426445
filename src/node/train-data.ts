// Node-side preparation of the training data: the SOTU split (src/lib/corpus.ts), a byte-level BPE tokenizer
// trained on the training split only, and both splits as uint16 token streams. A prepared folder
// (tokenizer.json, train.u16, val.u16, data.json) can be carried to a machine without node_modules.
import {existsSync, mkdirSync, readFileSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {DOC_SEPARATOR, tokenizeDocuments} from "../lib/corpus.js";
import {Tokenizer} from "../lib/tokenizer.js";
import {loadSplit} from "./corpus.js";

export interface PreparedData {
  tokenizer: Tokenizer;
  train: Uint16Array;
  val: Uint16Array;
  info: {
    vocabSize: number;
    trainAddresses: number;
    valAddresses: number;
    trainTokens: number;
    valTokens: number;
    valYears: number[];
    trainChars: number;
    valChars: number;
  };
}

/** Splits the corpus, trains the tokenizer on the training split, tokenizes both splits. */
export function prepareData(
  vocabSize = 4096,
  onProgress?: (phase: string, done: number, total: number) => void,
): PreparedData {
  const {train, val} = loadSplit();
  const trainText = train.map((a) => a.text).join(DOC_SEPARATOR);
  const tokenizer = Tokenizer.train(trainText, vocabSize, {
    onProgress: onProgress && ((d, t) => onProgress("tokenizer merges", d, t)),
  });
  const tr = tokenizeDocuments(
    tokenizer,
    train.map((a) => a.text),
  );
  const va = tokenizeDocuments(
    tokenizer,
    val.map((a) => a.text),
  );
  return {
    tokenizer,
    train: tr,
    val: va,
    info: {
      vocabSize,
      trainAddresses: train.length,
      valAddresses: val.length,
      trainTokens: tr.length,
      valTokens: va.length,
      valYears: val.map((a) => a.year),
      trainChars: trainText.length,
      valChars: val.reduce((n, a) => n + a.text.length, 0),
    },
  };
}

const u16bytes = (a: Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function savePrepared(dir: string, d: PreparedData): void {
  mkdirSync(dir, {recursive: true});
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(d.tokenizer.toJSON()));
  writeFileSync(join(dir, "train.u16"), u16bytes(d.train));
  writeFileSync(join(dir, "val.u16"), u16bytes(d.val));
  writeFileSync(join(dir, "data.json"), JSON.stringify(d.info, null, 1));
}

export function loadPrepared(dir: string): PreparedData {
  for (const f of ["tokenizer.json", "train.u16", "val.u16", "data.json"]) {
    if (!existsSync(join(dir, f))) throw new Error(`prepared data: ${join(dir, f)} is missing`);
  }
  const readU16 = (f: string) => {
    const b = readFileSync(join(dir, f));
    if (b.length % 2) throw new Error(`prepared data: ${f} has an odd byte length`);
    return new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  };
  return {
    tokenizer: Tokenizer.fromJSON(readFileSync(join(dir, "tokenizer.json"), "utf8")),
    train: readU16("train.u16"),
    val: readU16("val.u16"),
    info: JSON.parse(readFileSync(join(dir, "data.json"), "utf8")),
  };
}

/** The prepared data in `dir`, made (and saved there) if it is not there yet. */
export function preparedData(
  dir: string,
  vocabSize = 4096,
  onProgress?: (phase: string, done: number, total: number) => void,
): PreparedData {
  if (existsSync(join(dir, "data.json"))) {
    const d = loadPrepared(dir);
    if (d.info.vocabSize === vocabSize) return d;
  }
  const d = prepareData(vocabSize, onProgress);
  savePrepared(dir, d);
  return d;
}
