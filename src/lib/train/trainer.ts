// The training loop shared by the CLI (Node: tfjs CPU or WebGPU via Dawn) and the training page (browser:
// tfjs WebGPU, WebGL or CPU): AdamW (decoupled weight decay on matrices), global-norm clipping, the
// two-stage LR/WD schedule, activation-precision stages, evaluation, per-step statistics for plots,
// exact save/resume (weights + optimizer moments + step; batches depend only on seed and step), and export
// to the reference model's ModelWeights.
import {tensorNames, type BitNetConfig} from "../config.js";
import type {EvalResult, LogRecord, StepResult, StepStats} from "./log.js";
import {readState, writeState} from "./state.js";
import type {ModelWeights} from "../tensor.js";
import {modelConfigAt, parseTrainConfig, scheduleAt, stageIndexAt, type TrainConfig} from "./config.js";
import {trainBatch, valBatches, type Batch} from "./data.js";
import {FlatConstants, concatFlat, flatLayout, packFlat, sliceFlat, type FlatLayout} from "./flat.js";
import {ForwardCache, crossEntropy, forward, initParams, isQuantized, type Params} from "./model.js";
import {weightsFromFlat} from "./export.js";
import {adamWStep, emaStep} from "./optimizer.js";
import {codesOf, forwardWeights, storedGamma} from "./quantized.js";
import {collectStats} from "./step-stats.js";
import type {Scalar, TF, TfTensor, Variable} from "./tf.js";

export interface TrainData {
  /** Token streams (BOS doc EOS …) of the training and validation splits. */
  train: Uint16Array;
  val: Uint16Array;
}

export type {EvalResult, LogRecord, StepResult, StepStats} from "./log.js";

export interface StepOptions {
  /** Compute StepStats (costs a few extra small kernels and a read-back). */
  stats?: boolean;
}

let trainerCount = 0;

export class Trainer {
  readonly tf: TF;
  readonly cfg: TrainConfig;
  /** All latent parameters, flat (see flat.ts), and AdamW's moments in the same layout. */
  readonly layout: FlatLayout;
  private readonly P: Variable;
  private readonly m: Variable;
  private readonly v: Variable;
  /** The exponential moving average of P (cfg.ema): what evaluation and export read. */
  private readonly emaP: Variable | undefined;
  private readonly k: FlatConstants;
  private readonly data: TrainData;
  private readonly cache = new ForwardCache();
  private prevCodes: TfTensor | undefined;
  private evalSet: Batch[] | undefined;
  /** Steps done. */
  step = 0;
  /** Everything logged so far (kept in saved states). */
  readonly log: LogRecord[] = [];
  private paused = false;
  private disposed = false;
  /** The weight whose latent values and codes StepStats samples. */
  sampleName: string;

  private constructor(
    tf: TF,
    cfg: TrainConfig,
    data: TrainData,
    flat: Float32Array,
    moments?: {m: Float32Array; v: Float32Array},
    ema?: Float32Array,
  ) {
    this.tf = tf;
    this.cfg = cfg;
    this.data = data;
    this.layout = flatLayout(modelConfigAt(cfg, 0));
    if (flat.length !== this.layout.total)
      throw new Error(`trainer: ${flat.length} parameters, the layout needs ${this.layout.total}`);
    // Names unique per trainer (tfjs registers variables by name: a page trains two models at once), and the
    // initial tensors disposed (a variable keeps its own reference to the data).
    const id = ++trainerCount;
    const variable = (init: TfTensor, trainable: boolean, name: string): Variable => {
      const v = tf.variable(init, trainable, `${name}.${id}`);
      init.dispose();
      return v;
    };
    this.P = variable(tf.tensor1d(flat), true, "params");
    this.m = variable(moments ? tf.tensor1d(moments.m) : tf.zeros([this.layout.total]), false, "adam_m");
    this.v = variable(moments ? tf.tensor1d(moments.v) : tf.zeros([this.layout.total]), false, "adam_v");
    // The average starts at the initial weights (no bias correction, as torch's EMA helpers and parameter-golf do).
    if (cfg.ema !== undefined) this.emaP = variable(tf.tensor1d(ema ?? flat), false, "ema");
    this.k = new FlatConstants(tf, this.layout);
    this.sampleName = isQuantized(this.modelConfig()) ? tensorNames.layer(0).q : tensorNames.embed;
  }

