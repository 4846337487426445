// All parameters in one flat buffer. tfjs on WebGPU pays a fixed cost per kernel dispatch that dwarfs
// the arithmetic of a 4M-parameter model, so the trainer works on the whole parameter vector at once:
// one absmean ternarization of every BitLinear weight (per-tensor γ via row sums and a segment matmul),
// one AdamW update, one gradient norm — instead of a dozen kernels per tensor.
//
// Layout: every tensor starts at a multiple of ROW (1024) values and is zero-padded to whole rows, so
// the buffer reshapes to [rows, ROW] and each row belongs to exactly one tensor.
import type {BitNetConfig} from "../config.js";
import {linearNames, paramShapes} from "./model.js";
import type {TF, TfTensor} from "./tf.js";

export const ROW = 1024;

export interface FlatEntry {
  name: string;
  shape: number[];
  size: number;
  /** Offset in values (a multiple of ROW). */
  offset: number;
  /** Rows occupied (size rounded up to whole rows). */
  rows: number;
  /** A BitLinear weight, ternarized in the forward. */
  ternary: boolean;
  /** A matrix: gets weight decay. */
  decay: boolean;
}

export interface FlatLayout {
  entries: FlatEntry[];
  byName: Map<string, FlatEntry>;
  rows: number;
  total: number;
}

export function flatLayout(c: BitNetConfig): FlatLayout {
  const quant = c.bitnet_variant !== "fp" ? new Set(linearNames(c)) : new Set<string>();
  const entries: FlatEntry[] = [];
  let rows = 0;
  for (const [name, shape] of paramShapes(c)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const r = Math.ceil(size / ROW);
    entries.push({name, shape, size, offset: rows * ROW, rows: r, ternary: quant.has(name), decay: shape.length >= 2});
    rows += r;
  }
  return {entries, byName: new Map(entries.map((e) => [e.name, e])), rows, total: rows * ROW};
}

/** Packs per-tensor data into the flat layout (zero padding). */
export function packFlat(layout: FlatLayout, get: (name: string) => Float32Array): Float32Array {
  const out = new Float32Array(layout.total);
  for (const e of layout.entries) {
    const d = get(e.name);
    if (d.length !== e.size) throw new Error(`flat: ${e.name} has ${d.length} values, expected ${e.size}`);
    out.set(d, e.offset);
  }
  return out;
}

/** Constant tensors of a layout (made once per trainer). */
export class FlatConstants {
  /** [nTernary, rows]: 1 where a row belongs to the k-th ternary tensor. */
  readonly seg: TfTensor | undefined;
  /** [nTernary, 1]: element counts. */
  readonly counts: TfTensor | undefined;
  /** [rows, 1]: 1 on rows of ternary tensors. */
  readonly qRows: TfTensor;
  /** [rows, 1]: 1 on rows of matrices (weight decay). */
  readonly decayRows: TfTensor;
  readonly ternary: FlatEntry[];
  /** Zero pads between tensors in gradient order, by tensor name. */
  private readonly pads = new Map<number, TfTensor>();

  constructor(
    private readonly tf: TF,
    readonly layout: FlatLayout,
  ) {
    this.ternary = layout.entries.filter((e) => e.ternary);
    const R = layout.rows;
    const q = new Float32Array(R);
    const d = new Float32Array(R);
    for (const e of layout.entries) {
      if (e.ternary) q.fill(1, e.offset / ROW, e.offset / ROW + e.rows);
      if (e.decay) d.fill(1, e.offset / ROW, e.offset / ROW + e.rows);
    }
    this.qRows = tf.tensor2d(q, [R, 1]);
    this.decayRows = tf.tensor2d(d, [R, 1]);
    if (this.ternary.length) {
      const s = new Float32Array(this.ternary.length * R);
      this.ternary.forEach((e, k) => s.fill(1, k * R + e.offset / ROW, k * R + e.offset / ROW + e.rows));
      this.seg = tf.tensor2d(s, [this.ternary.length, R]);
      this.counts = tf.tensor2d(
        Float32Array.from(this.ternary, (e) => e.size),
        [this.ternary.length, 1],
      );
    }
  }

