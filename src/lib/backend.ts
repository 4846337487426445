// The contract shared by the CPU reference forward (src/lib/model.ts) and the WebGPU engine
// (kernels/engine.ts), so generation, the CLI and the pages drive either one the same way.

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
