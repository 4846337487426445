// Training configuration (configs/*.json): the model (a partial BitNetConfig over defaultConfig), the
// optimizer and the papers' two-stage schedules, validated with errors that name the offending field.
import {VARIANTS, defaultConfig, type BitNetConfig, type Variant} from "../config.js";
import {validateModelConfig} from "../variant.js";
import {SCALE_FORMATS, type ScaleFormat} from "./scale-format.js";

export interface TrainConfig {
  name: string;
  /** Model: `bitnet_variant` plus any BitNetConfig fields to override on defaultConfig(variant). */
  model: Partial<BitNetConfig> & {bitnet_variant: Variant};
  seed: number;
  /** Sequences per step (B) and tokens per sequence (T). */
  batchSize: number;
  seqLen: number;
  steps: number;
  optimizer: {betas: [number, number]; eps: number; gradClip: number};
  /** Two-stage learning rate (b1.58 FAQ; a4.8 Table 7): linear warm-up to stage1[0], linear decay to
   *  stage1[1] at `split`·steps, then an abrupt drop to stage2[0] decaying linearly to stage2[1]. */
  lr: {warmup: number; stage1: [number, number]; stage2: [number, number]; split: number};
  /** Weight decay in stage one and stage two (0.1 → 0 in the papers), switched at lr.split. */
  weightDecay: [number, number];
  /** Activation-precision stages (a4.8, v2): from `at`·steps on, these model fields apply (e.g.
   *  {bitnet_activation_bits: 4}); weights and optimizer state carry over. */
  stages?: {at: number; model: Partial<BitNetConfig>}[];
  /** Full-precision → ternary switch: before round(`ternaryFrom`·steps) the BitLinear weights and activations are
   *  used unquantized (a 16-bit run), from then on quantized (Nielsen et al. 2025, arXiv 2502.11895). Absent or 0:
   *  ternary from the first step, as the BitNet papers train. */
  ternaryFrom?: number;
  /** Exponential moving average of the latent weights with this decay, updated after every step; evaluation and
   *  export use the average. Absent: no EMA (the BitNet papers use none). */
  ema?: number;
  /** Format γ is rounded to wherever the forward uses it (training, evaluation, export). Absent: fp32. */
  scaleFormat?: ScaleFormat;
  evalEvery: number;
  evalBatches: number;
  logEvery: number;
  checkpointEvery: number;
}

export const DEFAULT_TRAIN: Omit<TrainConfig, "name" | "model"> = {
  seed: 1,
  batchSize: 16,
  seqLen: 256,
  steps: 1000,
  optimizer: {betas: [0.9, 0.95], eps: 1e-8, gradClip: 1},
  lr: {warmup: 100, stage1: [3e-3, 2e-3], stage2: [1e-3, 0], split: 0.5},
  weightDecay: [0.1, 0],
  evalEvery: 200,
  evalBatches: 8,
  logEvery: 10,
  checkpointEvery: 500,
};

export class ConfigError extends Error {
  override name = "ConfigError";
}

const STAGE_FIELDS = new Set(["bitnet_activation_bits", "bitnet_hadamard", "bitnet_topk_ratio"]);

