// Chapter 6 (train your own) computations, DOM-free: the tiny model presets, the twin training configs
// (b1.58 and its fp baseline on the same batches), the alternating training loop with pause/resume and
// per-step history, and the backend choice. Chart-ready series: train-series.ts; the record a browser-trained
// checkpoint is stored as (IndexedDB) so the forward-pass page can load it: train-record.ts.
import {parameterCounts} from "../model.js";
import type {ModelWeights} from "../tensor.js";
import {modelConfigAt, parseTrainConfig, type TrainConfig} from "../train/config.js";
import type {StepStats} from "../train/trainer.js";
import {changedConfig, hasChanges, type TernaryChanges} from "./train-breaks.js";

// ---------------------------------------------------------------- presets

export interface SizePreset {
  label: string;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  /** Sequences per step (B) and tokens per sequence (T). */
  batch: number;
  seqLen: number;
}

/** Small enough to train in a browser tab (with the shipped 4096-token tokenizer the tied embedding is most
 *  of the parameters); "tiny" runs at all on the pure-JS CPU backend. */
export const SIZES = {
  tiny: {
    label: "tiny (C = 32, 1 layer, B·T = 4·32)",
    hidden: 32,
    layers: 1,
    heads: 2,
    kvHeads: 1,
    ffn: 64,
    batch: 4,
    seqLen: 32,
  },
  small: {
    label: "small (C = 64, 2 layers, B·T = 8·64)",
    hidden: 64,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffn: 176,
    batch: 8,
    seqLen: 64,
  },
  medium: {
    label: "medium (C = 96, 2 layers, B·T = 16·64)",
    hidden: 96,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffn: 256,
    batch: 16,
    seqLen: 64,
  },
} as const satisfies Record<string, SizePreset>;
export type SizeName = keyof typeof SIZES;
export const SIZE_NAMES = Object.keys(SIZES) as SizeName[];

/** Positions the trained model accepts (prompt + generated tokens); ≥ every preset's seqLen. */
export const MAX_POSITIONS = 128;

export interface RunSettings {
  size: SizeName;
  steps: number;
  /** Peak learning rate of the b1.58 model (stage one starts here). */
  lr: number;
  seed: number;
  vocabSize: number;
  /** "What breaks for ternary": changes to the b1.58 recipe, trained as a third model beside the two. */
  changes?: TernaryChanges;
}

/** The fp twin's peak LR relative to b1.58's: the papers' full-precision baselines need a lower LR
 *  (a4.8 Table 7: LLaMA 2.5e-4 vs BitNet 1.5e-3 at 700M); the repo's configs/fp.json uses 0.75×. */
export const FP_LR_RATIO = 0.75;

/** Linear warm-up length: 5% of the run, at least one step and at most 100. */
export function warmupSteps(steps: number): number {
  return Math.min(100, Math.max(1, Math.round(steps / 20)));
}

/** The two training configs of a run. Both see the same batches (same seed, B, T). b1.58 follows the
 *  papers' two-stage recipe (b1.58 FAQ, a4.8 Table 7): peak LR decaying to 0.6×, an abrupt drop to 0.4× at
 *  half-way decaying to 0, weight decay 0.1 → 0. The fp twin follows the LLaMA baseline: a lower peak, one
 *  linear decay, constant weight decay 0.1 (as configs/fp.json). */
export function twinConfigs(s: RunSettings): TwinConfigs {
  const p = SIZES[s.size];
  if (!p) throw new Error(`train: unknown size "${s.size}" (known: ${SIZE_NAMES.join(", ")})`);
  const shape = {
    vocab_size: s.vocabSize,
    hidden_size: p.hidden,
    intermediate_size: p.ffn,
    num_hidden_layers: p.layers,
    num_attention_heads: p.heads,
    num_key_value_heads: p.kvHeads,
    max_position_embeddings: MAX_POSITIONS,
  };
  const common = {
    seed: s.seed,
    batchSize: p.batch,
    seqLen: p.seqLen,
    steps: s.steps,
    evalEvery: 0, // the twin loop evaluates both models itself
    evalBatches: 2,
    logEvery: 10,
    checkpointEvery: 0,
  };
  const w = warmupSteps(s.steps);
  const f = s.lr * FP_LR_RATIO;
  const bitnet = parseTrainConfig(
    {
      name: "browser-b1.58",
      model: {bitnet_variant: "b1.58", ...shape},
      ...common,
      lr: {warmup: w, stage1: [s.lr, 0.6 * s.lr], stage2: [0.4 * s.lr, 0], split: 0.5},
      weightDecay: [0.1, 0],
    },
    "browser b1.58 config",
  );
  const fp = parseTrainConfig(
    {
      name: "browser-fp",
      model: {bitnet_variant: "fp", ...shape},
      ...common,
      lr: {warmup: w, stage1: [f, (2 / 3) * f], stage2: [(2 / 3) * f, 0], split: 0.5},
      weightDecay: [0.1, 0.1],
    },
    "browser fp config",
  );
  return hasChanges(s.changes) ? {bitnet, fp, changed: changedConfig(bitnet, s.changes)} : {bitnet, fp};
}

