// The byte-level alphabet of GPT-2-style BPE (tokenizer.ts): the pre-tokenizer split regexes (GPT-2's, Llama-3's;
// no other pattern runs), GPT-2's reversible byte → printable-character table, and our vocabulary's special tokens.
// Text → UTF-8 bytes → each byte shown as one printable character → split into "words" by the regex.

export const SPLIT_RE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
/** HF's ByteLevel pre-tokenizer uses exactly this regex when use_regex is true. */
export const BYTE_LEVEL_REGEX = SPLIT_RE.source;

/** The Llama-3 pre-tokenizer split (tokenizer.json: Sequence[Split(Regex, Isolated), ByteLevel(use_regex:
 *  false)]; GGUF: tokenizer.ggml.pre "llama-bpe"), as the released files spell it. */
export const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** (?i:…) rewritten by spelling out ASCII letter cases: the one construct of tokenizers' (Oniguruma /
 *  fancy-regex) patterns that JS engines may lack. Also the normal form known patterns are compared in. */
function expandScopedCase(pattern: string): string {
  return pattern.replace(/\(\?i:((?:[^()\\]|\\.)*)\)/g, (_, body: string) => {
    let out = "";
    for (let i = 0; i < body.length; i++) {
      const ch = body[i];
      if (ch === "\\") {
        out += body.slice(i, i + 2);
        i++;
        continue;
      }
      out += /[a-zA-Z]/.test(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch;
    }
    return `(?:${out})`;
  });
}

/** The split patterns a file may name, by pre-tokenizer kind. Only these run: a file-supplied pattern is
 *  executed by a backtracking engine on the page's main thread and in the CLI, and one like
 *  `(?:[^0]|[^1]|.)*0|.` takes exponential time on a short prompt (issue 22). Both known patterns are
 *  linear in practice (no nested quantifiers; test/unit/tokenizer.test.ts times them on adversarial text). */
const KNOWN_SPLITS: {kind: "gpt2" | "llama3"; norm: string; re: RegExp}[] = [
  {kind: "llama3", norm: expandScopedCase(LLAMA3_REGEX), re: new RegExp(expandScopedCase(LLAMA3_REGEX), "gu")},
  {kind: "gpt2", norm: BYTE_LEVEL_REGEX, re: SPLIT_RE},
];

/** A tokenizer.json Split pattern as a JavaScript RegExp, if it is one of the known ones (Llama-3's, GPT-2's),
 *  compared after expanding (?i:…); any other pattern is refused with the reason. */
export function compileSplitRegex(pattern: string): RegExp {
  return knownSplit(pattern).re;
}

export function knownSplit(pattern: string): {kind: "gpt2" | "llama3"; re: RegExp} {
  const norm = expandScopedCase(pattern);
  const known = KNOWN_SPLITS.find((k) => k.norm === norm);
  if (known) return known;
  const shown = pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern;
  throw new Error(
    `tokenizer: pre-tokenizer Split pattern ${JSON.stringify(shown)} is not one of the supported ones (Llama-3's or GPT-2's): other patterns are refused because a regex from a file can take exponential time to run`,
  );
}

export const SPECIAL_TOKENS = {pad: "<pad>", bos: "<s>", eos: "</s>"} as const;

/** GPT-2's reversible byte → printable-character table (printable Latin-1 maps to itself). */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i])));
  return table;
}
export const BYTE_CHAR = bytesToUnicode();
export const CHAR_BYTE = new Map(BYTE_CHAR.map((c, b) => [c, b]));

export const utf8 = new TextEncoder();

/** Splits text into pre-tokens ("words") the way HF's ByteLevel pre-tokenizer does; the pieces always
 *  concatenate back to the input (the regex alternatives cover every code point). */
export function preTokenize(text: string, re: RegExp = SPLIT_RE): string[] {
  const out: string[] = [];
  let pos = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== pos) out.push(text.slice(pos, m.index)); // defensive: never drop a character
    out.push(m[0]);
    pos = m.index + m[0].length;
  }
  if (pos < text.length) out.push(text.slice(pos));
  return out;
}