  pad(n: number): TfTensor {
    let t = this.pads.get(n);
    if (!t) {
      t = this.tf.keep(this.tf.zeros([n])); // survives the tidy scope that first asks for it
      this.pads.set(n, t);
    }
    return t;
  }

  dispose(): void {
    this.tf.dispose([
      this.qRows,
      this.decayRows,
      ...(this.seg ? [this.seg] : []),
      ...(this.counts ? [this.counts] : []),
      ...this.pads.values(),
    ]);
    this.pads.clear();
  }
}

/** γ = max(mean|W|, ε) of every ternary tensor, [nTernary, 1], and broadcast back per row [rows, 1]. */
export function flatGamma(tf: TF, k: FlatConstants, P: TfTensor): {gamma: TfTensor; gammaRows: TfTensor} {
  return tf.tidy(() => {
    const rowSums = tf.sum(tf.abs(P.reshape([k.layout.rows, ROW])), 1, true); // [R, 1]
    const gamma = tf.maximum(tf.div(tf.matMul(k.seg!, rowSums), k.counts!), 1e-5); // [nT, 1]
    const gammaRows = tf.matMul(k.seg!, gamma, true, false); // [R, 1]; 0 on rows of other tensors
    return {gamma, gammaRows};
  });
}

/** γ per row: from `gamma` ([nTernary, 1], e.g. rounded to a storage format) when given, else mean|W| of P. */
function gammaRowsOf(tf: TF, k: FlatConstants, P: TfTensor, gamma?: TfTensor): TfTensor {
  return gamma ? tf.matMul(k.seg!, gamma, true, false) : flatGamma(tf, k, P).gammaRows;
}

/** The flat parameters with every BitLinear weight ternarized exactly as quant.ts's absmean quantizer
 *  (s = 1/max(γ, ε), W̃ = RoundClip(s·W, −1, 1), dequantized W̃/s); other tensors pass unchanged. `gamma`
 *  replaces the per-tensor γ (already ≥ ε). */
export function quantizeFlat(tf: TF, k: FlatConstants, P: TfTensor, gamma?: TfTensor): TfTensor {
  if (!k.seg) return tf.clone(P);
  return tf.tidy(() => {
    const gammaRows = gammaRowsOf(tf, k, P, gamma);
    const X = P.reshape([k.layout.rows, ROW]);
    const g = tf.add(gammaRows, tf.sub(1, k.qRows)); // γ on ternary rows, 1 elsewhere (never 0)
    const s = tf.div(1, g);
    const q = tf.div(tf.clipByValue(tf.round(tf.mul(X, s)), -1, 1), s);
    // m·q + (1−m)·X is exact for m ∈ {0, 1}
    return tf.add(tf.mul(q, k.qRows), tf.mul(X, tf.sub(1, k.qRows))).reshape([k.layout.total]);
  });
}

/** Ternary codes (−1/0/1) on ternary rows, 0 elsewhere, [rows, ROW]. */
export function flatCodes(tf: TF, k: FlatConstants, P: TfTensor, gamma?: TfTensor): TfTensor {
  return tf.tidy(() => {
    const gammaRows = gammaRowsOf(tf, k, P, gamma);
    const g = tf.add(gammaRows, tf.sub(1, k.qRows));
    return tf.mul(tf.clipByValue(tf.round(tf.div(P.reshape([k.layout.rows, ROW]), g)), -1, 1), k.qRows);
  });
}

/** Per-tensor views of a flat buffer (slices, in layout order). */
export function sliceFlat(tf: TF, layout: FlatLayout, Q: TfTensor): Map<string, TfTensor> {
  const views = tf.tidy(() => layout.entries.map((e) => tf.slice(Q, [e.offset], [e.size]).reshape(e.shape)));
  return new Map(layout.entries.map((e, i) => [e.name, views[i]]));
}

/** Per-tensor gradients (layout order) concatenated into the flat layout, pads zero. */
export function concatFlat(tf: TF, k: FlatConstants, grads: TfTensor[]): TfTensor {
  return tf.tidy(() => {
    const parts: TfTensor[] = [];
    k.layout.entries.forEach((e, i) => {
      parts.push(grads[i].reshape([e.size]));
      const pad = e.rows * ROW - e.size;
      if (pad > 0) parts.push(k.pad(pad));
    });
    return tf.concat(parts, 0);
  });
}
