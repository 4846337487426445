// Sweeps on the GPU (the sparsity chapter's output change against top-K and KV-cache bits): the same tokens run
// at several settings on one device. The top-K ratio is a runtime value (WebGPUSession.setTopKRatio: the W_o
// prologue reads K from the step uniform, one pipeline for every K); the KV-cache format is compiled into the
// attention kernels, so each KV setting gets its own session on the same device — the pipeline cache (gpu.ts,
// keyed by WGSL source) then compiles only the RoPE/KV-write and attention kernels whose source changed. Which
// setting means what comes from the variant table (kvPlan, and sitePlan through setTopKRatio), nothing here.
import type {BitNetConfig} from "../../lib/config.js";
import type {ModelWeights} from "../../lib/tensor.js";
import {kvPlan} from "../../lib/variant.js";
import type {GpuContext} from "../device.js";
import type {InspectedKV} from "./inspect.js";
import {WebGPUSession} from "./session.js";
import type {EngineInspection, InspectionLayer} from "./types.js";
import {weightSource} from "./upload.js";

/** The config fields a sweep may change. */
export type SweepOverride = Partial<Pick<BitNetConfig, "bitnet_topk_ratio" | "bitnet_kv_bits" | "bitnet_kv_bos_bits">>;

export interface SweepResult {
  /** [T, V] logits of every position. */
  logits: Float32Array;
  /** With {inspect: true}: the pass's intermediates and the quantized KV cache as stored, per layer. */
  inspection?: EngineInspection & {layers: (InspectionLayer & {kv?: InspectedKV})[]};
}

export interface SweepRunner {
  /** Runs `ids` (at most maxTokens) with the model's config changed by `over`; calls are serialized. */
  run(ids: readonly number[], over: SweepOverride, opts?: {inspect?: boolean}): Promise<SweepResult>;
  /** Sessions built so far (one per KV-cache format asked for). */
  readonly sessions: number;
  dispose(): void;
}

/** A sweep runner for `weights` on a shared device (a page's, or a test's). Sessions are made with inspection on, so
 *  their prefill pipelines are the ones the page's inspection pass already compiled. */
export function createSweepRunner(
  weights: ModelWeights,
  o: {gpu?: GpuContext; device?: GPUDevice; maxTokens: number},
): SweepRunner {
  const block = Math.max(2, Math.min(o.maxTokens, weights.config.max_position_embeddings));
  const byKV = new Map<string, Promise<WebGPUSession>>();
  let queue: Promise<unknown> = Promise.resolve();
  let disposed = false;
  const sessionFor = (cfg: BitNetConfig): Promise<WebGPUSession> => {
    // keyed by what the KV cache does (kvPlan), the only part of these overrides that is compiled in
    const key = JSON.stringify(kvPlan(cfg));
    let s = byKV.get(key);
    if (!s) {
      const sessionCfg = {
        ...weights.config,
        bitnet_kv_bits: cfg.bitnet_kv_bits,
        bitnet_kv_bos_bits: cfg.bitnet_kv_bos_bits,
      };
      s = WebGPUSession.create(weightSource({...weights, config: sessionCfg}), sessionCfg, {
        gpu: o.gpu,
        device: o.device,
        inspect: true,
        maxBlock: block,
        maxLength: block,
      });
      s.catch(() => byKV.delete(key));
      byKV.set(key, s);
    }
    return s;
  };
  return {
    get sessions() {
      return byKV.size;
    },
    run(ids, over, opts = {}) {
      if (disposed) return Promise.reject(new Error("sweep runner: used after dispose()"));
      if (ids.length > block) return Promise.reject(new Error(`sweep runner: ${ids.length} tokens, at most ${block}`));
      const r = queue
        .catch(() => {})
        .then(async (): Promise<SweepResult> => {
          const cfg = {...weights.config, ...over};
          const s = await sessionFor(cfg);
          s.reset();
          s.setTopKRatio(cfg.bitnet_topk_ratio);
          const logits = await s.append(ids, {allLogits: true, inspect: opts.inspect ? {} : undefined});
          if (!opts.inspect) return {logits};
          const ins = s.lastInspection!;
          const layers = [];
          for (const l of ins.layers) layers.push({...l, kv: await s.inspectKV(l.layer, 0, ids.length)});
          return {logits, inspection: {...ins, layers}};
        });
      queue = r;
      return r;
    },
    dispose() {
      disposed = true;
      for (const s of byKV.values())
        void s.then(
          (x) => x.dispose(),
          () => {},
        );
      byKV.clear();
    },
  };
}
