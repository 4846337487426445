// Chapter 6 (train your own): the presets and twin configs, chart helpers, the alternating b1.58/fp loop
// (pause/resume equals an uninterrupted run, no tensor leak, reset frees everything), the flip rate it
// reports against codes taken apart by hand, the backend fallback, and the stored-checkpoint record.
import {initTfBackend, TwinRun} from "../../src/app/train/twin-run.js";
import * as tfjs from "@tensorflow/tfjs";
import {beforeAll, describe, expect, it} from "vitest";
import {tensorNames} from "../../src/lib/config.js";
import {DOC_SEPARATOR, tokenizeDocuments} from "../../src/lib/corpus.js";
import {forwardFull} from "../../src/lib/model.js";
import {quantizeWeightsAbsmean} from "../../src/lib/quant.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import type {TF} from "../../src/lib/train/tf.js";
import type {TrainData} from "../../src/lib/train/trainer.js";
import type {ModelWeights} from "../../src/lib/tensor.js";
import {
  pickCpuBackend,
  STEPS_TO_FALL,
  nextSizeToMeasure,
  pickSize,
  presetParameters,
  twinConfigs,
  warmupSteps,
  type RunSettings,
} from "../../src/lib/chapters/train.js";
import {makeTrainedRecord, readTrainedRecord} from "../../src/lib/chapters/train-record.js";
import {
  layerGammas,
  scheduleCurve,
  ternaryBins,
  thin,
  bucketMean,
  tailMean,
  headMean,
} from "../../src/lib/chapters/train-series.js";

const tf = tfjs as unknown as TF;

const DOCS = [
  "The state of the Union is strong. We have worked together to build a stronger economy and a safer nation.",
  "My fellow citizens, tonight I report to you that our people are working, our schools are improving, and our nation is at peace.",
  "We must keep our promises to our veterans, to our children, and to the generations that follow us.",
  "Congress and the President must work together for the American people, for jobs, for health care, and for security.",
];
let tok: Tokenizer;
let data: TrainData;

beforeAll(async () => {
  await tfjs.setBackend("cpu");
  const text = Array.from({length: 6}, () => DOCS.join(DOC_SEPARATOR)).join(DOC_SEPARATOR);
  tok = Tokenizer.train(text, 300);
  const stream = tokenizeDocuments(tok, Array.from({length: 8}, () => DOCS).flat());
  data = {train: stream, val: stream.slice(0, 400)};
});

const settings = (over: Partial<RunSettings> = {}): RunSettings => ({
  size: "tiny",
  steps: 40,
  lr: 0.01,
  seed: 3,
  vocabSize: tok.vocabSize,
  ...over,
});

