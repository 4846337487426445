// Each published figure the cost model reproduces, against the paper's value within the row's stated tolerance;
// and, for the figures it cannot reproduce, the documented direction and size of the miss, so that a change to the
// model that silently moves them shows up here.
import {describe, expect, it} from "vitest";
import {
  calibrateRuntimeTokens,
  energyRows,
  getShape,
  latencyRows,
  memory,
  memoryRows,
  precision,
  reproductionTable,
  sparsityRows,
  table3Scenario,
  throughputRows,
} from "../../src/lib/cost.js";
import type {ReproRow} from "../../src/lib/cost.js";
import {B158_TABLE1, BITNET_ENERGY_TABLE1} from "../../src/lib/paper-tables.js";

const rows = reproductionTable();
const byId = new Map(rows.map((r) => [r.id, r]));
const get = (id: string): ReproRow => {
  const r = byId.get(id);
  if (!r) throw new Error(`no reproduction row ${id}`);
  return r;
};
const within = (r: ReproRow) =>
  Math.abs(r.model - r.paper) <= r.tolerance.abs + r.tolerance.rel * Math.abs(r.paper) + 1e-12;

/** The figures the model does not reproduce, each explained in its row (and in the report). */
const EXPECTED_MISSES = new Set([
  "mem-b158-3.9B",
  "mem-ratio-3.9B", // no published 3.9B shape
  "mem-ratio-70B", // one runtime assumption for Fig. 2 and Table 3: per-head K/V, which Table 3 needs
  "energy-bitnet-6.7B-1-add-7nm", // 0.034 J vs a printed 0.04
  "energy-e2e-3B", // secondary figure reading
  "energy-2b4t-ratio", // the report's estimate counts more than arithmetic
  ...B158_TABLE1.map((r) => `lat-${r.model === "LLaMA" ? "llama" : "b158"}-${r.size}`), // overheads the model lacks
  "lat-ratio-3B",
  "lat-ratio-3.9B",
  "lat-ratio-70B",
  "tp-batch-b158",
  "tp-llama",
  "tp-b158",
  "tp-ratio", // runtime details the paper does not give
  "act-BitNeta48-7B", // the paper's own table is inconsistent
]);

describe("the reproduction table", () => {
  it("has one row per figure, unique ids, sources, and a reason for every miss", () => {
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    expect(rows.filter((r) => r.group === "energy" && r.id.startsWith("energy-bitnet-")).length).toBe(
      BITNET_ENERGY_TABLE1.length * 4,
    );
    for (const r of rows) {
      expect(r.source.length, r.id).toBeGreaterThan(5);
      expect(r.how.length, r.id).toBeGreaterThan(5);
      expect(Number.isFinite(r.model), r.id).toBe(true);
      expect(r.within, r.id).toBe(within(r));
      if (!r.within) expect(r.whyNot, r.id).toMatch(/\w{4,}/);
    }
  });

  it("misses exactly the documented figures", () => {
    const misses = rows.filter((r) => !r.within).map((r) => r.id);
    expect(new Set(misses)).toEqual(EXPECTED_MISSES);
  });
});

