// The training loop shared by the CLI (Node: tfjs CPU or WebGPU via Dawn) and the training page (browser:
// tfjs WebGPU, WebGL or CPU): AdamW (decoupled weight decay on matrices), global-norm clipping, the
// two-stage LR/WD schedule, activation-precision stages, evaluation, per-step statistics for plots,
// exact save/resume (weights + optimizer moments + step; batches depend only on seed and step), and export
// to the reference model's ModelWeights.
import {tensorNames, type BitNetConfig} from "../config.js";
import {fromFloat32, parseSafetensorsHeader, tensorBytes, toFloat32, writeSafetensors, type TensorEntry} from "../safetensors.js";
import {ternarize} from "../checkpoint.js";
import type {ModelWeights, Tensor as LibTensor} from "../tensor.js";
import {modelConfigAt, parseTrainConfig, scheduleAt, stageIndexAt, type TrainConfig} from "./config.js";
import {trainBatch, valBatches, type Batch} from "./data.js";
import {ForwardCache, checkParams, crossEntropy, forward, initParams, isQuantized, linearNames, type ForwardStats, type Params} from "./model.js";
import type {TF, Tensor, Variable} from "./tf.js";

export interface TrainData {
  /** Token streams (BOS doc EOS …) of the training and validation splits. */
  train: Uint16Array;
  val: Uint16Array;
}

export interface StepResult {
  /** Steps done after this one. */
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  wd: number;
  /** LR/WD stage of the two-stage schedule (1 or 2). */
  lrStage: 1 | 2;
  /** Activation stage index (0 = the config's own bits; k = after stages[k−1]) and its bits. */
  actStage: number;
  activationBits: 8 | 4;
  tokens: number;
  ms: number;
  tokensPerSecond: number;
  stats?: StepStats;
}

/** Per-step statistics for the training page's plots. */
export interface StepStats {
  /** γ = mean|W| of each BitLinear weight (by tensor name) before this step's update. */
  gamma: Record<string, number>;
  /** Fraction of ternary codes that changed in this step's update, per BitLinear weight and overall. */
  flipFraction: Record<string, number>;
  flipOverall: number;
  /** A fixed sample of one weight's latent values and their ternary codes after the update. */
  sample: {name: string; latent: Float32Array; codes: Int8Array; gamma: number};
}

export interface EvalResult {
  step: number;
  loss: number;
  perplexity: number;
  tokens: number;
}

export interface StepOptions {
  /** Compute StepStats (costs a few extra small kernels and a read-back). */
  stats?: boolean;
}

/** One line of the training log. */
export type LogRecord = ({kind: "step"} & Omit<StepResult, "stats">) | ({kind: "eval"} & EvalResult);

const STATE_KEY = "bitnet_lab_train_state";

export class Trainer {
  readonly tf: TF;
  readonly cfg: TrainConfig;
  readonly params: Params;
  private readonly m = new Map<string, Variable>();
  private readonly v = new Map<string, Variable>();
  private readonly data: TrainData;
  private readonly cache = new ForwardCache();
  private prevCodes = new Map<string, Tensor>();
  private evalSet: Batch[] | undefined;
  /** Steps done. */
  step = 0;
  /** Everything logged so far (kept in saved states). */
  readonly log: LogRecord[] = [];
  private paused = false;
  private disposed = false;
  sampleName: string;

  private constructor(tf: TF, cfg: TrainConfig, data: TrainData, params: Params) {
    this.tf = tf;
    this.cfg = cfg;
    this.data = data;
    this.params = params;
    for (const [name, p] of params) {
      for (const [map, prefix] of [[this.m, "adam_m"], [this.v, "adam_v"]] as const) {
        const z = tf.zerosLike(p);
        map.set(name, tf.variable(z, false, `${prefix}.${name}`));
        z.dispose();
      }
    }
    this.sampleName = isQuantized(this.modelConfig()) ? tensorNames.layer(0).q : tensorNames.embed;
    checkParams(modelConfigAt(cfg, 0), params);
  }