describe("twin configs and presets", () => {
  it("gives both models the same data stream and shapes, different variants and recipes", () => {
    const {bitnet, fp} = twinConfigs({size: "small", steps: 100, lr: 0.01, seed: 7, vocabSize: 512});
    expect(bitnet.model.bitnet_variant).toBe("b1.58");
    expect(fp.model.bitnet_variant).toBe("fp");
    for (const k of ["seed", "batchSize", "seqLen", "steps"] as const) expect(fp[k]).toBe(bitnet[k]);
    expect({...fp.model, bitnet_variant: "b1.58"}).toEqual(bitnet.model);
    expect(bitnet.weightDecay).toEqual([0.1, 0]);
    expect(fp.weightDecay).toEqual([0.1, 0.1]);
  });

  it("b1.58's schedule: warm-up, linear decay, an abrupt drop at half-way (hand-worked values)", () => {
    const {bitnet, fp} = twinConfigs({size: "tiny", steps: 100, lr: 0.01, seed: 1, vocabSize: 512});
    expect(warmupSteps(100)).toBe(5);
    const at = (s: number) => scheduleCurve(bitnet, 1000).find((p) => p.step === s)!;
    expect(at(0).lr).toBeCloseTo(0.01 / 5, 12);
    expect(at(4).lr).toBeCloseTo(0.01, 12);
    expect(at(49).lr).toBeCloseTo(0.01 - (0.004 * 44) / 45, 12);
    expect(at(50).lr).toBeCloseTo(0.004, 12);
    expect(at(99).lr).toBeCloseTo(0.004 * (1 - 49 / 50), 12);
    expect(at(49).wd).toBe(0.1);
    expect(at(50).wd).toBe(0);
    // The fp twin decays without a drop and keeps its weight decay.
    const f = scheduleCurve(fp, 1000);
    const f49 = f.find((p) => p.step === 49)!;
    const f50 = f.find((p) => p.step === 50)!;
    expect(f50.lr).toBeLessThanOrEqual(f49.lr);
    expect(f49.lr - f50.lr).toBeLessThan(1e-4);
    expect(f.every((p) => p.wd === 0.1)).toBe(true);
  });

  it("scheduleCurve thins a long run but keeps both sides of the stage switch and the ends", () => {
    const {bitnet} = twinConfigs({size: "tiny", steps: 5000, lr: 0.003, seed: 1, vocabSize: 512});
    const c = scheduleCurve(bitnet, 50);
    const steps = c.map((p) => p.step);
    expect(c.length).toBeLessThanOrEqual(56);
    for (const s of [0, 2499, 2500, 4999, 99, 100]) expect(steps).toContain(s);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
  });

  it("counts the tiny preset's parameters by hand", () => {
    // vocab 512 × C 32 tied embedding; q,o 32×32; k,v 16×32 (one KV head of 16); gate,up,down 64×32;
    // norms: input, attn sub-norm, post-attention, ffn sub-norm (64), final.
    const p = presetParameters("tiny", 512);
    expect(p.ternary).toBe(2 * 1024 + 2 * 512 + 3 * 2048);
    expect(p.float).toBe(512 * 32 + 32 * 4 + 64);
    expect(p.total).toBe(p.ternary + p.float);
    // With the shipped 4096-token tokenizer every preset stays within a few hundred thousand parameters.
    expect(presetParameters("small", 4096).total).toBeLessThan(400_000);
    expect(presetParameters("medium", 4096).total).toBeLessThan(700_000);
  });

  it("rejects an unknown size", () => {
    expect(() => twinConfigs({size: "huge" as "tiny", steps: 10, lr: 0.01, seed: 1, vocabSize: 512})).toThrow(
      /unknown size "huge"/,
    );
  });
});

describe("chart helpers", () => {
  it("layerGammas averages a layer's seven projections or picks one", () => {
    const g: Record<string, number> = {};
    for (let i = 0; i < 2; i++) {
      const n = tensorNames.layer(i);
      [n.q, n.k, n.v, n.o, n.gate, n.up, n.down].forEach((name, j) => (g[name] = (i + 1) * (j + 1)));
    }
    expect(layerGammas(g, 2, "mean")).toEqual([4, 8]);
    expect(layerGammas(g, 2, "down")).toEqual([7, 14]);
    expect(() => layerGammas(g, 3, "q")).toThrow(/model.layers.2.self_attn.q_proj.weight/);
  });

  it("thin keeps the ends and spreads evenly", () => {
    const xs = Array.from({length: 1001}, (_, i) => i);
    const t = thin(xs, 11);
    expect(t).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(thin([1, 2, 3], 10)).toEqual([1, 2, 3]);
    expect(() => thin(xs, 1)).toThrow();
    expect(tailMean([1, 2, 3, 4], 2)).toBe(3.5);
    expect(headMean([1, 2, 3, 4], 3)).toBe(2);
    expect(tailMean([], 3)).toBeNaN();
  });

  it("bucketMean averages equal buckets of a long curve and passes a short one through", () => {
    const pts = Array.from({length: 10}, (_, i) => ({x: i + 1, y: i % 2 === 0 ? 0 : 2}));
    expect(bucketMean(pts, 5)).toEqual([
      {x: 1.5, y: 1},
      {x: 3.5, y: 1},
      {x: 5.5, y: 1},
      {x: 7.5, y: 1},
      {x: 9.5, y: 1},
    ]);
    expect(bucketMean(pts.slice(0, 3), 5)).toEqual(pts.slice(0, 3));
    const odd = bucketMean(
      Array.from({length: 7}, (_, i) => ({x: i, y: i})),
      3,
    );
    expect(odd).toHaveLength(3);
    expect(odd.map((p) => p.x)).toEqual(odd.map((p) => p.y));
    expect(() => bucketMean(pts, 0)).toThrow();
  });

  it("ternaryBins puts bin edges on ±γ/2 and each bin's code agrees with the absmean quantizer", () => {
    const n = 4000;
    const w = new Float32Array(n);
    let s = 12345;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      w[i] = ((s / 2 ** 32) * 2 - 1) * 0.09 + (i % 7 === 0 ? 0.2 : 0);
    }
    const q = quantizeWeightsAbsmean(w);
    const gamma = 1 / q.scale;
    const bins = ternaryBins(w, gamma);
    expect(bins.some((b) => Math.abs(b.x0 - gamma / 2) < 1e-12)).toBe(true);
    expect(bins.some((b) => Math.abs(b.x1 + gamma / 2) < 1e-12)).toBe(true);
    const byCode = {[-1]: 0, 0: 0, 1: 0} as Record<number, number>;
    for (const b of bins) byCode[b.code] += b.count;
    const ref = {[-1]: 0, 0: 0, 1: 0} as Record<number, number>;
    for (const c of q.codes) ref[c]++;
    expect(byCode).toEqual(ref);
    expect(bins.reduce((a, b) => a + b.count, 0)).toBe(n);
    expect(() => ternaryBins(w, 0)).toThrow(/γ must be > 0/);
  });
});

