// Batches from a token stream. A training batch depends only on (seed, step), so a resumed run reads
// exactly the batches the uninterrupted run would have read, and runs with the same seed see the same tokens.
import {Rng} from "../rng.js";

export interface Batch {
  /** [B·T] input ids and [B·T] next-token targets, row-major by sequence. */
  inputs: Int32Array;
  targets: Int32Array;
  B: number;
  T: number;
}

function window(stream: Uint16Array, starts: readonly number[], T: number): Batch {
  const B = starts.length;
  const inputs = new Int32Array(B * T);
  const targets = new Int32Array(B * T);
  starts.forEach((s, b) => {
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = stream[s + t];
      targets[b * T + t] = stream[s + t + 1];
    }
  });
  return {inputs, targets, B, T};
}

/** B random windows of T+1 tokens (uniform start positions) for training step `step`. */
export function trainBatch(stream: Uint16Array, B: number, T: number, seed: number, step: number): Batch {
  if (stream.length < T + 1)
    throw new Error(`data: the training stream has ${stream.length} tokens, fewer than seqLen+1 = ${T + 1}`);
  const rng = new Rng(Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b));
  const starts = Array.from({length: B}, () => rng.int(stream.length - T));
  return window(stream, starts, T);
}

/** Start offsets of the non-overlapping validation windows (stride T). */
export function valWindows(stream: Uint16Array, T: number): number[] {
  const out: number[] = [];
  for (let s = 0; s + T + 1 <= stream.length; s += T) out.push(s);
  return out;
}

/** A fixed, evenly spread subset of `count` validation windows (all when count ≥ available), in batches of B. */
export function valBatches(stream: Uint16Array, B: number, T: number, count?: number): Batch[] {
  const all = valWindows(stream, T);
  if (all.length === 0)
    throw new Error(`data: the validation stream has ${stream.length} tokens, fewer than seqLen+1 = ${T + 1}`);
  const n = count === undefined ? all.length : Math.min(all.length, count);
  const pick = Array.from({length: n}, (_, i) => all[Math.floor((i * all.length) / n)]);
  const out: Batch[] = [];
  for (let i = 0; i < pick.length; i += B) out.push(window(stream, pick.slice(i, i + B), T));
  return out;
}
