// Descriptive statistics the chapters show about weights and activations, in float64 whatever the storage.

type Values = ArrayLike<number>;

export interface Moments {
  count: number;
  mean: number;
  std: number;
  /** Pearson kurtosis E[(x−μ)⁴]/σ⁴: 3 for a Gaussian, larger for heavy tails and outliers. */
  kurtosis: number;
  meanAbs: number;
  maxAbs: number;
  /** max|x| / mean|x|: how far the largest value sits above the typical one (absmax vs absmean scales). */
  maxOverMean: number;
}

export function moments(x: Values): Moments {
  const n = x.length;
  if (n === 0) return {count: 0, mean: NaN, std: NaN, kurtosis: NaN, meanAbs: NaN, maxAbs: NaN, maxOverMean: NaN};
  let s = 0;
  let sa = 0;
  let ma = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    s += v;
    const a = Math.abs(v);
    sa += a;
    if (a > ma) ma = a;
  }
  const mean = s / n;
  let m2 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - mean;
    const d2 = d * d;
    m2 += d2;
    m4 += d2 * d2;
  }
  m2 /= n;
  m4 /= n;
  const meanAbs = sa / n;
  return {
    count: n,
    mean,
    std: Math.sqrt(m2),
    kurtosis: m2 > 0 ? m4 / (m2 * m2) : NaN,
    meanAbs,
    maxAbs: ma,
    maxOverMean: meanAbs > 0 ? ma / meanAbs : NaN,
  };
}

export interface Bin {
  x0: number;
  x1: number;
  count: number;
}

/** Equal-width bins over [lo, hi] (defaults: the data's range); values outside are clamped into the end bins
 *  so every value is counted. */
export function histogram(x: Values, bins: number, domain?: [number, number]): Bin[] {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`histogram: bins must be a positive integer, got ${bins}`);
  let lo = domain?.[0] ?? Infinity;
  let hi = domain?.[1] ?? -Infinity;
  if (!domain) {
    for (let i = 0; i < x.length; i++) {
      if (x[i] < lo) lo = x[i];
      if (x[i] > hi) hi = x[i];
    }
  }
  if (!(lo <= hi)) return [];
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const w = (hi - lo) / bins;
  const counts = new Float64Array(bins);
  for (let i = 0; i < x.length; i++) {
    let b = Math.floor((x[i] - lo) / w);
    if (Number.isNaN(b)) b = 0; // a range so small that w underflows to 0
    if (b < 0) b = 0;
    if (b >= bins) b = bins - 1;
    counts[b]++;
  }
  return Array.from(counts, (count, b) => ({x0: lo + b * w, x1: b === bins - 1 ? hi : lo + (b + 1) * w, count}));
}

/** Per-channel max |x| over the tokens of a [T, C] row-major activation. */
export function channelMaxAbs(x: Values, dim: number): Float64Array {
  if (x.length % dim !== 0) throw new Error(`channelMaxAbs: ${x.length} values are not rows of ${dim}`);
  const out = new Float64Array(dim);
  for (let o = 0; o < x.length; o += dim) {
    for (let c = 0; c < dim; c++) {
      const a = Math.abs(x[o + c]);
      if (a > out[c]) out[c] = a;
    }
  }
  return out;
}

export function median(x: Values): number {
  if (x.length === 0) return NaN;
  const s = Float64Array.from(x).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Channels whose magnitude exceeds `factor` × the median channel magnitude, largest first. */
export function outlierChannels(mags: Values, factor: number): number[] {
  const med = median(mags);
  const out: number[] = [];
  for (let c = 0; c < mags.length; c++) if (mags[c] > factor * med) out.push(c);
  return out.sort((a, b) => mags[b] - mags[a]);
}

/** Row t of a [T, dim] row-major array (a view, no copy). */
export function row<T extends Float32Array | Float64Array>(x: T, dim: number, t: number): T {
  return x.subarray(t * dim, (t + 1) * dim) as T;
}

/** The fraction of exact zeros. */
export function zeroFraction(x: Values): number {
  if (x.length === 0) return NaN;
  let z = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === 0) z++;
  return z / x.length;
}