/** A run's training configs: b1.58, its fp twin, and b1.58 with the reader's changes when there are any. */
export interface TwinConfigs {
  bitnet: TrainConfig;
  fp: TrainConfig;
  changed?: TrainConfig;
}

/** Parameter counts of a preset (b1.58: ternary projections + float embedding and norms). */
export function presetParameters(size: SizeName, vocabSize: number): {total: number; ternary: number; float: number} {
  const c = modelConfigAt(twinConfigs({size, steps: 10, lr: 1e-3, seed: 1, vocabSize}).bitnet, 0);
  const n = parameterCounts(c);
  return {total: n.total, ternary: n.linear, float: n.total - n.linear};
}

// ---------------------------------------------------------------- choosing a size from a measured warm-up

/** Step pairs after which the b1.58 training loss (mean of 3 steps) has fallen at least one nat below its start
 *  (mean of the first 3), at the default learning rate and seed, with the shipped tokenizer and the training text:
 *  tiny measured at step 24 (tfjs CPU in Node); small was 8.33 → 8.01 at step 10, on the same course. The first nat
 *  is the unigram statistics, which every size learns at a similar pace; rounded up for safety. */
export const STEPS_TO_FALL: Record<SizeName, number> = {tiny: 30, small: 30, medium: 30};

/** The time a reader should wait at most for a visibly falling loss. */
export const FALL_BUDGET_MS = 60_000;

/** Rough cost of a step pair relative to tiny (tokens per step × work per token), to skip measuring a size that
 *  cannot fit the budget: measuring it would itself take most of a minute on a slow machine. */
const SIZE_COST: Record<SizeName, number> = {tiny: 1, small: 8, medium: 24};

/** The next size worth measuring after `measured` (smallest first), or null when the next cannot fit the budget. */
export function nextSizeToMeasure(measured: readonly SizeMeasurement[], budgetMs = FALL_BUDGET_MS): SizeName | null {
  if (!measured.length) return SIZE_NAMES[0];
  const last = measured[measured.length - 1];
  const next = SIZE_NAMES[SIZE_NAMES.indexOf(last.size) + 1];
  if (!next) return null;
  const estimate = (last.msPerStep * SIZE_COST[next]) / SIZE_COST[last.size];
  return estimate * STEPS_TO_FALL[next] <= budgetMs ? next : null;
}

export interface SizeMeasurement {
  size: SizeName;
  /** Milliseconds per step pair (b1.58 + fp), after a warm-up step. */
  msPerStep: number;
}

export interface SizePick {
  size: SizeName;
  /** Expected time to a loss one nat below its start, and for the whole run. */
  fallMs: number;
  runMs: number;
  why: string;
}

/** The largest measured size whose expected time to a visibly falling loss fits FALL_BUDGET_MS (else the fastest):
 *  so the default run shows learning in one sitting on the reader's machine. */
export function pickSize(measured: readonly SizeMeasurement[], steps: number, budgetMs = FALL_BUDGET_MS): SizePick {
  if (!measured.length) throw new Error("pickSize: nothing was measured");
  const order = (n: SizeName) => SIZE_NAMES.indexOf(n);
  const sorted = [...measured].sort((a, b) => order(a.size) - order(b.size));
  const fits = sorted.filter((m) => m.msPerStep * STEPS_TO_FALL[m.size] <= budgetMs);
  const m = fits.at(-1) ?? sorted.reduce((a, b) => (b.msPerStep < a.msPerStep ? b : a));
  const fallMs = m.msPerStep * STEPS_TO_FALL[m.size];
  const others = sorted
    .filter((x) => x !== m)
    .map((x) => `${x.size} ${Math.round(x.msPerStep)} ms`)
    .join(", ");
  const why = `${m.size} takes ${Math.round(m.msPerStep)} ms per step pair here${others ? ` (measured: ${others})` : ""}; the loss drops a nat in about ${STEPS_TO_FALL[m.size]} steps, so ${fits.length ? "it is the largest size that shows learning within a minute" : "it is the fastest size, and even it needs more than a minute here"}`;
  return {size: m.size, fallMs, runMs: m.msPerStep * steps, why};
}

