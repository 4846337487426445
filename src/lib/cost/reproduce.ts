// The papers' published cost numbers next to what this model computes from shapes and bits. Every row says how the
// model value was computed, the tolerance it is held to (and why), and — when it misses — why.
import {
  A48_ACTIVE_FRACTION,
  A48_TABLE2,
  A48_TABLE2_SOURCE,
  B158_70B,
  B158_ARITHMETIC_RATIO,
  B158_FIG3_ENERGY_RATIO,
  B158_FIG3_SOURCE,
  B158_TABLE1,
  B158_TABLE1_SOURCE,
  B158_TABLE3,
  B2B4T_PARAMS,
  B2B4T_TABLE1_ENERGY,
  B2B4T_TABLE1_MEMORY,
  B2B4T_TABLE1_SOURCE,
  BITNET_ENERGY_TABLE1,
  BITNET_ENERGY_TABLE1_SOURCE,
} from "../paper-tables.js";
import type {B158Table1Row} from "../paper-tables.js";
import {energy, perMacRatio} from "./energy.js";
import {memory} from "./memory.js";
import {precision} from "./precision.js";
import type {Precision} from "./precision.js";
import {getShape, paramCounts} from "./shapes.js";
import {activatedParams, upSparsityFromGate} from "./sparsity.js";
import {decodeStep, getHardware, maxBatch} from "./speed.js";

export type ReproGroup = "memory" | "energy" | "latency" | "throughput" | "sparsity";

export interface Tolerance {
  /** |model − paper| ≤ abs + rel·|paper| */
  rel: number;
  abs: number;
  why: string;
}

export interface ReproRow {
  id: string;
  group: ReproGroup;
  quantity: string;
  unit: string;
  paper: number;
  source: string;
  /** The paper value was read off a figure by a third party. */
  secondary: boolean;
  model: number;
  /** (model − paper) / paper */
  deviation: number;
  tolerance: Tolerance;
  within: boolean;
  /** How the model value was computed. */
  how: string;
  /** Why the model misses (rows outside tolerance only). */
  whyNot?: string;
}

function row(
  r: Omit<ReproRow, "deviation" | "within" | "secondary" | "whyNot"> & {secondary?: boolean; whyNot?: string},
): ReproRow {
  const within = Math.abs(r.model - r.paper) <= r.tolerance.abs + r.tolerance.rel * Math.abs(r.paper) + 1e-12;
  const out: ReproRow = {...r, secondary: r.secondary ?? false, deviation: (r.model - r.paper) / r.paper, within};
  if (within) delete out.whyNot;
  else if (!out.whyNot) throw new Error(`reproduction row ${r.id} misses its tolerance but gives no reason`);
  return out;
}

const FP16 = precision("fp16");
const B158 = precision("b1.58");
const precisionOf = (r: B158Table1Row): Precision => (r.model === "LLaMA" ? FP16 : B158);

/** The runtime allowance that best explains b1.58 Table 1's memory column: the least-squares (relative error) number
 *  of tokens of 16-bit KV cache added to the weights of the six rows whose shapes are known (3.9B is left out: its
 *  shape is assumed). One parameter for six numbers; the 3.9B row and the 70B ratio are then predictions. */
export function calibrateRuntimeTokens(): number {
  const rows = B158_TABLE1.filter((r) => r.size !== "3.9B");
  const err = (T: number) =>
    rows.reduce((e, r) => {
      const d = memory(getShape(r.size), precisionOf(r), {runtimeTokens: T}).total / 1e9 / r.memoryGB - 1;
      return e + d * d;
    }, 0);
  let best = 0,
    bestErr = Infinity;
  for (let T = 0; T <= 8192; T += 32) {
    const e = err(T);
    if (e < bestErr) {
      bestErr = e;
      best = T;
    }
  }
  return best;
}

/** The one runtime assumption for every b1.58 figure (Table 1, Fig. 2, Table 3 were all measured with
 *  FasterTransformer): K/V stored per attention head (FasterTransformer had no grouped-query attention,
 *  NVIDIA/FasterTransformer #727, #771), and memory beyond the weights is the KV cache the runtime preallocates —
 *  the fitted allowance of calibrateRuntimeTokens() in the single-sequence runs (Table 1, Fig. 2), the batch's own
 *  512-token caches in Table 3. It matters only at 70B, the one shape with grouped-query attention. */
export const B158_RUNTIME = {kvLayout: "per-attention-head" as const};

