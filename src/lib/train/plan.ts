// The resolved training recipe as data (`bitnet-lab train --plan --json`): everything the tfjs trainer
// would do, step by step, in a form another trainer consumes instead of re-implementing it — the config with
// every default filled in, the per-step learning rate / weight decay / activation stage and bits, the site
// plan of every stage (variant.ts), the Hadamard matrices, the optimizer groups, the initialization and, with
// the training data's length, every step's batch windows. The PyTorch mirror (scripts/train_torch.py) trains
// from this JSON and writes back what it actually applied; test/unit/train-plan.test.ts compares that record
// with this module run on today's configs, so a recipe change on either side fails CI until the shipped
// models are retrained.
import type {BitNetConfig} from "../config.js";
import {hadamardMatrix, hadamardPlan, type HadamardPlan} from "../hadamard.js";
import {Rng} from "../rng.js";
import {SITES, sitePlanJSON} from "../variant.js";
import {modelConfigAt, quantizedAt, scheduleAt, stageIndexAt, type TrainConfig} from "./config.js";
import {linearNames, paramShapes} from "./model.js";

export const PLAN_FORMAT = "bitnet-lab-train-plan";
/** 1: sites as {scheme, hadamard, n} with "gateup" (the shipped models of 2026-11-30 were trained from it);
 *  2: sites as variant.ts's sitePlanJSON (quantizer, bits, hadamard, topK, subNorm, dim, linears), "gate_up". */
export const PLAN_VERSION = 2;

/** The std of the N(0, std²) initialization of matrices (train/model.ts initParams); norms start at 1. */
export const INIT_STD = 0.02;

type SiteJSON = ReturnType<typeof sitePlanJSON>;

export interface PlanStage {
  /** First step (0-based update index) this stage's model config is in force. */
  fromStep: number;
  model: BitNetConfig;
  sites: SiteJSON["sites"];
  kv: SiteJSON["kv"];
}

export interface PlanHadamard {
  plan: HadamardPlan;
  /** The ±1 matrices of y = norm · (M ⊗ H_b) x as strings of '+'/'-', row-major: H_b (order `block`) and,
   *  for "kronecker", M (order m). */
  block: string;
  mix?: string;
}

export interface TrainPlan {
  format: typeof PLAN_FORMAT;
  version: number;
  config: TrainConfig;
  stages: PlanStage[];
  /** Per update step 0 … steps−1 (the update taking the model from step to step+1). */
  schedule: {lr: number[]; wd: number[]; lrStage: number[]; actStage: number[]; activationBits: number[]};
  optimizer: {
    kind: "adamw";
    betas: [number, number];
    eps: number;
    gradClip: number;
    clip: string;
    decay: string[];
    noDecay: string[];
  };
  init: {matrixStd: number; normValue: number; seed: number};
  params: [string, number[]][];
  /** Ternarized in the forward (absmean, b1.58 eq. 1–3). */
  ternary: string[];
  batching: {batchSize: number; seqLen: number; sampling: string; trainTokens?: number; starts?: number[][]};
  hadamard: Record<string, PlanHadamard>;
}

const signs = (m: Int8Array) => Array.from(m, (v) => (v > 0 ? "+" : "-")).join("");

/** The ±1 matrices of the Hadamard transform of length n (hadamard.ts), as a plan carries them. */
export function hadamardEntry(n: number): PlanHadamard {
  const plan = hadamardPlan(n);
  return {
    plan,
    block: signs(hadamardMatrix(plan.block)),
    ...(plan.kind === "kronecker" ? {mix: signs(hadamardMatrix(plan.m))} : {}),
  };
}

/** Training window starts of every step (data.ts trainBatch's Rng stream), [steps][batchSize]. */
export function batchStarts(trainTokens: number, B: number, T: number, seed: number, steps: number): number[][] {
  return Array.from({length: steps}, (_, step) => {
    const rng = new Rng(Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b));
    return Array.from({length: B}, () => rng.int(trainTokens - T));
  });
}

/** A model config's site plan with the Hadamard matrices its rotated sites need (one stage of a plan). */
export function stagePlan(model: BitNetConfig): {
  sites: SiteJSON["sites"];
  kv: SiteJSON["kv"];
  hadamard: Record<string, PlanHadamard>;
} {
  const {sites, kv} = sitePlanJSON(model);
  const hadamard: Record<string, PlanHadamard> = {};
  for (const s of SITES)
    if (sites[s].hadamard && !hadamard[sites[s].dim]) hadamard[sites[s].dim] = hadamardEntry(sites[s].dim);
  return {sites, kv, hadamard};
}

