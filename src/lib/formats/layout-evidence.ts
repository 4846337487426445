// Which I2_S byte layout a GGUF file holds, from the weights themselves. The three layouts (i2s.ts) decode any
// bytes to valid ternary codes with the same counts, so no per-tensor statistic can tell them apart; what a
// wrong layout breaks is the alignment BETWEEN tensors. A trained FFN neuron f has an input row in W_up and
// W_gate and an output column in W_down; their non-zero counts are correlated (dead or weak neurons are sparse
// on both sides — r ≈ 0.05–0.4 per layer in the shipped models). Read under the wrong layout, W_down's columns
// (and, for the rows layout, W_up's rows) are shuffled inside their blocks and the correlation vanishes.
// Each candidate gets a combined z-score (Fisher z · √(F − 3), summed over the sampled layers and both
// inputs, over √count); one layout is chosen only when it stands clearly above the others. An untrained
// (randomly initialised) model has no such structure: then the evidence says so and the caller refuses.
import type {I2SLayout} from "./i2s.js";
import {i2sNonZeros} from "./i2s.js";

export interface FFNBytes {
  layer: number;
  F: number;
  C: number;
  up: Uint8Array;
  gate: Uint8Array;
  down: Uint8Array;
}

export interface LayoutEvidence {
  /** The layout the evidence picks, or null when it cannot decide. */
  layout: I2SLayout | null;
  /** Combined z-score per candidate layout. */
  z: Partial<Record<I2SLayout, number>>;
  layers: number[];
  how: string;
}

/** z needed for the best layout, and its lead over the runner-up. */
export const LAYOUT_Z_MIN = 6;
export const LAYOUT_Z_LEAD = 4;

function pearson(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  let ma = 0,
    mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0,
    saa = 0,
    sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] - ma,
      y = b[i] - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/** Layers to sample: all of a small model, else four spread over the depth (first and last included). */
export function evidenceLayers(L: number): number[] {
  if (L <= 4) return Array.from({length: L}, (_, i) => i);
  return [...new Set([0, Math.round(L / 3), Math.round((2 * L) / 3), L - 1])];
}

export function layoutEvidence(ffns: FFNBytes[], candidates: readonly I2SLayout[]): LayoutEvidence {
  const z: Partial<Record<I2SLayout, number>> = {};
  for (const L of candidates) {
    let sum = 0,
      count = 0;
    for (const f of ffns) {
      const down = i2sNonZeros(f.down, f.C, f.F, L).perCol;
      for (const inp of [f.up, f.gate]) {
        const r = Math.max(-0.999999, Math.min(0.999999, pearson(i2sNonZeros(inp, f.F, f.C, L).perRow, down)));
        sum += Math.atanh(r) * Math.sqrt(Math.max(1, f.F - 3));
        count++;
      }
    }
    z[L] = count ? sum / Math.sqrt(count) : 0;
  }
  const ranked = [...candidates].sort((a, b) => (z[b] ?? 0) - (z[a] ?? 0));
  const fmt = candidates.map((L) => `${L} z = ${(z[L] ?? 0).toFixed(1)}`).join(", ");
  const layers = ffns.map((f) => f.layer);
  const [best, second] = ranked;
  const lead = (z[best] ?? 0) - (second === undefined ? 0 : (z[second] ?? 0));
  const basis = `W_up/W_gate rows against W_down columns, non-zero counts per FFN neuron, layers ${layers.join(", ")}: ${fmt}`;
  if ((z[best] ?? 0) >= LAYOUT_Z_MIN && lead >= LAYOUT_Z_LEAD) {
    return {
      layout: best,
      z,
      layers,
      how: `only the ${best} layout keeps each FFN neuron's input and output weights aligned (${basis})`,
    };
  }
  return {
    layout: null,
    z,
    layers,
    how: `the weights do not tell the layouts apart (${basis}; a decision needs z ≥ ${LAYOUT_Z_MIN} and a lead of ${LAYOUT_Z_LEAD}) — as for an untrained model`,
  };
}
