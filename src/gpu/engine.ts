// The WebGPU engine: a BitNet forward pass (every variant of src/lib/variant.ts) on the GPU, implementing the
// DecodeSession contract of src/lib/backend.ts like the CPU reference (src/lib/model.ts), which is its oracle.
// This module is the facade; the engine lives in src/gpu/engine/:
//   plan.ts     what runs for a config (the variant table's site plan in kernel terms)
//   upload.ts   weight sources (in memory or streamed per tensor), chunked upload, GPU synthetic fill
//   buffers.ts  activations, KV cache, RoPE tables, uniforms
//   blocks.ts   one builder per block (attention, FFN, embedding, LM head, sampling) with typed step tags
//   inspect.ts  copying intermediates back for the chapters
//   session.ts  WebGPUSession: build, append, GPU sampling / chained decode, reset, device loss, dispose (its
//               build, block encoding, inspection reads and benchmark lists in session-{build,encode,inspect,bench}.ts)
//   sweep.ts    the same tokens at several top-K / KV-cache settings on one device (the sparsity chapter)
//   lifecycle.ts, sampling.ts  where the device comes from and building under error scopes; picking tokens on the GPU
import type {BitNetConfig} from "../lib/config.js";
import type {ModelWeights} from "../lib/tensor.js";
import {WebGPUSession} from "./engine/session.js";
import type {WebGPUSessionOptions} from "./engine/types.js";
import {weightSource, type WeightSource} from "./engine/upload.js";

export {WebGPUSession} from "./engine/session.js";
export type {
  EngineAppendOptions,
  DecodeParts,
  EngineInspection,
  InspectionLayer,
  InspectPoint,
  Step,
  StepKind,
  StepTag,
  WebGPUSessionOptions,
} from "./engine/types.js";
export type {InspectedKV} from "./engine/inspect.js";
export {engineRefusal, makePlan, quantKind, type Plan} from "./engine/plan.js";
export {gpuFill} from "./engine/gpu-fill.js";
export {weightSource, type WeightSource} from "./engine/upload.js";
export {createSweepRunner, type SweepOverride, type SweepResult, type SweepRunner} from "./engine/sweep.js";

/** Loads `weights` into GPU buffers and returns a DecodeSession running the forward pass in WGSL. */
export async function createWebGPUSession(
  weights: ModelWeights,
  opts: WebGPUSessionOptions = {},
): Promise<WebGPUSession> {
  return WebGPUSession.create(weightSource(weights), weights.config, opts);
}

/** A session whose weights come from `source` one tensor (row range) at a time — e.g. a checkpoint streamed from
 *  disk — so the whole model never sits in JavaScript memory. `config` must be validated (parseConfig). */
export async function createStreamedSession(
  config: BitNetConfig,
  source: WeightSource,
  opts: WebGPUSessionOptions = {},
): Promise<WebGPUSession> {
  return WebGPUSession.create(source, config, opts);
}

/** A session whose weights are generated on the GPU (random ternary codes, random f32/f16 embedding, unit norms):
 *  benchmark-scale models (e.g. 2B4T-shaped) without building billions of weights in JavaScript. */
export async function createSyntheticSession(
  config: BitNetConfig,
  seed: number,
  opts: WebGPUSessionOptions = {},
): Promise<WebGPUSession> {
  return WebGPUSession.create(undefined, config, {...opts, synthetic: {seed}});
}
