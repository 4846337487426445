// The tokenizer.ggml.* vocabulary of a GGUF file as tokenizer.json content, so one tokenizer implementation
// (src/lib/tokenizer.ts) serves both formats. llama.cpp's "gpt2" model is byte-level BPE: tokens are the
// byte-level strings of tokenizer.json, merges "left right"; token_type 1 = normal, 3 = control
// (special), 4 = user-defined; tokenizer.ggml.pre names the split regex in llama.cpp's words (gguf-arch.ts:
// "llama-bpe" is Llama-3's, "gpt-2" plain byte-level). BOS/EOS may be typed NORMAL (convert-ms-to-gguf-bitnet.py
// types every in-vocabulary token so): llama.cpp still uses them by id, and so does this reader.
import {LLAMA3_REGEX} from "../tokenizer.js";
import {GGUFValueType} from "./gguf.js";
import type {GGUFHeader} from "./gguf.js";
import type {GGUFKV} from "./gguf-write.js";
import {GGUF_PRE_TOKENIZERS} from "./gguf-arch.js";
import {FormatError} from "./source.js";

export function ggufTokenizerJSON(h: GGUFHeader): {json?: object; note?: string} {
  const md = h.metadata;
  const model = md.get("tokenizer.ggml.model");
  if (model === undefined) return {note: "the GGUF file has no tokenizer.ggml.* vocabulary"};
  if (model !== "gpt2")
    return {
      note: `GGUF tokenizer model ${JSON.stringify(model)} is not supported (byte-level BPE "gpt2" only): no tokenizer`,
    };
  const tokens = md.get("tokenizer.ggml.tokens");
  const merges = md.get("tokenizer.ggml.merges");
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string"))
    return {note: "tokenizer.ggml.tokens is missing or not a list of strings: no tokenizer"};
  if (!Array.isArray(merges) || !merges.every((t) => typeof t === "string"))
    return {note: "tokenizer.ggml.merges is missing or not a list of strings: no tokenizer"};
  const types = md.get("tokenizer.ggml.token_type");
  const typeOf = (i: number) => (types instanceof Int32Array && types.length === tokens.length ? types[i] : 1);
  const pre = md.get("tokenizer.ggml.pre");
  // "gpt2" is what this project's writer put here before 2026-12; llama.cpp refuses that name but means gpt-2.
  const split =
    typeof pre === "string" ? (GGUF_PRE_TOKENIZERS[pre] ?? (pre === "gpt2" ? "gpt2" : undefined)) : undefined;
  if (!split) {
    const why =
      pre === undefined || pre === "default"
        ? 'llama.cpp\'s "default" pre-tokenizer (also used when tokenizer.ggml.pre is missing) splits with four regexes in sequence, which this tokenizer does not reproduce'
        : pre === "qwen2"
          ? "it is not one this tokenizer reproduces (Qwen2/3's split regex takes digits one at a time, Llama-3's up to three)"
          : "it is not one this tokenizer reproduces";
    return {
      note: `GGUF tokenizer.ggml.pre ${JSON.stringify(pre ?? null)}: ${why} (supported: ${Object.keys(GGUF_PRE_TOKENIZERS).join(", ")}): no tokenizer`,
    };
  }
  const llama3 = split === "llama3";
  // The BPE vocabulary is everything before the trailing run of control/user-defined tokens.
  let nVocab = tokens.length;
  while (nVocab > 0 && (typeOf(nVocab - 1) === 3 || typeOf(nVocab - 1) === 4)) nVocab--;
  const vocab: Record<string, number> = {};
  for (let i = 0; i < nVocab; i++) vocab[tokens[i] as string] = i;
  const bos = md.get("tokenizer.ggml.bos_token_id");
  const eos = md.get("tokenizer.ggml.eos_token_id");
  const added = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = typeOf(i);
    if (t === 3 || t === 4 || i >= nVocab || i === bos || i === eos)
      added.push({
        id: i,
        content: tokens[i],
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: t !== 4,
      });
  }
  const addBos = md.get("tokenizer.ggml.add_bos_token") ?? llama3;
  const bosPiece = typeof bos === "number" ? (tokens[bos] as string | undefined) : undefined;
  const byteLevel = {type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: !llama3};
  const post: object[] = [{type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true}];
  if (addBos === true && bosPiece !== undefined) {
    post.push({
      type: "TemplateProcessing",
      single: [{SpecialToken: {id: bosPiece, type_id: 0}}, {Sequence: {id: "A", type_id: 0}}],
      pair: [
        {SpecialToken: {id: bosPiece, type_id: 0}},
        {Sequence: {id: "A", type_id: 0}},
        {SpecialToken: {id: bosPiece, type_id: 1}},
        {Sequence: {id: "B", type_id: 1}},
      ],
      special_tokens: {[bosPiece]: {id: bosPiece, ids: [bos], tokens: [bosPiece]}},
    });
  }
  return {
    json: {
      version: "1.0",
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: llama3
        ? {
            type: "Sequence",
            pretokenizers: [
              {type: "Split", pattern: {Regex: LLAMA3_REGEX}, behavior: "Isolated", invert: false},
              byteLevel,
            ],
          }
        : {...byteLevel, use_regex: true},
      post_processor: {type: "Sequence", processors: post},
      decoder: {type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true},
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: llama3,
        vocab,
        merges,
      },
    },
  };
}

