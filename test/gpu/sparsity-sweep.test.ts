// The sparsity chapter's sweeps on the GPU (src/gpu/engine/sweep.ts): the output change against the top-K ratio
// (a runtime K, no recompile) and against KV-cache bits (a session per KV format on one device) equal the CPU
// reference's forward with the same config overrides — logits, KL to the baseline, loss, greedy tokens.
import {describe, expect, it} from "vitest";
import {createSweepRunner, createWebGPUSession, type SweepOverride} from "../../src/gpu/engine.js";
import {defaultConfig} from "../../src/lib/config.js";
import {argmax} from "../../src/lib/generate.js";
import {compareSweeps, sweepPoint, type SweepPoint} from "../../src/lib/chapters/sparsity.js";
import {traceFromInspection} from "../../src/lib/chapters/gpu-trace.js";
import {randomWeights} from "../../src/lib/init.js";
import {forwardFull} from "../../src/lib/model.js";
import type {ModelWeights} from "../../src/lib/tensor.js";
import {testDevice} from "./harness.js";

// H·d = 4·32 = 128 W_o inputs: K = 25% keeps 32, 75% keeps 96; 13 tokens (odd), GQA 4 heads over 2.
const shape = {
  vocab_size: 300,
  hidden_size: 128,
  intermediate_size: 160,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 96,
};
const ids = [1, 5, 17, 42, 99, 7, 250, 3, 64, 11, 12, 200, 31];
const TOL = 2e-3;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const greedy = (logits: Float32Array, V: number) =>
  Array.from({length: logits.length / V}, (_, t) => argmax(logits.subarray(t * V, (t + 1) * V)));
const cpuLogits = (w: ModelWeights, over: object) => forwardFull({...w, config: {...w.config, ...over}}, ids).logits;

describe("sparsity sweeps on the GPU equal the CPU reference", () => {
  it("a4.8: top-K ratio as a runtime value — logits, KL to K = 100%, loss and greedy tokens per K", async () => {
    const device = await testDevice();
    const w = randomWeights(defaultConfig("a4.8", shape), 31);
    const V = w.config.vocab_size;
    const runner = createSweepRunner(w, {device, maxTokens: ids.length});
    const ks = [0.25, 0.5, 0.75, 1];
    const gpuBase = (await runner.run(ids, {bitnet_topk_ratio: 1})).logits;
    const cpuBase = cpuLogits(w, {bitnet_topk_ratio: 1});
    const g: SweepPoint[] = [];
    const c: SweepPoint[] = [];
    for (const k of ks) {
      const gl = (await runner.run(ids, {bitnet_topk_ratio: k})).logits;
      const cl = cpuLogits(w, {bitnet_topk_ratio: k});
      expect(maxAbsDiff(gl, cl), `K = ${k}`).toBeLessThanOrEqual(TOL);
      expect(greedy(gl, V)).toEqual(greedy(cl, V));
      g.push(sweepPoint(k, gpuBase, gl, ids, V));
      c.push(sweepPoint(k, cpuBase, cl, ids, V));
    }
    // every K ran on one session (K is not compiled in) and the curve moves: K = 25% is not K = 100%
    expect(runner.sessions).toBe(1);
    expect(c[0].kl).toBeGreaterThan(1e-4);
    const r = compareSweeps(g, c);
    expect(r.pass, JSON.stringify(r)).toBe(true);
    expect(r.maxAbsKL).toBeLessThan(1e-4);
    // the runtime K gives the bits of a session compiled for that config
    const fixed = await createWebGPUSession(
      {...w, config: {...w.config, bitnet_topk_ratio: 0.25}},
      {device, maxBlock: ids.length},
    );
    expect(
      maxAbsDiff(await fixed.append(ids, {allLogits: true}), (await runner.run(ids, {bitnet_topk_ratio: 0.25})).logits),
    ).toBe(0);
    fixed.dispose();
    runner.dispose();
  });

  it("a4.8: KV-cache bits 16 / 8 / 4 / 3 (BOS in 4 or not) — logits, KL to 16 bits, loss, greedy tokens, and the stored cache's error", async () => {
    const device = await testDevice();
    const w = randomWeights(defaultConfig("a4.8", shape), 32);
    const V = w.config.vocab_size;
    const runner = createSweepRunner(w, {device, maxTokens: ids.length});
    const base: SweepOverride = {bitnet_kv_bits: 16};
    const gpuBase = (await runner.run(ids, base)).logits;
    const cpuBase = cpuLogits(w, base);
    expect(maxAbsDiff(gpuBase, cpuBase)).toBeLessThanOrEqual(TOL);
    for (const bos of [4, 0]) {
      const g: SweepPoint[] = [];
      const c: SweepPoint[] = [];
      for (const bits of [8, 4, 3] as const) {
        const over: SweepOverride = {bitnet_kv_bits: bits, bitnet_kv_bos_bits: bos};
        const gl = (await runner.run(ids, over)).logits;
        const cl = cpuLogits(w, over);
        expect(maxAbsDiff(gl, cl), `${bits} bits, BOS ${bos}`).toBeLessThanOrEqual(TOL);
        expect(greedy(gl, V)).toEqual(greedy(cl, V));
        g.push(sweepPoint(bits, gpuBase, gl, ids, V));
        c.push(sweepPoint(bits, cpuBase, cl, ids, V));
      }
      const r = compareSweeps(g, c);
      expect(r.pass, JSON.stringify(r)).toBe(true);
      expect(c[2].kl).toBeGreaterThan(1e-5); // 3 bits move the output
    }
    // the KV error the page shows for one setting, from the codes the GPU stored
    const over: SweepOverride = {bitnet_kv_bits: 4, bitnet_kv_bos_bits: 0};
    const res = await runner.run(ids, over, {inspect: true});
    const cfg = {...w.config, ...over};
    const gt = traceFromInspection(res.inspection!, cfg);
    const ref = forwardFull({...w, config: cfg}, ids, {trace: true}).trace!;
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      expect(gt.layers[l].kv!.bits).toEqual(ref.layers[l].kv!.bits);
      expect(gt.layers[l].kv!.keyMeanAbsError).toBeCloseTo(ref.layers[l].kv!.keyMeanAbsError, 5);
      expect(gt.layers[l].kv!.valueMeanAbsError).toBeCloseTo(ref.layers[l].kv!.valueMeanAbsError, 5);
    }
    expect(runner.sessions).toBe(5); // 16; 8 and 4 (with or without BOS in 4: one format each); 3 with BOS in 4; 3 without
    runner.dispose();
  });

  it("b1.58: K has no effect (the variant table gives W_o no top-K)", async () => {
    const device = await testDevice();
    const w = randomWeights(defaultConfig("b1.58", shape), 33);
    const runner = createSweepRunner(w, {device, maxTokens: ids.length});
    const a = (await runner.run(ids, {bitnet_topk_ratio: 0.25})).logits;
    const b = (await runner.run(ids, {bitnet_topk_ratio: 1})).logits;
    expect(maxAbsDiff(a, b)).toBe(0);
    expect(maxAbsDiff(a, cpuLogits(w, {bitnet_topk_ratio: 0.25}))).toBeLessThanOrEqual(TOL);
    runner.dispose();
  });
});
