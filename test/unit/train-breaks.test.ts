// "What breaks for ternary" (Train page): each change to the b1.58 recipe does to the training exactly what it says —
// weight decay as computed by hand, full precision before the switch and ternary after, an EMA that is the average
// and is what gets evaluated and exported, γ rounded to its format in training, stats and export — and the twin run
// trains the changed model as a third on the same batches. tfjs CPU backend, tiny shapes.
import * as tfjs from "@tensorflow/tfjs";
import {beforeAll, describe, expect, it} from "vitest";
import {V, data, stream} from "./train-fixture.js";
import {TwinRun} from "../../src/app/train/twin-run.js";
import {
  BREAKS,
  PAPER_RECIPE,
  LOW_LR_DIVISOR,
  breaksResult,
  changedConfig,
  changedKeys,
  changesSummary,
  type TernaryChanges,
} from "../../src/lib/chapters/train-breaks.js";
import {twinConfigs, type RunSettings} from "../../src/lib/chapters/train.js";
import {f16BitsToF32, f32ToF16Bits} from "../../src/lib/half.js";
import {forwardFull} from "../../src/lib/model.js";
import {roundClip} from "../../src/lib/quant.js";
import {Rng} from "../../src/lib/rng.js";
import {ConfigError, parseTrainConfig, type TrainConfig} from "../../src/lib/train/config.js";
import {trainBatch, valBatches} from "../../src/lib/train/data.js";
import {crossEntropy, forward, type Params} from "../../src/lib/train/model.js";
import {trainPlan} from "../../src/lib/train/plan.js";
import {roundScale} from "../../src/lib/train/scale-format.js";
import type {TF} from "../../src/lib/train/tf.js";
import {Trainer, type TrainData} from "../../src/lib/train/trainer.js";

const tf = tfjs as unknown as TF;
beforeAll(async () => {
  await tfjs.setBackend("cpu");
});

function cfg(over: Record<string, unknown> = {}): TrainConfig {
  return parseTrainConfig({
    name: "t",
    model: {
      bitnet_variant: "b1.58",
      vocab_size: V,
      hidden_size: 32,
      intermediate_size: 40,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 32,
    },
    batchSize: 4,
    seqLen: 16,
    steps: 6,
    evalBatches: 1,
    logEvery: 1,
    lr: {warmup: 1, stage1: [2e-2, 1e-2], stage2: [5e-3, 0], split: 0.5},
    ...over,
  });
}

const read = async (p: Params) => {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of p) out.set(k, (await t.data()) as Float32Array);
  tf.dispose([...p.values()]);
  return out;
};

/** Cross-entropy of a batch through the trainer's model code with the given weights: the forward the reader's
 *  run should be using (ternary: the per-weight absmean quantizer; float: the weights and activations as they are). */
async function batchLoss(c: TrainConfig, weights: Map<string, Float32Array>, step: number, mode: "ternary" | "float") {
  const b = trainBatch(data.train, c.batchSize, c.seqLen, c.seed, step);
  const l = tf.tidy(() => {
    const p: Params = new Map([...weights].map(([k, v]) => [k, tf.tensor(v, shapeOf(c, k))]));
    const x = tf.tensor2d(b.inputs, [b.B, b.T], "int32");
    const y = tf.tensor1d(b.targets, "int32");
    const opts = mode === "float" ? {weightsQuantized: true, floatActivations: true} : {};
    return crossEntropy(tf, forward(tf, modelOf(c), p, x, opts), y);
  });
  const v = (await l.data())[0];
  l.dispose();
  return v;
}
let shapes: Map<string, number[]> | undefined;
const shapeOf = (c: TrainConfig, k: string) => {
  if (!shapes) {
    const t = Trainer.create(tf, c, data);
    shapes = new Map(t.layout.entries.map((e) => [e.name, e.shape]));
    t.dispose();
  }
  return shapes.get(k)!;
};
import {modelConfigAt} from "../../src/lib/train/config.js";
const modelOf = (c: TrainConfig) => modelConfigAt(c, 0);