  /** A fresh model (deterministic init from cfg.seed). `cfg` may be raw JSON; it is validated. */
  static create(tf: TF, cfg: TrainConfig | unknown, data: TrainData): Trainer {
    const c = isTrainConfig(cfg) ? cfg : parseTrainConfig(cfg);
    checkData(c, data);
    const init = initParams(tf, modelConfigAt(c, 0), c.seed);
    const layout = flatLayout(modelConfigAt(c, 0));
    const flat = packFlat(layout, (n) => init.get(n)!.dataSync() as Float32Array);
    tf.dispose([...init.values()]);
    return new Trainer(tf, c, data, flat);
  }

  /** The model config in force now (activation stage applied). */
  modelConfig(step = this.step): BitNetConfig {
    return modelConfigAt(this.cfg, step);
  }

  get done(): boolean {
    return this.step >= this.cfg.steps;
  }

  /** One optimizer step on the next batch. */
  async trainStep(opts: StepOptions = {}): Promise<StepResult> {
    if (this.disposed) throw new Error("trainer: disposed");
    const tf = this.tf;
    const t0 = now();
    const c = this.modelConfig();
    const {lr, wd, stage} = scheduleAt(this.cfg, this.step);
    const {batchSize: B, seqLen: T} = this.cfg;
    const batch = trainBatch(this.data.train, B, T, this.cfg.seed, this.step);
    if (opts.stats && !this.prevCodes && isQuantized(c)) this.prevCodes = await codesOf(tf, this.k, this.cfg, this.P);

    const x = tf.tensor2d(batch.inputs, [B, T], "int32");
    const y = tf.tensor1d(batch.targets, "int32");
    // Straight-through estimator for every weight at once: the forward sees W̃ (quantizeFlat), and the
    // gradient with respect to W̃ is applied to the latent W unchanged.
    const {Q, float} = await this.forwardWeights(this.P, this.step);
    const leaves = sliceFlat(tf, this.layout, Q);
    const names = this.layout.entries.map((e) => e.name);
    const fwd = {cache: this.cache, weightsQuantized: true, floatActivations: float};
    const {value, grads} = tf.valueAndGrads((...ws: TfTensor[]) => {
      const p: Params = new Map(names.map((n, i) => [n, ws[i]]));
      return crossEntropy(tf, forward(tf, c, p, x, fwd), y) as Scalar;
    })(names.map((n) => leaves.get(n)!));
    tf.dispose([x, y, Q, ...leaves.values()]);
    const g = concatFlat(tf, this.k, grads);
    tf.dispose(grads);
    const opt = {P: this.P, m: this.m, v: this.v, k: this.k, layout: this.layout};
    const gnorm = adamWStep(tf, opt, this.cfg.optimizer, g, lr, wd, this.step);
    g.dispose();
    emaStep(tf, this.emaP, this.P, this.cfg.ema);
    const [lossArr, gnArr] = await Promise.all([value.data(), gnorm.data()]);
    value.dispose();
    gnorm.dispose();
    this.step++;

    const stats = opts.stats ? await this.collectStats() : undefined;

    const ms = now() - t0;
    const res: StepResult = {
      step: this.step,
      loss: lossArr[0],
      gradNorm: gnArr[0],
      lr,
      wd,
      lrStage: stage,
      actStage: stageIndexAt(this.cfg, this.step - 1),
      activationBits: c.bitnet_activation_bits,
      tokens: B * T,
      ms,
      tokensPerSecond: (B * T) / (ms / 1000),
      stats,
    };
    const {stats: _s, ...rec} = res;
    void _s;
    if (this.step % this.cfg.logEvery === 0 || this.step === 1 || this.done) this.log.push({kind: "step", ...rec});
    return res;
  }

  /** The weights a forward at `step` multiplies with (quantized.ts). */
  private forwardWeights(source: TfTensor, step: number): Promise<{Q: TfTensor; float: boolean}> {
    return forwardWeights(this.tf, this.k, this.cfg, source, step);
  }