describe("memory (b1.58 Table 1, Fig. 2; 2B4T Table 1)", () => {
  it("one fitted runtime allowance explains Table 1 within 5%", () => {
    const T = calibrateRuntimeTokens();
    // A few thousand tokens of 16-bit KV: about what a runtime preallocating a 2048-token cache plus buffers holds.
    expect(T).toBeGreaterThan(2048);
    expect(T).toBeLessThan(4096);
    for (const id of [
      "mem-llama-700M",
      "mem-b158-700M",
      "mem-llama-1.3B",
      "mem-b158-1.3B",
      "mem-llama-3B",
      "mem-b158-3B",
    ]) {
      expect(Math.abs(get(id).deviation), id).toBeLessThanOrEqual(0.05);
    }
  });

  it("the gap to the weights alone is runtime memory, about equal for LLaMA and b1.58 at one size", () => {
    for (const size of ["700M", "1.3B", "3B"] as const) {
      const s = getShape(size);
      const paper = (m: string) => B158_TABLE1.find((r) => r.size === size && r.model === m)!.memoryGB;
      const gapL = paper("LLaMA") - memory(s, precision("fp16")).weights / 1e9;
      const gapB = paper("BitNet b1.58") - memory(s, precision("b1.58")).weights / 1e9;
      expect(gapL, size).toBeGreaterThan(0.3);
      expect(Math.abs(gapL - gapB) / gapL, size).toBeLessThan(0.2);
    }
  });

  it("3B reduction 3.55× within 5%; at 70B one runtime assumption cannot give both Fig. 2's 7.16× and Table 3's batch 16", () => {
    expect(get("mem-ratio-3B").model).toBeCloseTo(3.55, 1);
    // The assumption used everywhere (B158_RUNTIME): K/V per attention head, as FasterTransformer stored it.
    // It reproduces Table 3's LLaMA batch of 16 exactly and puts the 70B memory ratio at 5.6×, 22% under 7.16×.
    expect(get("tp-batch-llama").model).toBe(16);
    expect(get("mem-ratio-70B").model).toBeGreaterThan(5.4);
    expect(get("mem-ratio-70B").model).toBeLessThan(5.8);
    // The other assumption (grouped-query K/V) matches the ratio (7.26×) but makes Table 3's batch 131, not 16.
    const T = calibrateRuntimeTokens();
    const s = getShape("70B");
    const gqa =
      memory(s, precision("fp16"), {runtimeTokens: T}).total / memory(s, precision("b1.58"), {runtimeTokens: T}).total;
    expect(Math.abs(gqa / 7.16 - 1)).toBeLessThan(0.05);
    expect(table3Scenario({kvLayout: "model"}).llamaBatch).toBeGreaterThan(100);
    expect(get("mem-ratio-70B").whyNot).toMatch(/Table 3/);
  });

  it("2B4T 0.4 GB non-embedding at log₂3 bits, the compared models at 16 bits, and the exact parameter count", () => {
    expect(get("mem-nonemb-2B4T").model).toBeCloseTo(0.4129, 3);
    for (const id of ["llama3.2-1B", "gemma3-1B", "qwen2.5-1.5B", "smollm2-1.7B", "minicpm-2B"])
      expect(get(`mem-nonemb-${id}`).within, id).toBe(true);
    expect(get("params-2B4T").model).toBe(2_412_820_480);
  });

  it("3.9B: the assumed 32-layer shape overshoots (documented)", () => {
    expect(get("mem-b158-3.9B").deviation).toBeGreaterThan(0.05);
    expect(get("mem-b158-3.9B").deviation).toBeLessThan(0.15);
  });
});

describe("energy (BitNet Table 1, b1.58 §3 and Fig. 3)", () => {
  it("71.4× to the printed digit", () => {
    expect(get("energy-71x").model.toFixed(1)).toBe("71.4");
  });

  it("all 36 cells of BitNet Table 1 but one within half a printed unit + 2%", () => {
    const cells = energyRows().filter((r) => r.id.startsWith("energy-bitnet-"));
    expect(cells.filter((r) => r.within).length).toBe(35);
    // The full-precision cells are reproduced to about 0.5%: the shapes and the formulas are the paper's.
    for (const r of cells.filter((c) => !c.id.includes("-1-"))) expect(Math.abs(r.deviation), r.id).toBeLessThan(0.005);
    const miss = get("energy-bitnet-6.7B-1-add-7nm");
    expect(miss.model).toBeGreaterThan(0.03);
    expect(miss.model).toBeLessThan(0.035);
  });

  it("end-to-end ratios 18.6× / 32.9× / 41.2× within 5%; 3B predicted higher than the figure", () => {
    for (const size of ["1.3B", "13B", "70B"])
      expect(Math.abs(get(`energy-e2e-${size}`).deviation), size).toBeLessThan(0.05);
    expect(get("energy-e2e-3B").model).toBeGreaterThan(get("energy-e2e-3B").paper);
    // The ratio grows with size (attention's FP16 share shrinks) and stays below the per-MAC 71.4×.
    const r = ["1.3B", "3B", "13B", "70B"].map((s) => get(`energy-e2e-${s}`).model);
    for (let i = 1; i < r.length; i++) expect(r[i]).toBeGreaterThan(r[i - 1]);
    expect(r[3]).toBeLessThan(71.4);
  });
});