const MEM_TOL: Tolerance = {
  rel: 0.05,
  abs: 0.005,
  why: "5%: one fitted allowance stands in for everything the runtime held besides weights",
};
const ROUND_TOL = (digits: number): Tolerance => ({
  rel: 0.02,
  abs: 0.5 * 10 ** -digits,
  why: `half a unit of the paper's last digit (${10 ** -digits}) + 2%`,
});
const SPEED_TOL: Tolerance = {
  rel: 0.15,
  abs: 0,
  why: "15%: a bandwidth/compute roof is an idealisation; real kernels reach 70–95% of it",
};

export function memoryRows(): ReproRow[] {
  const T = calibrateRuntimeTokens();
  const rows: ReproRow[] = [];
  const how = (p: Precision) =>
    `weights (linear at ${p.weightBits} bits, embedding + untied LM head at 16) + a runtime allowance of ${T} tokens of 16-bit KV cache stored per attention head (fitted, see calibrateRuntimeTokens)`;
  const total = (size: string, p: Precision, kvLayout: "model" | "per-attention-head" = B158_RUNTIME.kvLayout) =>
    memory(getShape(size), p, {runtimeTokens: T, kvLayout}).total / 1e9;
  for (const r of B158_TABLE1) {
    const p = precisionOf(r);
    const m = memory(getShape(r.size), p, {runtimeTokens: T, ...B158_RUNTIME});
    rows.push(
      row({
        id: `mem-${r.model === "LLaMA" ? "llama" : "b158"}-${r.size}`,
        group: "memory",
        quantity: `Memory, ${r.model} ${r.size}`,
        unit: "GB",
        paper: r.memoryGB,
        source: B158_TABLE1_SOURCE,
        model: m.total / 1e9,
        tolerance: MEM_TOL,
        how: `${how(p)}; weights alone ${(m.weights / 1e9).toFixed(2)} GB`,
        whyNot:
          r.size === "3.9B"
            ? "the paper gives no 3.9B shape; the assumed 3B shape with 32 layers adds six layers of runtime KV allowance. The paper's 3B→3.9B increase (0.16 GB) is about the extra ternary weights alone, so its 3.9B is probably wider, not deeper"
            : undefined,
      }),
    );
  }
  const ratio = (
    num: number,
    den: number,
    id: string,
    quantity: string,
    paper: number,
    source: string,
    secondary = false,
    whyNot?: string,
  ) =>
    rows.push(
      row({
        id,
        group: "memory",
        quantity,
        unit: "×",
        paper,
        source,
        secondary,
        model: num / den,
        tolerance: MEM_TOL,
        how: "ratio of the two memory totals above (same runtime allowance)",
        whyNot,
      }),
    );
  ratio(total("3B", FP16), total("3B", B158), "mem-ratio-3B", "Memory reduction, 3B", 3.55, B158_TABLE1_SOURCE);
  ratio(
    total("3B", FP16),
    total("3.9B", B158),
    "mem-ratio-3.9B",
    "Memory reduction, b1.58 3.9B vs LLaMA 3B",
    3.32,
    B158_TABLE1_SOURCE,
    false,
    "follows the 3.9B memory row above (assumed shape)",
  );
  const gqa70 = total("70B", FP16, "model") / total("70B", B158, "model");
  ratio(
    total("70B", FP16),
    total("70B", B158),
    "mem-ratio-70B",
    "Memory reduction, 70B",
    B158_70B.memoryReduction.value,
    B158_70B.memoryReduction.source,
    true,
    `with the runtime's K/V per attention head — the assumption Table 3's LLaMA batch of 16 needs — the fitted ${T}-token allowance is 8× larger at 70B (64 heads, 8 KV heads) and weighs on both models alike; stored grouped-query it would give ${gqa70.toFixed(2)}×, close to the figure, but then Table 3's LLaMA batch would be ${table3Scenario({kvLayout: "model"}).llamaBatch}, not 16. One assumption cannot match both; the 7.16× is also a third party's reading of a bar chart, and Fig. 2's runtime may have preallocated less`,
  );
  // 2B4T Table 1: non-embedding memory of the compared models (linear weights only).
  for (const r of B2B4T_TABLE1_MEMORY) {
    const s = getShape(r.shape);
    rows.push(
      row({
        id: `mem-nonemb-${r.shape}`,
        group: "memory",
        quantity: `Non-embedding memory, ${s.label}`,
        unit: "GB",
        paper: r.memoryGB,
        source: B2B4T_TABLE1_SOURCE,
        model: (paramCounts(s).linear * r.bits) / 8 / 1e9,
        tolerance: {rel: 0.02, abs: 0.05, why: "the report rounds to 0.1 GB; + 2%"},
        how: `${(paramCounts(s).linear / 1e9).toFixed(3)}B projection weights × ${r.bits === 16 ? "16 bits (BF16)" : "log₂3 bits"}`,
      }),
    );
  }
  rows.push(
    row({
      id: "params-2B4T",
      group: "memory",
      quantity: "Parameters, BitNet b1.58 2B4T",
      unit: "params",
      paper: B2B4T_PARAMS.value,
      source: B2B4T_PARAMS.source,
      model: paramCounts(getShape("2B4T")).total,
      tolerance: {rel: 0, abs: 0, why: "an exact count"},
      how: "linear + tied embedding + RMSNorm gains (including the two sub-norms per layer)",
    }),
  );
  return rows;
}