describe("γ in a storage format (roundScale)", () => {
  it("rounds to nearest even, keeps subnormals and saturates", () => {
    expect(roundScale(0.1, "f32")).toBe(Math.fround(0.1));
    expect(roundScale(0.1, "f16")).toBe(0.0999755859375);
    expect(roundScale(0.1, "bf16")).toBe(0.10009765625);
    expect(roundScale(0.1, "e4m3")).toBe(0.1015625); // 1.625·2⁻⁴ (1.6 rounds up to 1.625)
    expect(roundScale(0.016, "e4m3")).toBe(0.015625); // 2⁻⁶, the smallest normal
    expect(roundScale(0.0107421875, "e4m3")).toBe(0.01171875); // 5.5·2⁻⁹ is a tie: to the even 6·2⁻⁹
    expect(roundScale(0.0087890625, "e4m3")).toBe(0.0078125); // 4.5·2⁻⁹: to the even 4·2⁻⁹
    expect(roundScale(0.01171875, "e4m3")).toBe(0.01171875); // 6·2⁻⁹ is exact (subnormal)
    expect(roundScale(1000, "e4m3")).toBe(448);
    expect(roundScale(-0.1, "e4m3")).toBe(-0.1015625);
    expect(() => roundScale(Number.NaN, "f16")).toThrow(/finite/);
  });
  it("fp16 agrees with the IEEE half conversion (half.ts) on 20,000 random values, subnormals included", () => {
    const rng = new Rng(9);
    for (let i = 0; i < 20_000; i++) {
      const x = Math.fround(Math.exp((rng.uniform() - 0.5) * 20));
      expect(roundScale(x, "f16")).toBe(f16BitsToF32(f32ToF16Bits(x)));
    }
  });
});

