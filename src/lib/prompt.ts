// What a prompt box means, for pages (the Open page): text always works. With a tokenizer it is encoded by it (BOS
// from its template); without one, as the CLI does (src/node/runtime.ts textCodec), the text's UTF-8 bytes are the
// ids after the config's BOS. Token ids are optional: a prompt that starts with "ids:" is a list of ids, checked
// against the vocabulary. DOM-free, so it is unit-tested (test/unit/prompt.test.ts).

export interface PromptTokenizer {
  encode(text: string, opts: {addSpecialTokens: boolean}): number[];
  decode(ids: readonly number[]): string;
}

export interface PromptCodec {
  kind: "tokenizer" | "bytes";
  /** The prompt box's text → ids; throws an Error in words for the reader when it cannot. */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** One line for the page: how text becomes ids here. */
  note: string;
}

const IDS = /^\s*ids\s*:/i;

/** Parses "ids: 1, 2 3" (commas or spaces); every id an integer in [0, vocab). */
export function parseIds(text: string, vocab: number): number[] {
  const body = text.replace(IDS, "").trim();
  if (!body) throw new Error('"ids:" needs at least one token id after it, e.g. ids: 1, 72, 101');
  return body
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((t) => {
      if (!/^\d+$/.test(t))
        throw new Error(`"${t}" is not a token id: after "ids:" write whole numbers from 0 to ${vocab - 1}`);
      const n = Number(t);
      if (n >= vocab) throw new Error(`token id ${n} is outside this model's vocabulary (0–${vocab - 1})`);
      return n;
    });
}

export function promptCodec(
  tokenizer: PromptTokenizer | null | undefined,
  cfg: {vocab_size: number; bos_token_id: number; eos_token_id: number},
): PromptCodec {
  const ids = (text: string) => parseIds(text, cfg.vocab_size);
  if (tokenizer) {
    return {
      kind: "tokenizer",
      encode: (t) => {
        if (IDS.test(t)) return ids(t);
        const out = tokenizer.encode(t, {addSpecialTokens: true});
        if (!out.length) throw new Error("the prompt is empty: type some text");
        return out;
      },
      decode: (x) => tokenizer.decode(x),
      note: 'Text is encoded with the checkpoint\'s tokenizer. To give token ids instead, start with "ids:".',
    };
  }
  const bytesOk = cfg.vocab_size >= 256;
  return {
    kind: "bytes",
    encode: (t) => {
      if (IDS.test(t)) return ids(t);
      if (!bytesOk)
        throw new Error(
          `this checkpoint has no tokenizer and only ${cfg.vocab_size} token ids, too few for UTF-8 bytes (256): give token ids, e.g. ids: 1, 2, 3`,
        );
      return [cfg.bos_token_id, ...new TextEncoder().encode(t)];
    },
    decode: (x) =>
      bytesOk
        ? new TextDecoder().decode(
            new Uint8Array(x.filter((i) => i < 256 && i !== cfg.bos_token_id && i !== cfg.eos_token_id)),
          )
        : x.join(" "),
    note: bytesOk
      ? 'No tokenizer in these files: the text\'s UTF-8 bytes are the token ids (after BOS), as the command line does. To give token ids instead, start with "ids:".'
      : 'No tokenizer in these files and too few ids for bytes: give token ids, starting with "ids:".',
  };
}
