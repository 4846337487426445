// Chapter 6 (train your own): chart-ready series of the twin run (train.ts) — the LR/WD schedule, γ per layer,
// thinning and bucketing of long histories, head/tail means, and the latent-weight histogram cut at ±γ/2.
import {LINEARS, tensorNames, type LinearName} from "../config.js";
import {scheduleAt, type TrainConfig} from "../train/config.js";
import type {Bin} from "./stats.js";

export interface SchedulePoint {
  step: number;
  lr: number;
  wd: number;
}

/** The LR/WD schedule of a config at up to `maxPoints` steps (always including both sides of the stage
 *  switch, so the abrupt drop is drawn as a drop, not a slope). */
export function scheduleCurve(cfg: TrainConfig, maxPoints = 200): SchedulePoint[] {
  const S = cfg.steps;
  const split = Math.round(cfg.lr.split * S);
  const steps = new Set<number>();
  const n = Math.max(2, Math.min(maxPoints, S));
  for (let i = 0; i < n; i++) steps.add(Math.round((i * (S - 1)) / (n - 1)));
  for (const s of [0, S - 1, split - 1, split, cfg.lr.warmup - 1, cfg.lr.warmup]) if (s >= 0 && s < S) steps.add(s);
  return [...steps]
    .sort((a, b) => a - b)
    .map((step) => {
      const {lr, wd} = scheduleAt(cfg, step);
      return {step, lr, wd};
    });
}

/** γ of each layer from a step's per-tensor γ: one projection's, or the mean of the layer's seven. */
export function layerGammas(
  gamma: Readonly<Record<string, number>>,
  layers: number,
  proj: LinearName | "mean",
): number[] {
  const out: number[] = [];
  for (let i = 0; i < layers; i++) {
    const names = tensorNames.layer(i);
    const which = proj === "mean" ? LINEARS : [proj];
    let s = 0;
    for (const l of which) {
      const g = gamma[names[l]];
      if (g === undefined) throw new Error(`layerGammas: no γ for ${names[l]}`);
      s += g;
    }
    out.push(s / which.length);
  }
  return out;
}

/** At most `max` items, evenly spread, always keeping the first and the last (for charts and tables of a
 *  long run). */
export function thin<T>(xs: readonly T[], max: number): T[] {
  if (max < 2) throw new Error(`thin: max must be ≥ 2, got ${max}`);
  if (xs.length <= max) return xs.slice();
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(xs[Math.round((i * (xs.length - 1)) / (max - 1))]);
  return out;
}

/** At most `max` points: consecutive points averaged in equal buckets (x and y), so a long noisy curve
 *  keeps its level instead of showing whichever samples a stride happens to hit. */
export function bucketMean(points: readonly {x: number; y: number}[], max: number): {x: number; y: number}[] {
  if (max < 1) throw new Error(`bucketMean: max must be ≥ 1, got ${max}`);
  if (points.length <= max) return points.map((p) => ({x: p.x, y: p.y}));
  const out: {x: number; y: number}[] = [];
  for (let b = 0; b < max; b++) {
    const lo = Math.floor((b * points.length) / max);
    const hi = Math.floor(((b + 1) * points.length) / max);
    let sx = 0;
    let sy = 0;
    for (let i = lo; i < hi; i++) {
      sx += points[i].x;
      sy += points[i].y;
    }
    out.push({x: sx / (hi - lo), y: sy / (hi - lo)});
  }
  return out;
}

/** Mean of the last `n` values (fewer if there are fewer). NaN for none. */
export function tailMean(xs: readonly number[], n: number): number {
  const t = xs.slice(Math.max(0, xs.length - n));
  return t.length ? t.reduce((a, b) => a + b, 0) / t.length : NaN;
}

/** Mean of the first `n` values. NaN for none. */
export function headMean(xs: readonly number[], n: number): number {
  const t = xs.slice(0, n);
  return t.length ? t.reduce((a, b) => a + b, 0) / t.length : NaN;
}

export interface CodedBin extends Bin {
  /** The ternary code every value in this bin maps to. */
  code: -1 | 0 | 1;
}

/** Histogram of latent weights whose bin edges fall exactly on ±γ/2 (the rounding thresholds of the
 *  absmean quantizer), so each bin holds one ternary code: `perHalfGamma` bins per γ/2, over ±`span`·γ;
 *  values beyond are counted in the end bins. */
export function ternaryBins(latent: ArrayLike<number>, gamma: number, perHalfGamma = 4, span = 2): CodedBin[] {
  if (!(gamma > 0)) throw new Error(`ternaryBins: γ must be > 0, got ${gamma}`);
  const width = gamma / 2 / perHalfGamma;
  const nb = Math.round((2 * span * gamma) / width);
  const lo = -span * gamma;
  const bins: CodedBin[] = [];
  for (let i = 0; i < nb; i++) {
    const x0 = lo + i * width;
    const x1 = lo + (i + 1) * width;
    const mid = (x0 + x1) / 2;
    bins.push({x0, x1, count: 0, code: mid <= -gamma / 2 ? -1 : mid >= gamma / 2 ? 1 : 0});
  }
  for (let i = 0; i < latent.length; i++) {
    const k = Math.floor((latent[i] - lo) / width);
    bins[Math.min(nb - 1, Math.max(0, k))].count++;
  }
  return bins;
}
