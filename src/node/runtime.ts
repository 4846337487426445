// What the model-running CLI commands share: choosing the backend (in this one place) and the tokenizer.
import type {DecodeSession} from "../lib/backend.js";
import {createCpuSession} from "../lib/model.js";
import type {ModelWeights} from "../lib/tensor.js";
import {Tokenizer} from "../lib/tokenizer.js";

export const CLI_BACKENDS = ["cpu", "webgpu"] as const;
export type CliBackend = (typeof CLI_BACKENDS)[number];

/** Opens a decode session on the named backend. The WebGPU engine is loaded lazily from
 *  src/gpu/engine.ts (export createWebGPUSession(weights, opts)), so the CLI runs without it. */
export async function openCliSession(
  weights: ModelWeights,
  backend: CliBackend,
  opts: {maxLength?: number} = {},
): Promise<DecodeSession> {
  if (backend === "cpu") return createCpuSession(weights, opts);
  const path = "../gpu/engine.js"; // a variable, so neither tsc nor bundlers require it to exist
  let mod: {createWebGPUSession?: (w: ModelWeights, o?: object) => Promise<DecodeSession> | DecodeSession};
  try {
    mod = (await import(/* @vite-ignore */ path)) as typeof mod;
  } catch (e) {
    const code = (e as {code?: string}).code;
    if (code === "ERR_MODULE_NOT_FOUND" || /Cannot find module|Failed to load/.test(String(e))) {
      throw new Error("the webgpu backend is not available yet (src/gpu/engine.ts does not exist); use --backend cpu");
    }
    throw e;
  }
  if (typeof mod.createWebGPUSession !== "function")
    throw new Error("src/gpu/engine.ts does not export createWebGPUSession(weights, opts); use --backend cpu");
  return await mod.createWebGPUSession(weights, opts);
}

/** Text ↔ ids. */
export interface TextCodec {
  kind: "tokenizer.json" | "bytes";
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  bosId: number;
  eosId: number;
  /** Ids the codec can decode: [0, vocabSize). Fewer than the model's vocab_size when the checkpoint pads its
   *  embedding (normal in real checkpoints): sampling is then limited to them (SamplingOptions.vocabLimit). */
  vocabSize: number;
  /** A note for the user when the model's vocabulary is padded beyond the tokenizer, else undefined. */
  padding?: string;
}

export interface CodecContext {
  /** Where the tokenizer came from, for messages (default "tokenizer.json"). */
  source?: string;
  /** Why the UTF-8-bytes fallback is wrong for this model (then having no tokenizer is an error). */
  noBytes?: string;
}

/** The codec context of a loaded checkpoint: its tokenizer's source, and for a GGUF (whose ids are never
 *  bytes) no byte fallback — a GGUF with an unsupported vocabulary would otherwise print garbage. */
export function codecContext(m: {
  inspection: {format: string; tokenizer?: {source: string}};
  warnings: readonly string[];
}): CodecContext {
  const note = m.warnings.find((w) => /tokenizer/i.test(w));
  return {
    source: m.inspection.tokenizer?.source,
    noBytes:
      m.inspection.format === "gguf-i2s"
        ? `no usable tokenizer (${note ?? "none in the file"}); a GGUF model's token ids are not UTF-8 bytes, so text cannot be encoded or decoded: put the model's tokenizer.json beside the .gguf, or give ids with bitnet-lab logits --tokens`
        : undefined,
  };
}

/** The folder's tokenizer.json, or — when it has none — raw UTF-8 bytes as token ids (ids 0–255), with
 *  the config's BOS first. The fallback only makes sense for models trained on bytes; callers say so. */
export function textCodec(
  tokenizerJSON: unknown,
  cfg: {vocab_size: number; bos_token_id: number; eos_token_id: number},
  ctx: CodecContext = {},
): TextCodec {
  const source = ctx.source ?? "tokenizer.json";
  if (tokenizerJSON !== undefined) {
    let tok: Tokenizer;
    try {
      tok = Tokenizer.fromJSON(tokenizerJSON);
    } catch (e) {
      // The tokenizer's messages name tokenizer.json; a GGUF's vocabulary is not one.
      throw new Error(String(e instanceof Error ? e.message : e).replace(/^tokenizer(\.json)?: /, `${source}: `));
    }
    if (tok.vocabSize > cfg.vocab_size)
      throw new Error(`${source} has ${tok.vocabSize} tokens but the model's vocab_size is ${cfg.vocab_size}`);
    const n = tok.vocabSize;
    return {
      kind: "tokenizer.json",
      encode: (t) => tok.encode(t, {addSpecialTokens: true}),
      // Padded ids have no text: dropped (they are never sampled; --tokens may still name them).
      decode: (ids) => tok.decode(ids.filter((i) => i < n)),
      bosId: tok.bosId,
      eosId: tok.eosId,
      vocabSize: n,
      padding:
        n < cfg.vocab_size
          ? `the model's vocab_size ${cfg.vocab_size} is padded beyond the tokenizer's ${n} tokens: ids ${n}–${cfg.vocab_size - 1} are never sampled`
          : undefined,
    };
  }
  if (ctx.noBytes) throw new Error(ctx.noBytes);
  if (cfg.vocab_size < 256)
    throw new Error(
      `no tokenizer.json, and the vocabulary (${cfg.vocab_size}) is too small for the byte-level fallback (256)`,
    );
  return {
    kind: "bytes",
    encode: (t) => [cfg.bos_token_id, ...new TextEncoder().encode(t)],
    decode: (ids) =>
      new TextDecoder().decode(
        new Uint8Array(ids.filter((i) => i < 256 && i !== cfg.bos_token_id && i !== cfg.eos_token_id)),
      ),
    bosId: cfg.bos_token_id,
    eosId: cfg.eos_token_id,
    vocabSize: cfg.vocab_size,
  };
}