describe("size from a measured warm-up", () => {
  it("picks the largest size whose loss should fall within the budget, else the fastest; says why", () => {
    const fast = [
      {size: "tiny" as const, msPerStep: 100},
      {size: "small" as const, msPerStep: 900},
      {size: "medium" as const, msPerStep: 5000},
    ];
    expect(pickSize(fast, 400)).toMatchObject({size: "small", fallMs: 900 * STEPS_TO_FALL.small, runMs: 900 * 400});
    expect(pickSize(fast, 400).why).toMatch(
      /small takes 900 ms per step pair here \(measured: tiny 100 ms, medium 5000 ms\)/,
    );
    const slow = [{size: "tiny" as const, msPerStep: 4000}];
    expect(pickSize(slow, 100)).toMatchObject({size: "tiny"});
    expect(pickSize(slow, 100).why).toMatch(/even it needs more than a minute/);
    expect(() => pickSize([], 10)).toThrow(/nothing was measured/);
  });
  it("measures the next size only while it can fit the budget", () => {
    expect(nextSizeToMeasure([])).toBe("tiny");
    expect(nextSizeToMeasure([{size: "tiny", msPerStep: 100}])).toBe("small"); // 800 ms × 30 ≤ 60 s
    expect(nextSizeToMeasure([{size: "tiny", msPerStep: 400}])).toBeNull(); // 3.2 s × 30 > 60 s
    expect(
      nextSizeToMeasure([
        {size: "tiny", msPerStep: 50},
        {size: "small", msPerStep: 400},
        {size: "medium", msPerStep: 1000},
      ]),
    ).toBeNull();
  });
});

describe("backend choice", () => {
  it("falls back in order and records why each backend failed", async () => {
    // webgpu is not registered in Node (its package is not imported here); webgl cannot initialise.
    const c = await initTfBackend(tf, "auto");
    expect(c.backend).toBe("cpu");
    expect(c.attempts.map((a) => a.name)).toEqual(["webgpu", "webgl", "wasm", "cpu"]);
    expect(c.attempts.slice(0, 3).every((a) => !a.ok && a.error)).toBe(true);
    const d = await initTfBackend(tf, "cpu");
    expect(d.attempts).toEqual([{name: "cpu", ok: true}]);
    expect(tfjs.getBackend()).toBe("cpu");
  });

  it("auto without a GPU takes the faster of WASM and CPU as measured, and says so", () => {
    expect(pickCpuBackend({wasm: 120, cpu: 900})).toMatchObject({
      backend: "wasm",
      reason: expect.stringMatching(/WebAssembly measured faster .*120 ms against 900 ms/),
    });
    expect(pickCpuBackend({wasm: 950, cpu: 900})).toMatchObject({
      backend: "cpu",
      reason: expect.stringMatching(/plain JavaScript measured faster .*900 ms against 950 ms/),
    });
    expect(pickCpuBackend({wasm: null, cpu: 900}).backend).toBe("cpu");
    expect(pickCpuBackend({wasm: 100, cpu: null}).backend).toBe("wasm");
    expect(() => pickCpuBackend({wasm: null, cpu: null})).toThrow(/neither/);
  });
});

