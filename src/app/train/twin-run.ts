// The training run the Train page drives: tfjs backend start-up and the b1.58/fp twin trained step by step
// (TwinRun). Page machinery, so it lives in src/app; its view-model types and the run's settings stay in
// src/lib/chapters/train.ts, which the views read.
import {
  BACKEND_ORDER,
  twinConfigs,
  type PageTfBackend,
  type RunSettings,
  type RunState,
  type SavedTwin,
  type TfBackendChoice,
  type TrainRunView,
  type TwinConfigs,
  type TwinEval,
  type TwinPoint,
  type TwinRunOptions,
} from "../../lib/chapters/train.js";
import type {ModelWeights} from "../../lib/tensor.js";
import {quantizedAt} from "../../lib/train/config.js";
import type {TF} from "../../lib/train/tf.js";
import {Trainer, type EvalResult, type StepStats, type TrainData} from "../../lib/train/trainer.js";

/** Starts the first tfjs backend that initialises: the preferred one, then the rest of `order` (default WebGPU →
 *  WebGL → WASM → CPU). The training worker passes an order that leaves out a software-emulated WebGPU adapter. */
export async function initTfBackend(
  tf: TF,
  preferred: PageTfBackend | "auto",
  order: readonly PageTfBackend[] = BACKEND_ORDER,
): Promise<TfBackendChoice> {
  order = preferred === "auto" ? order : [preferred, ...order.filter((b) => b !== preferred)];
  const attempts: TfBackendChoice["attempts"] = [];
  for (const name of order) {
    if (!tf.findBackendFactory(name)) {
      attempts.push({name, ok: false, error: "not registered in this build"});
      continue;
    }
    try {
      const ok = await tf.setBackend(name);
      if (ok && tf.getBackend() === name) {
        await tf.ready();
        attempts.push({name, ok: true});
        return {backend: name, attempts};
      }
      attempts.push({name, ok: false, error: "failed to initialise (no adapter or context?)"});
    } catch (e) {
      attempts.push({name, ok: false, error: e instanceof Error ? e.message : String(e)});
    }
  }
  throw new Error(`no TensorFlow.js backend initialised (${attempts.map((a) => `${a.name}: ${a.error}`).join("; ")})`);
}

const macrotask = () => new Promise<void>((r) => setTimeout(r, 0));

let runIds = 0;

/** tfjs with variable names prefixed by the model they belong to ("twin3.b158.params.7"), so tests and the
 *  page can find one model's variables. (The Trainer itself keeps names unique and frees its initial tensors;
 *  disposing a tensor twice is harmless.) */
export function scopedVariables(tf: TF, prefix: string): TF {
  const variable: TF["variable"] = (init, trainable, name, dtype) => {
    const v = tf.variable(init, trainable, name === undefined ? undefined : `${prefix}${name}`, dtype);
    init.dispose();
    return v;
  };
  return {...tf, variable} as TF;
}

/** b1.58 and its fp twin trained on the same batches, one step of each in turn — and, with RunSettings.changes, b1.58
 *  with the reader's changes to its recipe as a third model on the same batches. */
export class TwinRun implements TrainRunView {
  readonly tf: TF;
  readonly settings: RunSettings;
  readonly bitnet: Trainer;
  readonly fp: Trainer;
  readonly changed: Trainer | undefined;
  readonly points: TwinPoint[] = [];
  readonly evals: TwinEval[] = [];
  /** The latest b1.58 step statistics (the latent-weight sample, per-tensor flips and γ). */
  lastStats: StepStats | undefined;
  state: RunState = "ready";
  error: string | null = null;
  /** Validation every this many steps (and at the end); 0 = only at the end. */
  readonly evalEvery: number;
  private loop: Promise<void> | null = null;
  private stopRequested = false;
  private disposeRequested = false;

  private readonly id: number;

  private constructor(tf: TF, settings: RunSettings, id: number, bitnet: Trainer, fp: Trainer, changed?: Trainer) {
    this.tf = tf;
    this.id = id;
    this.settings = settings;
    this.bitnet = bitnet;
    this.fp = fp;
    this.changed = changed;
    this.evalEvery = Math.max(10, Math.round(settings.steps / 5));
  }

