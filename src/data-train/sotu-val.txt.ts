// Framework data loader (run with tsx at build time, writes to stdout): the validation text of chapter 6
// (src/train.md). The training text comes from the trainer's loader (src/corpus/sotu-train.txt.ts, training
// split only); this one holds the most recent held-out addresses of the validation split (src/lib/corpus.ts:
// years ending in 7), normalized, documents separated by DOC_SEPARATOR, so the page reports a validation loss
// on years the model never saw. About 100 kB.
import {DOC_SEPARATOR} from "../lib/corpus.js";
import type {Address} from "../lib/corpus.js";
import {loadSplit} from "../node/corpus.js";

const VAL_CHARS = 110_000;

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

const {val} = loadSplit();
process.stdout.write(
  latest(val, VAL_CHARS)
    .map((a) => a.text)
    .join(DOC_SEPARATOR),
);