  /** A fresh model (deterministic init from cfg.seed). `cfg` may be raw JSON; it is validated. */
  static create(tf: TF, cfg: TrainConfig | unknown, data: TrainData): Trainer {
    const c = isTrainConfig(cfg) ? cfg : parseTrainConfig(cfg);
    checkData(c, data);
    return new Trainer(tf, c, data, initParams(tf, modelConfigAt(c, 0), c.seed));
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
    const fstats: ForwardStats | undefined = opts.stats ? {gamma: new Map()} : undefined;
    if (opts.stats && this.prevCodes.size === 0 && isQuantized(c)) this.prevCodes = this.codes();

    const x = tf.tensor2d(batch.inputs, [B, T], "int32");
    const y = tf.tensor1d(batch.targets, "int32");
    const vars = [...this.params.values()];
    const {value, grads} = tf.variableGrads(() => crossEntropy(tf, forward(tf, c, this.params, x, {cache: this.cache, stats: fstats}), y) as never, vars);
    x.dispose();
    y.dispose();
    const gnorm = this.applyAdamW(grads, lr, wd);
    tf.dispose(grads);
    const [lossArr, gnArr] = await Promise.all([value.data(), gnorm.data()]);
    value.dispose();
    gnorm.dispose();
    this.step++;

    let stats: StepStats | undefined;
    if (opts.stats) stats = await this.collectStats(fstats!);
    else if (fstats) for (const t of fstats.gamma!.values()) t.dispose();

    const ms = now() - t0;
    const res: StepResult = {
      step: this.step, loss: lossArr[0], gradNorm: gnArr[0], lr, wd, lrStage: stage,
      actStage: stageIndexAt(this.cfg, this.step - 1), activationBits: c.bitnet_activation_bits,
      tokens: B * T, ms, tokensPerSecond: (B * T) / (ms / 1000), stats,
    };
    const {stats: _s, ...rec} = res;
    void _s;
    if (this.step % this.cfg.logEvery === 0 || this.step === 1 || this.done) this.log.push({kind: "step", ...rec});
    return res;
  }

  /** Decoupled AdamW (Loshchilov & Hutter; PyTorch's AdamW): p ← p(1 − lr·wd) − lr·m̂/(√v̂ + ε), weight decay
   *  on matrices only (not norms). Gradients are clipped to a global L2 norm first. Returns the norm. */
  private applyAdamW(grads: Record<string, Tensor>, lr: number, wd: number): Tensor {
    const tf = this.tf;
    const {betas: [b1, b2], eps, gradClip} = this.cfg.optimizer;
    const t = this.step + 1;
    return tf.tidy(() => {
      const names = [...this.params.keys()];
      const sq = names.map((n) => tf.sum(tf.square(grads[n])));
      // Pairwise adds, not addN: tfjs-webgpu's AddN binds one storage buffer per input and exceeds the
      // default limit of 8 per shader stage.
      let total = sq[0];
      for (let i = 1; i < sq.length; i++) total = tf.add(total, sq[i]);
      const norm = tf.sqrt(total);
      const scale = gradClip > 0 ? tf.minimum(1, tf.div(gradClip, tf.add(norm, 1e-6))) : tf.scalar(1);
      const c1 = 1 - Math.pow(b1, t);
      const c2 = 1 - Math.pow(b2, t);
      for (const n of names) {
        const p = this.params.get(n)!;
        const g = tf.mul(grads[n], scale);
        const m = this.m.get(n)!;
        const v = this.v.get(n)!;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const upd = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        const decay = p.shape.length >= 2 ? 1 - lr * wd : 1;
        p.assign(tf.sub(decay === 1 ? p : tf.mul(p, decay), tf.mul(upd, lr)));
      }
      return norm;
    });
  }

  /** Ternary codes of every BitLinear weight (float tensors of −1/0/1). */
  private codes(): Map<string, Tensor> {
    const tf = this.tf;
    const out = new Map<string, Tensor>();
    for (const n of linearNames(this.modelConfig())) {
      const w = this.params.get(n)!;
      out.set(n, tf.tidy(() => tf.clipByValue(tf.round(tf.div(w, tf.maximum(tf.mean(tf.abs(w)), 1e-5))), -1, 1)));
    }
    return out;
  }

