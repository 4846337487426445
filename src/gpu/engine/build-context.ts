// What every step builder of the prepared passes reads (split from blocks.ts, issue 21): the build context, the
// norm-statistics plumbing and small shared helpers.
import type {KVFormat} from "../kernels/kv-cache.js";
import {linearGrid, type Epilogue} from "../kernels/linear.js";
import type {NormQuantConfig} from "../kernels/normquant.js";
import {linearConfig, type LinearTuning} from "./tune.js";
import type {Site} from "../../lib/variant.js";
import type {Activations} from "./buffers.js";
import type {Plan} from "./plan.js";
import type {BufferPool, WeightBufs} from "./upload.js";

export interface BuildContext {
  device: GPUDevice;
  P: Plan;
  pool: BufferPool;
  A: Activations;
  W: WeightBufs;
  /** Subgroup size used by reductions (0: workgroup memory). */
  S: number;
  WG: number;
  tuning: LinearTuning;
  kvF: KVFormat;
  inspect: boolean;
  /** Fuse decode prologues into linears (all sites, or these) and RoPE into 16-bit attention. */
  fuse: boolean | readonly Site[];
  /** Decode: with "o" fused, fuse W_o's attention-combine prologue too (default true; see combineFusable). */
  fuseCombine?: boolean;
  /** Split H-BitLinear prologues with a cross-block Hadamard step in decode (see WebGPUSessionOptions). */
  hadamardSplit: "auto" | boolean;
  maxBlock: number;
  /** Decode: RMSNorm → INT8 prologues from the producer's per-workgroup statistics (issue 25; see statsEligible). */
  normStats?: boolean;
  /** The statistics records: of the residual stream (written by W_o and W_down) and of the GLU output (gate|up). */
  statsBufs?: {h: GPUBuffer; glu: GPUBuffer};
}

/** Where a producer writes norm statistics for the next BitLinear's prologue, and that prologue's norm weight. */
export interface StatsOut {
  buf: GPUBuffer;
  gamma: GPUBuffer;
}

/** Where a consumer reads them, and how many workgroup records the producer wrote. */
export interface StatsIn {
  buf: GPUBuffer;
  parts: number;
}

/** Whether a decode prologue can come from its producer's statistics: a plain row, RMSNorm, INT8 absmax, no
 *  Hadamard or top-K (b1.58's four sites; v2-a8's qkv and gate_up). */
export function statsEligible(b: BuildContext, nq: NQ): boolean {
  return (
    !!b.normStats &&
    !!b.statsBufs &&
    b.P.kind === "ternary" &&
    nq.src === "plain" &&
    nq.norm &&
    !nq.hadamard &&
    nq.topK === undefined &&
    nq.quant === "int8"
  );
}

/** Workgroups of the decode kernel of a linear with N rows (= the statistics records it writes). */
export function decodeParts(b: BuildContext, N: number, K: number, ep: Epilogue): number {
  return linearGrid(linearConfig(b.S, b.P.kind, ep, 1, b.tuning, b.WG, K), N, 1)[0];
}

export type NQ = Omit<NormQuantConfig, "sub" | "WG" | "inspect">;

export const epsWords = (eps: number) => new Uint32Array(new Float32Array([eps, eps - Math.fround(eps)]).buffer);

export type Mode = "decode" | "prefill";

/** Row stride of xnorm (the per-projection block norm's float output, reused by the sandwich steps). */
export const C8 = (P: {C: number}) => 8 * Math.ceil(P.C / 8);
