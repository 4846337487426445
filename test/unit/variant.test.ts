// One variant table, four readers: the CPU reference (traces), the tfjs trainer (the sites its forward applied),
// the WebGPU engine's plan and the checkpoint validator (config.json round trip) must all do what sitePlan says,
// for every variant; the KV BOS rule; and the one config validator bounding every field before allocation.
import {traceFromInspection} from "../../src/lib/chapters/gpu-trace.js";
import * as tfjs from "@tensorflow/tfjs";
import {beforeAll, describe, expect, it} from "vitest";
import {makePlan, quantKind} from "../../src/gpu/engine.js";
import {CheckpointError, configToJSON, parseConfig} from "../../src/lib/checkpoint.js";
import {defaultConfig, type BitNetConfig, type Variant} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import {forwardFull} from "../../src/lib/model.js";
import {ConfigError, parseTrainConfig} from "../../src/lib/train/config.js";
import {forward, initParams, type ForwardStats} from "../../src/lib/train/model.js";
import {trainPlan} from "../../src/lib/train/plan.js";
import type {TF} from "../../src/lib/train/tf.js";
import {
  CONFIG_LIMITS,
  SITES,
  SITE_LINEARS,
  kvBitsAt,
  kvPlan,
  sitePlan,
  siteOf,
  validateModelConfig,
  type SiteInput,
} from "../../src/lib/variant.js";

const tf = tfjs as unknown as TF;
beforeAll(async () => {
  await tfjs.setBackend("cpu");
});

// F = 40 = 20·2 and H·d = 32: the Hadamard takes the Paley route on down, Sylvester on o
const shape = {
  vocab_size: 40,
  hidden_size: 32,
  intermediate_size: 40,
  num_hidden_layers: 1,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 16,
};
const cases: [string, Variant, Partial<BitNetConfig>][] = [
  ["fp", "fp", {}],
  ["b1.58", "b1.58", {}],
  ["a4.8", "a4.8", {}],
  ["a4.8 stage 1 (A8, top-K off)", "a4.8", {bitnet_activation_bits: 8, bitnet_topk_ratio: 1}],
  ["v2 a8", "v2", {}],
  ["v2 a4", "v2", {bitnet_activation_bits: 4}],
  ["v2 a4 without Hadamard", "v2", {bitnet_activation_bits: 4, bitnet_hadamard: false}],
];

/** What the CPU reference did at each site, read off its trace. */
function cpuSites(c: BitNetConfig): Record<string, {quantizer: string; bits: number; hadamard: boolean}> {
  const {trace} = forwardFull(randomWeights(c, 3), [1, 5, 9], {trace: true});
  const out: Record<string, {quantizer: string; bits: number; hadamard: boolean}> = {};
  for (const site of SITES) {
    for (const l of SITE_LINEARS[site]) {
      const t = trace!.layers[0].linears[l];
      const got = {quantizer: t.act?.scheme ?? "none", bits: t.act?.bits ?? 0, hadamard: !!t.rotated};
      if (out[site]) expect(got).toEqual(out[site]); // the projections of a site share one quantized input
      out[site] = got;
    }
  }
  return out;
}

/** What the chapters' GPU trace (lib/chapters/gpu-trace.ts) reports per site, from an inspection shaped like the
 *  engine's, built here from the CPU reference's trace (the values don't matter, the words do). */
function gpuTraceSites(c: BitNetConfig): Record<string, {quantizer: string; bits: number; hadamard: boolean}> {
  const w = randomWeights(c, 3);
  const {trace} = forwardFull(w, [1, 5, 9], {trace: true});
  const t = trace!.layers[0];
  const z = (n: number) => new Float32Array(n);
  const codes = (l: "q" | "o" | "gate" | "down") => {
    const a = t.linears[l].act;
    return a
      ? {q: a.q, invScale: Float32Array.from(a.scale, (x) => 1 / x)}
      : {q: new Int8Array(t.linears[l].input.length), invScale: new Float32Array(3).fill(1)};
  };
  const layer = {
    layer: 0,
    residualIn: z(3 * c.hidden_size),
    qkvInput: t.linears.q.input,
    qkv: z(t.linears.q.input.length * 3),
    attnOut: z(t.linears.o.input.length),
    oInput: t.linears.o.input,
    gateUpInput: t.linears.gate.input,
    glu: z(t.linears.down.input.length),
    downInput: t.linears.down.input,
    codes:
      c.bitnet_variant === "fp"
        ? undefined
        : {qkv: codes("q"), o: codes("o"), gate_up: codes("gate"), down: codes("down")},
    residualOut: z(3 * c.hidden_size),
  };
  const g = traceFromInspection({start: 0, tokens: [1, 5, 9], layers: [layer]}, c, w);
  const out: Record<string, {quantizer: string; bits: number; hadamard: boolean}> = {};
  for (const site of SITES) {
    const lt = g.layers[0].linears[SITE_LINEARS[site][0]];
    out[site] = {quantizer: lt.act?.scheme ?? "none", bits: lt.act?.bits ?? 0, hadamard: !!lt.rotated};
  }
  return out;
}

