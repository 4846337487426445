// Reproduced memory and energy figures (b1.58 Table 1 and Fig. 3, 2B4T Table 1, BitNet's energy table).
import {
  B158_70B,
  B158_ARITHMETIC_RATIO,
  B158_FIG3_ENERGY_RATIO,
  B158_FIG3_SOURCE,
  B158_TABLE1,
  B158_TABLE1_SOURCE,
  B2B4T_PARAMS,
  B2B4T_TABLE1_ENERGY,
  B2B4T_TABLE1_MEMORY,
  B2B4T_TABLE1_SOURCE,
  BITNET_ENERGY_TABLE1,
  BITNET_ENERGY_TABLE1_SOURCE,
} from "../paper-tables.js";
import {energy, perMacRatio} from "./energy.js";
import {memory} from "./memory.js";
import type {Precision} from "./precision.js";
import {getShape, paramCounts} from "./shapes.js";
import {table3Scenario} from "./repro-speed.js";
import {
  B158,
  B158_RUNTIME,
  calibrateRuntimeTokens,
  FP16,
  MEM_TOL,
  precisionOf,
  ROUND_TOL,
  type ReproRow,
  row,
} from "./repro-rows.js";

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
