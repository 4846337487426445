// Activated parameters (a4.8 Table 2): a weight column whose input activation is zero does no work, so a
// projection's active parameters are its size × (1 − the sparsity of its input).
import {paramCounts} from "./shapes.js";
import type {ModelShape} from "./shapes.js";

/** Percent zeros of each projection's input, as in a4.8 Table 2 (QKV share one input; so do up and gate in
 *  principle, but a4.8 computes up only on non-zero gate channels, hence its higher "Up" sparsity). */
export interface CostComponentSparsity {
  qkv: number;
  out: number;
  up: number;
  gate: number;
  down: number;
}

export interface ActivatedParams {
  total: number; // non-embedding linear parameters
  active: number;
  activeFraction: number;
  /** Parameter-weighted sparsity: 1 − active/total (a4.8 Table 2's "Overall"), in percent. */
  overallPercent: number;
  perComponent: Record<keyof CostComponentSparsity, {params: number; active: number}>;
}

export function activatedParams(s: ModelShape, sp: CostComponentSparsity): ActivatedParams {
  for (const k of ["qkv", "out", "up", "gate", "down"] as const) {
    const v = sp[k];
    if (!(v >= 0 && v <= 100)) throw new Error(`sparsity ${k} must be a percentage in [0, 100], got ${v}`);
  }
  const n = paramCounts(s);
  const L = s.layers;
  const params = {
    qkv: L * (n.perLayer.q + n.perLayer.k + n.perLayer.v),
    out: L * n.perLayer.o,
    up: L * n.perLayer.up,
    gate: L * n.perLayer.gate,
    down: L * n.perLayer.down,
  };
  const perComponent = {} as ActivatedParams["perComponent"];
  let active = 0;
  for (const k of Object.keys(params) as (keyof CostComponentSparsity)[]) {
    const a = params[k] * (1 - sp[k] / 100);
    perComponent[k] = {params: params[k], active: a};
    active += a;
  }
  return {
    total: n.linear,
    active,
    activeFraction: active / n.linear,
    overallPercent: 100 * (1 - active / n.linear),
    perComponent,
  };
}

/** a4.8's estimate of the up projection's sparsity: it runs only where the gate's ReLU² output is non-zero and its
 *  own input is non-zero: 1 − (1 − s_in)(1 − s_gate_out) (a4.8 §3, e.g. 1 − 0.88·0.325 = 71.4% at 7B). */
export function upSparsityFromGate(inputPercent: number, gateOutputPercent: number): number {
  return 100 * (1 - (1 - inputPercent / 100) * (1 - gateOutputPercent / 100));
}
