// The trainer tests' data: a learnable token stream (a fixed random walk over a few cycles, so next-token loss can
// fall fast) over a 48-token vocabulary. Shared by train.test.ts and train-breaks.test.ts.
import {Rng} from "../../src/lib/rng.js";
import type {TrainData} from "../../src/lib/train/trainer.js";

export const V = 48;

export function stream(n: number, seed: number): Uint16Array {
  const rng = new Rng(seed);
  const cycle = Array.from({length: 23}, () => 3 + rng.int(V - 3));
  const a = new Uint16Array(n);
  for (let i = 0; i < n; i++) a[i] = i % 97 === 0 ? 1 : cycle[i % cycle.length];
  return a;
}

export const data: TrainData = {train: stream(3000, 1), val: stream(600, 2)};
