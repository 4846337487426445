// Chapter 3 (the Hadamard transform of BitNet v2): the rotation's effect on an activation's distribution,
// the invariance W·x = (W·Hᵀ)·(H·x) on a real layer, the stages of the fast transform for the butterfly
// diagram, and a CPU timing of the transform.
import {hadamardPlan, hadamardTransform} from "../hadamard.js";

type Values = ArrayLike<number>;

/** H·x for every row of a [T, n] activation, as a new float64 array (the input is untouched). */
export function rotateRows(x: Values, n: number, opts: {transpose?: boolean} = {}): Float64Array {
  const out = Float64Array.from(x);
  hadamardTransform(out, n, opts);
  return out;
}

export interface Invariance {
  /** y = W·x in float64. */
  y: Float64Array;
  /** y' = (W·Hᵀ)·(H·x) in float64. */
  yRotated: Float64Array;
  maxAbsDiff: number;
  /** ‖y − y'‖ / ‖y‖. */
  relDiff: number;
}

/** Checks on a real weight that rotating both the input (H·x) and the weight (W·Hᵀ) leaves the product
 *  unchanged, because HᵀH = I. (W·Hᵀ) row i is H·w_i. W is [rows, n], x is [n]. */
export function rotationInvariance(w: Values, rows: number, n: number, x: Values): Invariance {
  if (w.length !== rows * n) throw new Error(`rotationInvariance: W has ${w.length} values, not [${rows}, ${n}]`);
  if (x.length !== n) throw new Error(`rotationInvariance: x has ${x.length} values, W has ${n} columns`);
  const wr = rotateRows(w, n); // rows of W·Hᵀ
  const xr = rotateRows(x, n);
  const y = new Float64Array(rows);
  const yr = new Float64Array(rows);
  let maxd = 0;
  let d2 = 0;
  let y2 = 0;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    let sr = 0;
    for (let c = 0; c < n; c++) {
      s += w[r * n + c] * x[c];
      sr += wr[r * n + c] * xr[c];
    }
    y[r] = s;
    yr[r] = sr;
    const d = Math.abs(s - sr);
    if (d > maxd) maxd = d;
    d2 += d * d;
    y2 += s * s;
  }
  return {y, yRotated: yr, maxAbsDiff: maxd, relDiff: y2 > 0 ? Math.sqrt(d2 / y2) : Math.sqrt(d2)};
}

export interface ButterflyStage {
  /** Distance between the two inputs of each butterfly at this stage (1, 2, 4, …). */
  h: number;
  /** Pairs (i, i+h) combined as (a + b, a − b). */
  pairs: [number, number][];
  /** Values after this stage (unnormalized). */
  values: number[];
}

/** The log2(n) stages of the unnormalized fast Walsh–Hadamard transform of x (n a power of two), in the order
 *  src/lib/hadamard.ts applies them; the last stage times 1/√n is H·x. */
export function butterflyStages(x: readonly number[]): {input: number[]; stages: ButterflyStage[]; norm: number} {
  const n = x.length;
  if (n < 2 || (n & (n - 1)) !== 0) throw new Error(`butterflyStages: length must be a power of two ≥ 2, got ${n}`);
  const cur = Float64Array.from(x);
  const stages: ButterflyStage[] = [];
  for (let h = 1; h < n; h *= 2) {
    const pairs: [number, number][] = [];
    for (let i = 0; i < n; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        pairs.push([j, j + h]);
        const a = cur[j];
        const b = cur[j + h];
        cur[j] = a + b;
        cur[j + h] = a - b;
      }
    }
    stages.push({h, pairs, values: Array.from(cur)});
  }
  return {input: Array.from(x), stages, norm: 1 / Math.sqrt(n)};
}

/** Butterfly additions/subtractions of the fast transform per row: n·log2(block) inside blocks, plus the
 *  cross-block mixing for a Kronecker plan (m·m per column of a block), against n² for a dense matrix. */
export function hadamardOpCount(n: number): {fast: number; dense: number; plan: ReturnType<typeof hadamardPlan>} {
  const plan = hadamardPlan(n);
  const inBlock = n * Math.log2(plan.block);
  const cross = plan.kind === "kronecker" ? plan.block * plan.m * plan.m : 0;
  return {fast: inBlock + cross, dense: n * n, plan};
}

/** Median wall time of the CPU transform of `rows` rows of n (ms), over `reps` repetitions. */
export function timeCpuTransform(
  n: number,
  rows: number,
  reps: number,
  now: () => number = () => performance.now(),
): {medianMs: number; reps: number} {
  const x = new Float32Array(n * rows);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 12.9898) * 2;
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = now();
    hadamardTransform(x, n);
    times.push(now() - t0);
  }
  times.sort((a, b) => a - b);
  return {medianMs: times[times.length >> 1], reps};
}
