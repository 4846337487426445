// Byte-level BPE (GPT-2 style), trained and saved as a Hugging Face `tokenizer.json` (model.type "BPE",
// ByteLevel pre-tokenizer and decoder) so that `tokenizers`/transformers can read what we ship.
//
// Text → UTF-8 bytes → each byte shown as one printable character (GPT-2's bytes_to_unicode) → split into
// "words" by GPT-2's regex → merges applied by rank. Every byte is in the vocabulary, so any string that is
// valid UTF-8 (no lone surrogates) round-trips exactly, even text never seen in training.

const SPLIT_RE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
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

function knownSplit(pattern: string): {kind: "gpt2" | "llama3"; re: RegExp} {
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
const BYTE_CHAR = bytesToUnicode();
const CHAR_BYTE = new Map(BYTE_CHAR.map((c, b) => [c, b]));

const utf8 = new TextEncoder();

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

export interface TrainOptions {
  /** Stop merging when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  /** Called every `every` merges with (merges done, merges wanted). */
  onProgress?: (done: number, total: number) => void;
}

export interface EncodeOptions {
  /** Apply tokenizer.json's post-processor template (what transformers does by default with
   *  add_special_tokens=True): for the shipped models and Llama-3, BOS first. */
  addSpecialTokens?: boolean;
  /** Prepend the BOS token. */
  bos?: boolean;
  /** Append the EOS token. */
  eos?: boolean;
}

interface HFAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

interface TokenizerSpecials {
  pad: number;
  bos: number;
  eos: number;
  /** Ids decoded as nothing (default: pad, bos, eos). */
  special?: number[];
  /** Non-special added tokens: decoded as their text. */
  plain?: Map<number, string>;
  template?: {before: number[]; after: number[]};
  /** The split regex of a Sequence[Split, ByteLevel] pre-tokenizer (default: GPT-2's). */
  split?: {kind: "gpt2" | "llama3"; re: RegExp};
  ignoreMerges?: boolean;
}

/** GPT-2's ByteLevel(use_regex) or Llama-3's Sequence[Split(Regex, Isolated), ByteLevel(use_regex: false)]. */
function parsePreTokenizer(
  pre: unknown,
  fail: (m: string) => never,
): {kind: "gpt2" | "llama3"; re: RegExp} | undefined {
  const p = pre as Record<string, unknown> | null | undefined;
  if (p && p.type === "Sequence" && Array.isArray(p.pretokenizers)) {
    const [a, b, ...rest] = p.pretokenizers as Record<string, unknown>[];
    const pattern = (a?.pattern as Record<string, unknown> | undefined)?.Regex;
    if (rest.length || a?.type !== "Split" || typeof pattern !== "string" || b?.type !== "ByteLevel")
      fail("pre_tokenizer: only Sequence[Split(Regex), ByteLevel] (Llama-3) is supported besides ByteLevel");
    if (a.behavior !== "Isolated" || a.invert === true)
      fail(
        `pre_tokenizer: Split behavior ${JSON.stringify(a.behavior)}${a.invert ? " inverted" : ""} is not supported (Isolated)`,
      );
    if (b.add_prefix_space === true) fail("pre_tokenizer.add_prefix_space = true is not supported");
    if (b.use_regex !== false) fail("pre_tokenizer: ByteLevel after a Split must have use_regex false");
    try {
      return knownSplit(pattern as string);
    } catch (e) {
      return fail((e as Error).message.replace(/^tokenizer: /, ""));
    }
  }
  if (!p || p.type !== "ByteLevel")
    fail(`pre_tokenizer.type must be "ByteLevel" (or a Llama-3 Sequence), got ${JSON.stringify(p?.type ?? p)}`);
  if (p!.add_prefix_space === true) fail("pre_tokenizer.add_prefix_space = true is not supported");
  if (p!.use_regex === false) fail("pre_tokenizer.use_regex = false is not supported");
  return undefined;
}

/** The single-sequence template of a TemplateProcessing post-processor (alone or inside a Sequence):
 *  special-token ids before and after $A. No template (e.g. ByteLevel only) adds nothing. */
function parseTemplate(
  pp: unknown,
  specials: Map<string, number>,
  fail: (m: string) => never,
): {before: number[]; after: number[]} {
  const p = pp as Record<string, unknown> | null | undefined;
  if (!p) return {before: [], after: []};
  const list = p.type === "Sequence" && Array.isArray(p.processors) ? (p.processors as Record<string, unknown>[]) : [p];
  const tp = list.filter((x) => x?.type === "TemplateProcessing");
  const other = list.filter((x) => x?.type !== "TemplateProcessing" && x?.type !== "ByteLevel");
  if (other.length)
    fail(`post_processor type ${JSON.stringify(other[0]?.type)} is not supported (ByteLevel, TemplateProcessing)`);
  if (tp.length > 1) fail("post_processor has more than one TemplateProcessing");
  if (!tp.length) return {before: [], after: []};
  const single = tp[0].single;
  if (!Array.isArray(single)) fail('post_processor TemplateProcessing needs a "single" template');
  const table = (tp[0].special_tokens ?? {}) as Record<string, {ids?: unknown}>;
  const before: number[] = [];
  const after: number[] = [];
  let seenA = false;
  for (const piece of single as Record<string, {id?: unknown}>[]) {
    if (piece.Sequence) {
      if (piece.Sequence.id !== "A" || seenA) fail("post_processor: the single template must hold $A exactly once");
      seenA = true;
      continue;
    }
    const name = piece.SpecialToken?.id;
    if (typeof name !== "string")
      fail(`post_processor: template piece ${JSON.stringify(piece)} is neither SpecialToken nor Sequence`);
    const ids =
      table[name as string]?.ids ?? (specials.has(name as string) ? [specials.get(name as string)] : undefined);
    if (!Array.isArray(ids) || !ids.every((x) => Number.isInteger(x)))
      fail(`post_processor: special token "${name}" has no ids`);
    (seenA ? after : before).push(...(ids as number[]));
  }
  if (!seenA) fail("post_processor: the single template has no $A");
  return {before, after};
}

/** A max-heap of (count, pair key) with lazy deletion; ties go to the smaller key (lower left id first). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private better(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lc = this.counts.pop()!;
    const lk = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lc;
      this.keys[0] = lk;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.counts.length && this.better(l, m)) m = l;
        if (r < this.counts.length && this.better(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

// Pair keys pack two ids below 2^21 into one exact double.
const KEY_SHIFT = 2 ** 21;
const pairKey = (a: number, b: number) => a * KEY_SHIFT + b;

export class Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  /** Vocabulary strings (byte-level characters) by id. */
  private readonly pieces: string[];
  private readonly pieceId: Map<string, number>;
  /** merges[r] = [left id, right id, merged id]; r is the merge's rank. */
  private readonly merges: [number, number, number][];
  private readonly mergeRank: Map<number, number>;
  private readonly byteId: Int32Array; // byte value → token id
  private readonly idBytes: Uint8Array[]; // token id → bytes (empty for special tokens)
  private readonly specialIds: Set<number>;
  private readonly cache = new Map<string, number[]>();

  /** The post-processor's template for one sequence: ids before and after the text (transformers adds
   *  them with add_special_tokens=True). */
  readonly template: {before: number[]; after: number[]};
  /** "gpt2" (ByteLevel regex) or "llama3" (Split regex + ByteLevel), for the inspector. */
  readonly preTokenizer: string;
  private readonly split: RegExp;
  private readonly ignoreMerges: boolean;

  private constructor(pieces: string[], merges: [string, string][], specials: TokenizerSpecials) {
    this.pieces = pieces;
    this.vocabSize = pieces.length;
    this.pieceId = new Map(pieces.map((p, i) => [p, i]));
    if (this.pieceId.size !== pieces.length) throw new Error("tokenizer: duplicate vocabulary entries");
    this.padId = specials.pad;
    this.bosId = specials.bos;
    this.eosId = specials.eos;
    this.specialIds = new Set(specials.special ?? [specials.pad, specials.bos, specials.eos].filter((i) => i >= 0));
    this.template = specials.template ?? {before: [], after: []};
    this.split = specials.split?.re ?? SPLIT_RE;
    this.preTokenizer = specials.split?.kind ?? "gpt2";
    this.ignoreMerges = specials.ignoreMerges ?? false;
    this.byteId = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = this.pieceId.get(BYTE_CHAR[b]);
      if (id === undefined)
        throw new Error(
          `tokenizer: vocab lacks the byte token for 0x${b.toString(16).padStart(2, "0")} ("${BYTE_CHAR[b]}")`,
        );
      this.byteId[b] = id;
    }
    this.idBytes = pieces.map((p, id) => {
      if (this.specialIds.has(id)) return new Uint8Array(0);
      const plain = specials.plain?.get(id);
      if (plain !== undefined) return utf8.encode(plain); // a non-special added token: its text as is
      const chars = [...p];
      const bytes = new Uint8Array(chars.length);
      chars.forEach((c, i) => {
        const b = CHAR_BYTE.get(c);
        if (b === undefined)
          throw new Error(`tokenizer: vocab entry ${id} "${p}" has a character outside the byte-level alphabet`);
        bytes[i] = b;
      });
      return bytes;
    });
    this.merges = [];
    this.mergeRank = new Map();
    merges.forEach(([l, r], rank) => {
      const a = this.pieceId.get(l);
      const b = this.pieceId.get(r);
      if (a === undefined || b === undefined)
        throw new Error(`tokenizer: merge ${rank} "${l} ${r}" uses a token not in vocab`);
      const m = this.pieceId.get(l + r);
      if (m === undefined)
        throw new Error(`tokenizer: merge ${rank} "${l} ${r}" produces "${l + r}", which is not in vocab`);
      const key = pairKey(a, b);
      if (this.mergeRank.has(key)) throw new Error(`tokenizer: merge ${rank} "${l} ${r}" is listed twice`);
      this.merges.push([a, b, m]);
      this.mergeRank.set(key, rank);
    });
  }

  /** Trains byte-level BPE on `text` up to `vocabSize` tokens (3 specials + 256 bytes + merges).
   *  Incremental pair counts over the distinct pre-tokens, so each merge touches only the words that
   *  contain its pair. Ties between equally frequent pairs go to the lower (left id, right id). */
  static train(text: string, vocabSize: number, opts: TrainOptions = {}): Tokenizer {
    const base = 3 + 256;
    if (!Number.isInteger(vocabSize) || vocabSize < base || vocabSize >= KEY_SHIFT) {
      throw new Error(`tokenizer: vocabSize must be an integer in [${base}, ${KEY_SHIFT - 1}], got ${vocabSize}`);
    }
    const minFrequency = opts.minFrequency ?? 2;
    const pieces: string[] = [SPECIAL_TOKENS.pad, SPECIAL_TOKENS.bos, SPECIAL_TOKENS.eos, ...BYTE_CHAR];
    const byteId = (b: number) => 3 + b;

    // Distinct pre-tokens with their frequencies.
    const freq = new Map<string, number>();
    for (const m of text.matchAll(SPLIT_RE)) freq.set(m[0], (freq.get(m[0]) ?? 0) + 1);
    const words: number[][] = [];
    const counts: number[] = [];
    for (const [w, c] of freq) {
      words.push(Array.from(utf8.encode(w), byteId));
      counts.push(c);
    }

    const pairCount = new Map<number, number>();
    const pairWords = new Map<number, Set<number>>();
    const addPairs = (wi: number, sign: 1 | -1, touched: Set<number>) => {
      const w = words[wi];
      const c = counts[wi] * sign;
      for (let i = 0; i + 1 < w.length; i++) {
        const k = pairKey(w[i], w[i + 1]);
        pairCount.set(k, (pairCount.get(k) ?? 0) + c);
        touched.add(k);
        if (sign > 0) {
          let s = pairWords.get(k);
          if (!s) pairWords.set(k, (s = new Set()));
          s.add(wi);
        }
      }
    };
    const heap = new PairHeap();
    const init = new Set<number>();
    for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1, init);
    for (const k of init) heap.push(pairCount.get(k)!, k);

    const merges: [string, string][] = [];
    const wanted = vocabSize - base;
    while (merges.length < wanted && heap.size > 0) {
      const [count, key] = heap.pop();
      if (pairCount.get(key) !== count) continue; // stale heap entry
      if (count < minFrequency) break;
      const a = Math.floor(key / KEY_SHIFT);
      const b = key % KEY_SHIFT;
      const id = pieces.length;
      pieces.push(pieces[a] + pieces[b]);
      merges.push([pieces[a], pieces[b]]);
      const touched = new Set<number>();
      for (const wi of pairWords.get(key) ?? []) {
        const w = words[wi];
        let has = false;
        for (let i = 0; i + 1 < w.length; i++)
          if (w[i] === a && w[i + 1] === b) {
            has = true;
            break;
          }
        if (!has) continue; // the set is not pruned when a word loses a pair
        addPairs(wi, -1, touched);
        const nw: number[] = [];
        for (let i = 0; i < w.length; i++) {
          if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
            nw.push(id);
            i++;
          } else nw.push(w[i]);
        }
        words[wi] = nw;
        addPairs(wi, 1, touched);
      }
      pairWords.delete(key);
      for (const k of touched) {
        const c = pairCount.get(k)!;
        if (c > 0) heap.push(c, k);
        else pairCount.delete(k);
      }
      if (opts.onProgress && merges.length % 256 === 0) opts.onProgress(merges.length, wanted);
    }
    return new Tokenizer(pieces, merges, {pad: 0, bos: 1, eos: 2, template: {before: [1], after: []}});
  }

  /** Reads a Hugging Face tokenizer.json (object or JSON text) of a byte-level BPE model. */
  static fromJSON(json: unknown, hints: {bos?: number; eos?: number} = {}): Tokenizer {
    const fail = (msg: string): never => {
      throw new Error(`tokenizer.json: ${msg}`);
    };
    let j = json;
    if (typeof j === "string") {
      try {
        j = JSON.parse(j);
      } catch (e) {
        fail(`not valid JSON (${(e as Error).message})`);
      }
    }
    if (typeof j !== "object" || j === null || Array.isArray(j)) fail("expected an object at the top level");
    const root = j as Record<string, unknown>;
    const model = root.model as Record<string, unknown> | undefined;
    if (typeof model !== "object" || model === null) fail('missing "model"');
    if (model!.type !== "BPE") fail(`model.type must be "BPE", got ${JSON.stringify(model!.type)}`);
    const split = parsePreTokenizer(root.pre_tokenizer, fail);
    const dec = root.decoder as Record<string, unknown> | null | undefined;
    if (dec && dec.type !== "ByteLevel") fail(`decoder.type must be "ByteLevel", got ${JSON.stringify(dec.type)}`);
    if (root.normalizer !== undefined && root.normalizer !== null)
      fail("a normalizer is not supported (expected null)");
    if (model!.byte_fallback === true) fail("model.byte_fallback = true is not supported (a SentencePiece-style BPE)");

    const vocab = model!.vocab;
    if (typeof vocab !== "object" || vocab === null || Array.isArray(vocab))
      fail("model.vocab must be an object {token: id}");
    const entries = Object.entries(vocab as Record<string, unknown>);
    if (entries.length === 0) fail("model.vocab is empty");
    const pieces: string[] = new Array<string>(entries.length);
    for (const [tok, id] of entries) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= entries.length) {
        fail(`model.vocab["${tok}"] = ${JSON.stringify(id)}: ids must be integers 0…${entries.length - 1}`);
      }
      if (pieces[id as number] !== undefined)
        fail(`model.vocab: id ${id} is used by both "${pieces[id as number]}" and "${tok}"`);
      pieces[id as number] = tok;
    }

    const rawMerges = model!.merges;
    if (!Array.isArray(rawMerges)) fail("model.merges must be an array");
    const merges: [string, string][] = (rawMerges as unknown[]).map((m, i) => {
      if (typeof m === "string") {
        const parts = m.split(" ");
        if (parts.length !== 2 || !parts[0] || !parts[1])
          fail(`model.merges[${i}] = ${JSON.stringify(m)}: expected "left right"`);
        return [parts[0], parts[1]];
      }
      if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string")
        return [m[0], m[1]];
      return fail(`model.merges[${i}] = ${JSON.stringify(m)}: expected "left right" or ["left", "right"]`);
    });

    // Added tokens may extend the vocabulary (Llama-3: 128,000 BPE entries + 256 specials from 128000).
    const added = root.added_tokens ?? [];
    if (!Array.isArray(added)) fail("added_tokens must be an array");
    const specials = new Map<string, number>();
    const special = new Set<number>();
    const plain = new Map<number, string>();
    (added as unknown[]).forEach((t, i) => {
      const a = t as Partial<HFAddedToken> | null;
      if (!a || typeof a.content !== "string" || typeof a.id !== "number" || !Number.isInteger(a.id) || a.id < 0)
        fail(`added_tokens[${i}] needs an integer "id" and a "content"`);
      const id = a!.id!;
      if (id < entries.length && pieces[id] !== a!.content)
        fail(`added_tokens[${i}] "${a!.content}" has id ${id} but vocab maps that id to "${pieces[id]}"`);
      if (id >= entries.length) {
        if (id >= entries.length + (added as unknown[]).length)
          fail(
            `added_tokens[${i}] "${a!.content}" has id ${id}, leaving a gap after the ${entries.length}-entry vocab`,
          );
        if (pieces[id] !== undefined) fail(`added_tokens[${i}]: id ${id} is used twice`);
        pieces[id] = a!.content!;
        if (a!.special === false) plain.set(id, a!.content!);
      }
      if (a!.special !== false) special.add(id);
      specials.set(a!.content!, id);
    });
    for (let i = 0; i < pieces.length; i++)
      if (pieces[i] === undefined) fail(`token id ${i} is neither in model.vocab nor in added_tokens`);

    // The post-processor's template says which token transformers puts first; it is the BOS when present.
    const template = parseTemplate(root.post_processor, specials, fail);
    for (const id of [...template.before, ...template.after])
      if (!special.has(id))
        fail(`added_tokens lacks the bos token "${pieces[id] ?? id}" (id ${id}) that post_processor adds`);
    const pick = (what: "bos" | "eos", hint: number | undefined, names: string[]): number => {
      if (hint !== undefined) {
        if (!special.has(hint)) fail(`the config's ${what}_token_id ${hint} is not a special token of this tokenizer`);
        return hint;
      }
      const id =
        (what === "bos" ? template.before[0] : undefined) ??
        names.map((n) => specials.get(n)).find((x) => x !== undefined);
      if (id === undefined) fail(`added_tokens lacks the ${what} token "${names[0]}"`);
      return id!;
    };
    const bos = pick("bos", hints.bos, [SPECIAL_TOKENS.bos, "<|begin_of_text|>"]);
    const eos = pick("eos", hints.eos, [SPECIAL_TOKENS.eos, "<|end_of_text|>"]);
    const pad = specials.get(SPECIAL_TOKENS.pad) ?? -1;
    try {
      return new Tokenizer(pieces, merges, {
        pad,
        bos,
        eos,
        special: [...special],
        plain,
        template,
        split,
        ignoreMerges: model!.ignore_merges === true,
      });
    } catch (e) {
      return fail((e as Error).message.replace(/^tokenizer: /, ""));
    }
  }

  /** The chat prompt of BitNet b1.58 2B4T's instruct model (its tokenizer_config chat template):
   *  "Role: content<|eot_id|>" per message, then "Assistant: " — ids, BOS first. */
  encodeChat(messages: readonly {role: "system" | "user" | "assistant"; content: string}[]): number[] {
    const eot = this.pieceToId("<|eot_id|>");
    if (eot === undefined)
      throw new Error(
        "tokenizer: no <|eot_id|> token, so this is not the instruct model's tokenizer (no chat template)",
      );
    const out = [this.bosId];
    const cap = (r: string) => r[0].toUpperCase() + r.slice(1);
    for (const m of messages) {
      out.push(...this.encode(`${cap(m.role)}: ${m.content}`), eot);
    }
    out.push(...this.encode("Assistant: "));
    return out;
  }

  /** The Hugging Face tokenizer.json object (JSON.stringify it to save). */
  toJSON(): object {
    const special = (id: number): HFAddedToken => ({
      id,
      content: this.pieces[id],
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    });
    const vocab: Record<string, number> = {};
    this.pieces.forEach((p, i) => (vocab[p] = i));
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [special(this.padId), special(this.bosId), special(this.eosId)],
      normalizer: null,
      pre_tokenizer: {type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true},
      // BOS first, exactly what the CLI and the pages feed the model, so transformers' tokenizer (which applies
      // the post-processor by default) encodes a prompt to the same ids.
      post_processor: {
        type: "Sequence",
        processors: [
          {type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true},
          {
            type: "TemplateProcessing",
            single: [{SpecialToken: {id: this.pieces[this.bosId], type_id: 0}}, {Sequence: {id: "A", type_id: 0}}],
            pair: [
              {SpecialToken: {id: this.pieces[this.bosId], type_id: 0}},
              {Sequence: {id: "A", type_id: 0}},
              {SpecialToken: {id: this.pieces[this.bosId], type_id: 1}},
              {Sequence: {id: "B", type_id: 1}},
            ],
            special_tokens: {
              [this.pieces[this.bosId]]: {
                id: this.pieces[this.bosId],
                ids: [this.bosId],
                tokens: [this.pieces[this.bosId]],
              },
            },
          },
        ],
      },
      decoder: {type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true},
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: this.merges.map(([a, b]) => `${this.pieces[a]} ${this.pieces[b]}`),
      },
    };
  }

  /** BPE of one pre-token: repeatedly merge the adjacent pair of lowest rank. */
  private encodeWord(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    if (this.ignoreMerges) {
      // Llama-3 (ignore_merges): a pre-token that is itself a vocabulary entry is one token.
      let piece = "";
      for (const b of utf8.encode(word)) piece += BYTE_CHAR[b];
      const whole = this.pieceId.get(piece);
      if (whole !== undefined && !this.specialIds.has(whole)) return [whole];
    }
    const ids = Array.from(utf8.encode(word), (b) => this.byteId[b]);
    while (ids.length > 1) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.mergeRank.get(pairKey(ids[i], ids[i + 1]));
        if (r !== undefined && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      const [a, b, m] = this.merges[best];
      for (let i = at; i + 1 < ids.length; i++) {
        if (ids[i] === a && ids[i + 1] === b) ids.splice(i, 2, m);
      }
    }
    if (this.cache.size < 200_000) this.cache.set(word, ids);
    return ids;
  }

  /** Token ids of `text` (no special tokens unless asked). Special-token text in the input is plain text. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.addSpecialTokens) out.push(...this.template.before);
    if (opts.bos) out.push(this.bosId);
    for (const w of preTokenize(text, this.split)) for (const id of this.encodeWord(w)) out.push(id);
    if (opts.eos) out.push(this.eosId);
    if (opts.addSpecialTokens) out.push(...this.template.after);
    return out;
  }

  /** Text of `ids`; special tokens are dropped. Bytes are joined before UTF-8 decoding, so characters
   *  split across tokens come back whole; invalid sequences become U+FFFD. */
  decode(ids: readonly number[]): string {
    return new TextDecoder().decode(this.bytesOf(ids));
  }

  /** The raw bytes of `ids` (special tokens contribute none). */
  bytesOf(ids: readonly number[]): Uint8Array {
    let n = 0;
    for (const id of ids) n += this.tokenBytes(id).length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const id of ids) {
      const b = this.tokenBytes(id);
      out.set(b, o);
      o += b.length;
    }
    return out;
  }

  private tokenBytes(id: number): Uint8Array {
    const b = this.idBytes[id];
    if (b === undefined) throw new RangeError(`tokenizer: id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    return b;
  }

  /** Human-readable text of one token: special tokens by name, others decoded (a partial UTF-8
   *  character shows as U+FFFD). */
  tokenToString(id: number): string {
    this.tokenBytes(id);
    if (this.specialIds.has(id)) return this.pieces[id];
    return new TextDecoder().decode(this.idBytes[id]);
  }

  /** The vocabulary entry as tokenizer.json spells it (byte-level characters, e.g. "Ġthe"). */
  tokenPiece(id: number): string {
    this.tokenBytes(id);
    return this.pieces[id];
  }

  /** Id of a vocabulary entry spelled as in tokenizer.json, or undefined. */
  pieceToId(piece: string): number | undefined {
    return this.pieceId.get(piece);
  }

  /** Number of merges (vocabSize − specials − 256 bytes). */
  get numMerges(): number {
    return this.merges.length;
  }
}
