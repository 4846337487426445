// Chapter 4 (sparsity in BitNet a4.8): per-component activation sparsity measured from the reference
// forward's traces, defined as in a4.8 Table 2, and how far a change (top-K ratio, KV bits) moves the
// model's next-token predictions.
import {headDim} from "../config.js";
import type {BitNetConfig} from "../config.js";
import type {LayerTrace} from "../model.js";

export interface ComponentSparsity {
  /** Zeros among the values multiplied into W_q, W_k, W_v (their shared quantized input). */
  qkv: number;
  /** Zeros in the W_o input (top-K drops plus INT8 zeros). */
  out: number;
  /** W_up: an input position costs nothing if the input is 0 or the gate output is 0 (ReLU²), since a4.8
   *  computes up only on non-zero gate channels: 1 − (1 − up input zeros)(1 − gate output zeros). */
  up: number;
  /** Zeros in the gate projection's input. */
  gate: number;
  /** Zeros in the W_down input. */
  down: number;
  /** Zeros of the gate output (after ReLU² these are exact zeros; SwiGLU has none). */
  gateOutput: number;
  /** Parameter-weighted: the share of non-embedding linear weights that meet a zero. */
  overall: number;
}

export const COMPONENTS = ["qkv", "out", "up", "gate", "down"] as const;
export type Component = (typeof COMPONENTS)[number];

/** Parameters of each component in one layer (the weights of overall sparsity). */
export function componentParams(c: BitNetConfig): Record<Component, number> {
  const C = c.hidden_size;
  const kv = c.num_key_value_heads * headDim(c);
  const qdim = c.num_attention_heads * headDim(c);
  const F = c.intermediate_size;
  return {qkv: C * (qdim + 2 * kv), out: qdim * C, up: C * F, gate: C * F, down: F * C};
}

function zeros(a: ArrayLike<number>, test: (v: number) => boolean): number {
  let z = 0;
  for (let i = 0; i < a.length; i++) if (test(a[i])) z++;
  return a.length ? z / a.length : 0;
}

/** Sparsity per component for each layer of a trace. The gate output counts as zero where ReLU² zeroes it
 *  (gate pre-activation ≤ 0) for relu2 models; SwiGLU never gives exact zeros. */
export function layerSparsity(
  trace: {layers: (LayerTrace & {gateZeroShare?: number})[]},
  c: BitNetConfig,
): ComponentSparsity[] {
  const P = componentParams(c);
  const total = COMPONENTS.reduce((s, k) => s + P[k], 0);
  return trace.layers.map((l) => {
    const lin = l.linears;
    // A GPU trace has no gate output of its own (the engine fuses it into the GLU); it carries the zero share instead.
    const gateOutput =
      l.gateZeroShare ??
      (c.hidden_act === "relu2" ? zeros(lin.gate.output, (v) => v <= 0) : zeros(lin.gate.output, (v) => v === 0));
    const s = {
      qkv: lin.q.sparsity,
      out: lin.o.sparsity,
      up: 1 - (1 - lin.up.sparsity) * (1 - gateOutput),
      gate: lin.gate.sparsity,
      down: lin.down.sparsity,
    };
    const overall = COMPONENTS.reduce((acc, k) => acc + s[k] * P[k], 0) / total;
    return {...s, gateOutput, overall};
  });
}

/** The mean over layers (every layer has the same shape, so this equals the parameter-weighted mean). */
export function meanSparsity(layers: ComponentSparsity[]): ComponentSparsity {
  const keys = [...COMPONENTS, "gateOutput", "overall"] as const;
  const out = {} as ComponentSparsity;
  for (const k of keys) out[k] = layers.reduce((s, l) => s + l[k], 0) / Math.max(1, layers.length);
  return out;
}

function softmaxRow(logits: ArrayLike<number>, o: number, V: number): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < V; i++) if (logits[o + i] > m) m = logits[o + i];
  const p = new Float64Array(V);
  let s = 0;
  for (let i = 0; i < V; i++) s += p[i] = Math.exp(logits[o + i] - m);
  for (let i = 0; i < V; i++) p[i] /= s;
  return p;
}

function argmax(a: ArrayLike<number>, o: number, V: number): number {
  let b = 0;
  for (let i = 1; i < V; i++) if (a[o + i] > a[o + b]) b = i;
  return b;
}

export interface Divergence {
  /** Mean over positions of KL(P_ref ‖ P), in nats. */
  kl: number;
  /** Share of positions whose most likely next token is the same. */
  top1Agreement: number;
  positions: number;
}

/** How far logits [T, V] are from reference logits [T, V], position by position. */
export function divergence(ref: ArrayLike<number>, logits: ArrayLike<number>, V: number): Divergence {
  if (ref.length !== logits.length || ref.length % V !== 0)
    throw new Error(`divergence: shapes differ (${ref.length} vs ${logits.length}, vocab ${V})`);
  const T = ref.length / V;
  let kl = 0;
  let agree = 0;
  for (let t = 0; t < T; t++) {
    const o = t * V;
    const p = softmaxRow(ref, o, V);
    const q = softmaxRow(logits, o, V);
    let k = 0;
    for (let i = 0; i < V; i++) if (p[i] > 0) k += p[i] * (Math.log(p[i]) - Math.log(Math.max(q[i], 1e-300)));
    kl += k;
    if (argmax(ref, o, V) === argmax(logits, o, V)) agree++;
  }
  return {kl: kl / T, top1Agreement: agree / T, positions: T};
}