  private async collectStats(fs: ForwardStats): Promise<StepStats> {
    const tf = this.tf;
    const gamma: Record<string, number> = {};
    const flipFraction: Record<string, number> = {};
    let flipOverall = 0;
    const c = this.modelConfig();
    const sample = {name: this.sampleName, latent: new Float32Array(0), codes: new Int8Array(0), gamma: 0};
    const SAMPLE = 512;
    const sw = this.params.get(this.sampleName)!;
    const stride = Math.max(1, Math.floor(sw.size / SAMPLE));
    const idx = tf.range(0, Math.min(SAMPLE, sw.size) * stride, stride, "int32");
    const latentT = tf.tidy(() => tf.gather(sw.reshape([-1]), idx));
    if (isQuantized(c)) {
      const next = this.codes();
      let total = 0;
      const names = [...next.keys()];
      const fl = tf.tidy(() => tf.stack(names.map((n) => tf.mean(tf.cast(tf.notEqual(next.get(n)!, this.prevCodes.get(n)!), "float32")))));
      const flips = await fl.data();
      fl.dispose();
      names.forEach((n, i) => {
        flipFraction[n] = flips[i];
        flipOverall += flips[i] * this.params.get(n)!.size;
        total += this.params.get(n)!.size;
      });
      flipOverall /= Math.max(1, total);
      const codesT = tf.tidy(() => tf.gather(next.get(this.sampleName)!.reshape([-1]), idx));
      sample.codes = Int8Array.from(await codesT.data());
      codesT.dispose();
      for (const t of this.prevCodes.values()) t.dispose();
      this.prevCodes = next;
      const gnames = [...fs.gamma!.keys()];
      const gs = tf.stack(gnames.map((n) => fs.gamma!.get(n)!));
      const gv = await gs.data();
      gs.dispose();
      gnames.forEach((n, i) => (gamma[n] = gv[i]));
      const sgT = tf.tidy(() => tf.mean(tf.abs(sw)));
      sample.gamma = (await sgT.data())[0];
      sgT.dispose();
    }
    for (const t of fs.gamma!.values()) t.dispose();
    sample.latent = Float32Array.from(await latentT.data());
    latentT.dispose();
    idx.dispose();
    return {gamma, flipFraction, flipOverall, sample};
  }

  /** Mean validation loss over `batches` (default: cfg.evalBatches·batchSize windows spread over the split). */
  async evaluate(batches?: Batch[]): Promise<EvalResult> {
    const tf = this.tf;
    if (!batches) {
      this.evalSet ??= valBatches(this.data.val, this.cfg.batchSize, this.cfg.seqLen, this.cfg.evalBatches * this.cfg.batchSize);
      batches = this.evalSet;
    }
    const c = this.modelConfig();
    let sum = 0;
    let n = 0;
    for (const b of batches) {
      const l = tf.tidy(() => {
        const x = tf.tensor2d(b.inputs, [b.B, b.T], "int32");
        const y = tf.tensor1d(b.targets, "int32");
        return crossEntropy(tf, forward(tf, c, this.params, x, {cache: this.cache}), y);
      });
      const v = (await l.data())[0];
      l.dispose();
      sum += v * b.B * b.T;
      n += b.B * b.T;
    }
    const loss = sum / n;
    const res = {step: this.step, loss, perplexity: Math.exp(loss), tokens: n};
    this.log.push({kind: "eval", ...res});
    return res;
  }