/** Fraction of ternary codes that differ between two ternarized exports. */
function flipFraction(a: ModelWeights, b: ModelWeights): number {
  let diff = 0;
  let n = 0;
  for (const [name, t] of a.ternary) {
    const u = b.ternary.get(name)!;
    for (let i = 0; i < t.codes.length; i++) if (t.codes[i] !== u.codes[i]) diff++;
    n += t.codes.length;
  }
  return diff / n;
}

describe("TwinRun", () => {
  it("trains both models, reports the true flip rate, leaks no tensors, and reset frees everything", async () => {
    const base = tfjs.memory().numTensors;
    const run = TwinRun.create(tf, settings(), data);
    const before = await run.bitnet.exportWeights();
    const {point, stats} = await run.stepOnce();
    const after = await run.bitnet.exportWeights();
    expect(point.step).toBe(1);
    expect(Number.isFinite(point.bitnetLoss) && Number.isFinite(point.fpLoss)).toBe(true);
    // ln(V) at initialisation: both models start near uniform.
    expect(Math.abs(point.bitnetLoss - Math.log(tok.vocabSize))).toBeLessThan(0.3);
    expect(point.flip).toBeGreaterThan(0);
    expect(Math.abs(point.flip - flipFraction(before, after))).toBeLessThan(2e-3);
    expect(stats.sample.codes.length).toBe(stats.sample.latent.length);
    expect(Object.keys(point.gamma)).toHaveLength(7);

    const tensors: number[] = [];
    for (let i = 0; i < 3; i++) tensors.push((await run.stepOnce()).point.tensors);
    expect(new Set(tensors).size).toBe(1); // flat: nothing allocated per step survives it
    await run.evaluate();
    await run.stepOnce();
    expect(run.points.at(-1)!.tensors).toBe(tensors[0]);
    run.dispose();
    expect(run.state).toBe("disposed");
    expect(tfjs.memory().numTensors).toBe(base);
    expect(
      Object.keys(tfjs.engine().registeredVariables).filter(
        (n) => n.startsWith(run.variablePrefix("bitnet")) || n.startsWith(run.variablePrefix("fp")),
      ),
    ).toEqual([]);
  });

  it("pause and resume give exactly the losses of an uninterrupted run; the loss falls", async () => {
    const a = TwinRun.create(tf, settings({steps: 12}), data);
    await a.run();
    expect(a.state).toBe("done");
    expect(a.evals.at(-1)!.step).toBe(12);

    const b = TwinRun.create(tf, settings({steps: 12}), data);
    let seen = 0;
    const first = b.run({
      onStep: () => {
        if (++seen === 5) void b.pause();
      },
    });
    expect(b.running).toBe(true);
    await first;
    expect(b.state).toBe("paused");
    expect(b.step).toBe(5);
    await b.run();
    expect(b.state).toBe("done");
    expect(b.points.map((p) => p.bitnetLoss)).toEqual(a.points.map((p) => p.bitnetLoss));
    expect(b.points.map((p) => p.fpLoss)).toEqual(a.points.map((p) => p.fpLoss));
    const losses = a.points.map((p) => p.bitnetLoss);
    expect(tailMean(losses, 3)).toBeLessThan(headMean(losses, 3) - 0.2);
    a.dispose();
    b.dispose();
  });

  it("a run saved mid-way and restored in a fresh TwinRun (the autosave) continues exactly like an uninterrupted one", async () => {
    const a = TwinRun.create(tf, settings({steps: 8}), data);
    await a.run();
    const b = TwinRun.create(tf, settings({steps: 8}), data);
    await b.run({maxSteps: 3});
    const saved = await b.saveStates();
    b.dispose();
    const c = TwinRun.fromStates(tf, settings({steps: 8}), data, saved);
    expect(c.step).toBe(3);
    expect(c.state).toBe("paused");
    expect(c.points.length).toBe(3);
    await c.run();
    expect(c.state).toBe("done");
    expect(c.points.map((p) => p.bitnetLoss)).toEqual(a.points.map((p) => p.bitnetLoss));
    expect(c.points.map((p) => p.fpLoss)).toEqual(a.points.map((p) => p.fpLoss));
    // States of other settings are refused, with the reason.
    expect(() => TwinRun.fromStates(tf, settings({steps: 8, seed: 4}), data, saved)).toThrow(/seed/);
    a.dispose();
    c.dispose();
  });

  it("reset while running stops after the step in flight and frees the tensors", async () => {
    const base = tfjs.memory().numTensors;
    const run = TwinRun.create(tf, settings(), data);
    const loop = run.run({
      onStep: (p) => {
        if (p.step === 2) run.dispose();
      },
    });
    await loop;
    expect(run.state).toBe("disposed");
    expect(run.step).toBe(2);
    expect(tfjs.memory().numTensors).toBe(base);
    await expect(run.stepOnce()).rejects.toThrow(/reset/);
  });

  it("stops with a clear error when the loss is not finite", async () => {
    const run = TwinRun.create(tf, settings(), data);
    // Poison the b1.58 model's latent weights (whatever variables the trainer keeps them in).
    const prefix = run.variablePrefix("bitnet");
    const vars = Object.entries(tfjs.engine().registeredVariables).filter(
      ([n, v]) => n.startsWith(prefix) && v.trainable,
    );
    expect(vars.length).toBeGreaterThan(0);
    for (const [, v] of vars) v.assign(tfjs.fill(v.shape, NaN));
    await run.run();
    expect(run.state).toBe("error");
    expect(run.error).toMatch(/loss became NaN at step 1 \(b1\.58\): lower the learning rate/);
    run.dispose();
  });
});