/** Mean negative log-likelihood (nats) of each next token of `ids` under logits [T, V] (positions 0…T−2). */
export function nextTokenLoss(logits: ArrayLike<number>, ids: readonly number[], V: number): number {
  const T = ids.length;
  if (logits.length !== T * V) throw new Error(`nextTokenLoss: logits hold ${logits.length / V} positions, ids ${T}`);
  if (T < 2) return NaN;
  let s = 0;
  for (let t = 0; t < T - 1; t++) s -= Math.log(Math.max(softmaxRow(logits, t * V, V)[ids[t + 1]], 1e-300));
  return s / (T - 1);
}

/** a4.8 Table 4 (3B): the top-K ablation on the W_o input. */
export const A48_TABLE4 = {
  source: "BitNet a4.8 (arXiv 2411.04965v1) Table 4 (3B)",
  rows: [
    {setting: "INT8, no sparsity", ppl: 9.95, avg: 52.11},
    {setting: "INT8 + top-K 50%", ppl: 9.97, avg: 51.61},
  ],
} as const;

/** a4.8 Table 3: low-bit attention / KV cache (average zero-shot accuracy). */
export const A48_TABLE3 = {
  source: "BitNet a4.8 (arXiv 2411.04965v1) Table 3",
  rows: [
    {size: "3B", setting: "a4.8 (16-bit KV)", avg: 51.61},
    {size: "3B", setting: "w/ 4-bit KV", avg: 51.77},
    {size: "3B", setting: "w/ 4-bit QKV", avg: 51.85},
    {size: "3B", setting: "w/ 4-bit Q, 3-bit KV", avg: 51.78},
    {size: "7B", setting: "a4.8 (16-bit KV)", avg: 54.74},
    {size: "7B", setting: "w/ 4-bit KV", avg: 55.0},
    {size: "7B", setting: "w/ 4-bit QKV", avg: 54.55},
    {size: "7B", setting: "w/ 4-bit Q, 3-bit KV", avg: 54.43},
  ],
} as const;

/** One setting of a sweep: how far its logits [T, V] are from the baseline's, and its loss on the tokens. */
export interface SweepPoint extends Divergence {
  setting: number;
  loss: number;
}

export function sweepPoint(
  setting: number,
  baseline: ArrayLike<number>,
  logits: ArrayLike<number>,
  ids: readonly number[],
  V: number,
): SweepPoint {
  return {setting, ...divergence(baseline, logits, V), loss: nextTokenLoss(logits, ids, V)};
}

export interface SweepCheck {
  /** Largest |GPU − CPU| of the plotted quantities over the settings: KL (nats) and top-1 disagreement (share). */
  maxAbsKL: number;
  maxAbsTop1: number;
  maxAbsLoss: number;
  /** Where the KL differs most. */
  where: number | undefined;
  pass: boolean;
  tolerance: {kl: number; top1: number};
}

/** The sweep's golden check: the GPU's points against the CPU reference's, setting by setting. PASS when every KL
 *  (and loss) agrees within `kl` nats and the share of positions with a different top-1 within `top1`. */
export function compareSweeps(
  gpu: readonly SweepPoint[],
  cpu: readonly SweepPoint[],
  tol: {kl?: number; top1?: number} = {},
): SweepCheck {
  const kl = tol.kl ?? 1e-3;
  const top1 = tol.top1 ?? 0;
  if (gpu.length !== cpu.length)
    throw new Error(`compareSweeps: ${gpu.length} GPU settings, ${cpu.length} CPU settings`);
  let maxAbsKL = 0;
  let maxAbsTop1 = 0;
  let maxAbsLoss = 0;
  let where: number | undefined;
  gpu.forEach((g, i) => {
    const c = cpu[i];
    if (g.setting !== c.setting)
      throw new Error(`compareSweeps: setting ${g.setting} on the GPU against ${c.setting} on the CPU`);
    const dk = Math.abs(g.kl - c.kl);
    if (!(dk <= maxAbsKL)) {
      maxAbsKL = Number.isNaN(dk) ? Infinity : dk;
      where = g.setting;
    }
    const dt = Math.abs(g.top1Agreement - c.top1Agreement);
    if (!(dt <= maxAbsTop1)) maxAbsTop1 = Number.isNaN(dt) ? Infinity : dt;
    const dl = Math.abs(g.loss - c.loss);
    if (!(dl <= maxAbsLoss)) maxAbsLoss = Number.isNaN(dl) ? Infinity : dl;
  });
  return {
    maxAbsKL,
    maxAbsTop1,
    maxAbsLoss,
    where,
    pass: maxAbsKL <= kl && maxAbsLoss <= kl && maxAbsTop1 <= top1,
    tolerance: {kl, top1},
  };
}
