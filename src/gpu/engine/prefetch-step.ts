// The pipeline of a decode linear with or without the L2 prefetch of the next linear's weights (issue 25;
// kernels/linear-prefetch.ts), split from bitlinear-steps.ts.
import {pipelineChecked} from "../gpu.js";
import {linearGrid, prefetchPlan, rowVec4s, storageBindingCount, type LinearConfig} from "../kernels/linear.js";
import type {StepTag} from "./types.js";
import type {LinearBufs} from "./upload.js";
import type {BuildContext} from "./build-context.js";

/** The pipeline of a decode linear that also loads the next linear's weights into L2 where tuning.prefetch asks for
 *  it and it applies (ternary weights, ≤ PF_MAX_LOADS loads per invocation, a storage binding to spare), else the
 *  plain one; the tag says which, and why not. */
export async function prefetchKernel(
  b: BuildContext,
  cfg: LinearConfig,
  N: number,
  next: LinearBufs | undefined,
  wgsl: (c: LinearConfig) => string,
  label: string,
): Promise<{pl: GPUComputePipeline; pf?: {buf: GPUBuffer; vec4s: number}; tag: Partial<StepTag>}> {
  const mode = b.tuning.prefetch;
  const plain = async (why?: string) => ({
    pl: await pipelineChecked(b.device, wgsl(cfg), label),
    tag: why ? {prefetchOff: why} : {},
  });
  if (!mode || !next) return plain();
  if (b.P.kind !== "ternary") return plain("prefetch is for ternary linears");
  const vec4s = rowVec4s(b.P.kind, next.K) * next.N;
  const [gx, gy] = linearGrid(cfg, N, 1);
  const plan = prefetchPlan(mode, vec4s, gx * gy * cfg.WG);
  if ("off" in plan) return plain(plan.off);
  const code = wgsl({...cfg, prefetch: plan.prefetch});
  const max = b.device.limits.maxStorageBuffersPerShaderStage;
  if (storageBindingCount(code) > max)
    return plain(`${storageBindingCount(code)} storage buffers needed, the device allows ${max} per stage`);
  return {pl: await pipelineChecked(b.device, code, label), pf: {buf: next.W, vec4s}, tag: {prefetch: mode}};
}
