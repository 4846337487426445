// Measures, on the reader's GPU, what the Hadamard transform adds to an H-BitLinear layer, using the WebGPU
// engine's own kernels (src/gpu/): its fused per-token prologue (RMSNorm → [Hadamard] → absmean INT4) timed
// with and without the rotation, and its ternary GEMV at the layer's shape for scale. No WGSL here: this only
// composes the engine's exported kernels and timing helper, on the page's shared device (sessions.ts pageGpu).
import {bindGroup, pipelineChecked, storageBuffer, uniformBuffer} from "../gpu/gpu.js";
import type {Dispatch} from "../gpu/gpu.js";
import {actVec4s, gammaPairs, linearGrid, linearParams, linearWGSL, rowVec4s} from "../gpu/kernels/linear.js";
import {randomTernaryWords} from "../gpu/measure/microbench.js";
import {hadamardSignBits, normQuantBindings, normQuantWGSL} from "../gpu/kernels/normquant.js";
import type {NormQuantConfig} from "../gpu/kernels/normquant.js";
import {timeDispatches} from "../gpu/measure/timing.js";
import {linearConfig, subgroupSize} from "../gpu/engine/tune.js";
import {hadamardPlan} from "../lib/hadamard.js";
import {pageGpu} from "./sessions.js";

export interface HadamardGpuTiming {
  n: number;
  /** Rows of the layer's weight (its output size). */
  rows: number;
  /** Tokens per dispatch (1 = a decode step). */
  tokens: number;
  /** The prologue with the rotation, without it, and their difference (ms per call). */
  withMs: number;
  withoutMs: number;
  hadamardMs: number;
  /** The layer's ternary GEMV (rows × n, one token), ms. */
  linearMs: number;
  clock: "timestamp" | "wall";
  adapter: string;
}

function f32Bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}

export async function timeHadamardOnGpu(
  n: number,
  rows: number,
  opts: {tokens?: number; reps?: number} = {},
): Promise<HadamardGpuTiming> {
  const M = opts.tokens ?? 1;
  const reps = opts.reps ?? 50;
  const ctx = await pageGpu(); // the page's shared device: freed buffers, never destroyed here
  const device = ctx.device;
  const buffers: GPUBuffer[] = [];
  const keep = (b: GPUBuffer) => (buffers.push(b), b);
  try {
    const S = await subgroupSize(device);
    const WG = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup);
    const dstWords = 16 * Math.ceil(n / 64); // INT lanes per token, as the ternary GEMV reads them
    const x = new Float32Array(M * n);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 1.7) * 2;
    const src = keep(storageBuffer(device, x, "had.src"));
    const normW = keep(storageBuffer(device, new Float32Array(n).fill(1), "had.normW"));
    const out = keep(storageBuffer(device, Math.max(16, M * dstWords * 4), "had.out"));
    const xmeta = keep(storageBuffer(device, Math.max(16, M * 8), "had.xmeta"));
    const P = keep(uniformBuffer(device, new Uint32Array([n, dstWords, f32Bits(1e-5), 0]), "had.P"));
    const had =
      hadamardPlan(n).kind === "kronecker" ? keep(storageBuffer(device, hadamardSignBits(n), "had.signs")) : undefined;
    const prologue = async (hadamard: boolean): Promise<Dispatch> => {
      const cfg: NormQuantConfig = {n, src: "plain", norm: true, hadamard, quant: "int4", inspect: false, sub: S, WG};
      const pl = await pipelineChecked(device, normQuantWGSL(cfg), `prologue${hadamard ? "+H" : ""}`);
      const map: Record<string, GPUBuffer | undefined> = {P, src, normW, out, xmeta, had};
      const binds = normQuantBindings(cfg).map((k) => {
        const b = map[k];
        if (!b) throw new Error(`timeHadamardOnGpu: no buffer for binding ${k}`);
        return b;
      });
      return {pipeline: pl, bind: bindGroup(device, pl, binds), grid: [M, 1, 1]};
    };
    const tWith = await timeDispatches(device, [await prologue(true)], {reps});
    const tWithout = await timeDispatches(device, [await prologue(false)], {reps});

    // The layer's ternary GEMV for one token, as src/gpu/measure/microbench.ts sets it up.
    const tc = linearConfig(S, "ternary", "store", 1);
    const Kv = rowVec4s("ternary", n);
    const W = keep(storageBuffer(device, randomTernaryWords(rows * Kv * 4, 1), "gemv.W"));
    const xq = new Uint32Array(actVec4s("ternary", n) * 4);
    for (let i = 0; i < xq.length; i++) xq[i] = (Math.imul(i + 1, 2654435761) >>> 0) & 0x7f7f7f7f;
    const X = keep(storageBuffer(device, xq, "gemv.x"));
    const meta = keep(storageBuffer(device, new Uint32Array([0x3c000000, 0, 0, 0]), "gemv.meta"));
    const ws = keep(storageBuffer(device, gammaPairs(new Float32Array(rows).fill(0.01)), "gemv.scale")); // γ as float-float pairs
    const Y = keep(storageBuffer(device, rows * 4, "gemv.y"));
    const LP = keep(uniformBuffer(device, linearParams("ternary", rows, n, 1, rows), "gemv.P"));
    const lp = await pipelineChecked(device, linearWGSL(tc), "ternary-gemv");
    const tLin = await timeDispatches(
      device,
      [{pipeline: lp, bind: bindGroup(device, lp, [LP, W, X, meta, ws, Y]), grid: linearGrid(tc, rows, 1)}],
      {reps},
    );
    return {
      n,
      rows,
      tokens: M,
      withMs: tWith.ms,
      withoutMs: tWithout.ms,
      hadamardMs: Math.max(0, tWith.ms - tWithout.ms),
      linearMs: tLin.ms,
      clock: tWith.clock,
      adapter: ctx.description,
    };
  } finally {
    for (const b of buffers) b.destroy();
  }
}