// ---------------------------------------------------------------- backend

export type PageTfBackend = "webgpu" | "webgl" | "wasm" | "cpu";
export const BACKEND_ORDER: readonly PageTfBackend[] = ["webgpu", "webgl", "wasm", "cpu"];

export interface TfBackendChoice {
  backend: PageTfBackend;
  /** Every backend tried, in order, with why it failed. */
  attempts: {name: PageTfBackend; ok: boolean; error?: string}[];
}

/** tfjs's two CPU-side backends timed on the same work: ms per tiny step pair (after a warm-up pair); null for a
 *  backend that did not start. */
export interface CpuBackendMeasurement {
  wasm: number | null;
  cpu: number | null;
}

/** Without a hardware GPU, "auto" trains on whichever CPU-side backend measured faster here: WebAssembly (tfjs's
 *  WASM backend, SIMD where the browser has it) or plain JavaScript (tfjs's CPU backend). */
export function pickCpuBackend(m: CpuBackendMeasurement): {backend: "wasm" | "cpu"; reason: string} {
  const ms = (x: number) => `${Math.round(x)} ms`;
  if (m.wasm === null && m.cpu === null) throw new Error("pickCpuBackend: neither backend started");
  if (m.cpu === null)
    return {
      backend: "wasm",
      reason: `WebAssembly (the plain-JavaScript backend did not start; WASM: ${ms(m.wasm!)} per tiny step pair)`,
    };
  if (m.wasm === null) return {backend: "cpu", reason: "plain JavaScript (the WebAssembly backend did not start)"};
  return m.wasm < m.cpu
    ? {
        backend: "wasm",
        reason: `WebAssembly measured faster than plain JavaScript here (${ms(m.wasm)} against ${ms(m.cpu)} per tiny step pair)`,
      }
    : {
        backend: "cpu",
        reason: `plain JavaScript measured faster than WebAssembly here (${ms(m.cpu)} against ${ms(m.wasm)} per tiny step pair)`,
      };
}

// ---------------------------------------------------------------- the twin run

export interface TwinPoint {
  /** Steps done by each model after this one. */
  step: number;
  bitnetLoss: number;
  fpLoss: number;
  /** Fraction of all ternary codes (every BitLinear weight) that changed in this step's update. */
  flip: number;
  /** γ = mean|W| per BitLinear weight before this step's update. */
  gamma: Record<string, number>;
  lr: number;
  wd: number;
  fpLr: number;
  fpWd: number;
  /** Tokens through both models per second of this step pair. */
  tokensPerSecond: number;
  ms: number;
  /** Live tfjs tensors after the step (flat once the caches are filled; growth means a leak). */
  tensors: number;
  /** The changed b1.58 model (RunSettings.changes): its training loss, LR and WD, and whether this step was ternary. */
  changedLoss?: number;
  changedLr?: number;
  changedWd?: number;
  changedTernary?: boolean;
}

export interface TwinEval {
  step: number;
  bitnet: number;
  fp: number;
  /** The changed model's validation loss (of its EMA when it keeps one). */
  changed?: number;
}

/** A run as saved: both models' training states (safetensors bytes) and what the charts show. */
export interface SavedTwin {
  bitnet: Uint8Array;
  fp: Uint8Array;
  changed?: Uint8Array;
  points: TwinPoint[];
  evals: TwinEval[];
  lastStats: StepStats | undefined;
}

/** What the training page's views read from a run, whether it trains here (TwinRun) or in a worker. */
export interface TrainRunView {
  readonly settings: RunSettings;
  readonly configs: TwinConfigs;
  readonly points: TwinPoint[];
  readonly evals: TwinEval[];
  readonly lastStats: StepStats | undefined;
  readonly state: RunState;
  readonly error: string | null;
  readonly step: number;
  readonly steps: number;
  readonly done: boolean;
  readonly running: boolean;
  readonly tokensSeen: number;
  run(opts?: TwinRunOptions): Promise<void>;
  pause(): Promise<void>;
  dispose(): void;
  exportBitNet(): Promise<ModelWeights>;
}

export type RunState = "ready" | "running" | "paused" | "done" | "error" | "disposed";

export interface TwinRunOptions {
  onStep?: (p: TwinPoint, stats: StepStats) => void;
  onEval?: (e: TwinEval) => void;
  /** Gives the page a turn between steps (default: a macrotask). */
  yieldToPage?: () => Promise<void>;
  /** Stop after this many more step pairs (default: until done). */
  maxSteps?: number;
}