  private storedGamma(source: TfTensor): Promise<TfTensor | undefined> {
    return storedGamma(this.tf, this.k, this.cfg, source);
  }

  /** The weights evaluation and export read: the EMA when the config keeps one, else the trained weights. */
  private get evaluated(): Variable {
    return this.emaP ?? this.P;
  }

  /** The EMA of the latent weights by name (tensors the caller disposes), or undefined without cfg.ema. */
  emaParams(): Params | undefined {
    return this.emaP ? sliceFlat(this.tf, this.layout, this.emaP) : undefined;
  }

  /** The current parameters by name (latent, float), as tensors the caller disposes. */
  params(): Params {
    return sliceFlat(this.tf, this.layout, this.P);
  }

  private async collectStats(): Promise<StepStats> {
    const {stats, codes} = await collectStats(this.tf, {
      P: this.P,
      k: this.k,
      layout: this.layout,
      sampleName: this.sampleName,
      quantized: isQuantized(this.modelConfig()),
      prevCodes: this.prevCodes,
      codes: (src) => codesOf(this.tf, this.k, this.cfg, src),
      storedGamma: (src) => this.storedGamma(src),
    });
    if (codes) {
      this.prevCodes?.dispose();
      this.prevCodes = codes;
    }
    return stats;
  }

  /** Mean validation loss over `batches` (default: cfg.evalBatches·batchSize windows spread over the split). */
  async evaluate(batches?: Batch[], onBatch?: (done: number, total: number) => void): Promise<EvalResult> {
    const tf = this.tf;
    if (!batches) {
      this.evalSet ??= valBatches(
        this.data.val,
        this.cfg.batchSize,
        this.cfg.seqLen,
        this.cfg.evalBatches * this.cfg.batchSize,
      );
      batches = this.evalSet;
    }
    const c = this.modelConfig();
    let sum = 0;
    let n = 0;
    let done = 0;
    // The model as the last update trained it: full precision before a late switch, ternary after.
    const {Q, float} = await this.forwardWeights(this.evaluated, Math.max(0, this.step - 1));
    const p = sliceFlat(tf, this.layout, Q);
    Q.dispose();
    const fwd = {cache: this.cache, weightsQuantized: true, floatActivations: float};
    for (const b of batches) {
      const l = tf.tidy(() => {
        const x = tf.tensor2d(b.inputs, [b.B, b.T], "int32");
        const y = tf.tensor1d(b.targets, "int32");
        return crossEntropy(tf, forward(tf, c, p, x, fwd), y);
      });
      const v = (await l.data())[0];
      l.dispose();
      sum += v * b.B * b.T;
      n += b.B * b.T;
      onBatch?.(++done, batches.length);
    }
    tf.dispose([...p.values()]);
    const loss = sum / n;
    const res = {step: this.step, loss, perplexity: Math.exp(loss), tokens: n};
    this.log.push({kind: "eval", ...res});
    return res;
  }

  /** Logits [B·T, vocab] of token ids (for tests and the export check). */
  async logits(tokens: Int32Array, B: number, T: number): Promise<Float32Array> {
    const tf = this.tf;
    const {Q, float} = await this.forwardWeights(this.evaluated, Math.max(0, this.step - 1));
    const out = tf.tidy(() => {
      const p = sliceFlat(tf, this.layout, Q);
      return forward(tf, this.modelConfig(), p, tf.tensor2d(tokens, [B, T], "int32"), {
        cache: this.cache,
        weightsQuantized: true,
        floatActivations: float,
      });
    });
    Q.dispose();
    const d = (await out.data()) as Float32Array;
    out.dispose();
    return d;
  }

