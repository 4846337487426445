// Byte-level BPE (GPT-2 style), trained and saved as a Hugging Face `tokenizer.json` (model.type "BPE",
// ByteLevel pre-tokenizer and decoder) so that `tokenizers`/transformers can read what we ship.
//
// Text → UTF-8 bytes → each byte shown as one printable character (GPT-2's bytes_to_unicode) → split into
// "words" by GPT-2's regex → merges applied by rank. Every byte is in the vocabulary, so any string that is
// valid UTF-8 (no lone surrogates) round-trips exactly, even text never seen in training.
import {BYTE_CHAR, CHAR_BYTE, preTokenize, SPLIT_RE, utf8} from "./byte-level.js";
import {pairKey, type TrainOptions, trainMerges} from "./bpe-train.js";
import {type HFAddedToken, parseTokenizerJSON, type TokenizerSpecials} from "./tokenizer-json.js";

export type {TrainOptions} from "./bpe-train.js";
export {BYTE_LEVEL_REGEX, compileSplitRegex, LLAMA3_REGEX, preTokenize, SPECIAL_TOKENS} from "./byte-level.js";

export interface EncodeOptions {
  /** Apply tokenizer.json's post-processor template (what transformers does by default with
   *  add_special_tokens=True): for the shipped models and Llama-3, BOS first. */
  addSpecialTokens?: boolean;
  /** Prepend the BOS token. */
  bos?: boolean;
  /** Append the EOS token. */
  eos?: boolean;
}

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

  /** Trains byte-level BPE on `text` up to `vocabSize` tokens (3 specials + 256 bytes + merges): bpe-train.ts. */
  static train(text: string, vocabSize: number, opts: TrainOptions = {}): Tokenizer {
    const {pieces, merges} = trainMerges(text, vocabSize, opts);
    return new Tokenizer(pieces, merges, {pad: 0, bos: 1, eos: 2, template: {before: [1], after: []}});
  }

  /** Reads a Hugging Face tokenizer.json (object or JSON text) of a byte-level BPE model (tokenizer-json.ts). */
  static fromJSON(json: unknown, hints: {bos?: number; eos?: number} = {}): Tokenizer {
    const {pieces, merges, specials} = parseTokenizerJSON(json, hints);
    try {
      return new Tokenizer(pieces, merges, specials);
    } catch (e) {
      throw new Error(`tokenizer.json: ${(e as Error).message.replace(/^tokenizer: /, "")}`);
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
