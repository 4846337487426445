// Memory: weights by precision, embeddings at their own precision, the KV cache, and an optional runtime allowance.
import type {Precision} from "./precision.js";
import {paramCounts} from "./shapes.js";
import type {ModelShape} from "./shapes.js";

export interface MemoryOptions {
  /** Tokens held in the KV cache per sequence. Default 0. */
  context?: number;
  /** Sequences. Default 1. */
  batch?: number;
  /** "per-attention-head": the runtime stores K/V for every attention head even under grouped-query attention
   *  (FasterTransformer had no GQA: NVIDIA/FasterTransformer issues #727, #771). Default "model". */
  kvLayout?: "model" | "per-attention-head";
  /** Memory a runtime holds beyond weights and the requested KV cache (preallocated KV, activation buffers),
   *  expressed as this many tokens of 16-bit KV cache so that it scales with the shape. Default 0. */
  runtimeTokens?: number;
}

export interface MemoryBreakdown {
  linear: number; // bytes of projection weights
  scales: number; // one fp32 scale per ternary matrix
  embedding: number; // input embedding + LM head
  norms: number;
  /** linear + scales + embedding + norms */
  weights: number;
  kvCache: number;
  runtime: number;
  total: number;
}

const MATRICES_PER_LAYER = (s: ModelShape) => (s.ffnKind === "glu" ? 7 : 6);

/** K and V values stored per token (all layers). */
export function kvValuesPerToken(s: ModelShape, layout: MemoryOptions["kvLayout"] = "model"): number {
  const kvHeads = layout === "per-attention-head" ? s.heads : s.kvHeads;
  return 2 * s.layers * kvHeads * s.headDim;
}

/** Bytes of KV cache for `context` tokens of `batch` sequences at `kvBits`. */
export function kvCacheBytes(
  s: ModelShape,
  kvBits: number,
  context: number,
  batch = 1,
  layout: MemoryOptions["kvLayout"] = "model",
): number {
  return (batch * context * kvValuesPerToken(s, layout) * kvBits) / 8;
}

export function memory(s: ModelShape, p: Precision, opts: MemoryOptions = {}): MemoryBreakdown {
  const {context = 0, batch = 1, kvLayout = "model", runtimeTokens = 0} = opts;
  for (const [k, v] of Object.entries({context, batch, runtimeTokens})) {
    if (!Number.isFinite(v) || v < 0) throw new Error(`memory: ${k} must be a finite number ≥ 0, got ${v}`);
  }
  const n = paramCounts(s);
  const linear = (n.linear * p.weightBits) / 8;
  const scales = p.arithmetic === "ternary" ? s.layers * MATRICES_PER_LAYER(s) * 4 : 0;
  const embedding = (n.embedding * p.embeddingBits) / 8;
  const norms = (n.norms * p.embeddingBits) / 8;
  const weights = linear + scales + embedding + norms;
  const kvCache = kvCacheBytes(s, p.kvBits, context, batch, kvLayout);
  const runtime = kvCacheBytes(s, 16, runtimeTokens, 1, kvLayout);
  return {linear, scales, embedding, norms, weights, kvCache, runtime, total: weights + kvCache + runtime};
}

export const GB = 1e9;
