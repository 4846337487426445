// The training loop shared by the CLI (Node: tfjs CPU or WebGPU via Dawn) and the training page (browser:
// tfjs WebGPU, WebGL or CPU): AdamW (decoupled weight decay on matrices), global-norm clipping, the
// two-stage LR/WD schedule, activation-precision stages, evaluation, per-step statistics for plots,
// exact save/resume (weights + optimizer moments + step; batches depend only on seed and step), and export
// to the reference model's ModelWeights.
import {tensorNames, type BitNetConfig} from "../config.js";
import type {EvalResult, LogRecord, StepResult, StepStats} from "./log.js";
import {readState, writeState} from "./state.js";
import {ternarize} from "../checkpoint.js";
import type {ModelWeights, Tensor as LibTensor} from "../tensor.js";
import {modelConfigAt, parseTrainConfig, quantizedAt, scheduleAt, stageIndexAt, type TrainConfig} from "./config.js";
import {trainBatch, valBatches, type Batch} from "./data.js";
import {
  FlatConstants,
  ROW,
  concatFlat,
  flatCodes,
  flatGamma,
  flatLayout,
  packFlat,
  quantizeFlat,
  sliceFlat,
  type FlatLayout,
} from "./flat.js";
import {ForwardCache, crossEntropy, forward, initParams, isQuantized, type Params} from "./model.js";
import {roundClip} from "../quant.js";
import {roundScale} from "./scale-format.js";
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
    if (opts.stats && !this.prevCodes && isQuantized(c)) this.prevCodes = await this.codes(this.P);

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
    const gnorm = this.applyAdamW(g, lr, wd);
    g.dispose();
    this.updateEma();
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

  /** The weights a forward at `step` multiplies with: ternarized (γ rounded to cfg.scaleFormat), or the latent
   *  weights as they are in a full-precision phase (cfg.ternaryFrom), which also leaves activations unquantized. */
  private async forwardWeights(source: TfTensor, step: number): Promise<{Q: TfTensor; float: boolean}> {
    if (!quantizedAt(this.cfg, step)) return {Q: this.tf.clone(source), float: true};
    const gamma = await this.storedGamma(source);
    const Q = quantizeFlat(this.tf, this.k, source, gamma);
    gamma?.dispose();
    return {Q, float: false};
  }

  /** Ternary codes of `source` with the γ the forward uses. */
  private async codes(source: TfTensor): Promise<TfTensor> {
    const gamma = await this.storedGamma(source);
    const codes = flatCodes(this.tf, this.k, source, gamma);
    gamma?.dispose();
    return codes;
  }

  /** γ = max(mean|W|, ε) per ternary tensor rounded to cfg.scaleFormat, [nTernary, 1]; undefined for fp32 (the
   *  forward then computes γ on the device). The rounding runs here, in roundScale, so every backend rounds alike. */
  private async storedGamma(source: TfTensor): Promise<TfTensor | undefined> {
    const fmt = this.cfg.scaleFormat;
    if (!fmt || fmt === "f32" || !this.k.seg) return undefined;
    const {gamma, gammaRows} = flatGamma(this.tf, this.k, source);
    gammaRows.dispose();
    const g = (await gamma.data()) as Float32Array;
    gamma.dispose();
    return this.tf.tensor2d(
      Float32Array.from(g, (v) => Math.max(roundScale(v, fmt), 1e-5)),
      [g.length, 1],
    );
  }

  /** ema ← β·ema + (1 − β)·P after each update (cfg.ema = β). */
  private updateEma(): void {
    const e = this.emaP;
    const beta = this.cfg.ema;
    if (!e || beta === undefined) return;
    const tf = this.tf;
    e.assign(tf.tidy(() => tf.add(tf.mul(e, beta), tf.mul(this.P, 1 - beta))));
  }

  /** The weights evaluation and export read: the EMA when the config keeps one, else the trained weights. */
  private get evaluated(): Variable {
    return this.emaP ?? this.P;
  }

  /** The EMA of the latent weights by name (tensors the caller disposes), or undefined without cfg.ema. */
  emaParams(): Params | undefined {
    return this.emaP ? sliceFlat(this.tf, this.layout, this.emaP) : undefined;
  }

  /** Decoupled AdamW (Loshchilov & Hutter; PyTorch's AdamW) on the flat buffer:
   *  p ← p(1 − lr·wd·[matrix]) − lr·m̂/(√v̂ + ε); gradients clipped to a global L2 norm first. Returns the norm. */
  private applyAdamW(grad: TfTensor, lr: number, wd: number): TfTensor {
    const tf = this.tf;
    const {
      betas: [b1, b2],
      eps,
      gradClip,
    } = this.cfg.optimizer;
    const t = this.step + 1;
    const R = this.layout.rows;
    return tf.tidy(() => {
      const norm = tf.sqrt(tf.sum(tf.sum(tf.square(grad.reshape([R, ROW])), 1)));
      const scale = gradClip > 0 ? tf.minimum(1, tf.div(gradClip, tf.add(norm, 1e-6))) : tf.scalar(1);
      const gs = tf.mul(grad, scale);
      this.m.assign(tf.add(tf.mul(this.m, b1), tf.mul(gs, 1 - b1)));
      this.v.assign(tf.add(tf.mul(this.v, b2), tf.mul(tf.square(gs), 1 - b2)));
      const upd = tf.div(
        tf.mul(this.m, 1 / (1 - Math.pow(b1, t))),
        tf.add(tf.sqrt(tf.mul(this.v, 1 / (1 - Math.pow(b2, t)))), eps),
      );
      const decay = tf.sub(1, tf.mul(this.k.decayRows, lr * wd)).reshape([R, 1]);
      const P = tf.mul(this.P.reshape([R, ROW]), decay).reshape([this.layout.total]);
      this.P.assign(tf.sub(P, tf.mul(upd, lr)));
      return norm;
    });
  }

  /** The current parameters by name (latent, float), as tensors the caller disposes. */
  params(): Params {
    return sliceFlat(this.tf, this.layout, this.P);
  }

  private async collectStats(): Promise<StepStats> {
    const tf = this.tf;
    const c = this.modelConfig();
    const gamma: Record<string, number> = {};
    const flipFraction: Record<string, number> = {};
    let flipOverall = 0;
    const e = this.layout.byName.get(this.sampleName)!;
    const SAMPLE = 512;
    const stride = Math.max(1, Math.floor(e.size / SAMPLE));
    const n = Math.min(SAMPLE, Math.floor(e.size / stride));
    const idx = tf.range(e.offset, e.offset + n * stride, stride, "int32");
    const latentT = tf.gather(this.P, idx);
    const sample = {name: this.sampleName, latent: new Float32Array(0), codes: new Int8Array(0), gamma: 0};
    if (isQuantized(c)) {
      const next = await this.codes(this.P);
      const stored = await this.storedGamma(this.P);
      const [gT, flT, codesT] = tf.tidy(() => {
        const gm = stored ? tf.clone(stored) : flatGamma(tf, this.k, this.P).gamma;
        const changed = tf.sum(tf.cast(tf.notEqual(next, this.prevCodes!), "float32"), 1, true); // [R, 1]
        const fl = tf.div(tf.matMul(this.k.seg!, changed), this.k.counts!);
        return [gm, fl, tf.gather(next.reshape([this.layout.total]), idx)];
      });
      stored?.dispose();
      const [gv, fv, cv] = await Promise.all([gT.data(), flT.data(), codesT.data()]);
      tf.dispose([gT, flT, codesT]);
      let total = 0;
      this.k.ternary.forEach((t, i) => {
        gamma[t.name] = gv[i];
        flipFraction[t.name] = fv[i];
        flipOverall += fv[i] * t.size;
        total += t.size;
      });
      flipOverall /= Math.max(1, total);
      sample.codes = Int8Array.from(cv);
      sample.gamma = gamma[this.sampleName] ?? 0;
      this.prevCodes?.dispose();
      this.prevCodes = next;
    }
    sample.latent = Float32Array.from(await latentT.data());
    tf.dispose([latentT, idx]);
    return {gamma, flipFraction, flipOverall, sample};
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
    const c = this.modelConfig(this.cfg.steps);
    const src = this.evaluated;
    const flat = (await src.data()) as Float32Array;
    const float = new Map<string, LibTensor>();
    for (const e of this.layout.entries)
      float.set(e.name, {shape: [...e.shape], data: flat.slice(e.offset, e.offset + e.size)});
    const w: ModelWeights = {config: c, float, ternary: new Map()};
    if (opts.latent) return w;
    const stored = await this.storedGamma(src);
    if (!stored) return ternarize(w);
    // γ in its storage format: the codes the forward trained with (quant.ts's absmean arithmetic, this γ).
    const gammas = (await stored.data()) as Float32Array;
    stored.dispose();
    this.k.ternary.forEach((e, i) => {
      const f = float.get(e.name)!;
      const s = Math.fround(1 / gammas[i]);
      const codes = new Int8Array(f.data.length);
      for (let j = 0; j < codes.length; j++) codes[j] = roundClip(Math.fround(f.data[j] * s), -1, 1);
      w.ternary.set(e.name, {shape: [e.shape[0], e.shape[1]], codes, gamma: 1 / s});
      float.delete(e.name);
    });
    return w;
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
