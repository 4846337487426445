// Latency and throughput. Decoding one token streams every weight once and the whole KV cache once, so at small
// batch it is bandwidth-bound: t = bytes / bandwidth. At large batch the matmuls' arithmetic can take over, so the
// step time is the larger of the two (a roofline). No launch overheads, no kernel inefficiency: an upper bound on speed.
import type {Precision} from "./precision.js";
import {kvCacheBytes, memory} from "./memory.js";
import type {MemoryOptions} from "./memory.js";
import {paramCounts} from "./shapes.js";
import type {ModelShape} from "./shapes.js";

export interface Hardware {
  id: string;
  label: string;
  /** Peak memory bandwidth, GB/s (10⁹ bytes per second). */
  bandwidthGBps: number;
  /** Memory per device, GB (10⁹ bytes). */
  memoryGB: number;
  /** Dense tensor-core peak, 10¹² operations per second (one MAC = 2 operations), by activation format. */
  peakTops?: {fp16: number; int8: number};
  source: string;
}

export const HARDWARE: readonly Hardware[] = [
  {
    id: "a100-80",
    label: "NVIDIA A100 80GB SXM",
    bandwidthGBps: 2039,
    memoryGB: 80,
    peakTops: {fp16: 312, int8: 624},
    source: "NVIDIA A100 datasheet",
  },
  {
    id: "a100-40",
    label: "NVIDIA A100 40GB SXM",
    bandwidthGBps: 1555,
    memoryGB: 40,
    peakTops: {fp16: 312, int8: 624},
    source: "NVIDIA A100 datasheet",
  },
  {
    id: "h100",
    label: "NVIDIA H100 SXM 80GB",
    bandwidthGBps: 3350,
    memoryGB: 80,
    peakTops: {fp16: 989, int8: 1979},
    source: "NVIDIA H100 datasheet",
  },
];

export function getHardware(id: string): Hardware {
  const h = HARDWARE.find((x) => x.id === id);
  if (!h) throw new Error(`unknown hardware "${id}"; known: ${HARDWARE.map((x) => x.id).join(", ")}`);
  return h;
}

export interface DecodeStepOptions {
  batch?: number; // sequences decoded together (default 1)
  context?: number; // tokens already in each sequence's KV cache (default 0)
  kvLayout?: MemoryOptions["kvLayout"];
}

export interface StepBytes {
  weights: number; // linear weights + LM head, read once per step whatever the batch
  embeddingRows: number; // one input-embedding row per sequence
  kvRead: number;
  kvWrite: number;
  total: number;
}

/** Bytes one decode step moves (all sequences of the batch advance one token). */
export function decodeStepBytes(s: ModelShape, p: Precision, opts: DecodeStepOptions = {}): StepBytes {
  const {batch = 1, context = 0, kvLayout = "model"} = opts;
  const m = memory(s, p);
  const lmHead = (s.vocab * s.hidden * p.embeddingBits) / 8;
  const weights = m.linear + m.scales + lmHead + m.norms;
  const embeddingRows = (batch * s.hidden * p.embeddingBits) / 8;
  const kvRead = kvCacheBytes(s, p.kvBits, context, batch, kvLayout);
  const kvWrite = kvCacheBytes(s, p.kvBits, 1, batch, kvLayout);
  return {weights, embeddingRows, kvRead, kvWrite, total: weights + embeddingRows + kvRead + kvWrite};
}

/** Operations (2 per multiply-accumulate) of one decode step: projections, LM head, attention over the context. */
export function decodeStepOps(s: ModelShape, opts: DecodeStepOptions = {}): number {
  const {batch = 1, context = 0} = opts;
  const n = paramCounts(s);
  const attention = 2 * s.layers * s.heads * s.headDim * (context + 1); // q·K and p·V per head
  return 2 * batch * (n.linear + s.vocab * s.hidden + attention);
}

export interface SpeedOptions extends DecodeStepOptions {
  bandwidthGBps: number;
  /** Fraction of peak bandwidth a kernel reaches (default 1: the bound). */
  efficiency?: number;
  /** Devices sharing the work with the pipeline kept full: bandwidth and compute add up. Default 1. */
  devices?: number;
  /** Peak operations per second (10¹²) for the compute roof; omit for a pure bandwidth model. */
  peakTops?: number;
  /** Fixed time per step (kernel launches, synchronisation), ms. Default 0. */
  overheadMs?: number;
}

export interface StepTime {
  memoryMs: number;
  computeMs: number; // 0 without peakTops
  overheadMs: number;
  stepMs: number; // max(memory, compute) + overhead
  tokensPerSecond: number; // batch / step
  bytes: StepBytes;
  ops: number;
  bound: "memory" | "compute";
}

export function decodeStep(s: ModelShape, p: Precision, o: SpeedOptions): StepTime {
  const {batch = 1, efficiency = 1, devices = 1, overheadMs = 0} = o;
  if (!(o.bandwidthGBps > 0)) throw new Error(`bandwidth must be > 0 GB/s, got ${o.bandwidthGBps}`);
  if (!(efficiency > 0 && efficiency <= 1)) throw new Error(`efficiency must be in (0, 1], got ${efficiency}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`batch must be a positive integer, got ${batch}`);
  const bytes = decodeStepBytes(s, p, o);
  const ops = decodeStepOps(s, o);
  const memoryMs = (bytes.total / (o.bandwidthGBps * 1e9 * efficiency * devices)) * 1e3;
  const computeMs = o.peakTops ? (ops / (o.peakTops * 1e12 * devices)) * 1e3 : 0;
  const stepMs = Math.max(memoryMs, computeMs) + overheadMs;
  return {
    memoryMs,
    computeMs,
    overheadMs,
    stepMs,
    tokensPerSecond: (batch * 1e3) / stepMs,
    bytes,
    ops,
    bound: computeMs > memoryMs ? "compute" : "memory",
  };
}

export interface BatchOptions {
  memoryGB: number; // all devices together
  context: number; // tokens each sequence must be able to hold
  reserveGB?: number; // held back for the runtime (default 0)
  kvLayout?: MemoryOptions["kvLayout"];
}

/** The largest batch whose KV cache fits next to the weights. 0 when the weights alone do not fit. */
export function maxBatch(s: ModelShape, p: Precision, o: BatchOptions): number {
  const free = o.memoryGB * 1e9 - (o.reserveGB ?? 0) * 1e9 - memory(s, p).weights;
  const perSequence = kvCacheBytes(s, p.kvBits, o.context, 1, o.kvLayout);
  if (free <= 0) return 0;
  return Math.floor(free / perSequence);
}