/** The plan of `cfg`; with `trainTokens` (the training stream's length) also every step's batch windows. */
export function trainPlan(cfg: TrainConfig, opts: {trainTokens?: number} = {}): TrainPlan {
  // The Train page's "what breaks for ternary" changes are the tfjs trainer's alone; the mirror would drop them.
  for (const k of ["ternaryFrom", "ema", "scaleFormat"] as const)
    if (cfg[k] !== undefined)
      throw new Error(`train plan: ${k} is not implemented by the PyTorch mirror; leave it out`);
  const S = cfg.steps;
  const bounds = [0, ...(cfg.stages ?? []).map((s) => Math.round(s.at * S))];
  const stages: PlanStage[] = [];
  const hadamard: Record<string, PlanHadamard> = {};
  bounds.forEach((from, k) => {
    if (k > 0 && from === bounds[k - 1] && stages.length) stages.pop(); // a stage at the same step replaces it
    const model = modelConfigAt(cfg, Math.min(from, S));
    const sp = stagePlan(model);
    Object.assign(hadamard, sp.hadamard);
    stages.push({fromStep: from, model, sites: sp.sites, kv: sp.kv});
  });
  const schedule: TrainPlan["schedule"] = {lr: [], wd: [], lrStage: [], actStage: [], activationBits: []};
  for (let step = 0; step < S; step++) {
    const s = scheduleAt(cfg, step);
    schedule.lr.push(s.lr);
    schedule.wd.push(s.wd);
    schedule.lrStage.push(s.stage);
    schedule.actStage.push(stageIndexAt(cfg, step));
    schedule.activationBits.push(modelConfigAt(cfg, step).bitnet_activation_bits);
  }
  const c0 = modelConfigAt(cfg, 0);
  const params = [...paramShapes(c0)];
  const {batchSize: B, seqLen: T} = cfg;
  return {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    config: cfg,
    stages,
    schedule,
    optimizer: {
      kind: "adamw",
      betas: cfg.optimizer.betas,
      eps: cfg.optimizer.eps,
      gradClip: cfg.optimizer.gradClip,
      clip: "g·min(1, gradClip/(‖g‖₂+1e-6)), one global norm over all parameters",
      decay: params.filter(([, s]) => s.length >= 2).map(([n]) => n),
      noDecay: params.filter(([, s]) => s.length < 2).map(([n]) => n),
    },
    init: {matrixStd: INIT_STD, normValue: 1, seed: cfg.seed},
    params,
    ternary: c0.bitnet_variant === "fp" ? [] : linearNames(c0),
    batching: {
      batchSize: B,
      seqLen: T,
      sampling: "B windows of T+1 tokens, starts uniform in [0, trainTokens − T), drawn per (seed, step)",
      ...(opts.trainTokens !== undefined
        ? {trainTokens: opts.trainTokens, starts: batchStarts(opts.trainTokens, B, T, cfg.seed, S)}
        : {}),
    },
    hadamard,
  };
}

/** Where two recipes differ before `step` (the part a continued run inherits from the run whose state it
 *  continues), or undefined if they do not: per-step lr / weight decay and the site plan (quantizer, bits,
 *  rotation, top-K) in force, compared as computations — b1.58 and v2 without rotation at 8 bits are the same. */
export function recipePrefixDiff(a: TrainConfig, b: TrainConfig, step: number): string | undefined {
  if (a.steps !== b.steps) return `steps (${a.steps} vs ${b.steps})`;
  if ((a.scaleFormat ?? "f32") !== (b.scaleFormat ?? "f32"))
    return `scaleFormat (${a.scaleFormat} vs ${b.scaleFormat})`;
  if (a.ema !== b.ema) return `ema (${a.ema} vs ${b.ema})`;
  for (let t = 0; t < Math.min(step, a.steps); t++) {
    const x = scheduleAt(a, t);
    const y = scheduleAt(b, t);
    if (x.lr !== y.lr || x.wd !== y.wd) return `the lr / weight-decay schedule at step ${t}`;
    if (quantizedAt(a, t) !== quantizedAt(b, t))
      return `the full-precision → ternary switch (ternaryFrom) at step ${t}`;
    if (t === 0 || stageIndexAt(a, t) !== stageIndexAt(a, t - 1) || stageIndexAt(b, t) !== stageIndexAt(b, t - 1)) {
      const sa = sitePlanJSON(modelConfigAt(a, t)).sites;
      const sb = sitePlanJSON(modelConfigAt(b, t)).sites;
      for (const s of SITES) {
        const key = (v: (typeof sa)[typeof s]) =>
          JSON.stringify([v.quantizer, v.bits, v.hadamard, v.topK ?? null, v.subNorm, v.dim]);
        if (key(sa[s]) !== key(sb[s]))
          return `the ${s} input at step ${t} (${sa[s].hadamard ? "rotated " : ""}${sa[s].quantizer} vs ${sb[s].hadamard ? "rotated " : ""}${sb[s].quantizer})`;
      }
    }
  }
  return undefined;
}