export function energyRows(): ReproRow[] {
  const rows: ReproRow[] = [];
  rows.push(
    row({
      id: "energy-71x",
      group: "energy",
      quantity: "Arithmetic energy per multiply-accumulate, FP16 / ternary INT8 (7 nm)",
      unit: "×",
      paper: B158_ARITHMETIC_RATIO.value,
      source: B158_ARITHMETIC_RATIO.source,
      model: perMacRatio("7nm"),
      tolerance: ROUND_TOL(1),
      how: "(FP16 mul 0.34 + FP16 add 0.16 pJ) / INT8 add 0.007 pJ, BitNet Table 2",
    }),
  );
  const shapeOf = {"6.7B": "bitnet-6.7B", "13B": "bitnet-13B", "30B": "bitnet-30B"} as const;
  for (const r of BITNET_ENERGY_TABLE1) {
    const arith = r.wbits === 32 ? "fp32" : r.wbits === 16 ? "fp16" : "ternary";
    const s = getShape(shapeOf[r.size]);
    const e7 = energy(s, arith, {tokens: 512, node: "7nm"});
    const e45 = energy(s, arith, {tokens: 512, node: "45nm"});
    const name = r.wbits === 1 ? "BitNet" : `FP${r.wbits}`;
    const cells = [
      ["mul", "7nm", r.mul7, e7.mulJ],
      ["add", "7nm", r.add7, e7.addJ],
      ["mul", "45nm", r.mul45, e45.mulJ],
      ["add", "45nm", r.add45, e45.addJ],
    ] as const;
    for (const [kind, node, paper, model] of cells) {
      const miss = r.size === "6.7B" && r.wbits === 1 && kind === "add" && node === "7nm";
      rows.push(
        row({
          id: `energy-bitnet-${r.size}-${r.wbits}-${kind}-${node}`,
          group: "energy",
          quantity: `${kind === "mul" ? "Multiplication" : "Addition"} energy, ${name} ${r.size}, ${node}`,
          unit: "J",
          paper,
          source: BITNET_ENERGY_TABLE1_SOURCE,
          model,
          tolerance: ROUND_TOL(2),
          how: `512 tokens through ${s.label}: projections ${arith === "ternary" ? "as INT8 additions + FP16 rescaling" : `in ${arith.toUpperCase()}`}, full 512×512 attention in ${arith === "fp32" ? "FP32" : "FP16"}, no LM head`,
          whyNot: miss
            ? "0.034 J rounds to 0.03, not 0.04; the two other sizes' BitNet additions match, so the paper likely counted something small extra here (or rounded up)"
            : undefined,
        }),
      );
    }
  }
  for (const r of B158_FIG3_ENERGY_RATIO) {
    const s = getShape(r.size);
    const f = energy(s, "fp16", {tokens: 512, node: "7nm"});
    const t = energy(s, "ternary", {tokens: 512, node: "7nm"});
    rows.push(
      row({
        id: `energy-e2e-${r.size}`,
        group: "energy",
        quantity: `End-to-end matmul energy, LLaMA / b1.58 ${r.size} (7 nm)`,
        unit: "×",
        paper: r.ratio,
        source: B158_FIG3_SOURCE,
        secondary: true,
        model: f.totalJ / t.totalJ,
        tolerance: {rel: 0.05, abs: 0, why: "5%: a ratio read off a bar chart"},
        how: "512 tokens; projections FP16 vs ternary INT8 adds; attention FP16 in both (its share sets the ratio below 71.4×)",
        whyNot:
          r.size === "3B"
            ? "the model's 3B (C 3200, FFN 8640) has a 2.6% attention share, which gives 25×; 21.7× needs a larger share (≈3.3%). The figure value is secondary; the other three sizes match"
            : undefined,
      }),
    );
  }
  // 2B4T report: "estimated" decode energy per token, LLaMA 3.2 1B vs BitNet 2B.
  const l = energy(getShape("llama3.2-1B"), "fp16", {tokens: 1, node: "7nm", attention: "none", includeLmHead: true});
  const b = energy(getShape("2B4T"), "ternary", {tokens: 1, node: "7nm", attention: "none", includeLmHead: true});
  rows.push(
    row({
      id: "energy-2b4t-ratio",
      group: "energy",
      quantity: "Decode energy per token, LLaMA 3.2 1B / BitNet 2B4T",
      unit: "×",
      paper: B2B4T_TABLE1_ENERGY.llama1B / B2B4T_TABLE1_ENERGY.bitnet,
      source: B2B4T_TABLE1_SOURCE,
      model: l.totalJ / b.totalJ,
      tolerance: {rel: 0.1, abs: 0, why: "10%"},
      how: `one token, 7 nm, LM head in FP16 in both: ${(l.totalJ * 1e3).toFixed(3)} mJ vs ${(b.totalJ * 1e3).toFixed(3)} mJ`,
      whyNot: `the report's absolute estimates (${B2B4T_TABLE1_ENERGY.llama1B} J, ${B2B4T_TABLE1_ENERGY.bitnet} J per token) are ~400× and ~150× this arithmetic energy, so they count more than matmul arithmetic (e.g. memory traffic); the method is not described`,
    }),
  );
  return rows;
}

