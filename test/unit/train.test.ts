// The tfjs trainer on the CPU backend, tiny shapes: STE gradients, quantizers and forward against the
// reference, loss falling, export → load → reference logits, exact resume, flat tensor memory, config errors.
import * as tfjs from "@tensorflow/tfjs";
import {beforeAll, describe, expect, it} from "vitest";
import {V, data} from "./train-fixture.js";
import {readCheckpoint, writeCheckpoint} from "../../src/lib/checkpoint.js";
import {forwardFull} from "../../src/lib/model.js";
import {
  dequantize,
  quantizeAbsmaxInt8,
  quantizeAbsmeanInt4,
  quantizeTopKInt8,
  quantizeWeightsAbsmean,
} from "../../src/lib/quant.js";
import {Rng} from "../../src/lib/rng.js";
import {ConfigError, parseTrainConfig, scheduleAt, modelConfigAt} from "../../src/lib/train/config.js";
import {absmaxInt8, absmeanInt4, ste, topkInt8, weightQuant} from "../../src/lib/train/model.js";
import type {TF, TfTensor} from "../../src/lib/train/tf.js";
import {Trainer} from "../../src/lib/train/trainer.js";

const tf = tfjs as unknown as TF;
beforeAll(async () => {
  await tfjs.setBackend("cpu");
});

function cfg(variant: string, extra: Record<string, unknown> = {}, over: Record<string, unknown> = {}) {
  return parseTrainConfig({
    name: "t",
    model: {
      bitnet_variant: variant,
      vocab_size: V,
      hidden_size: 32,
      intermediate_size: 40,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 32,
      bitnet_kv_bits: 16,
      bitnet_kv_bos_bits: 0,
      ...extra,
    },
    batchSize: 4,
    seqLen: 16,
    steps: 30,
    evalBatches: 1,
    logEvery: 1,
    lr: {warmup: 3, stage1: [2e-2, 1e-2], stage2: [5e-3, 0], split: 0.5},
    ...over,
  });
}

const randn = (n: number, seed: number, std = 1) => new Rng(seed).fillNormal(new Float32Array(n), std) as Float32Array;
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe("straight-through quantizers", () => {
  it("pass the gradient through unchanged", () => {
    const x = tf.tensor2d(randn(6 * 16, 1), [6, 16]);
    const c = tf.tensor2d(randn(6 * 16, 2), [6, 16]);
    for (const q of [
      (v: TfTensor) => absmaxInt8(tf, v),
      (v: TfTensor) => absmeanInt4(tf, v),
      (v: TfTensor) => topkInt8(tf, v, 0.5),
      (v: TfTensor) => weightQuant(tf, v),
    ]) {
      const g = tf.grad((v: TfTensor) => tf.sum(tf.mul(ste(tf, v, q), c)))(x);
      expect(Array.from(g.dataSync())).toEqual(Array.from(c.dataSync()));
      // …while the forward value really is quantized (not the identity).
      expect(maxAbsDiff(ste(tf, x, q).dataSync(), x.dataSync())).toBeGreaterThan(1e-3);
    }
  });

  it("equal the reference quantizers (quant.ts) value for value", () => {
    const dim = 16;
    const x = randn(8 * dim, 3);
    const xt = tf.tensor2d(x, [8, dim]);
    expect(maxAbsDiff(absmaxInt8(tf, xt).dataSync(), dequantize(quantizeAbsmaxInt8(x, dim)))).toBeLessThan(1e-6);
    expect(maxAbsDiff(absmeanInt4(tf, xt).dataSync(), dequantize(quantizeAbsmeanInt4(x, dim)))).toBeLessThan(1e-6);
    expect(maxAbsDiff(topkInt8(tf, xt, 0.5).dataSync(), dequantize(quantizeTopKInt8(x, dim, 0.5)))).toBeLessThan(1e-6);
    const w = randn(24 * 16, 4, 0.02);
    const ref = quantizeWeightsAbsmean(w);
    const deq = Array.from(ref.codes, (c) => c / ref.scale);
    expect(maxAbsDiff(weightQuant(tf, tf.tensor2d(w, [24, 16])).dataSync(), deq)).toBeLessThan(1e-9);
  });
});

describe("schedule and config", () => {
  it("follows the two-stage LR and weight decay", () => {
    const c = cfg(
      "b1.58",
      {},
      {steps: 100, lr: {warmup: 10, stage1: [1e-3, 5e-4], stage2: [2e-4, 0], split: 0.5}, weightDecay: [0.1, 0]},
    );
    expect(scheduleAt(c, 0).lr).toBeCloseTo(1e-4, 12); // warm-up: (step+1)/10 of the peak
    expect(scheduleAt(c, 9).lr).toBeCloseTo(1e-3, 12);
    expect(scheduleAt(c, 49)).toMatchObject({wd: 0.1, stage: 1});
    expect(scheduleAt(c, 49).lr).toBeGreaterThan(5e-4);
    expect(scheduleAt(c, 50)).toEqual({lr: 2e-4, wd: 0, stage: 2}); // the abrupt drop and WD → 0
    expect(scheduleAt(c, 99).lr).toBeCloseTo(2e-4 * (1 - 49 / 50), 12);
  });

  it("applies activation stages at their step", () => {
    const c = cfg(
      "a4.8",
      {bitnet_activation_bits: 8, bitnet_topk_ratio: 1},
      {steps: 10, stages: [{at: 0.8, model: {bitnet_activation_bits: 4, bitnet_topk_ratio: 0.5}}]},
    );
    expect(modelConfigAt(c, 7).bitnet_activation_bits).toBe(8);
    expect(modelConfigAt(c, 8)).toMatchObject({bitnet_activation_bits: 4, bitnet_topk_ratio: 0.5});
  });

  it("rejects bad configs naming the field", () => {
    const bad = (over: Record<string, unknown>, re: RegExp) =>
      expect(() => parseTrainConfig({name: "x", model: {bitnet_variant: "b1.58"}, ...over})).toThrow(re);
    expect(() => parseTrainConfig({model: {bitnet_variant: "b2"}})).toThrow(ConfigError);
    expect(() => parseTrainConfig({model: {bitnet_variant: "b2"}})).toThrow(/model.bitnet_variant/);
    bad({batchSize: 0}, /batchSize must be ≥ 1/);
    bad({steps: 1.5}, /steps must be an integer/);
    bad({lr: {stage1: [1e-3]}}, /lr.stage1 must be a two-number array/);
    bad({seqLen: 4096}, /seqLen must be ≤ 256/);
    bad({model: {bitnet_variant: "v2", num_key_value_heads: 3}}, /model.num_key_value_heads/);
    bad({stages: [{at: 0.5, model: {hidden_size: 64}}]}, /stages\[0\].model.hidden_size cannot change/);
    bad({typo: 1}, /typo is not a known field/);
  });
});

