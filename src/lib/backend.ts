// The contract shared by the CPU reference forward (src/lib/model.ts) and the WebGPU engine
// (src/gpu/engine.ts), so generation, the CLI and the pages drive either one the same way.

export interface DecodeSession {
  /** Which implementation runs this session. */
  readonly backend: "cpu" | "webgpu";
  /** Tokens currently held in the KV cache. */
  readonly length: number;
  /** Appends tokens at positions length … length+n−1 (a prefill when n > 1, one decode step when n = 1).
   *  Returns the logits after the last token ([vocab]), or after every appended token ([n·vocab]) when
   *  `allLogits` is set. */
  append(tokens: readonly number[], opts?: {allLogits?: boolean}): Promise<Float32Array>;
  /** Empties the KV cache. */
  reset(): void;
  /** Frees what the session holds (GPU buffers). */
  dispose(): void;
}

export interface SamplingOptions {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  seed: number;
  /** Ids ≥ vocabLimit are never drawn: a checkpoint's vocabulary padded beyond its tokenizer (default: all). */
  vocabLimit?: number;
}

/** Logits that are NaN or ±Infinity: a checkpoint whose scales or weights overflow float32 (e.g. an I2_S
 *  scale of 3e38). Sampling them yields token 0 with no sign of trouble, so every session refuses them. */
export class NonFiniteLogitsError extends Error {
  override name = "NonFiniteLogitsError";
}

/** Throws NonFiniteLogitsError naming the first position (and token id) whose logits are not finite.
 *  `logits` holds rows of `vocab` logits for positions first, first+1, …; where only the last row was
 *  computed, `first` is that row's position. */
export function checkLogits(logits: Float32Array, vocab: number, first: number, backend: string): void {
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (x - x !== 0) {
      // NaN or ±Infinity, without a call per element
      const row = Math.floor(i / vocab);
      throw new NonFiniteLogitsError(
        `the model's logits at position ${first + row} are not finite (token id ${i - row * vocab}: ${x}) on the ${backend}: its weights or scales overflow float32 — check the checkpoint's scales (the inspection's warnings name out-of-range ones)`,
      );
    }
  }
}