/** The b1.58 latency setting as modelled: one sequence, bandwidth-bound on an A100 80GB (the paper's Table 3 GPU;
 *  Table 1 names none), 512 tokens of 16-bit KV cache. */
function latencyMs(size: string, p: Precision): number {
  return decodeStep(getShape(size), p, {
    bandwidthGBps: getHardware("a100-80").bandwidthGBps,
    context: 512,
    ...B158_RUNTIME,
  }).stepMs;
}

export function latencyRows(): ReproRow[] {
  const rows: ReproRow[] = [];
  const HOW =
    "bytes per decoded token (weights + LM head + 512 tokens of KV, per attention head) / 2039 GB/s (A100 80GB)";
  for (const r of B158_TABLE1) {
    const model = latencyMs(r.size, precisionOf(r));
    rows.push(
      row({
        id: `lat-${r.model === "LLaMA" ? "llama" : "b158"}-${r.size}`,
        group: "latency",
        quantity: `Decode latency, ${r.model} ${r.size}`,
        unit: "ms",
        paper: r.latencyMs,
        source: B158_TABLE1_SOURCE,
        model,
        tolerance: SPEED_TOL,
        how: HOW,
        whyNot:
          r.model === "LLaMA"
            ? `the measured time is ${(r.latencyMs / model).toFixed(1)}× the bandwidth floor: launch/synchronisation overheads and kernels below peak bandwidth, which the model does not have`
            : `the measured time is ${(r.latencyMs / model).toFixed(1)}× the bandwidth floor: at this size a b1.58 token is overhead-bound (700M and 1.3B take 0.96 and 0.97 ms with 1.6× different weight bytes)`,
      }),
    );
  }
  const ratio = (id: string, quantity: string, paper: number, source: string, fp: string, bn: string) => {
    const model = latencyMs(fp, FP16) / latencyMs(bn, B158);
    rows.push(
      row({
        id,
        group: "latency",
        quantity,
        unit: "×",
        paper,
        source,
        model,
        tolerance: SPEED_TOL,
        how: `ratio of bandwidth floors (${HOW})`,
        whyNot:
          "the byte ratio is the best a bandwidth-bound kernel can do; the measured speed-up is smaller because fixed overheads and the 2-bit kernel's efficiency do not shrink with the weights",
      }),
    );
  };
  ratio("lat-ratio-3B", "Decode speed-up, 3B", 2.71, B158_TABLE1_SOURCE, "3B", "3B");
  ratio("lat-ratio-3.9B", "Decode speed-up, b1.58 3.9B vs LLaMA 3B", 2.4, B158_TABLE1_SOURCE, "3B", "3.9B");
  ratio(
    "lat-ratio-70B",
    "Decode speed-up, 70B",
    B158_70B.latencySpeedup.value,
    B158_70B.latencySpeedup.source,
    "70B",
    "70B",
  );
  return rows;
}

