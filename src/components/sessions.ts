// Chooses where a page's model runs: the WebGPU engine when asked for (or "auto" and available), otherwise the
// CPU reference — and says which, so the page can tell the reader.
import {acquireGpu, type GpuContext} from "../kernels/device.js";
import {createWebGPUSession} from "../kernels/engine.js";
import type {DecodeSession} from "../lib/backend.js";
import {createCpuSession} from "../lib/model.js";
import type {ModelWeights} from "../lib/tensor.js";
import type {WebGPUStatus} from "../lib/webgpu-status.js";
import {describeAdapter} from "../lib/webgpu-status.js";

export interface OpenedSession {
  session: DecodeSession;
  /** Where it runs, in words ("WebGPU on …" or "CPU reference"). */
  label: string;
  /** Logit tolerance against the CPU reference for this backend (float32 summation-order differences). */
  tolerance: number;
}

export type BackendChoice = "auto" | "webgpu" | "cpu";

export async function openSession(weights: ModelWeights, opts: {backend: BackendChoice; gpu: WebGPUStatus}): Promise<OpenedSession> {
  const wantGpu = opts.backend === "webgpu" || (opts.backend === "auto" && opts.gpu.available);
  if (wantGpu) {
    if (!opts.gpu.available) throw new Error(`WebGPU is not available here (${opts.gpu.reason})`);
    const session = await createWebGPUSession(weights, {gpu: await pageGpu()});
    return {session, label: `WebGPU on ${describeAdapter(opts.gpu)}`, tolerance: 2e-2};
  }
  return {session: createCpuSession(weights), label: "CPU reference", tolerance: 1e-4};
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