describe("latency (b1.58 Table 1, Fig. 2) — not reproducible by a bandwidth model", () => {
  it("every measured latency lies above the bandwidth floor, and every speed-up below the byte ratio", () => {
    for (const r of latencyRows()) {
      if (r.unit === "ms") expect(r.model, r.id).toBeLessThan(r.paper);
      else expect(r.model, r.id).toBeGreaterThan(r.paper);
    }
  });

  it("LLaMA sits 1.2–1.6× above the floor; small b1.58 models 3–6× (overhead-bound)", () => {
    for (const size of ["700M", "1.3B", "3B"]) {
      const f = get(`lat-llama-${size}`).paper / get(`lat-llama-${size}`).model;
      expect(f, size).toBeGreaterThan(1.1);
      expect(f, size).toBeLessThan(1.7);
      const g = get(`lat-b158-${size}`).paper / get(`lat-b158-${size}`).model;
      expect(g, size).toBeGreaterThan(3);
      expect(g, size).toBeLessThan(6);
    }
  });
});

describe("throughput (b1.58 Table 3)", () => {
  it("LLaMA 70B: batch 16 exactly, with K/V per attention head at 16 bits", () => {
    expect(get("tp-batch-llama").model).toBe(16);
    // With grouped-query K/V the same memory would hold 8× more sequences — the paper's runtime did not have GQA.
    const sc = table3Scenario();
    expect(sc.llamaBatch).toBe(16);
  });

  it("b1.58 70B: the paper's batch 176 lies between the 16-bit and 8-bit KV bounds", () => {
    const sc = table3Scenario();
    expect(sc.bitnetBatch16BitKV).toBeLessThan(176);
    expect(sc.bitnetBatch).toBeGreaterThan(176);
    expect(sc.bitnetBatch16BitKV).toBe(105);
    expect(sc.bitnetBatch).toBe(211);
  });

  it("measured throughput is below the roofline (81% for LLaMA, 56% for b1.58)", () => {
    const t = throughputRows();
    for (const r of t.filter((x) => x.unit === "tokens/s")) expect(r.model, r.id).toBeGreaterThan(r.paper);
    expect(get("tp-llama").paper / get("tp-llama").model).toBeCloseTo(0.81, 2);
    expect(get("tp-b158").paper / get("tp-b158").model).toBeCloseTo(0.56, 2);
  });
});

describe("a4.8 activated parameters (Table 2, abstract)", () => {
  it("all sizes within the printed digit except a4.8 7B, whose 3.4B contradicts its own 44.5%", () => {
    const s = sparsityRows();
    expect(s.filter((r) => !r.within).map((r) => r.id)).toEqual(["act-BitNeta48-7B"]);
    const r = get("act-BitNeta48-7B");
    expect(r.model / 1e9).toBeCloseTo(6.476 * 0.555, 1);
    expect(get("overall-BitNeta48-7B").model).toBeCloseTo(44.5, 1);
    expect(get("act-fraction-a48").model).toBeCloseTo(55.5, 1);
  });

  it("LLaMA's activated parameters equal the assumed shapes' projection counts (validates the b1.58 shapes)", () => {
    for (const size of ["700M", "1.3B", "3B", "7B"]) expect(get(`act-LLaMA-${size}`).within, size).toBe(true);
    expect(get("act-LLaMA-700M").model).toBe(679_477_248);
  });
});

it("every group is present", () => {
  const groups = new Set(rows.map((r) => r.group));
  expect([...groups].sort()).toEqual(["energy", "latency", "memory", "sparsity", "throughput"]);
  expect(
    memoryRows().length + energyRows().length + latencyRows().length + throughputRows().length + sparsityRows().length,
  ).toBe(rows.length);
});