/** b1.58 Table 3 as modelled: LLaMA-2-70B shape, 2 × 80 GB, 512 tokens per sequence, the runtime of B158_RUNTIME
 *  (K/V per attention head; the memory beyond the weights is the batch's own preallocated caches, so no further
 *  reserve), 16-bit KV for LLaMA and 8-bit KV for b1.58 (the paper's own discussion: 8-bit activations halve the KV
 *  memory). Step time: roofline over both GPUs. `kvLayout` only for showing what the other assumption would give. */
export function table3Scenario(opts: {kvLayout?: "model" | "per-attention-head"} = {}) {
  const s = getShape("70B");
  const hw = getHardware("a100-80");
  const {devices, memoryGBPerDevice, context} = B158_TABLE3.setup;
  const llama = FP16;
  const bitnet = precision("b1.58", {kvBits: 8});
  const kvLayout = opts.kvLayout ?? B158_RUNTIME.kvLayout;
  const batchOpts = {memoryGB: devices * memoryGBPerDevice, context, kvLayout};
  const step = (p: Precision, batch: number) =>
    decodeStep(s, p, {
      batch,
      context,
      kvLayout,
      bandwidthGBps: hw.bandwidthGBps,
      devices,
      peakTops: p.arithmetic === "ternary" ? hw.peakTops!.int8 : hw.peakTops!.fp16,
    });
  return {
    shape: s,
    hardware: hw,
    llama,
    bitnet,
    batchOpts,
    llamaBatch: maxBatch(s, llama, batchOpts),
    bitnetBatch: maxBatch(s, bitnet, batchOpts),
    bitnetBatch16BitKV: maxBatch(s, B158, batchOpts),
    step,
  };
}

export function throughputRows(): ReproRow[] {
  const sc = table3Scenario();
  const src = B158_TABLE3.source;
  const rows: ReproRow[] = [];
  const HOWB = "largest batch whose 512-token KV cache fits in 160 GB next to the weights; K/V per attention head";
  rows.push(
    row({
      id: "tp-batch-llama",
      group: "throughput",
      quantity: "Max batch, LLaMA 70B",
      unit: "seqs",
      paper: B158_TABLE3.llama.maxBatch,
      source: src,
      model: sc.llamaBatch,
      tolerance: {rel: 0.1, abs: 0, why: "10%"},
      how: `${HOWB}, 16-bit KV`,
    }),
  );
  rows.push(
    row({
      id: "tp-batch-b158",
      group: "throughput",
      quantity: "Max batch, b1.58 70B",
      unit: "seqs",
      paper: B158_TABLE3.bitnet.maxBatch,
      source: src,
      model: sc.bitnetBatch,
      tolerance: {rel: 0.1, abs: 0, why: "10%"},
      how: `${HOWB}, 8-bit KV`,
      whyNot: `with 16-bit KV the same model fits ${sc.bitnetBatch16BitKV}; the paper's ${B158_TABLE3.bitnet.maxBatch} lies between the 16-bit and 8-bit bounds, and the paper does not say how its runtime stored the cache or what else it reserved`,
    }),
  );
  const tl = sc.step(sc.llama, B158_TABLE3.llama.maxBatch);
  const tb = sc.step(sc.bitnet, B158_TABLE3.bitnet.maxBatch);
  const HOWT = (b: number) =>
    `batch ${b} (the paper's), step = max(bytes / (2 × 2039 GB/s), ops / (2 × peak)), both GPUs busy`;
  rows.push(
    row({
      id: "tp-llama",
      group: "throughput",
      quantity: "Throughput, LLaMA 70B",
      unit: "tokens/s",
      paper: B158_TABLE3.llama.tokensPerSecond,
      source: src,
      model: tl.tokensPerSecond,
      tolerance: SPEED_TOL,
      how: `${HOWT(16)}; ${tl.bound}-bound`,
      whyNot: `the paper reached ${((100 * B158_TABLE3.llama.tokensPerSecond) / tl.tokensPerSecond).toFixed(0)}% of the roof: pipeline bubbles and kernels below peak`,
    }),
  );
  rows.push(
    row({
      id: "tp-b158",
      group: "throughput",
      quantity: "Throughput, b1.58 70B",
      unit: "tokens/s",
      paper: B158_TABLE3.bitnet.tokensPerSecond,
      source: src,
      model: tb.tokensPerSecond,
      tolerance: SPEED_TOL,
      how: `${HOWT(176)}, 8-bit KV; ${tb.bound}-bound`,
      whyNot: `the paper reached ${((100 * B158_TABLE3.bitnet.tokensPerSecond) / tb.tokensPerSecond).toFixed(0)}% of the roof; reading 16-bit KV instead would give ${sc.step(B158, 176).tokensPerSecond.toFixed(0)} tokens/s, so the measured run behaves as if its KV traffic were 16-bit while its batch says otherwise`,
    }),
  );
  rows.push(
    row({
      id: "tp-ratio",
      group: "throughput",
      quantity: "Throughput gain, 70B",
      unit: "×",
      paper: B158_TABLE3.bitnet.tokensPerSecond / B158_TABLE3.llama.tokensPerSecond,
      source: src,
      model: tb.tokensPerSecond / tl.tokensPerSecond,
      tolerance: SPEED_TOL,
      how: "ratio of the two rows above",
      whyNot: "follows from the two throughput rows",
    }),
  );
  return rows;
}