/** llama.cpp's tokenizer.ggml.pre name for a tokenizer.json pre_tokenizer: "llama-bpe" for Llama-3's Split
 *  regex + ByteLevel, "gpt-2" for plain byte-level (GPT-2's regex); anything else has no llama.cpp name that
 *  would tokenize the same, so writing one is refused. */
export function ggufPreName(pre: unknown): string {
  const p = pre as
    | {type?: string; use_regex?: boolean; pretokenizers?: {type?: string; pattern?: {Regex?: string}}[]}
    | null
    | undefined;
  if (p?.type === "ByteLevel" && p.use_regex !== false) return "gpt-2";
  if (
    p?.type === "Sequence" &&
    p.pretokenizers?.length === 2 &&
    p.pretokenizers[0].type === "Split" &&
    p.pretokenizers[0].pattern?.Regex === LLAMA3_REGEX &&
    p.pretokenizers[1].type === "ByteLevel"
  )
    return "llama-bpe";
  throw new FormatError(
    `GGUF export: the tokenizer's pre_tokenizer (${JSON.stringify(p ?? null).slice(0, 120)}) has no llama.cpp tokenizer.ggml.pre name that splits text the same way (llama-bpe: Llama-3's Split regex; gpt-2: plain byte-level)`,
  );
}

/** tokenizer.json content (byte-level BPE, as Tokenizer.fromJSON reads it) as tokenizer.ggml.* key/values. */
export function ggufTokenizerKVs(json: unknown, ids: {bos: number; eos: number}): GGUFKV[] {
  const j = json as {
    model: {vocab: Record<string, number>; merges: (string | [string, string])[]};
    added_tokens?: {id: number; content: string; special?: boolean}[];
    pre_tokenizer?: {type?: string};
    post_processor?: {type?: string; processors?: {type?: string}[]};
  };
  const added = j.added_tokens ?? [];
  const n = Math.max(Object.keys(j.model.vocab).length, ...added.map((a) => a.id + 1));
  const tokens = new Array<string>(n);
  const types = new Array<number>(n).fill(1);
  for (const [t, id] of Object.entries(j.model.vocab)) tokens[id] = t;
  for (const a of added) {
    tokens[a.id] = a.content;
    types[a.id] = a.special === false ? 4 : 3;
  }
  const pp = j.post_processor;
  const template =
    pp?.type === "TemplateProcessing" || (pp?.processors ?? []).some((p) => p.type === "TemplateProcessing");
  const S = GGUFValueType.STRING;
  return [
    {key: "tokenizer.ggml.model", type: S, value: "gpt2"},
    {key: "tokenizer.ggml.pre", type: S, value: ggufPreName(j.pre_tokenizer)},
    {key: "tokenizer.ggml.tokens", type: GGUFValueType.ARRAY, elementType: S, value: tokens},
    {key: "tokenizer.ggml.token_type", type: GGUFValueType.ARRAY, elementType: GGUFValueType.I32, value: types},
    {
      key: "tokenizer.ggml.merges",
      type: GGUFValueType.ARRAY,
      elementType: S,
      value: j.model.merges.map((m) => (typeof m === "string" ? m : m.join(" "))),
    },
    {key: "tokenizer.ggml.bos_token_id", type: GGUFValueType.U32, value: ids.bos},
    {key: "tokenizer.ggml.eos_token_id", type: GGUFValueType.U32, value: ids.eos},
    {key: "tokenizer.ggml.add_bos_token", type: GGUFValueType.BOOL, value: template},
  ];
}