  /** Logits [B·T, vocab] of token ids (for tests and the export check). */
  async logits(tokens: Int32Array, B: number, T: number): Promise<Float32Array> {
    const tf = this.tf;
    const out = tf.tidy(() => forward(tf, this.modelConfig(), this.params, tf.tensor2d(tokens, [B, T], "int32"), {cache: this.cache}));
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
  async run(opts: {maxSteps?: number; stats?: boolean; onStep?: (r: StepResult) => void; onEval?: (e: EvalResult) => void; yieldMs?: number} = {}): Promise<void> {
    this.paused = false;
    const until = Math.min(this.cfg.steps, this.step + (opts.maxSteps ?? Infinity));
    while (!this.paused && this.step < until) {
      const r = await this.trainStep({stats: opts.stats});
      opts.onStep?.(r);
      if (this.cfg.evalEvery > 0 && (this.step % this.cfg.evalEvery === 0 || this.done)) opts.onEval?.(await this.evaluate());
      await new Promise((res) => setTimeout(res, opts.yieldMs ?? 0));
    }
  }

  // ---------------------------------------------------------------- state

  /** Everything needed to continue exactly: latent weights, Adam moments, step, config and log
   *  (a safetensors file; F32 throughout). */
  async saveState(): Promise<Uint8Array> {
    const entries: TensorEntry[] = [];
    const add = async (prefix: string, map: Map<string, Variable>) => {
      for (const [name, t] of map) {
        entries.push({name: `${prefix}.${name}`, dtype: "F32", shape: t.shape, data: fromFloat32((await t.data()) as Float32Array, "F32")});
      }
    };
    await add("param", this.params);
    await add("adam_m", this.m);
    await add("adam_v", this.v);
    const meta = {version: 1, step: this.step, config: this.cfg, log: this.log};
    return writeSafetensors(entries, {[STATE_KEY]: JSON.stringify(meta)});
  }

  /** Restores a saved state. `cfg` (optional) replaces the saved config — e.g. to continue a stage-one
   *  run under a stage-two config (v2 a8 → a4); shapes and the seed must agree. */
  static fromState(tf: TF, bytes: Uint8Array, data: TrainData, cfg?: TrainConfig): Trainer {
    const h = parseSafetensorsHeader(bytes);
    const metaRaw = h.metadata[STATE_KEY];
    if (!metaRaw) throw new Error(`trainer: not a training state (no "${STATE_KEY}" metadata)`);
    const meta = JSON.parse(metaRaw) as {version: number; step: number; config: unknown; log: LogRecord[]};
    const saved = parseTrainConfig(meta.config, "saved state config");
    const c = cfg ?? saved;
    if (cfg) {
      const a = modelConfigAt(saved, 0);
      const b = modelConfigAt(c, 0);
      for (const k of ["bitnet_variant", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "hidden_act", "bitnet_sub_norms", "tie_word_embeddings"] as const) {
        if (a[k] !== b[k]) throw new Error(`trainer: the state was trained with ${k} = ${JSON.stringify(a[k])}, the config has ${JSON.stringify(b[k])}`);
      }
      if (saved.seed !== c.seed || saved.batchSize !== c.batchSize || saved.seqLen !== c.seqLen) {
        throw new Error("trainer: seed, batchSize and seqLen must match the saved state so the data stream continues");
      }
    }
    checkData(c, data);
    const byName = new Map(h.tensors.map((t) => [t.name, t]));
    const load = (name: string) => {
      const t = byName.get(name);
      if (!t) throw new Error(`trainer: state lacks ${name}`);
      return tf.tensor(toFloat32(tensorBytes(bytes, h, t), t.dtype), t.shape, "float32");
    };
    const params: Params = new Map();
    for (const t of h.tensors) {
      if (t.name.startsWith("param.")) {
        const name = t.name.slice(6);
        const init = load(t.name);
        params.set(name, tf.variable(init, true, name));
        init.dispose();
      }
    }
    const tr = new Trainer(tf, c, data, params);
    for (const [name] of params) {
      for (const [prefix, map] of [["adam_m", tr.m], ["adam_v", tr.v]] as const) {
        const src = load(`${prefix}.${name}`);
        map.get(name)!.assign(src);
        src.dispose();
      }
    }
    tr.step = meta.step;
    tr.log.push(...meta.log);
    return tr;
  }

  /** The trained model as the reference model's weights: BitLinear weights ternarized by the reference's
   *  own absmean quantizer (checkpoint.ts ternarize, identical to the forward's), everything else float.
   *  An fp model keeps every projection in `float`. `latent` keeps the float projections instead. */
  async exportWeights(opts: {latent?: boolean} = {}): Promise<ModelWeights> {
    const c = this.modelConfig(this.cfg.steps);
    const float = new Map<string, LibTensor>();
    for (const [name, p] of this.params) float.set(name, {shape: [...p.shape], data: Float32Array.from((await p.data()) as Float32Array)});
    const w: ModelWeights = {config: c, float, ternary: new Map()};
    return opts.latent ? w : ternarize(w);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.tf.dispose([...this.params.values(), ...this.m.values(), ...this.v.values(), ...this.prevCodes.values()]);
    this.cache.dispose();
  }
}

function isTrainConfig(c: unknown): c is TrainConfig {
  return typeof c === "object" && c !== null && "optimizer" in c && "lr" in c && "steps" in c && "weightDecay" in c && "evalBatches" in c;
}

function checkData(c: TrainConfig, d: TrainData): void {
  const V = modelConfigAt(c, 0).vocab_size;
  for (const [k, s] of [["train", d.train], ["val", d.val]] as const) {
    if (s.length < c.seqLen + 1) throw new Error(`trainer: the ${k} stream has ${s.length} tokens, fewer than seqLen+1 = ${c.seqLen + 1}`);
    let max = 0;
    for (let i = 0; i < s.length; i++) if (s[i] > max) max = s[i];
    if (max >= V) throw new Error(`trainer: the ${k} stream holds token id ${max}, outside vocab_size ${V}`);
  }
}

const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());