export function sparsityRows(): ReproRow[] {
  const rows: ReproRow[] = [];
  for (const r of A48_TABLE2) {
    const s = getShape(r.size);
    const a = activatedParams(s, r);
    const unit = r.size === "700M" ? 1e6 : 1e8; // the table prints 679M at 700M, 1.2B / 0.7B above
    const miss = r.model === "BitNet a4.8" && r.size === "7B";
    rows.push(
      row({
        id: `act-${r.model.replace(/\W+/g, "")}-${r.size}`,
        group: "sparsity",
        quantity: `Activated parameters, ${r.model} ${r.size}`,
        unit: "params",
        paper: r.activatedParams,
        source: A48_TABLE2_SOURCE,
        model: a.active,
        tolerance: {
          rel: 0.01,
          abs: unit / 2,
          why: `half the paper's last printed digit (${unit === 1e6 ? "1M" : "0.1B"}) + 1%`,
        },
        how: "Σ over QKV/Out/Up/Gate/Down of parameters × (1 − the table's sparsity)",
        whyNot: miss
          ? `the paper's own overall sparsity (44.5% of ${(a.total / 1e9).toFixed(2)}B) leaves ${((a.total * 0.555) / 1e9).toFixed(2)}B active, not 3.4B: the table is inconsistent with itself here`
          : undefined,
      }),
    );
    if (r.model !== "LLaMA") {
      rows.push(
        row({
          id: `overall-${r.model.replace(/\W+/g, "")}-${r.size}`,
          group: "sparsity",
          quantity: `Overall sparsity, ${r.model} ${r.size}`,
          unit: "%",
          paper: r.overall,
          source: A48_TABLE2_SOURCE,
          model: a.overallPercent,
          tolerance: {rel: 0, abs: 0.3, why: "0.3 points: the components are printed to 0.1"},
          how: "parameter-weighted mean of the component sparsities",
        }),
      );
    }
  }
  const a7 = A48_TABLE2.find((r) => r.model === "BitNet a4.8" && r.size === "7B")!;
  rows.push(
    row({
      id: "act-fraction-a48",
      group: "sparsity",
      quantity: "Active fraction, a4.8 7B",
      unit: "%",
      paper: 100 * A48_ACTIVE_FRACTION.value,
      source: A48_ACTIVE_FRACTION.source,
      model: 100 * activatedParams(getShape("7B"), a7).activeFraction,
      tolerance: {rel: 0, abs: 1, why: "the abstract's 55% is 100 − 44.5 = 55.5 cut to a whole percent"},
      how: "activated / non-embedding parameters from Table 2's per-component sparsity",
    }),
  );
  rows.push(
    row({
      id: "up-from-gate",
      group: "sparsity",
      quantity: "Up-projection sparsity from gate sparsity, a4.8 7B",
      unit: "%",
      paper: a7.up,
      source: `${A48_TABLE2_SOURCE} and §3 text`,
      model: upSparsityFromGate(12.0, 67.5),
      tolerance: {rel: 0, abs: 0.05, why: "printed to 0.1"},
      how: "1 − (1 − 12.0%)(1 − 67.5%)",
    }),
  );
  return rows;
}

/** Every reproduced figure. */
export function reproductionTable(): ReproRow[] {
  return [...memoryRows(), ...energyRows(), ...latencyRows(), ...throughputRows(), ...sparsityRows()];
}
