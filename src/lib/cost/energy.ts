// Arithmetic energy of the matrix products (BitNet paper eq. 16–18 with its Table 2 per-op energies).
// For an m×n by n×p product: full precision costs m·n·p multiplications and m·(n−1)·p additions; a ternary BitLinear
// costs the same additions at INT8 and only m·(n+p) multiplications (the per-token and per-tensor rescaling).
// Attention's q·Kᵀ and p·V have no weights, so they stay at the floating-point format in every variant.
import {OP_ENERGY_PJ} from "../paper-tables.js";
import type {ProcessNode} from "../paper-tables.js";
import type {Arithmetic} from "./precision.js";
import type {ModelShape} from "./shapes.js";

export interface EnergyOptions {
  /** m: tokens processed together (the BitNet and b1.58 energy figures use 512). */
  tokens: number;
  node: ProcessNode;
  /** Score matrices over all T×T pairs ("full", what the papers' numbers imply), causal (half), or none. */
  attention?: "full" | "causal" | "none";
  /** Count the LM head (vocab × C). The papers' figures leave it out. Default false. */
  includeLmHead?: boolean;
  /** Floating-point format of attention (and of the LM head); default fp16, fp32 for an fp32 model. */
  floatFormat?: "fp32" | "fp16";
  /** Ternary weights: the additions run at the activations' format — INT8 for ≤ 8 bits (Table 2 has no INT4
   *  entry, so 4-bit activations are charged as INT8), FP16 above. Default 8. */
  activationBits?: number;
}

export interface OpEnergy {
  muls: number;
  adds: number;
  mulJ: number;
  addJ: number;
}

export interface EnergyBreakdown {
  linear: OpEnergy;
  attention: OpEnergy;
  lmHead: OpEnergy;
  mulJ: number;
  addJ: number;
  totalJ: number;
  /** Multiply-accumulates done as additions only (ternary weights), as a fraction of all multiply-accumulates. */
  multiplicationFreeShare: number;
}

const pj = 1e-12;

function op(muls: number, adds: number, mulPJ: number, addPJ: number): OpEnergy {
  return {muls, adds, mulJ: muls * mulPJ * pj, addJ: adds * addPJ * pj};
}

/** Σ over the projections of (n−1)·p and (n+p), per token. */
function linearSums(s: ModelShape): {macs: number; adds: number; rescale: number} {
  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const mats: [number, number][] = [
    [s.hidden, qDim],
    [s.hidden, kvDim],
    [s.hidden, kvDim],
    [qDim, s.hidden],
    [s.hidden, s.ffn],
    [s.ffn, s.hidden],
  ];
  if (s.ffnKind === "glu") mats.push([s.hidden, s.ffn]);
  let macs = 0,
    adds = 0,
    rescale = 0;
  for (const [n, p] of mats) {
    macs += n * p;
    adds += (n - 1) * p;
    rescale += n + p;
  }
  return {macs: macs * s.layers, adds: adds * s.layers, rescale: rescale * s.layers};
}

export function energy(s: ModelShape, arithmetic: Arithmetic, o: EnergyOptions): EnergyBreakdown {
  const {tokens: m, node, attention = "full", includeLmHead = false} = o;
  if (!Number.isInteger(m) || m < 1) throw new Error(`energy: tokens must be a positive integer, got ${m}`);
  const e = OP_ENERGY_PJ[node];
  const float = o.floatFormat ?? (arithmetic === "fp32" ? "fp32" : "fp16");
  const lin = linearSums(s);
  const ternaryAdd = (o.activationBits ?? 8) <= 8 ? e.add.int8 : e.add.fp16;
  const linear =
    arithmetic === "ternary"
      ? op(m * lin.rescale, m * lin.adds, e.mul.fp16, ternaryAdd)
      : op(m * lin.macs, m * lin.adds, e.mul[arithmetic], e.add[arithmetic]);
  // Per head: q·Kᵀ is (m×d)(d×T): m·d·T muls, m·(d−1)·T adds; p·V is (m×T)(T×d): m·T·d muls, m·(T−1)·d adds.
  const d = s.headDim,
    T = m,
    heads = s.heads * s.layers;
  const frac = attention === "full" ? 1 : attention === "causal" ? 0.5 : 0;
  const attn = op(
    frac * heads * 2 * m * d * T,
    frac * heads * (m * (d - 1) * T + m * (T - 1) * d),
    e.mul[float],
    e.add[float],
  );
  const lm = includeLmHead
    ? op(m * s.hidden * s.vocab, m * (s.hidden - 1) * s.vocab, e.mul[float], e.add[float])
    : op(0, 0, 0, 0);
  const mulJ = linear.mulJ + attn.mulJ + lm.mulJ;
  const addJ = linear.addJ + attn.addJ + lm.addJ;
  const allMacs = m * lin.macs + attn.muls + lm.muls;
  return {
    linear,
    attention: attn,
    lmHead: lm,
    mulJ,
    addJ,
    totalJ: mulJ + addJ,
    multiplicationFreeShare: arithmetic === "ternary" ? (m * lin.macs) / allMacs : 0,
  };
}

/** Arithmetic energy of decoding one token of one sequence: its projections, the LM head (in the float format) and
 *  one query against `context` cached keys and values. */
export function decodeTokenEnergy(
  s: ModelShape,
  arithmetic: Arithmetic,
  context: number,
  node: ProcessNode,
  activationBits = 8,
): EnergyBreakdown {
  if (!Number.isInteger(context) || context < 0)
    throw new Error(`energy: context must be an integer ≥ 0, got ${context}`);
  const base = energy(s, arithmetic, {tokens: 1, node, attention: "none", includeLmHead: true, activationBits});
  const e = OP_ENERGY_PJ[node];
  const float = arithmetic === "fp32" ? "fp32" : "fp16";
  const d = s.headDim,
    T = context,
    heads = s.heads * s.layers;
  // Per head: q·Kᵀ is (1×d)(d×T), p·V is (1×T)(T×d).
  const attention = op(heads * 2 * d * T, heads * ((d - 1) * T + Math.max(0, T - 1) * d), e.mul[float], e.add[float]);
  const mulJ = base.mulJ + attention.mulJ,
    addJ = base.addJ + attention.addJ;
  const linearMacs = linearSums(s).macs;
  const allMacs = linearMacs + base.lmHead.muls + attention.muls;
  return {
    ...base,
    attention,
    mulJ,
    addJ,
    totalJ: mulJ + addJ,
    multiplicationFreeShare: arithmetic === "ternary" ? linearMacs / allMacs : 0,
  };
}

/** Energy of one multiply-accumulate: FP16 mul + add against a ternary INT8 add (the 71.4× of b1.58 §3). */
export function perMacRatio(node: ProcessNode): number {
  const e = OP_ENERGY_PJ[node];
  return (e.mul.fp16 + e.add.fp16) / e.add.int8;
}
