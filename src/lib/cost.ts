// The cost model: what a model's shape and bits buy in memory, bandwidth-bound latency, arithmetic energy and batch
// throughput, and how that compares with the papers (./cost/reproduce.ts) and with a GPU measurement.
// DOM-free and Node-free: the page, the CLI and the tests share it.
export * from "./cost/shapes.js";
export * from "./cost/precision.js";
export * from "./cost/memory.js";
export * from "./cost/energy.js";
export * from "./cost/speed.js";
export * from "./cost/sparsity.js";
export * from "./cost/reproduce.js";
export * from "./cost/format.js";

import type {ProcessNode} from "./paper-tables.js";
import {decodeTokenEnergy} from "./cost/energy.js";
import type {EnergyBreakdown} from "./cost/energy.js";
import {memory} from "./cost/memory.js";
import type {MemoryBreakdown} from "./cost/memory.js";
import type {Precision} from "./cost/precision.js";
import {paramCounts} from "./cost/shapes.js";
import type {ModelShape, ParamCounts} from "./cost/shapes.js";
import {decodeStep, maxBatch} from "./cost/speed.js";
import type {StepTime} from "./cost/speed.js";

export interface CostOptions {
  context: number; // tokens in each sequence's KV cache
  batch: number;
  bandwidthGBps: number;
  /** Device memory for the max-batch estimate; omitted → no estimate. */
  memoryGB?: number;
  node: ProcessNode;
}

export interface CostReport {
  shape: ModelShape;
  params: ParamCounts;
  precision: Precision;
  options: CostOptions;
  memory: MemoryBreakdown;
  decode: StepTime;
  /** Arithmetic energy of one decoded token (per sequence), attention over `context` tokens, LM head included. */
  energyPerToken: EnergyBreakdown;
  maxBatch?: number;
}

export function costReport(shape: ModelShape, p: Precision, o: CostOptions): CostReport {
  if (!Number.isInteger(o.context) || o.context < 0)
    throw new Error(`context must be an integer ≥ 0, got ${o.context}`);
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new Error(`batch must be an integer ≥ 1, got ${o.batch}`);
  const e = decodeTokenEnergy(shape, p.arithmetic, o.context, o.node, p.activationBits);
  return {
    shape,
    params: paramCounts(shape),
    precision: p,
    options: o,
    memory: memory(shape, p, {context: o.context, batch: o.batch}),
    decode: decodeStep(shape, p, {batch: o.batch, context: o.context, bandwidthGBps: o.bandwidthGBps}),
    energyPerToken: e,
    maxBatch:
      o.memoryGB === undefined
        ? undefined
        : maxBatch(shape, p, {memoryGB: o.memoryGB, context: Math.max(1, o.context)}),
  };
}

/** What src/gpu/measure/microbench.ts returns (kept here as a type so the library does not import the engine). */
export interface MicrobenchResult {
  /** Read + write bytes per second of a WGSL copy kernel, in GB/s (10^9). */
  copyGBps: number;
  ternaryGemvMs: number;
  /** Packed 2-bit weight bytes read per second. */
  ternaryGBps: number;
  denseGemvMs: number;
  denseGBps: number;
  rows: number;
  cols: number;
}

export interface MeasuredPoint {
  label: string;
  bytes: number; // weight bytes the kernel streamed
  measuredMs: number;
  /** bytes / copy bandwidth: what the bandwidth model predicts on this GPU. */
  predictedMs: number;
  /** Fraction of the copy bandwidth the kernel reached. */
  efficiency: number;
}

/** Places a microbenchmark on the bandwidth model: each GEMV's bytes against its time, and the prediction from the
 *  measured copy bandwidth (the ceiling any decode step on this GPU can reach). */
export function compareMicrobench(m: MicrobenchResult): {bandwidthGBps: number; points: MeasuredPoint[]} {
  for (const [k, v] of Object.entries(m)) {
    if (!(typeof v === "number" && Number.isFinite(v) && v > 0))
      throw new Error(`microbench result: ${k} must be a positive number, got ${v}`);
  }
  const point = (label: string, ms: number, gbps: number): MeasuredPoint => {
    const bytes = gbps * 1e9 * (ms / 1e3);
    return {
      label,
      bytes,
      measuredMs: ms,
      predictedMs: (bytes / (m.copyGBps * 1e9)) * 1e3,
      efficiency: gbps / m.copyGBps,
    };
  };
  return {
    bandwidthGBps: m.copyGBps,
    points: [
      point(`ternary GEMV ${m.rows}×${m.cols} (2-bit weights)`, m.ternaryGemvMs, m.ternaryGBps),
      point(`dense GEMV ${m.rows}×${m.cols} (f32 weights)`, m.denseGemvMs, m.denseGBps),
    ],
  };
}
