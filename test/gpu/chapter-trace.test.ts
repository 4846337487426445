// The chapters' GPU trace (src/lib/chapters/gpu-trace.ts): what the engine's inspection pass copies back, turned into
// the ForwardTrace the views draw, equals the CPU reference's trace; and the page's golden-tensor check catches a
// wrong code or a wrong value.
import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import {defaultConfig, type BitNetConfig, type Variant} from "../../src/lib/config.js";
import {compareTraces, traceFromInspection} from "../../src/lib/chapters/gpu-trace.js";
import {layerSparsity} from "../../src/lib/chapters/sparsity.js";
import {layerTokenMetric} from "../../src/lib/chapters/inspect.js";
import {randomWeights} from "../../src/lib/init.js";
import {forwardFull} from "../../src/lib/model.js";
import {testDevice} from "./harness.js";

// FFN 160 = 20·8 takes v2's Paley-Kronecker Hadamard route; GQA 4 heads over 2.
const shape = {
  vocab_size: 300,
  hidden_size: 128,
  intermediate_size: 160,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 96,
};
const prompt = [1, 5, 17, 42, 99, 7, 250, 3, 64, 11, 12];

const cases: {variant: Variant; extra?: Partial<BitNetConfig>}[] = [
  {variant: "b1.58"},
  {variant: "a4.8"},
  {variant: "v2", extra: {bitnet_activation_bits: 4}},
  {variant: "fp"},
];

describe("chapter traces from the GPU inspection pass", () => {
  for (const c of cases) {
    it(`${c.variant}${c.extra ? " a4" : ""}: inputs, rotations, codes, scales, sparsity and residual norms match the CPU reference`, async () => {
      const device = await testDevice();
      const cfg = defaultConfig(c.variant, {...shape, ...c.extra});
      const w = randomWeights(cfg, 21);
      const gpu = await createWebGPUSession(w, {device, inspect: true, maxBlock: prompt.length});
      await gpu.append(prompt, {inspect: {}});
      const ins = gpu.lastInspection!;
      const withKV = {
        ...ins,
        layers: await Promise.all(
          ins.layers.map(async (l) => ({...l, kv: await gpu.inspectKV(l.layer, 0, prompt.length)})),
        ),
      };
      const g = traceFromInspection(withKV, cfg, w);
      gpu.dispose();
      const ref = forwardFull(w, prompt, {trace: true}).trace!;
      const r = compareTraces(g, ref);
      expect(r.pass, JSON.stringify(r)).toBe(true);
      expect(r.maxRel).toBeLessThan(1e-3);
      if (c.variant !== "fp") {
        expect(r.codes).toBeGreaterThan(0);
        expect(r.codesDiffer).toBe(0);
        // schemes and per-token scales as the reference's quantizers made them
        for (const n of ["q", "o", "gate", "down"] as const) {
          expect(g.layers[1].linears[n].act!.scheme).toBe(ref.layers[1].linears[n].act!.scheme);
          expect(g.layers[1].linears[n].sparsity).toBeCloseTo(ref.layers[1].linears[n].sparsity, 6);
        }
      }
      if (cfg.bitnet_kv_bits < 16) {
        // the KV cache codes the GPU stored equal the reference quantizer's, and so do the per-layer K/V errors
        expect(r.kvCodes).toBe(
          2 *
            cfg.num_hidden_layers *
            prompt.length *
            cfg.num_key_value_heads *
            (cfg.hidden_size / cfg.num_attention_heads),
        );
        expect(r.kvCodesDiffer).toBe(0);
        expect(g.layers[1].kv!.bits).toEqual(ref.layers[1].kv!.bits);
        expect(g.layers[1].kv!.keyMeanAbsError).toBeCloseTo(ref.layers[1].kv!.keyMeanAbsError, 5);
      }
      if (c.variant === "v2") {
        // the un-rotated input is recovered from the GPU's rotated one with Hᵀ
        expect(g.layers[0].linears.down.rotated).toBeDefined();
      }
      // v's output is the GPU's own
      const vo = g.layers[0].linears.v.output;
      const rv = ref.layers[0].linears.v.output;
      for (let i = 0; i < rv.length; i++)
        expect(Math.abs(vo[i] - rv[i])).toBeLessThan(1e-3 * Math.max(1, Math.abs(rv[i])));
      // the views' numbers: per-component sparsity (gate output from the GLU) and the inspector's metrics
      const sg = layerSparsity(g, cfg);
      const sr = layerSparsity(ref, cfg);
      for (let l = 0; l < sg.length; l++)
        for (const k of Object.keys(sr[l]) as (keyof (typeof sr)[0])[]) expect(sg[l][k]).toBeCloseTo(sr[l][k], 5);
      for (const m of ["residual", "growth", "sparsity", "error"] as const) {
        const a = layerTokenMetric(g, m, "down");
        const b = layerTokenMetric(ref, m, "down");
        for (let i = 0; i < a.length; i++)
          expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-3 * Math.max(1, Math.abs(b[i])));
      }
    });
  }

  it("the check fails on a flipped code and on a perturbed value", async () => {
    const device = await testDevice();
    const cfg = defaultConfig("a4.8", shape);
    const w = randomWeights(cfg, 22);
    const gpu = await createWebGPUSession(w, {device, inspect: true, maxBlock: prompt.length});
    await gpu.append(prompt, {inspect: {}});
    const ins = gpu.lastInspection!;
    const kv = await gpu.inspectKV(1, 0, prompt.length);
    await expect(gpu.inspectKV(1, 5, prompt.length)).rejects.toThrow(/not all in the cache/);
    gpu.dispose();
    const ref = forwardFull(w, prompt, {trace: true}).trace!;
    const okKV = compareTraces(
      traceFromInspection({...ins, layers: ins.layers.map((l) => (l.layer === 1 ? {...l, kv} : l))}, cfg),
      ref,
    );
    expect(okKV.kvCodes).toBeGreaterThan(0);
    expect(okKV.kvCodesDiffer).toBe(0);
    const flipped = kv!.k.map((x, i) => (i % 50 === 0 ? (x + 1) & 7 : x));
    const kvIns = {...ins, layers: ins.layers.map((l) => (l.layer === 1 ? {...l, kv: {...kv!, k: flipped}} : l))};
    const badKV = compareTraces(traceFromInspection(kvIns, cfg), ref);
    expect(badKV.kvCodesDiffer).toBe(Math.ceil(kv!.k.length / 50));
    expect(badKV.pass).toBe(false);
    const codes = ins.layers[1].codes!.down.q;
    const flips = Math.ceil(codes.length * 0.01);
    for (let i = 0; i < flips; i++) codes[i * 7] = codes[i * 7] === 5 ? 6 : 5;
    const bad = compareTraces(traceFromInspection(ins, cfg), ref);
    expect(bad.pass).toBe(false);
    expect(bad.codesDiffer).toBeGreaterThanOrEqual(flips * 0.9);
    const ins2 = {
      ...ins,
      layers: ins.layers.map((l) => ({
        ...l,
        codes: undefined,
        gateUpInput: l.gateUpInput.map((x, i) => (i === 3 ? x + 10 : x)),
      })),
    };
    const bad2 = compareTraces(traceFromInspection(ins2, cfg), ref);
    expect(bad2.pass).toBe(false);
    expect(bad2.where).toMatch(/layer \d FFN input/);
    expect(() => compareTraces(traceFromInspection({...ins, tokens: ins.tokens.slice(1)}, cfg), ref)).toThrow(/tokens/);
  });
});