  static create(tf: TF, settings: RunSettings, data: TrainData): TwinRun {
    const {bitnet, fp, changed} = twinConfigs(settings);
    const id = ++runIds;
    const made: Trainer[] = [];
    try {
      made.push(Trainer.create(scopedVariables(tf, `twin${id}.b158.`), bitnet, data));
      made.push(Trainer.create(scopedVariables(tf, `twin${id}.fp.`), fp, data));
      if (changed) made.push(Trainer.create(scopedVariables(tf, `twin${id}.changed.`), changed, data));
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
    return new TwinRun(tf, settings, id, made[0], made[1], made[2]);
  }

  /** A run continued from its saved states (Trainer.saveState of both models) and its history, exactly where it
   *  stopped: the batches depend only on seed and step. The states must belong to these settings. */
  static fromStates(tf: TF, settings: RunSettings, data: TrainData, saved: SavedTwin): TwinRun {
    const {bitnet, fp, changed} = twinConfigs(settings);
    if (Boolean(changed) !== Boolean(saved.changed))
      throw new Error(
        `train: the saved run ${saved.changed ? "has" : "lacks"} the changed model these settings ${changed ? "need" : "leave out"}`,
      );
    const id = ++runIds;
    const made: Trainer[] = [];
    try {
      made.push(Trainer.fromState(scopedVariables(tf, `twin${id}.b158.`), saved.bitnet, data, bitnet));
      made.push(Trainer.fromState(scopedVariables(tf, `twin${id}.fp.`), saved.fp, data, fp));
      if (changed && saved.changed)
        made.push(Trainer.fromState(scopedVariables(tf, `twin${id}.changed.`), saved.changed, data, changed));
      const b = made[0];
      for (const t of made)
        if (t.step !== b.step)
          throw new Error(`train: the saved models are at different steps (${made.map((m) => m.step).join(", ")})`);
      if (b.step > settings.steps)
        throw new Error(`train: the saved run is at step ${b.step}, beyond its ${settings.steps} steps`);
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
    const b = made[0];
    const run = new TwinRun(tf, settings, id, b, made[1], made[2]);
    run.points.push(...saved.points.filter((p) => p.step <= b.step));
    run.evals.push(...saved.evals.filter((e) => e.step <= b.step));
    run.lastStats = saved.lastStats;
    run.state = run.done ? "done" : "paused";
    return run;
  }

  /** Both models' training states and the history, for saving (autosave) and fromStates. */
  async saveStates(): Promise<SavedTwin> {
    return {
      bitnet: await this.bitnet.saveState(),
      fp: await this.fp.saveState(),
      ...(this.changed ? {changed: await this.changed.saveState()} : {}),
      points: this.points.slice(),
      evals: this.evals.slice(),
      lastStats: this.lastStats,
    };
  }

  /** The two training configs (for schedules and shapes). */
  get configs(): TwinConfigs {
    return {bitnet: this.bitnet.cfg, fp: this.fp.cfg, ...(this.changed ? {changed: this.changed.cfg} : {})};
  }

  /** Prefix of the tfjs variable names of one of the models (for tests and debugging). */
  variablePrefix(which: "bitnet" | "fp" | "changed"): string {
    return `twin${this.id}.${which === "bitnet" ? "b158" : which}.`;
  }

  get step(): number {
    return this.bitnet.step;
  }

  get steps(): number {
    return this.settings.steps;
  }

  get done(): boolean {
    return this.bitnet.done;
  }

  /** Tokens each model has seen. */
  get tokensSeen(): number {
    return this.step * this.bitnet.cfg.batchSize * this.bitnet.cfg.seqLen;
  }

  /** One b1.58 step (with statistics), one fp step and (with changes) one changed step, on the same batch. */
  async stepOnce(): Promise<{point: TwinPoint; stats: StepStats}> {
    if (this.state === "disposed") throw new Error("train: the run was reset");
    const ternaryNow = this.changed ? quantizedAt(this.changed.cfg, this.changed.step) : undefined;
    const b = await this.bitnet.trainStep({stats: true});
    const f = await this.fp.trainStep();
    const c = this.changed ? await this.changed.trainStep() : undefined;
    for (const [r, name] of [
      [b, "b1.58"],
      [f, "fp"],
      [c, "b1.58 with your changes"],
    ] as const) {
      if (r && !Number.isFinite(r.loss))
        throw new Error(`the loss became ${r.loss} at step ${r.step} (${name}): lower the learning rate and reset`);
    }
    const stats = b.stats!;
    const ms = b.ms + f.ms + (c?.ms ?? 0);
    const point: TwinPoint = {
      step: b.step,
      bitnetLoss: b.loss,
      fpLoss: f.loss,
      flip: stats.flipOverall,
      gamma: stats.gamma,
      lr: b.lr,
      wd: b.wd,
      fpLr: f.lr,
      fpWd: f.wd,
      tokensPerSecond: (b.tokens + f.tokens + (c?.tokens ?? 0)) / (ms / 1000),
      ms,
      tensors: this.tf.memory().numTensors,
      ...(c ? {changedLoss: c.loss, changedLr: c.lr, changedWd: c.wd, changedTernary: ternaryNow} : {}),
    };
    this.points.push(point);
    this.lastStats = stats;
    return {point, stats};
  }

  /** Validation loss of both models (the held-out years). */
  async evaluate(): Promise<TwinEval> {
    const [b, f]: EvalResult[] = [await this.bitnet.evaluate(), await this.fp.evaluate()];
    const c = this.changed ? await this.changed.evaluate() : undefined;
    const e: TwinEval = {step: this.step, bitnet: b.loss, fp: f.loss, ...(c ? {changed: c.loss} : {})};
    const last = this.evals.at(-1);
    if (last?.step === e.step) this.evals[this.evals.length - 1] = e;
    else this.evals.push(e);
    return e;
  }

  /** Trains until done, paused, reset or `maxSteps` more pairs, yielding to the page between steps.
   *  Resolves when the loop has stopped (calling it while running returns the running loop). */
  run(opts: TwinRunOptions = {}): Promise<void> {
    if (this.loop) return this.loop;
    if (this.state === "disposed" || this.state === "error" || this.done) return Promise.resolve();
    this.stopRequested = false;
    this.state = "running";
    const yieldToPage = opts.yieldToPage ?? macrotask;
    const until = Math.min(this.steps, this.step + (opts.maxSteps ?? Infinity));
    this.loop = (async () => {
      try {
        while (!this.stopRequested && !this.disposeRequested && this.step < until) {
          const {point, stats} = await this.stepOnce();
          opts.onStep?.(point, stats);
          if (this.disposeRequested) break;
          if ((this.evalEvery > 0 && this.step % this.evalEvery === 0) || this.done) {
            const e = await this.evaluate();
            opts.onEval?.(e);
          }
          await yieldToPage();
        }
        this.state = this.disposeRequested ? "disposed" : this.done ? "done" : "paused";
      } catch (e) {
        this.state = this.disposeRequested ? "disposed" : "error";
        this.error = e instanceof Error ? e.message : String(e);
      } finally {
        this.loop = null;
        if (this.disposeRequested) this.free();
      }
    })();
    return this.loop;
  }

  /** Stops after the step in flight; resolves when the loop has stopped. */
  pause(): Promise<void> {
    this.stopRequested = true;
    return this.loop ?? Promise.resolve();
  }

  get running(): boolean {
    return this.loop !== null;
  }

  /** The trained b1.58 model as the reference model's weights (ternary codes + γ). Pauses first. */
  async exportBitNet(): Promise<ModelWeights> {
    await this.pause();
    if (this.state === "disposed") throw new Error("train: the run was reset");
    return this.bitnet.exportWeights();
  }

  /** Frees every tensor (after the step in flight, if any). */
  dispose(): void {
    this.disposeRequested = true;
    this.stopRequested = true;
    if (!this.loop) this.free();
  }

  private free(): void {
    this.state = "disposed"; // Trainer.dispose is idempotent
    this.bitnet.dispose();
    this.fp.dispose();
    this.changed?.dispose();
  }
}