describe("the changed config", () => {
  const base = cfg();
  const with_ = (c: Partial<TernaryChanges>) => changedConfig(base, {...PAPER_RECIPE, ...c});
  it("applies each change and nothing else", () => {
    expect(with_({lowLr: true}).lr.stage1[0]).toBeCloseTo(base.lr.stage1[0] / LOW_LR_DIVISOR, 12);
    expect(with_({lowLr: true}).lr.stage2[0]).toBeCloseTo(base.lr.stage2[0] / LOW_LR_DIVISOR, 12);
    expect(with_({wd: "off"}).weightDecay).toEqual([0, 0]);
    expect(with_({wd: "constant"}).weightDecay).toEqual([0.1, 0.1]);
    expect(with_({}).weightDecay).toEqual([0.1, 0]);
    expect(with_({ema: "0.99"}).ema).toBe(0.99);
    expect(with_({late: 30}).ternaryFrom).toBe(0.3);
    expect(with_({scale: "f16"}).scaleFormat).toBe("f16");
    const same = with_({});
    expect({...same, name: base.name}).toEqual(base);
    expect(() => with_({late: 95})).toThrow(/late/);
    expect(() => with_({wd: "sometimes" as never})).toThrow(/wd/);
  });
  it("every toggle cites a source with an address, and the summary names each change", () => {
    for (const b of BREAKS) {
      expect(b.sources.length, b.key).toBeGreaterThan(0);
      for (const s of b.sources) expect(s.href).toMatch(/^https:\/\//);
    }
    expect(new Set(BREAKS.map((b) => b.key))).toEqual(new Set(Object.keys(PAPER_RECIPE)));
    const c: TernaryChanges = {lowLr: true, wd: "off", ema: "0.9", late: 20, scale: "e4m3"};
    expect(changedKeys(c)).toEqual(["lowLr", "wd", "ema", "late", "scale"]);
    expect(changesSummary(c)).toMatch(/÷ 6.*no weight decay.*EMA \(decay 0\.9\).*first 20%.*fp8 E4M3/);
    expect(changesSummary(PAPER_RECIPE)).toBe("");
  });
  it("parses, refuses bad values by name, and keeps the PyTorch mirror out of it", () => {
    expect(() => cfg({ema: 1})).toThrow(ConfigError);
    expect(() => cfg({ternaryFrom: -0.1})).toThrow(/ternaryFrom/);
    expect(() => cfg({scaleFormat: "fp4"})).toThrow(/scaleFormat must be one of/);
    expect(() => trainPlan(cfg({ema: 0.9}))).toThrow(/ema is not implemented by the PyTorch mirror/);
    expect(() => trainPlan(cfg())).not.toThrow();
  });
});

describe("the trainer under each change", () => {
  it("weight decay: the update differs from the decay-free one by exactly −lr·λ·W on matrices, 0 on norms", async () => {
    const on = Trainer.create(tf, cfg({weightDecay: [0.1, 0.1]}), data);
    const off = Trainer.create(tf, cfg({weightDecay: [0, 0]}), data);
    const w0 = await read(on.params());
    const r = await on.trainStep();
    await off.trainStep();
    const [a, b] = [await read(on.params()), await read(off.params())];
    expect(r.wd).toBe(0.1);
    let checked = 0;
    for (const [name, p0] of w0) {
      const matrix = on.layout.byName.get(name)!.shape.length >= 2;
      for (let i = 0; i < p0.length; i += 7) {
        const want = matrix ? -r.lr * 0.1 * p0[i] : 0;
        expect(Math.abs(a.get(name)![i] - b.get(name)![i] - want), name).toBeLessThan(2e-9 + 1e-6 * Math.abs(p0[i]));
        if (matrix && want !== 0) checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
    on.dispose();
    off.dispose();
  });

  it("late switch: full precision (weights and activations) before the switch, ternary from it on", async () => {
    const c = cfg({ternaryFrom: 0.5}); // 6 steps: 0–2 float, 3–5 ternary
    const tr = Trainer.create(tf, c, data);
    for (let step = 0; step < 6; step++) {
      const w = await read(tr.params());
      const [fl, te] = [await batchLoss(c, w, step, "float"), await batchLoss(c, w, step, "ternary")];
      expect(Math.abs(fl - te), `step ${step}: the two forwards must differ`).toBeGreaterThan(1e-4);
      const r = await tr.trainStep();
      expect(r.loss, `step ${step}`).toBeCloseTo(step < 3 ? fl : te, 5);
    }
    // the exported model is ternary, and the reference runs it to the trainer's own logits
    const toks = Int32Array.from({length: 12}, (_, i) => (i * 5 + 2) % V);
    const ref = forwardFull(await tr.exportWeights(), [...toks]).logits;
    const got = await tr.logits(toks, 1, 12);
    let d = 0;
    for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(ref[i] - got[i]));
    expect(d).toBeLessThan(1e-4);
    tr.dispose();
  });

  it("EMA: keeps β·ema + (1 − β)·W from the initial weights, and evaluation and export read it", async () => {
    const beta = 0.8;
    const tr = Trainer.create(tf, cfg({ema: beta}), data);
    const plain = Trainer.create(tf, cfg(), data);
    const avg = new Map([...(await read(tr.params()))].map(([k, v]) => [k, Float64Array.from(v)]));
    for (let s = 0; s < 4; s++) {
      const [a, b] = [await tr.trainStep(), await plain.trainStep()];
      expect(a.loss).toBe(b.loss); // the EMA never touches the trained weights
      for (const [k, v] of await read(tr.params())) {
        const m = avg.get(k)!;
        for (let i = 0; i < v.length; i++) m[i] = beta * m[i] + (1 - beta) * v[i];
      }
    }
    const ema = await read(tr.emaParams()!);
    let d = 0;
    for (const [k, m] of avg) for (let i = 0; i < m.length; i++) d = Math.max(d, Math.abs(ema.get(k)![i] - m[i]));
    expect(d).toBeLessThan(1e-6);
    // evaluation: the ternarized average's loss on the validation windows, not the trained weights'
    const c = tr.cfg;
    const vb = valBatches(data.val, c.batchSize, c.seqLen, c.evalBatches * c.batchSize);
    const lossOf = async (w: Map<string, Float32Array>) => {
      let sum = 0;
      let n = 0;
      for (const b of vb) {
        const l = tf.tidy(() => {
          const p: Params = new Map([...w].map(([k, v]) => [k, tf.tensor(v, shapeOf(c, k))]));
          const x = tf.tensor2d(b.inputs, [b.B, b.T], "int32");
          return crossEntropy(tf, forward(tf, modelOf(c), p, x), tf.tensor1d(b.targets, "int32"));
        });
        sum += (await l.data())[0] * b.B * b.T;
        n += b.B * b.T;
        l.dispose();
      }
      return sum / n;
    };
    const ev = await tr.evaluate();
    expect(ev.loss).toBeCloseTo(await lossOf(ema), 5);
    expect(Math.abs(ev.loss - (await plain.evaluate()).loss)).toBeGreaterThan(1e-4);
    // the export is the average too; a saved state keeps it
    const ex = await tr.exportWeights({latent: true});
    expect(ex.float.get("model.embed_tokens.weight")!.data).toEqual(ema.get("model.embed_tokens.weight"));
    const back = Trainer.fromState(tf, await tr.saveState(), data);
    expect((await back.evaluate()).loss).toBe(ev.loss);
    back.dispose();
    tr.dispose();
    plain.dispose();
  });

  it("scale precision: γ is rounded to the format in training, statistics and the exported checkpoint", async () => {
    const tr = Trainer.create(tf, cfg({scaleFormat: "e4m3"}), data);
    const plain = Trainer.create(tf, cfg(), data);
    const w = await read(tr.params());
    const [a, b] = [await tr.trainStep({stats: true}), await plain.trainStep({stats: true})];
    expect(a.loss).not.toBe(b.loss); // different γ, different codes and output scale
    let n = 0;
    for (const [name, g] of Object.entries(a.stats!.gamma)) {
      expect(roundScale(g, "e4m3"), name).toBe(g); // representable in E4M3
      expect(g).toBe(roundScale(b.stats!.gamma[name], "e4m3")); // γ before the step: the same weights
      n++;
    }
    expect(n).toBe(7);
    // the step's loss is the forward with rounded γ: recompute it by hand from the weights before the step
    const c = tr.cfg;
    const bt = trainBatch(data.train, c.batchSize, c.seqLen, c.seed, 0);
    const q = new Map<string, Float32Array>();
    for (const [name, v] of w) {
      if (!(name in a.stats!.gamma)) {
        q.set(name, v);
        continue;
      }
      let s = 0;
      for (const x of v) s += Math.abs(x);
      const g = Math.max(roundScale(Math.fround(s / v.length), "e4m3"), 1e-5);
      const inv = Math.fround(1 / g);
      q.set(
        name,
        Float32Array.from(v, (x) => roundClip(Math.fround(x * inv), -1, 1) / inv),
      );
    }
    const l = tf.tidy(() => {
      const p: Params = new Map([...q].map(([k, v]) => [k, tf.tensor(v, shapeOf(c, k))]));
      const x = tf.tensor2d(bt.inputs, [bt.B, bt.T], "int32");
      return crossEntropy(
        tf,
        forward(tf, modelOf(c), p, x, {weightsQuantized: true}),
        tf.tensor1d(bt.targets, "int32"),
      );
    });
    expect(a.loss).toBeCloseTo((await l.data())[0], 5);
    l.dispose();
    // the export stores the rounded γ and the codes it gives; the reference reproduces the trainer's logits
    const ex = await tr.exportWeights();
    // (stored as 1/s with s = f32(1/γ), the reference quantizer's convention)
    for (const [, t] of ex.ternary) expect(1 / Math.fround(1 / roundScale(t.gamma, "e4m3"))).toBe(t.gamma);
    const toks = Int32Array.from({length: 10}, (_, i) => (i * 3 + 1) % V);
    const ref = forwardFull(ex, [...toks]).logits;
    const got = await tr.logits(toks, 1, 10);
    let d = 0;
    for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(ref[i] - got[i]));
    expect(d).toBeLessThan(1e-4);
    tr.dispose();
    plain.dispose();
  });
});

describe("the twin run with changes", () => {
  const settings = (changes?: TernaryChanges): RunSettings => ({
    size: "tiny",
    steps: 20,
    lr: 0.01,
    seed: 2,
    vocabSize: V,
    ...(changes ? {changes} : {}),
  });
  const tinyData: TrainData = {train: stream(4000, 3), val: stream(800, 4)};

  it("trains no third model for the papers' recipe", () => {
    expect(twinConfigs(settings()).changed).toBeUndefined();
    expect(twinConfigs(settings({...PAPER_RECIPE})).changed).toBeUndefined();
  });

  it("trains the changed b1.58 on the same batches: EMA alone leaves the training loss identical, changes validation", async () => {
    const run = TwinRun.create(tf, settings({...PAPER_RECIPE, ema: "0.9"}), tinyData);
    await run.run({maxSteps: 4});
    expect(run.points).toHaveLength(4);
    for (const p of run.points) {
      expect(p.changedLoss).toBe(p.bitnetLoss);
      expect(p.changedTernary).toBe(true);
    }
    const e = await run.evaluate();
    expect(e.changed).toBeDefined();
    expect(Math.abs(e.changed! - e.bitnet)).toBeGreaterThan(1e-4);
    const res = breaksResult(run.points, run.evals)!;
    expect(res.changed).toBe(res.base);
    expect(res.val!.changed).toBe(e.changed);
    // saved and restored with the third model
    const saved = await run.saveStates();
    expect(saved.changed).toBeInstanceOf(Uint8Array);
    const back = TwinRun.fromStates(tf, run.settings, tinyData, saved);
    expect(back.changed!.step).toBe(4);
    expect(() => TwinRun.fromStates(tf, settings(), tinyData, saved)).toThrow(/changed model/);
    back.dispose();
    run.dispose();
  }, 60_000);

  it("a lower learning rate and a late switch show in the changed run's own numbers", async () => {
    const run = TwinRun.create(tf, settings({...PAPER_RECIPE, lowLr: true, late: 50}), tinyData);
    await run.run({maxSteps: 12});
    const p = run.points;
    for (const x of p) expect(x.changedLr!).toBeCloseTo(x.lr / LOW_LR_DIVISOR, 12);
    expect(p.slice(0, 10).every((x) => x.changedTernary === false)).toBe(true);
    expect(p.slice(10).every((x) => x.changedTernary === true)).toBe(true);
    expect(p.some((x) => x.changedLoss !== x.bitnetLoss)).toBe(true);
    run.dispose();
  }, 60_000);
});
