// Framework data loader: the browser trainer's text. A ~0.9 MB sample of the TRAINING split only (whole
// addresses, spread over all eras, normalized as src/lib/corpus.ts documents), documents separated by a
// blank line (DOC_SEPARATOR). The page tokenizes it with the shipped tokenizer (data/models/*/tokenizer.json).
import {DOC_SEPARATOR} from "../lib/corpus.js";
import {loadSplit} from "../node/corpus.js";

const LIMIT = 900_000; // characters; keeps the file under 1 MB
const {train} = loadSplit();
// Every k-th address, so the sample covers 1790–2020 rather than only the earliest years.
const total = train.reduce((n, a) => n + a.text.length, 0);
const k = Math.max(1, Math.ceil(total / LIMIT));
const picked: string[] = [];
let size = 0;
for (let i = 0; i < train.length; i += k) {
  if (size + train[i].text.length > LIMIT) continue;
  picked.push(train[i].text);
  size += train[i].text.length + DOC_SEPARATOR.length;
}
process.stdout.write(picked.join(DOC_SEPARATOR));