describe("the variant table and its five readers", () => {
  for (const [name, variant, extra] of cases) {
    it(`${name}: CPU reference, trainer, engine plan and checkpoint validator agree with sitePlan`, () => {
      const c = defaultConfig(variant, {...shape, ...extra});
      const plan = sitePlan(c);
      const want = (s: SiteInput) => ({quantizer: s.quantizer, bits: s.bits, hadamard: s.hadamard});
      // 1. the CPU reference
      const cpu = cpuSites(c);
      for (const s of SITES) expect(cpu[s], `cpu ${s}`).toEqual(want(plan[s]));
      // 2. the trainer: the sites its forward applied, in order
      const stats: ForwardStats = {sites: []};
      tf.tidy(() => {
        const p = initParams(tf, c, 1);
        forward(tf, c, p, tf.tensor([[1, 5, 9]], [1, 3], "int32"), {stats});
        for (const v of p.values()) v.dispose();
      });
      expect(stats.sites!.map((s) => s.site)).toEqual(["qkv", "o", "gate_up", "down"]);
      for (const s of stats.sites!) expect(s).toEqual(plan[s.site]);
      // 3. the engine's plan
      const e = makePlan(c, "f32");
      expect([e.attnIn, e.oIn, e.ffnIn, e.downIn]).toEqual(SITES.map((s) => quantKind(plan[s])));
      expect(e.hadamard).toBe(plan.o.hadamard && plan.down.hadamard);
      expect(e.oTopK !== undefined).toBe(plan.o.quantizer === "topk-int8" && (plan.o.topK ?? 1) < 1);
      expect(e.kv).toEqual(kvPlan(c));
      // 5. the chapters' GPU trace: the quantizer and rotation it reports per site
      const g = gpuTraceSites(c);
      for (const s of SITES) expect(g[s], `gpu-trace ${s}`).toEqual(want(plan[s]));
      // 4. checkpoint: config.json round trip validates and gives the same plan
      const back = parseConfig(configToJSON(c));
      expect(sitePlan(back)).toEqual(plan);
      expect(kvPlan(back)).toEqual(kvPlan(c));
    });
  }

  it("the paper's rules, written out once (a4.8 §2, v2 §2)", () => {
    const a48 = sitePlan(defaultConfig("a4.8"));
    expect([a48.qkv.quantizer, a48.o.quantizer, a48.gate_up.quantizer, a48.down.quantizer]).toEqual([
      "absmean-int4",
      "topk-int8",
      "absmean-int4",
      "absmax-int8",
    ]);
    expect(a48.o.topK).toBe(0.5);
    const v2 = sitePlan(defaultConfig("v2", {bitnet_activation_bits: 4}));
    expect(SITES.map((s) => v2[s].hadamard)).toEqual([false, true, false, true]);
    expect(SITES.map((s) => v2[s].bits)).toEqual([4, 4, 4, 4]);
    expect(SITES.map((s) => sitePlan(defaultConfig("b1.58"))[s].quantizer)).toEqual(Array(4).fill("absmax-int8"));
    expect(["q", "k", "v", "o", "gate", "up", "down"].map((l) => siteOf(l as never))).toEqual([
      "qkv",
      "qkv",
      "qkv",
      "o",
      "gate_up",
      "gate_up",
      "down",
    ]);
  });

  it("trainPlan: schedule per step, the site plan of each stage and the Hadamard matrices", () => {
    const cfg = parseTrainConfig({
      name: "p",
      model: {bitnet_variant: "v2", ...shape, bitnet_activation_bits: 8},
      seqLen: 8,
      steps: 20,
      stages: [{at: 0.95, model: {bitnet_activation_bits: 4}}],
    });
    const j = JSON.parse(JSON.stringify(trainPlan(cfg)));
    expect(j.schedule.lr).toHaveLength(20);
    expect(j.stages.map((s: {fromStep: number}) => s.fromStep)).toEqual([0, 19]);
    expect(j.stages[0].sites.o.bits).toBe(8);
    expect(j.stages[1].sites.down).toMatchObject({quantizer: "absmean-int4", hadamard: true, linears: ["down"]});
    expect(j.hadamard["40"].plan.construction).toBe("paley1");
    expect(j.hadamard["40"].mix).toHaveLength(20 * 20);
    expect(j.optimizer.noDecay.every((n: string) => n.endsWith("norm.weight"))).toBe(true);
  });
});