  pause(): void {
    this.paused = true;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Trains until done, paused, or `maxSteps` more steps, yielding to the event loop between steps so a
   *  page stays responsive; evaluates every cfg.evalEvery steps. */
  async run(
    opts: {
      maxSteps?: number;
      stats?: boolean;
      onStep?: (r: StepResult) => void;
      onEval?: (e: EvalResult) => void;
      yieldMs?: number;
    } = {},
  ): Promise<void> {
    this.paused = false;
    const until = Math.min(this.cfg.steps, this.step + (opts.maxSteps ?? Infinity));
    while (!this.paused && this.step < until) {
      const r = await this.trainStep({stats: opts.stats});
      opts.onStep?.(r);
      if (this.cfg.evalEvery > 0 && (this.step % this.cfg.evalEvery === 0 || this.done))
        opts.onEval?.(await this.evaluate());
      await new Promise((res) => setTimeout(res, opts.yieldMs ?? 0));
    }
  }

  // ---------------------------------------------------------------- state

  /** Everything needed to continue exactly: latent weights, Adam moments, step, config and log
   *  (a safetensors file; F32 throughout; state.ts writeState). */
  async saveState(): Promise<Uint8Array> {
    const [params, adamM, adamV, ema] = (await Promise.all([
      this.P.data(),
      this.m.data(),
      this.v.data(),
      ...(this.emaP ? [this.emaP.data()] : []),
    ])) as Float32Array[];
    return writeState({
      params,
      adamM,
      adamV,
      ema,
      step: this.step,
      config: this.cfg,
      log: this.log,
      layout: this.layout,
    });
  }

  /** Restores a saved state. `cfg` (optional) replaces the saved config — e.g. to continue a stage-one
   *  run under a stage-two config (v2 a8 → a4); shapes, seed, batch and sequence length must agree (state.ts
   *  readState). */
  static fromState(tf: TF, bytes: Uint8Array, data: TrainData, cfg?: TrainConfig): Trainer {
    const st = readState(bytes, cfg);
    const c = st.config;
    checkData(c, data);
    const layout = flatLayout(modelConfigAt(c, 0));
    if (JSON.stringify(st.meta.layout) !== JSON.stringify(layout.entries.map((e) => [e.name, e.shape, e.offset]))) {
      throw new Error("trainer: the saved parameter layout does not match the config's");
    }
    const tr = new Trainer(
      tf,
      c,
      data,
      st.load("params"),
      {m: st.load("adam_m"), v: st.load("adam_v")},
      c.ema !== undefined ? st.load("ema") : undefined,
    );
    tr.step = st.meta.step;
    tr.log.push(...st.meta.log);
    return tr;
  }

  /** The trained model as the reference model's weights: BitLinear weights ternarized by the reference's
   *  own absmean quantizer (checkpoint.ts ternarize, identical to the forward's), everything else float.
   *  An fp model keeps every projection in `float`. `latent` keeps the float projections instead. */
  async exportWeights(opts: {latent?: boolean} = {}): Promise<ModelWeights> {
    const src = this.evaluated;
    const flat = (await src.data()) as Float32Array;
    const stored = opts.latent ? undefined : await this.storedGamma(src);
    const gammas = stored ? ((await stored.data()) as Float32Array) : undefined;
    stored?.dispose();
    return weightsFromFlat(this.modelConfig(this.cfg.steps), this.layout, this.k.ternary, flat, gammas, !!opts.latent);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.tf.dispose([
      this.P,
      this.m,
      this.v,
      ...(this.emaP ? [this.emaP] : []),
      ...(this.prevCodes ? [this.prevCodes] : []),
    ]);
    this.k.dispose();
    this.cache.dispose();
  }
}

function isTrainConfig(c: unknown): c is TrainConfig {
  return (
    typeof c === "object" &&
    c !== null &&
    "optimizer" in c &&
    "lr" in c &&
    "steps" in c &&
    "weightDecay" in c &&
    "evalBatches" in c
  );
}

function checkData(c: TrainConfig, d: TrainData): void {
  const V = modelConfigAt(c, 0).vocab_size;
  for (const [k, s] of [
    ["train", d.train],
    ["val", d.val],
  ] as const) {
    if (s.length < c.seqLen + 1)
      throw new Error(`trainer: the ${k} stream has ${s.length} tokens, fewer than seqLen+1 = ${c.seqLen + 1}`);
    let max = 0;
    for (let i = 0; i < s.length; i++) if (s[i] > max) max = s[i];
    if (max >= V) throw new Error(`trainer: the ${k} stream holds token id ${max}, outside vocab_size ${V}`);
  }
}

const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());
