// Chooses where a page's model runs: the WebGPU engine when asked for (or "auto" and available), otherwise the
// CPU reference — and says which, so the page can tell the reader.
import {acquireGpu, type GpuContext} from "../kernels/device.js";
import {createWebGPUSession} from "../kernels/engine.js";
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
}

export type BackendChoice = "auto" | "webgpu" | "cpu";

export async function openSession(weights: ModelWeights, opts: {backend: BackendChoice; gpu: WebGPUStatus}): Promise<OpenedSession> {
  // "auto" skips a software (emulated) adapter: slower than the CPU reference (chooseBackend).
  const choice = chooseBackend(opts.backend, opts.gpu);
  if (choice.backend === "webgpu") {
    if (!opts.gpu.available) throw new Error(`WebGPU is not available here (${opts.gpu.reason})`);
    const session = await createWebGPUSession(weights, {gpu: await pageGpu()});
    return {session, label: `WebGPU on ${describeAdapter(opts.gpu)}`, tolerance: 2e-2, backend: "webgpu", reason: choice.reason};
  }
  return {session: createCpuSession(weights), label: choice.software ? "CPU reference (WebGPU here is software-emulated)" : "CPU reference", tolerance: 1e-4, backend: "cpu", reason: choice.reason};
}

// One device per page, shared by every session the page opens; acquired again if it was lost.
let gpuContext: Promise<GpuContext> | undefined;

export function pageGpu(): Promise<GpuContext> {
  gpuContext ??= acquireGpu({onLost: () => (gpuContext = undefined)}).catch((e) => {
    gpuContext = undefined;
    throw e;
  });
  return gpuContext;
}
