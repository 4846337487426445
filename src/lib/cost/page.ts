// The cost chapter's URL state and the curves its charts draw, DOM-free so they are unit-tested.
import type {ProcessNode} from "../paper-tables.js";
import {bool, int, num, oneOf} from "../url-state.js";
import type {StateOf} from "../url-state.js";
import {decodeTokenEnergy} from "./energy.js";
import {memory} from "./memory.js";
import {customPrecision, precision} from "./precision.js";
import type {Precision} from "./precision.js";
import {B158_LADDER, SHAPES, getShape, paramCounts} from "./shapes.js";
import type {ModelShape} from "./shapes.js";
import {decodeStep, maxBatch} from "./speed.js";

export const WEIGHT_BITS = ["16", "8", "4", "2", "1.58"] as const;
export const ACT_BITS = ["16", "8", "4"] as const;
export const KV_BITS = ["16", "8", "4", "3"] as const;
export const REPRO_GROUPS = ["all", "memory", "energy", "latency", "throughput", "sparsity"] as const;

export const CUSTOM = "custom";

export const COST_PAGE_SCHEMA = {
  model: oneOf([...SHAPES.map((s) => s.id), CUSTOM], "7B"),
  wbits: oneOf(WEIGHT_BITS, "2"),
  abits: oneOf(ACT_BITS, "8"),
  kvbits: oneOf(KV_BITS, "16"),
  context: int(2048, 0, 131072),
  batch: int(1, 1, 4096),
  bw: num(2039, 1, 100000),
  mem: num(80, 1, 10000),
  node: oneOf(["7nm", "45nm"] as const, "7nm"),
  group: oneOf(REPRO_GROUPS, "all"),
  // A custom shape (model=custom), 2B4T's by default.
  hidden: int(2560, 8, 65536),
  ffn: int(6912, 8, 262144),
  layers: int(30, 1, 512),
  heads: int(20, 1, 1024),
  kvheads: int(5, 1, 1024),
  vocab: int(128256, 2, 2_000_000),
  tied: bool(true),
};
export type CostPageState = StateOf<typeof COST_PAGE_SCHEMA>;

export const bitsOf = (b: string): number => (b === "1.58" ? Math.log2(3) : Number(b));

/** The precision the reader picked; embeddings stay at 16 bits. */
export function chosenPrecision(st: Pick<CostPageState, "wbits" | "abits" | "kvbits">): Precision {
  return customPrecision(bitsOf(st.wbits), bitsOf(st.abits), bitsOf(st.kvbits));
}

/** The baseline: weights, activations and KV cache all at 16 bits. */
export const BASELINE = precision("fp16");

export interface Point {
  series: string;
  x: number;
  y: number;
  xLabel?: string;
}

/** The selected shape: a catalog model, or the custom fields (validated; a bad combination falls back to 2B4T's
 *  shape with a message naming the fields). */
export function selectedShape(
  st: Pick<CostPageState, "model" | "hidden" | "ffn" | "layers" | "heads" | "kvheads" | "vocab" | "tied">,
): {shape: ModelShape; issue?: string} {
  if (st.model !== CUSTOM) return {shape: getShape(st.model)};
  const problems: string[] = [];
  if (st.hidden % st.heads !== 0) problems.push(`heads (${st.heads}) must divide hidden (${st.hidden})`);
  if (st.heads % st.kvheads !== 0) problems.push(`kvheads (${st.kvheads}) must divide heads (${st.heads})`);
  if (problems.length)
    return {shape: getShape("2B4T"), issue: `custom shape: ${problems.join("; ")}; showing BitNet b1.58 2B4T instead`};
  return {
    shape: {
      id: CUSTOM,
      label: `custom (C ${st.hidden}, ${st.layers} layers)`,
      source: "the custom-shape fields of this page",
      hidden: st.hidden,
      ffn: st.ffn,
      layers: st.layers,
      heads: st.heads,
      kvHeads: st.kvheads,
      headDim: st.hidden / st.heads,
      vocab: st.vocab,
      ffnKind: "glu",
      tiedEmbedding: st.tied,
      subNorms: false,
    },
  };
}

