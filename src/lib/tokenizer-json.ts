// Reading a Hugging Face tokenizer.json of a byte-level BPE model (Tokenizer.fromJSON): every field validated, with
// the pre-tokenizer (GPT-2's ByteLevel or Llama-3's Split), added tokens beyond the vocab and the post-processor's
// TemplateProcessing (which token transformers puts first).
import {knownSplit, SPECIAL_TOKENS} from "./byte-level.js";

export interface HFAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface TokenizerSpecials {
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

/** Reads a Hugging Face tokenizer.json (object or JSON text): the vocabulary, merges and special tokens. */
export function parseTokenizerJSON(
  json: unknown,
  hints: {bos?: number; eos?: number} = {},
): {pieces: string[]; merges: [string, string][]; specials: TokenizerSpecials} {
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
  if (root.normalizer !== undefined && root.normalizer !== null) fail("a normalizer is not supported (expected null)");
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
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === "string" && typeof m[1] === "string") return [m[0], m[1]];
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
        fail(`added_tokens[${i}] "${a!.content}" has id ${id}, leaving a gap after the ${entries.length}-entry vocab`);
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
  return {
    pieces,
    merges,
    specials: {
      pad,
      bos,
      eos,
      special: [...special],
      plain,
      template,
      split,
      ignoreMerges: model!.ignore_merges === true,
    },
  };
}
