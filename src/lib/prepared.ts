// The CPU reference forward's prepared weights (model.ts): norms, projections (ternary codes + γ, or float) and
// RoPE frequencies per layer, with the architecture and variant tables' answers, built once per ModelWeights.
import {tensorNames} from "./config.js";
import type {BitNetConfig, LinearName} from "./config.js";
import {ternarize, validateWeights} from "./checkpoint.js";
import type {ModelWeights} from "./tensor.js";
import {architectureOf, type Architecture} from "./architecture.js";
import {kvPlan, sitePlan, type KVPlan, type SitePlan} from "./variant.js";

export type Linear =
  | {kind: "ternary"; out: number; in: number; codes: Int8Array; gamma: number}
  | {kind: "float"; out: number; in: number; w: Float32Array};

export interface PreparedLayer {
  inputNorm: Float32Array;
  /** The RMSNorm inside each BitLinear (architecture.norms.perProjection), by projection. */
  linNorm?: Record<LinearName, Float32Array>;
  /** RMSNorm on each q / k head before RoPE (architecture.norms.qk). */
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  postAttnNorm: Float32Array;
  /** Gemma's sandwich norms (architecture.norms.sandwich): postAttnNorm then normalizes the attention output. */
  preFfnNorm?: Float32Array;
  postFfnNorm?: Float32Array;
  /** RoPE inverse frequencies of this layer's θ (architecture.rope.thetaPerLayer). */
  invFreq: Float64Array;
  attnSubNorm?: Float32Array;
  ffnSubNorm?: Float32Array;
  lin: Record<LinearName, Linear>;
}

export interface Prepared {
  config: BitNetConfig;
  embed: Float32Array;
  finalNorm: Float32Array;
  lmHead: Float32Array;
  layers: PreparedLayer[];
  /** The architecture table's answer for this config (architecture.ts): activation, head, head_dim, RoPE. */
  arch: Architecture;
  /** The variant table's answer for this config (variant.ts). */
  sites: SitePlan;
  kv: KVPlan;
}

// Prepared state is cached per ModelWeights object: treat weights as immutable once they have been run
// (build a new ModelWeights after changing tensors, e.g. after a training step).
const prepared = new WeakMap<ModelWeights, Prepared>();

export function prepare(weights: ModelWeights): Prepared {
  const hit = prepared.get(weights);
  if (hit) return hit;
  validateWeights(weights);
  const c = weights.config;
  // A latent (training) checkpoint of a quantized variant runs with its weights ternarized, as
  // transformers' AutoBitLinear "online" mode does.
  const w = c.bitnet_variant === "fp" ? weights : ternarize(weights);
  const f = (name: string) => w.float.get(name)!.data;
  const lin = (name: string): Linear => {
    const t = w.ternary.get(name);
    if (t) return {kind: "ternary", out: t.shape[0], in: t.shape[1], codes: t.codes, gamma: t.gamma};
    const x = w.float.get(name)!;
    return {kind: "float", out: x.shape[0], in: x.shape[1], w: x.data};
  };
  const layers: PreparedLayer[] = [];
  const arch = architectureOf(c);
  // Gemma's RMSNorm computes x̂ · (1 + w) in float32 (modeling_gemma3.py Gemma3RMSNorm): fold the 1 in once.
  const bn = (name: string) => (arch.norms.unitOffset ? f(name).map((v) => Math.fround(1 + v)) : f(name));
  const d = arch.headDim;
  const freqs = new Map<number, Float64Array>();
  const invFreqOf = (theta: number): Float64Array => {
    let inv = freqs.get(theta);
    if (!inv) {
      inv = new Float64Array(d / 2);
      for (let i = 0; i < d / 2; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / d);
      freqs.set(theta, inv);
    }
    return inv;
  };
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const n = tensorNames.layer(i);
    layers.push({
      inputNorm: bn(n.inputNorm),
      linNorm: arch.norms.perProjection
        ? (Object.fromEntries(
            (["q", "k", "v", "o", "gate", "up", "down"] as const).map((l) => [l, f(tensorNames.linearNorm(n[l]))]),
          ) as Record<LinearName, Float32Array>)
        : undefined,
      qNorm: arch.norms.qk ? bn(n.qNorm) : undefined,
      kNorm: arch.norms.qk ? bn(n.kNorm) : undefined,
      postAttnNorm: bn(n.postAttnNorm),
      preFfnNorm: arch.norms.sandwich ? bn(n.preFfnNorm) : undefined,
      postFfnNorm: arch.norms.sandwich ? bn(n.postFfnNorm) : undefined,
      invFreq: invFreqOf(arch.rope.thetaPerLayer[i]),
      attnSubNorm: c.bitnet_sub_norms ? f(n.attnSubNorm) : undefined,
      ffnSubNorm: c.bitnet_sub_norms ? f(n.ffnSubNorm) : undefined,
      lin: {q: lin(n.q), k: lin(n.k), v: lin(n.v), o: lin(n.o), gate: lin(n.gate), up: lin(n.up), down: lin(n.down)},
    });
  }
  const p: Prepared = {
    config: c,
    embed: f(tensorNames.embed),
    finalNorm: bn(tensorNames.finalNorm),
    lmHead: arch.head.tied ? f(tensorNames.embed) : f(tensorNames.lmHead),
    layers,
    arch,
    sites: sitePlan(c),
    kv: kvPlan(c),
  };
  prepared.set(weights, p);
  return p;
}