describe("Trainer", () => {
  const variants: [string, Record<string, unknown>][] = [
    ["fp", {}],
    ["b1.58", {}],
    ["a4.8", {}],
    ["a4.8", {bitnet_activation_bits: 8, bitnet_topk_ratio: 1}],
    ["v2", {}],
    ["v2", {bitnet_activation_bits: 4}],
    ["v2", {bitnet_activation_bits: 4, bitnet_hadamard: false}],
  ];
  it.each(variants)("forward of %s %j matches the reference model on the same weights", async (variant, extra) => {
    const tr = Trainer.create(tf, cfg(variant, extra), data);
    for (let i = 0; i < 3; i++) await tr.trainStep(); // latent weights away from their init
    const toks = Int32Array.from({length: 12}, (_, i) => (i * 7 + 1) % V);
    const got = await tr.logits(toks, 1, 12);
    const ref = forwardFull(await tr.exportWeights(), [...toks]).logits;
    expect(maxAbsDiff(got, ref)).toBeLessThan(1e-4);
    tr.dispose();
  });

  it("lowers the loss over a few dozen steps, with flat tensor memory", async () => {
    const tr = Trainer.create(tf, cfg("b1.58"), data);
    const first = await tr.trainStep({stats: true});
    const n0 = tfjs.memory().numTensors;
    const losses: number[] = [];
    for (let i = 0; i < 29; i++) {
      const r = await tr.trainStep({stats: i % 3 === 0});
      losses.push(r.loss);
      if (i % 3 === 0) {
        expect(r.stats!.flipOverall).toBeGreaterThanOrEqual(0);
        expect(Object.keys(r.stats!.gamma)).toHaveLength(14);
        expect(r.stats!.sample.codes.every((c) => c >= -1 && c <= 1)).toBe(true);
      }
    }
    expect(tfjs.memory().numTensors).toBe(n0);
    await tr.evaluate();
    expect(tfjs.memory().numTensors).toBe(n0);
    const tail = losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(tail).toBeLessThan(first.loss - 1); // from ~ln 48 = 3.9 nats on a 23-cycle
    tr.dispose();
  });

  it("exports a checkpoint that the reference loads and runs to the same logits", async () => {
    const tr = Trainer.create(tf, cfg("a4.8"), data);
    for (let i = 0; i < 4; i++) await tr.trainStep();
    const ck = writeCheckpoint(await tr.exportWeights(), {floatDtype: "F32"});
    const loaded = readCheckpoint(ck.config, ck.safetensors);
    expect(loaded.format).toBe("packed");
    const toks = Int32Array.from({length: 16}, (_, i) => (i * 5 + 2) % V);
    const ref = forwardFull(loaded.weights, [...toks]).logits;
    expect(maxAbsDiff(await tr.logits(toks, 1, 16), ref)).toBeLessThan(1e-4);
    tr.dispose();
  });

  it("lets two trainers live at once (the page's b1.58/fp twins) and frees every tensor on dispose", async () => {
    const base = tfjs.memory().numTensors;
    const a = Trainer.create(tf, cfg("b1.58"), data);
    const b = Trainer.create(tf, cfg("b1.58"), data); // same variable names requested: must not collide
    await a.trainStep();
    await b.trainStep();
    a.dispose();
    b.dispose();
    expect(tfjs.memory().numTensors).toBe(base);
  });

  it("resumes from a saved state exactly like the uninterrupted run", async () => {
    const c = cfg("v2", {}, {stages: [{at: 0.1, model: {bitnet_activation_bits: 4}}]});
    const a = Trainer.create(tf, c, data);
    const full: number[] = [];
    for (let i = 0; i < 6; i++) full.push((await a.trainStep()).loss);
    a.dispose();
    const b = Trainer.create(tf, c, data);
    for (let i = 0; i < 3; i++) await b.trainStep();
    const state = await b.saveState();
    b.dispose();
    const r = Trainer.fromState(tf, state, data);
    expect(r.step).toBe(3);
    const resumed: number[] = [];
    for (let i = 0; i < 3; i++) resumed.push((await r.trainStep()).loss);
    expect(resumed).toEqual(full.slice(3));
    // A state only continues under a config with the same shapes.
    expect(() => Trainer.fromState(tf, state, data, cfg("v2", {hidden_size: 64}))).toThrow(/hidden_size/);
    r.dispose();
  });
});
