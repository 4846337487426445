// Chooses where a page's model runs: the WebGPU engine when asked for (or "auto" and available), otherwise the
// CPU reference — and says which, so the page can tell the reader. One GPU device per page (pageGpu), shared by
// every session, inspection pass and measurement the page makes; acquired again after the device is lost.
import {acquireGpu, type GpuContext} from "../gpu/device.js";
import {createWebGPUSession} from "../gpu/engine.js";
import type {DecodeSession} from "../lib/backend.js";
import {createCpuSession} from "../lib/model.js";
import type {ModelWeights} from "../lib/tensor.js";
import type {WebGPUStatus} from "../lib/webgpu-status.js";
import {chooseBackend, describeAdapter} from "../lib/webgpu-status.js";

export interface OpenedSession {
  session: DecodeSession;
  /** Where it runs, in words ("WebGPU on …" or "CPU reference"). */
  label: string;
  /** Logit tolerance against the CPU reference for this backend (float32 summation-order differences). */
  tolerance: number;
  /** Which engine runs it (pages mark their first live view with it: data-live). */
  backend: "webgpu" | "cpu";
  /** Why this backend (the choice rule is chooseBackend in src/lib/webgpu-status.ts). */
  reason: string;
  /** The page device the session runs on (absent on the CPU). */
  gpu?: GpuContext;
}

export type BackendChoice = "auto" | "webgpu" | "cpu";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "webgpu", "cpu"];
export const BACKEND_OPTIONS = [
  {value: "auto", label: "auto (your GPU if the browser offers WebGPU)"},
  {value: "webgpu", label: "WebGPU (your GPU)"},
  {value: "cpu", label: "CPU reference"},
];

export async function openSession(
  weights: ModelWeights,
  opts: {backend: BackendChoice; gpu: WebGPUStatus},
): Promise<OpenedSession> {
  // "auto" skips a software (emulated) adapter: slower than the CPU reference (chooseBackend).
  const choice = chooseBackend(opts.backend, opts.gpu);
  if (choice.backend === "webgpu") {
    if (!opts.gpu.available) throw new Error(`WebGPU is not available here (${opts.gpu.reason})`);
    const ctx = await pageGpu();
    // the pages generate short texts: a KV cache for 2048 positions, as the Open page, not max_position_embeddings
    // (32k for Gemma3's 270M would be ~1 GiB)
    const maxLength = Math.min(weights.config.max_position_embeddings, 2048);
    const session = await createWebGPUSession(weights, {gpu: ctx, maxLength});
    return {
      session,
      label: `WebGPU on ${describeAdapter(opts.gpu)}`,
      tolerance: 2e-2,
      backend: "webgpu",
      reason: choice.reason,
      gpu: ctx,
    };
  }
  return {
    session: createCpuSession(weights),
    label: choice.software ? "CPU reference (WebGPU here is software-emulated)" : "CPU reference",
    tolerance: 1e-4,
    backend: "cpu",
    reason: choice.reason,
  };
}

let gpuContext: Promise<GpuContext> | undefined;

/** The page's device; a new one when the last was lost or destroyed. */
export async function pageGpu(): Promise<GpuContext> {
  if (gpuContext) {
    const ctx = await gpuContext.catch(() => undefined);
    if (ctx && !ctx.lostInfo) return ctx;
    gpuContext = undefined;
  }
  gpuContext ??= acquireGpu().catch((e) => {
    gpuContext = undefined;
    throw e;
  });
  return gpuContext;
}

/** True when an error from a GPU session came from losing its device (the error itself may be Dawn's raw text, raised
 *  before the device's `lost` promise settles, so this waits briefly for it). */
export async function wasDeviceLost(ctx: GpuContext | undefined, e: unknown): Promise<boolean> {
  if ((e as {name?: string} | undefined)?.name === "DeviceLostError") return true;
  if (!ctx) return false;
  if (ctx.lostInfo) return true;
  const lost = await Promise.race([
    ctx.lost.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
  ]);
  return lost;
}

/** What the reader is told after a device loss, in plain words. */
export function deviceLostMessage(outcome: "gpu" | "cpu"): string {
  const what =
    "Your GPU stopped working for this page (the browser took its WebGPU device away — a driver reset, the GPU process restarting, or another tab needing the memory).";
  return outcome === "gpu"
    ? `${what} The page started a fresh GPU session and carried on from where it stopped.`
    : `${what} The page could not get the GPU back, so it carried on with the CPU reference (slower, same numbers).`;
}

/** After a device loss: a new session on a new page device, or the CPU reference when that fails. */
export async function recoverSession(
  weights: ModelWeights,
  gpu: WebGPUStatus,
): Promise<{opened: OpenedSession; outcome: "gpu" | "cpu"}> {
  try {
    if (gpu.available) return {opened: await openSession(weights, {backend: "webgpu", gpu}), outcome: "gpu"};
  } catch {
    /* fall through to the CPU */
  }
  return {opened: await openSession(weights, {backend: "cpu", gpu}), outcome: "cpu"};
}
