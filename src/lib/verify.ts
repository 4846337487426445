// Comparing two implementations' logits (GPU engine vs CPU reference, or ours vs transformers): the numbers
// the forward page's Verify button and `bitnet-lab verify` print.

export interface LogitsComparison {
  positions: number;
  vocab: number;
  /** max over all positions and tokens of |a − b|. */
  maxAbsDiff: number;
  /** maxAbsDiff relative to the largest |logit| of the reference. */
  maxRelDiff: number;
  /** Positions whose argmax (greedy token) agrees. */
  argmaxAgree: number;
  /** Whether maxAbsDiff ≤ tolerance and every argmax agrees (ties within the tolerance excepted). */
  pass: boolean;
  tolerance: number;
}

function argmaxRow(x: ArrayLike<number>, off: number, V: number): number {
  let best = off;
  for (let i = off + 1; i < off + V; i++) if (x[i] > x[best]) best = i;
  return best - off;
}

/** Compares logits [positions·vocab] row by row. A differing argmax only fails when the reference's top two
 *  logits are further apart than the tolerance (otherwise either token is a correct greedy choice). */
export function compareLogits(
  reference: ArrayLike<number>,
  candidate: ArrayLike<number>,
  vocab: number,
  tolerance: number,
): LogitsComparison {
  if (reference.length !== candidate.length)
    throw new Error(`compareLogits: ${reference.length} vs ${candidate.length} values`);
  if (!Number.isInteger(vocab) || vocab <= 0 || reference.length % vocab !== 0)
    throw new Error(`compareLogits: ${reference.length} values are not rows of ${vocab}`);
  const positions = reference.length / vocab;
  let maxAbsDiff = 0;
  let maxRef = 0;
  let argmaxAgree = 0;
  let tiesOk = true;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(reference[i] - candidate[i]);
    if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
    maxRef = Math.max(maxRef, Math.abs(reference[i]));
  }
  for (let p = 0; p < positions; p++) {
    const a = argmaxRow(reference, p * vocab, vocab);
    const b = argmaxRow(candidate, p * vocab, vocab);
    if (a === b) argmaxAgree++;
    else if (Math.abs(reference[p * vocab + a] - reference[p * vocab + b]) > 2 * tolerance) tiesOk = false;
  }
  return {
    positions,
    vocab,
    maxAbsDiff,
    maxRelDiff: maxRef > 0 ? maxAbsDiff / maxRef : maxAbsDiff,
    argmaxAgree,
    pass: maxAbsDiff <= tolerance && tiesOk,
    tolerance,
  };
}

/** Logits as [sequence][position][vocab]; null stands for a non-finite value (as JSON writes it). */
export type LogitsGrid = readonly (readonly (readonly (number | null)[])[])[];

/** Distribution of |a − b| over every logit of every position (max and quantiles) and how many positions' argmax
 *  agree: how the project states agreement with another runtime's logits. A non-finite logit is an error. */
export function logitsAgreement(
  a: LogitsGrid,
  b: LogitsGrid,
): {max: number; p50: number; p90: number; p99: number; argmax: number; positions: number} {
  const d: number[] = [];
  let agree = 0,
    n = 0;
  for (let s = 0; s < a.length; s++) {
    for (let p = 0; p < a[s].length; p++) {
      const x = a[s][p],
        y = b[s][p];
      let ax = 0,
        ay = 0;
      for (let v = 0; v < x.length; v++) {
        const xv = x[v],
          yv = y[v];
        if (xv === null || yv === null || !Number.isFinite(xv) || !Number.isFinite(yv))
          throw new Error(`non-finite logit at sequence ${s}, position ${p}, token ${v}`);
        d.push(Math.abs(xv - yv));
        if (xv > (x[ax] as number)) ax = v;
        if (yv > (y[ay] as number)) ay = v;
      }
      n++;
      if (ax === ay) agree++;
    }
  }
  d.sort((u, w) => u - w);
  const q = (f: number) => d[Math.min(d.length - 1, Math.floor(f * d.length))];
  return {max: d[d.length - 1], p50: q(0.5), p90: q(0.9), p99: q(0.99), argmax: agree, positions: n};
}