describe("stored checkpoint record", () => {
  it("round-trips the exported model: same config, codes, γ and logits", async () => {
    const run = TwinRun.create(tf, settings({steps: 3}), data);
    await run.run();
    const w = await run.exportBitNet();
    const meta = {
      size: "tiny" as const,
      steps: 3,
      seed: 3,
      lr: 0.01,
      loss: 5,
      fpLoss: 5.1,
      valLoss: null,
      tokensSeen: run.tokensSeen,
      savedAt: "2025-01-01T00:00:00Z",
    };
    const rec = makeTrainedRecord(w, tok, meta);
    const back = readTrainedRecord(structuredClone(rec));
    expect(back.meta).toEqual(meta);
    expect(back.weights.config.vocab_size).toBe(tok.vocabSize);
    for (const [name, t] of w.ternary) {
      const u = back.weights.ternary.get(name)!;
      expect(Array.from(u.codes)).toEqual(Array.from(t.codes));
      expect(u.gamma).toBeCloseTo(t.gamma, 6);
    }
    const ids = tok.encode("The state of the Union", {bos: true});
    const l1 = forwardFull(w, ids).logits;
    const l2 = forwardFull(back.weights, ids).logits;
    let maxDiff = 0;
    for (let i = 0; i < l1.length; i++) maxDiff = Math.max(maxDiff, Math.abs(l1[i] - l2[i]));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(back.tokenizer.decode(ids.slice(1))).toBe("The state of the Union");
    run.dispose();
  });

  it("rejects malformed records with a specific reason", async () => {
    const run = TwinRun.create(tf, settings({steps: 1}), data);
    const w = await run.exportBitNet();
    run.dispose();
    const meta = {
      size: "tiny" as const,
      steps: 0,
      seed: 3,
      lr: 0.01,
      loss: 6,
      fpLoss: 6,
      valLoss: null,
      tokensSeen: 0,
      savedAt: "x",
    };
    const rec = makeTrainedRecord(w, tok, meta);
    expect(() => readTrainedRecord(null)).toThrow(/not an object/);
    expect(() => readTrainedRecord({...rec, version: 2})).toThrow(/version 2/);
    expect(() => readTrainedRecord({...rec, safetensors: [1, 2]})).toThrow(/byte array/);
    expect(() => readTrainedRecord({...rec, meta: {...meta, size: "huge"}})).toThrow(/meta/);
    expect(() => readTrainedRecord({...rec, safetensors: rec.safetensors.slice(0, 20)})).toThrow();
    const other = Tokenizer.train("abc abc abd abd", 262);
    expect(() => readTrainedRecord({...rec, tokenizer: other.toJSON()})).toThrow(/tokenizer has 262 tokens/);
    expect(() => makeTrainedRecord(w, other, meta)).toThrow(/does not match/);
  });
});
