// A quick in-page benchmark for the cost page: the copy-bandwidth ceiling, one ternary GEMV (2-bit weights ×
// INT8 activations) and one dense f32 GEMV at the same shape. Defaults are small enough for a laptop GPU.
import {bindGroup, pipelineChecked, storageBuffer, uniformBuffer, type Dispatch} from "../gpu.js";
import {actVec4s, linearGrid, linearParams, linearWGSL, rowVec4s} from "../kernels/linear.js";
import {timeDispatches} from "./timing.js";
import {linearConfig, subgroupSize} from "../engine/tune.js";

// The result type lives with the cost model that reads it (src/lib/cost.ts), which must not import the engine.
import type {MicrobenchResult} from "../../lib/cost.js";
export type {MicrobenchResult};

/** Copies vec4<u32>: U loads in flight per thread, grid-strided so every load instruction is coalesced. */
export const copyWGSL = (U = 4) => /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<u32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let threads = nwg.x * 256u;
  let n = arrayLength(&src);
  let i = gid.x;
${[...Array(U).keys()].map((u) => `  let v${u} = src[min(i + ${u}u * threads, n - 1u)];`).join("\n")}
${[...Array(U).keys()].map((u) => `  if (i + ${u}u * threads < n) { dst[i + ${u}u * threads] = v${u}; }`).join("\n")}
}`;

/** A copy dispatch over `bytes` (multiple of 16 × 256 × U). Returns the dispatch and the buffers to free. */
export async function copyDispatch(
  device: GPUDevice,
  bytes: number,
  U = 4,
): Promise<{dispatch: Dispatch; buffers: GPUBuffer[]}> {
  const a = storageBuffer(device, bytes, "copy-src");
  const b = storageBuffer(device, bytes, "copy-dst");
  const p = await pipelineChecked(device, copyWGSL(U), "copy");
  const vec4s = bytes / 16;
  return {
    dispatch: {pipeline: p, bind: bindGroup(device, p, [a, b]), grid: [Math.ceil(vec4s / (256 * U))], label: "copy"},
    buffers: [a, b],
  };
}

function rand32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Random packed ternary words (each 2-bit field 0, 1 or 2) without building the int8 matrix first. */
export function randomTernaryWords(n: number, seed: number): Uint32Array {
  const r = rand32(seed);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let u = 0;
    for (let f = 0; f < 16; f++) u |= (r() % 3) << (2 * f);
    out[i] = u >>> 0;
  }
  return out;
}

export async function microbench(
  device: GPUDevice,
  opts: {rows?: number; cols?: number; reps?: number; copyBytes?: number} = {},
): Promise<MicrobenchResult> {
  const rows = opts.rows ?? 2048;
  const cols = opts.cols ?? 2048;
  const reps = opts.reps ?? 20;
  const maxBind = device.limits.maxStorageBufferBindingSize;
  const denseBytes = rows * rowVec4s("f32", cols) * 16;
  if (denseBytes > maxBind)
    throw new Error(
      `microbench: a ${rows}×${cols} f32 matrix (${denseBytes} B) exceeds maxStorageBufferBindingSize ${maxBind}`,
    );
  const S = await subgroupSize(device);
  const freeList: GPUBuffer[] = [];
  try {
    // copy ceiling: a buffer well beyond the last-level cache of laptop GPUs (and at least the dense matrix)
    const unit = 16 * 256 * 4;
    const copyBytes = Math.min(
      Math.floor(maxBind / unit) * unit,
      Math.ceil(Math.max(opts.copyBytes ?? 64 << 20, denseBytes) / unit) * unit,
    );
    const copy = await copyDispatch(device, copyBytes);
    freeList.push(...copy.buffers);
    const tCopy = await timeDispatches(device, [copy.dispatch], {reps, warmupMs: 100, targetMs: 10});

    // ternary GEMV
    const tc = linearConfig(S, "ternary", "store", 1);
    const Kv = rowVec4s("ternary", cols);
    const W = storageBuffer(device, randomTernaryWords(rows * Kv * 4, 1), "tern-W");
    const xq = new Uint32Array(actVec4s("ternary", cols) * 4);
    const r = rand32(2);
    for (let i = 0; i < cols / 4; i++) xq[i] = r();
    const X = storageBuffer(device, xq);
    const meta = storageBuffer(device, new Uint32Array([0x42fe0000, 0, 0, 0])); // s = 127
    const ws = storageBuffer(device, new Float32Array(2 * rows).fill(0.01));
    const Y = storageBuffer(device, rows * 4);
    const P = uniformBuffer(device, linearParams("ternary", rows, cols, 1, rows));
    freeList.push(W, X, meta, ws, Y, P);
    const tp = await pipelineChecked(device, linearWGSL(tc), "ternary-gemv");
    const tern: Dispatch = {
      pipeline: tp,
      bind: bindGroup(device, tp, [P, W, X, meta, ws, Y]),
      grid: linearGrid(tc, rows, 1),
    };
    const tTern = await timeDispatches(device, [tern], {reps, warmupMs: 100, targetMs: 10});

    // dense f32 GEMV
    const dc = linearConfig(S, "f32", "store", 1);
    const rf = rand32(3);
    const wd = new Float32Array(rows * rowVec4s("f32", cols) * 4);
    for (let i = 0; i < wd.length; i++) wd[i] = (rf() / 2 ** 32 - 0.5) * 0.1;
    const Wd = storageBuffer(device, wd, "dense-W");
    const Xd = storageBuffer(device, new Float32Array(actVec4s("f32", cols) * 4).fill(0.5));
    const Yd = storageBuffer(device, rows * 4);
    const Pd = uniformBuffer(device, linearParams("f32", rows, cols, 1, rows));
    freeList.push(Wd, Xd, Yd, Pd);
    const dp = await pipelineChecked(device, linearWGSL(dc), "dense-gemv");
    const dense: Dispatch = {
      pipeline: dp,
      bind: bindGroup(device, dp, [Pd, Wd, Xd, Yd]),
      grid: linearGrid(dc, rows, 1),
    };
    const tDense = await timeDispatches(device, [dense], {reps, warmupMs: 100, targetMs: 10});

    const ternBytes = rows * Kv * 64;
    return {
      copyGBps: (2 * copyBytes) / (tCopy.ms * 1e6),
      ternaryGemvMs: tTern.ms,
      ternaryGBps: ternBytes / (tTern.ms * 1e6),
      denseGemvMs: tDense.ms,
      denseGBps: denseBytes / (tDense.ms * 1e6),
      rows,
      cols,
    };
  } finally {
    await device.queue.onSubmittedWorkDone();
    for (const b of freeList) b.destroy();
  }
}