describe("KV bits per position: the BOS rule", () => {
  const c = defaultConfig("a4.8", {...shape, bitnet_kv_bits: 3, bitnet_kv_bos_bits: 4});
  it("the BOS token at position 0 keeps bitnet_kv_bos_bits; a window starting mid-text does not", () => {
    const kv = kvPlan(c);
    expect(kvBitsAt(kv, 0, c.bos_token_id)).toBe(4);
    expect(kvBitsAt(kv, 0, 7)).toBe(3);
    expect(kvBitsAt(kv, 5, c.bos_token_id)).toBe(3);
    const w = randomWeights(c, 5);
    expect(forwardFull(w, [c.bos_token_id, 5, 9], {trace: true}).trace!.layers[0].kv!.bits).toEqual([4, 3, 3]);
    expect(forwardFull(w, [6, 5, 9], {trace: true}).trace!.layers[0].kv!.bits).toEqual([3, 3, 3]);
  });
  it("'keep BOS at 4 bits' never lowers the precision of an 8-bit or 16-bit cache: max(bos_bits, kv_bits)", () => {
    expect(kvPlan({...c, bitnet_kv_bits: 8}).bosBits).toBe(8);
    expect(kvPlan({...c, bitnet_kv_bits: 16}).bosBits).toBe(16);
    expect(kvPlan({...c, bitnet_kv_bos_bits: 0}).bosBits).toBe(3);
    const w = randomWeights({...c, bitnet_kv_bits: 8}, 5);
    expect(forwardFull(w, [c.bos_token_id, 5], {trace: true}).trace!.layers[0].kv!.bits).toEqual([8, 8]);
  });
});

describe("validateModelConfig: one validator, every field bounded before anything is sized from it", () => {
  const good = defaultConfig("b1.58", shape);
  const bad: [Partial<BitNetConfig> | Record<string, unknown>, RegExp][] = [
    [{num_hidden_layers: 1e9}, /num_hidden_layers 1000000000 is larger than this implementation supports \(≤ 1024\)/],
    [{vocab_size: 2 ** 40}, /vocab_size/],
    [{hidden_size: 1.5}, /hidden_size must be an integer/],
    [{intermediate_size: -4}, /intermediate_size must be an integer ≥ 1/],
    [{num_key_value_heads: 3}, /not a multiple of num_key_value_heads 3/],
    [{hidden_size: 30}, /not divisible by num_attention_heads/],
    [{head_dim: 7}, /must be even/],
    [{rms_norm_eps: 0}, /rms_norm_eps/],
    [{rope_theta: Infinity}, /rope_theta/],
    [{hidden_act: "gelu"}, /hidden_act/],
    [{bos_token_id: 40}, /bos_token_id must be a token id in \[0, 40\)/],
    [{bitnet_activation_bits: 4}, /must be 8 for b1.58/],
    [{bitnet_topk_ratio: 0}, /bitnet_topk_ratio/],
    [{bitnet_kv_bits: 5}, /bitnet_kv_bits/],
    [{bitnet_kv_bos_bits: 5}, /bitnet_kv_bos_bits/],
    [{bitnet_sub_norms: "yes"}, /bitnet_sub_norms must be true or false/],
    [
      {
        hidden_size: 65536,
        intermediate_size: 262144,
        num_hidden_layers: 1024,
        num_attention_heads: 1024,
        vocab_size: 1 << 22,
      },
      /parameters|elements/,
    ],
  ];
  for (const [over, re] of bad) {
    it(`rejects ${JSON.stringify(over)}`, () => {
      expect(() => validateModelConfig({...good, ...over} as BitNetConfig)).toThrow(re);
    });
  }
  it("throws the reader's own error class, named the reader's way", () => {
    expect(() => parseConfig({...configToJSON(good), num_hidden_layers: 1e9})).toThrow(CheckpointError);
    expect(() => parseConfig({...configToJSON(good), num_hidden_layers: 1e9})).toThrow(
      /^config\.json: num_hidden_layers/,
    );
    expect(() => parseTrainConfig({model: {bitnet_variant: "b1.58", num_hidden_layers: 1e9}})).toThrow(ConfigError);
    expect(() => parseTrainConfig({model: {bitnet_variant: "b1.58", num_hidden_layers: 1e9}})).toThrow(
      /model\.num_hidden_layers/,
    );
    expect(() => makePlan({...good, num_hidden_layers: 1e9}, "f32")).toThrow(/webgpu: config num_hidden_layers/);
  });
  it("v2 needs a Hadamard construction for its rotated sizes", () => {
    expect(() => validateModelConfig(defaultConfig("v2", {...shape, intermediate_size: 45}))).toThrow(
      /intermediate_size .* no Hadamard construction/,
    );
    expect(() =>
      validateModelConfig(defaultConfig("v2", {...shape, intermediate_size: 45, bitnet_hadamard: false})),
    ).not.toThrow();
  });
  it("accepts the 2B4T shape and the limits' own values", () => {
    const b2 = defaultConfig("b1.58", {
      vocab_size: 128256,
      hidden_size: 2560,
      intermediate_size: 6912,
      num_hidden_layers: 30,
      num_attention_heads: 20,
      num_key_value_heads: 5,
      max_position_embeddings: 4096,
      bos_token_id: 128000,
      eos_token_id: 128001,
    });
    expect(validateModelConfig(b2)).toBe(b2);
    expect(CONFIG_LIMITS.num_hidden_layers).toBeGreaterThanOrEqual(30);
  });
});