/** The b1.58 size ladder plus the selected shape (if it is not on it). */
export function ladder(selected?: ModelShape | string): ModelShape[] {
  const shapes = B158_LADDER.map((id) => getShape(id));
  const sel = typeof selected === "string" ? getShape(selected) : selected;
  if (sel && !shapes.some((s) => s.id === sel.id)) shapes.push(sel);
  return shapes.sort((a, b) => paramCounts(a).total - paramCounts(b).total);
}

const xOf = (s: ModelShape) => paramCounts(s).total;

/** Total memory (GB) over model size for each weight format, at the reader's KV bits, context and batch. */
export function memoryCurves(st: CostPageState): Point[] {
  const out: Point[] = [];
  for (const s of ladder(selectedShape(st).shape)) {
    for (const w of WEIGHT_BITS) {
      const p = customPrecision(bitsOf(w), bitsOf(st.abits), bitsOf(st.kvbits));
      out.push({
        series: w,
        x: xOf(s),
        y: memory(s, p, {context: st.context, batch: st.batch}).total / 1e9,
        xLabel: s.label,
      });
    }
  }
  return out;
}

/** Decode tokens/s (all sequences) over model size: FP16, the reader's choice, and b1.58. `extra` adds series at
 *  other bandwidths (a measured one). */
export function speedCurves(st: CostPageState, extra: {key: string; bandwidthGBps: number}[] = []): Point[] {
  const chosen = chosenPrecision(st);
  const out: Point[] = [];
  const run = (key: string, p: Precision, bw: number) => {
    for (const s of ladder(selectedShape(st).shape)) {
      const t = decodeStep(s, p, {bandwidthGBps: bw, batch: st.batch, context: st.context});
      out.push({series: key, x: xOf(s), y: t.tokensPerSecond, xLabel: s.label});
    }
  };
  run("fp16", BASELINE, st.bw);
  run("chosen", chosen, st.bw);
  for (const e of extra) run(e.key, chosen, e.bandwidthGBps);
  return out;
}

/** Arithmetic energy per decoded token (J) over model size. */
export function energyCurves(st: CostPageState): Point[] {
  const chosen = chosenPrecision(st);
  const out: Point[] = [];
  for (const s of ladder(selectedShape(st).shape)) {
    for (const [key, p] of [
      ["fp16", BASELINE],
      ["chosen", chosen],
    ] as const) {
      const e = decodeTokenEnergy(s, p.arithmetic, st.context, st.node as ProcessNode, p.activationBits);
      out.push({series: key, x: xOf(s), y: e.totalJ, xLabel: s.label});
    }
  }
  return out;
}

/** Throughput over batch for the selected model on `mem` GB at `bw` GB/s, up to each precision's memory limit. */
export function batchCurves(st: CostPageState): {points: Point[]; limits: {series: string; batch: number}[]} {
  const s = selectedShape(st).shape;
  const chosen = chosenPrecision(st);
  const context = Math.max(1, st.context);
  const points: Point[] = [];
  const limits: {series: string; batch: number}[] = [];
  for (const [key, p] of [
    ["fp16", BASELINE],
    ["chosen", chosen],
  ] as const) {
    const limit = maxBatch(s, p, {memoryGB: st.mem, context});
    limits.push({series: key, batch: limit});
    const batches = new Set<number>();
    for (let b = 1; b <= Math.min(limit, 4096); b *= 2) batches.add(b);
    if (limit >= 1) batches.add(Math.min(limit, 4096));
    for (const b of [...batches].sort((x, y) => x - y)) {
      const t = decodeStep(s, p, {bandwidthGBps: st.bw, batch: b, context});
      points.push({series: key, x: b, y: t.tokensPerSecond});
    }
  }
  return {points, limits};
}
