// What the chapters need from a checkpoint of any family (an opened model, src/app/format-store.ts), DOM-free so the
// same functions serve the pages and test/unit/chapters-families.test.ts:
// - the codes and scales a ternary view draws: stored codes (packed HF, GGUF I2_S/TQ1_0/TQ2_0), codes ternarized at
//   load (latent checkpoints), or codes recovered exactly from a pseudo-quantized float tensor (TriLM unpacked:
//   α per row / column group) — and a refusal in words for a float matrix that is none of these;
// - text ↔ ids for a checkpoint without a tokenizer: the UTF-8 bytes after BOS, as the Open page and the CLI do;
// - whether next-token generation means anything (an embedding model's does not).
import type {BitNetConfig} from "../config.js";
import {detectPseudoTernary} from "../formats/pseudo.js";
import type {PseudoTernary} from "../formats/pseudo.js";
import {promptCodec} from "../prompt.js";
import type {ModelWeights} from "../tensor.js";

export interface ChapterTernary {
  name: string;
  rows: number;
  cols: number;
  /** −1, 0, +1, [rows, cols] row-major. */
  codes: Int8Array;
  /** One scale for the whole matrix (γ), or one per run of rows / columns (a pseudo-quantized shard's α). */
  scales: {axis: PseudoTernary["axis"]; groups: PseudoTernary["groups"]};
  /** The matrix's scale when it has one; for grouped scales their mean, weighted by group size (for display only). */
  gamma: number;
  /** Where the codes come from, for the figure's source line. */
  source: "codes" | "pseudo";
  note: string;
}

/** The ternary codes and scales of projection `name`; throws an Error in words when the matrix is not ternary. */
export function chapterTernary(w: ModelWeights, name: string): ChapterTernary {
  const t = w.ternary.get(name);
  if (t) {
    const [rows, cols] = t.shape;
    return {
      name,
      rows,
      cols,
      codes: t.codes,
      scales: {axis: "tensor", groups: [{start: 0, length: rows, alpha: t.gamma}]},
      gamma: t.gamma,
      source: "codes",
      note: "the codes the loader produced: stored packed codes, or ternarized at load from latent weights",
    };
  }
  const f = w.float.get(name);
  if (!f || f.shape.length !== 2) throw new Error(`this model has no projection ${name}`);
  const [rows, cols] = f.shape;
  const p = detectPseudoTernary(f.data, rows, cols);
  if (!p)
    throw new Error(
      `${name} is a float matrix, neither ternary codes nor pseudo-quantized (±α, 0) values: this checkpoint is a float model, so there are no ternary weights to show. If it is meant to run as BitNet (Falcon-E's prequantized revision), tick "run a float Llama as BitNet" on the Open page before keeping it.`,
    );
  const total = p.groups.reduce((s, g) => s + g.length, 0);
  const gamma = p.groups.reduce((s, g) => s + g.alpha * g.length, 0) / total;
  return {
    name,
    rows,
    cols,
    codes: p.codes,
    scales: {axis: p.axis, groups: p.groups},
    gamma,
    source: "pseudo",
    note:
      p.axis === "tensor"
        ? "recovered from float values that are code · α, one α for the matrix"
        : `recovered from float values that are code · α, one α per ${p.axis === "rows" ? "row" : "column"} group (${p.groups.length} groups)`,
  };
}

/** Scale of element (r, k) of a ChapterTernary. */
export function scaleAt(t: ChapterTernary, r: number, k: number): number {
  const i = t.scales.axis === "cols" ? k : r;
  for (const g of t.scales.groups) if (i >= g.start && i < g.start + g.length) return g.alpha;
  return 0;
}

/** What the pages use of a tokenizer (encode, decode, the ids generation stops at and samples below). */
export interface TextCodec {
  vocabSize: number;
  bosId: number;
  eosId: number;
  encode(text: string, opts?: {addSpecialTokens?: boolean}): number[];
  decode(ids: readonly number[]): string;
  /** One line for the page: how text becomes ids here. */
  note: string;
}

/** Text ↔ ids for a checkpoint without a tokenizer: UTF-8 bytes after BOS (prompt.ts promptCodec, as the Open page
 *  and the CLI); "ids: 1, 2, 3" gives ids. Sampling stays below 256 so every drawn id decodes to a byte. */
export function bytesCodec(c: Pick<BitNetConfig, "vocab_size" | "bos_token_id" | "eos_token_id">): TextCodec {
  const p = promptCodec(null, c);
  return {
    vocabSize: Math.min(256, c.vocab_size),
    bosId: c.bos_token_id,
    eosId: c.eos_token_id,
    encode: (text) => p.encode(text),
    decode: (ids) => p.decode(ids),
    note: p.note,
  };
}

/** Why next-token generation does not apply to this model, or null when it does. */
export function generationRefusal(c: BitNetConfig): string | null {
  if ((c.bitnet_pooling ?? "none") !== "none")
    return "This is an embedding model: it maps a text to one vector (its last token's final hidden state, L2-normalized) and was not trained to predict the next token, so there is no generation to show. The inspector below runs its layers on your prompt; the Open page's embeddings view compares two texts.";
  return null;
}