/** Validates raw JSON into a TrainConfig (defaults filled in); throws ConfigError naming the field. */
export function parseTrainConfig(raw: unknown, source = "config"): TrainConfig {
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`${source}: ${field} ${msg}`);
  };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail("(top level)", "must be a JSON object");
  const r = raw as Record<string, unknown>;
  const known = new Set([
    "name",
    "model",
    "seed",
    "batchSize",
    "seqLen",
    "steps",
    "optimizer",
    "lr",
    "weightDecay",
    "stages",
    "ternaryFrom",
    "ema",
    "scaleFormat",
    "evalEvery",
    "evalBatches",
    "logEvery",
    "checkpointEvery",
    "comment",
  ]);
  for (const k of Object.keys(r)) if (!known.has(k)) fail(k, `is not a known field (known: ${[...known].join(", ")})`);

  const num = (
    v: unknown,
    field: string,
    {min = -Infinity, max = Infinity, integer = false, gt = false} = {},
  ): number => {
    if (typeof v !== "number" || !Number.isFinite(v)) return fail(field, `must be a number, got ${JSON.stringify(v)}`);
    if (integer && !Number.isInteger(v)) fail(field, `must be an integer, got ${v}`);
    if (gt ? v <= min : v < min) fail(field, `must be ${gt ? ">" : "≥"} ${min}, got ${v}`);
    if (v > max) fail(field, `must be ≤ ${max}, got ${v}`);
    return v;
  };
  const pair = (v: unknown, field: string, opts: Parameters<typeof num>[2] = {}): [number, number] => {
    if (!Array.isArray(v) || v.length !== 2) return fail(field, `must be a two-number array, got ${JSON.stringify(v)}`);
    return [num(v[0], `${field}[0]`, opts), num(v[1], `${field}[1]`, opts)];
  };
  const d = DEFAULT_TRAIN;
  const name = r.name ?? "model";
  if (typeof name !== "string" || !/^[A-Za-z0-9._-]+$/.test(name))
    fail("name", `must be a string of letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);

  const m = r.model;
  if (typeof m !== "object" || m === null || Array.isArray(m))
    return fail("model", "must be an object with at least bitnet_variant");
  const mm = m as Record<string, unknown>;
  if (!VARIANTS.includes(mm.bitnet_variant as Variant))
    fail("model.bitnet_variant", `must be one of ${VARIANTS.join(", ")}, got ${JSON.stringify(mm.bitnet_variant)}`);
  const model = mm as TrainConfig["model"];
  const full = defaultConfig(model.bitnet_variant, model);
  checkModel(full, "model", fail);

  const o = (r.optimizer ?? {}) as Record<string, unknown>;
  if (typeof o !== "object" || Array.isArray(o)) fail("optimizer", "must be an object");
  const lr = (r.lr ?? {}) as Record<string, unknown>;
  if (typeof lr !== "object" || Array.isArray(lr)) fail("lr", "must be an object");

  const cfg: TrainConfig = {
    name: name as string,
    model,
    seed: num(r.seed ?? d.seed, "seed", {integer: true, min: 0}),
    batchSize: num(r.batchSize ?? d.batchSize, "batchSize", {integer: true, min: 1}),
    seqLen: num(r.seqLen ?? d.seqLen, "seqLen", {integer: true, min: 2, max: full.max_position_embeddings}),
    steps: num(r.steps ?? d.steps, "steps", {integer: true, min: 1}),
    optimizer: {
      betas: pair(o.betas ?? d.optimizer.betas, "optimizer.betas", {min: 0, max: 0.999999}),
      eps: num(o.eps ?? d.optimizer.eps, "optimizer.eps", {min: 0, gt: true}),
      gradClip: num(o.gradClip ?? d.optimizer.gradClip, "optimizer.gradClip", {min: 0}),
    },
    lr: {
      warmup: num(lr.warmup ?? d.lr.warmup, "lr.warmup", {integer: true, min: 0}),
      stage1: pair(lr.stage1 ?? d.lr.stage1, "lr.stage1", {min: 0, max: 1}),
      stage2: pair(lr.stage2 ?? d.lr.stage2, "lr.stage2", {min: 0, max: 1}),
      split: num(lr.split ?? d.lr.split, "lr.split", {min: 0, max: 1}),
    },
    weightDecay: pair(r.weightDecay ?? d.weightDecay, "weightDecay", {min: 0, max: 1}),
    evalEvery: num(r.evalEvery ?? d.evalEvery, "evalEvery", {integer: true, min: 0}),
    evalBatches: num(r.evalBatches ?? d.evalBatches, "evalBatches", {integer: true, min: 1}),
    logEvery: num(r.logEvery ?? d.logEvery, "logEvery", {integer: true, min: 1}),
    checkpointEvery: num(r.checkpointEvery ?? d.checkpointEvery, "checkpointEvery", {integer: true, min: 0}),
  };
  if (r.ternaryFrom !== undefined) cfg.ternaryFrom = num(r.ternaryFrom, "ternaryFrom", {min: 0, max: 0.99});
  if (r.ema !== undefined) cfg.ema = num(r.ema, "ema", {min: 0.5, max: 0.9999});
  if (r.scaleFormat !== undefined) {
    if (!SCALE_FORMATS.includes(r.scaleFormat as ScaleFormat))
      fail("scaleFormat", `must be one of ${SCALE_FORMATS.join(", ")}, got ${JSON.stringify(r.scaleFormat)}`);
    cfg.scaleFormat = r.scaleFormat as ScaleFormat;
  }
  if (r.stages !== undefined) {
    if (!Array.isArray(r.stages)) fail("stages", "must be an array of {at, model}");
    cfg.stages = (r.stages as unknown[]).map((s, i) => {
      const f = `stages[${i}]`;
      if (typeof s !== "object" || s === null) return fail(f, "must be an object {at, model}");
      const ss = s as Record<string, unknown>;
      const at = num(ss.at, `${f}.at`, {min: 0, max: 1});
      if (typeof ss.model !== "object" || ss.model === null) return fail(`${f}.model`, "must be an object");
      for (const k of Object.keys(ss.model))
        if (!STAGE_FIELDS.has(k))
          fail(`${f}.model.${k}`, `cannot change between stages (only ${[...STAGE_FIELDS].join(", ")})`);
      checkModel({...full, ...(ss.model as Partial<BitNetConfig>)}, `${f}.model`, fail);
      return {at, model: ss.model as Partial<BitNetConfig>};
    });
    for (let i = 1; i < cfg.stages.length; i++)
      if (cfg.stages[i].at < cfg.stages[i - 1].at)
        fail(`stages[${i}].at`, "must not be smaller than the previous stage's");
  }
  return cfg;
}

function checkModel(c: BitNetConfig, f: string, fail: (field: string, msg: string) => never): void {
  // the one model-config validator (variant.ts); its messages name the field under `f`
  validateModelConfig(c, {prefix: `${f}.`, error: ConfigError});
  if (c.vocab_size > 65536) fail(`${f}.vocab_size`, "must be ≤ 65536 (token ids are stored as uint16)");
}

/** The model config in force at `step` (stages applied). */
export function modelConfigAt(cfg: TrainConfig, step: number): BitNetConfig {
  let m: Partial<BitNetConfig> = {...cfg.model};
  for (const s of cfg.stages ?? []) if (step >= Math.round(s.at * cfg.steps)) m = {...m, ...s.model};
  return defaultConfig(cfg.model.bitnet_variant, m);
}

/** Index of the activation stage in force at `step` (0 = before any `stages` entry). */
export function stageIndexAt(cfg: TrainConfig, step: number): number {
  let k = 0;
  (cfg.stages ?? []).forEach((s, i) => {
    if (step >= Math.round(s.at * cfg.steps)) k = i + 1;
  });
  return k;
}

/** First step trained ternary (0 without a full-precision phase). */
export function ternaryStartStep(cfg: TrainConfig): number {
  return Math.round((cfg.ternaryFrom ?? 0) * cfg.steps);
}

/** Whether the BitLinear weights and activations are quantized in the update at `step`. */
export function quantizedAt(cfg: TrainConfig, step: number): boolean {
  return cfg.model.bitnet_variant !== "fp" && step >= ternaryStartStep(cfg);
}

/** Learning rate and weight decay at `step` (0-based: the update that takes the model from step to step+1). */
export function scheduleAt(cfg: TrainConfig, step: number): {lr: number; wd: number; stage: 1 | 2} {
  const S = cfg.steps;
  const split = Math.round(cfg.lr.split * S);
  const {warmup, stage1, stage2} = cfg.lr;
  if (step < split) {
    const lr =
      step < warmup
        ? (stage1[0] * (step + 1)) / warmup
        : stage1[0] + ((stage1[1] - stage1[0]) * (step - warmup)) / Math.max(1, split - warmup);
    return {lr, wd: cfg.weightDecay[0], stage: 1};
  }
  const w2 = split === 0 && warmup > 0 && step < warmup ? (step + 1) / warmup : 1; // no stage one: warm up here
  const lr = w2 * (stage2[0] + ((stage2[1] - stage2[0]) * (step - split)) / Math.max(1, S - split));
  return {lr, wd: cfg.weightDecay[1], stage: 2};
}
