// The cost model's arithmetic against hand-worked counts: published parameter totals, bytes of a decode step
// computed by hand, the BitNet energy formulas, batch limits, and malformed input.
import {describe, expect, it} from "vitest";
import {defaultConfig} from "../../src/lib/config.js";
import {
  SHAPES,
  activatedParams,
  compareMicrobench,
  costReport,
  decodeStep,
  decodeStepBytes,
  decodeTokenEnergy,
  energy,
  getShape,
  kvCacheBytes,
  maxBatch,
  memory,
  paramCounts,
  perMacRatio,
  precision,
  shapeFromConfig,
  upSparsityFromGate,
} from "../../src/lib/cost.js";
import type {ModelShape} from "../../src/lib/cost.js";

describe("parameter counts", () => {
  it("match published totals exactly", () => {
    // 2B4T: the -bf16 checkpoint's layer dump; LLaMA-7B and LLaMA-2-70B: their well-known totals.
    expect(paramCounts(getShape("2B4T")).total).toBe(2_412_820_480);
    expect(paramCounts(getShape("2B4T")).linear).toBe(2_084_044_800);
    expect(paramCounts(getShape("2B4T")).embedding).toBe(328_335_360);
    expect(paramCounts(getShape("7B")).total).toBe(6_738_415_616);
    expect(paramCounts(getShape("70B")).total).toBe(68_976_648_192);
    // Gemma-3 1B: 999,885,952 (keras-hub preset metadata), whose norms are four per layer of C plus q/k norms of
    // head_dim — more than this model's two; the projections and the embedding must account for the rest exactly.
    const g = paramCounts(getShape("gemma3-1B"));
    expect(g.linear + g.embedding).toBe(999_885_952 - (26 * (4 * 1152 + 2 * 256) + 1152));
  });

  it("counts a GPT-style (two-matrix) FFN and grouped-query K/V correctly", () => {
    const s: ModelShape = {
      ...getShape("700M"),
      hidden: 8,
      ffn: 32,
      layers: 2,
      heads: 2,
      kvHeads: 1,
      headDim: 4,
      vocab: 10,
      ffnKind: "mlp",
      tiedEmbedding: false,
      subNorms: false,
    };
    const n = paramCounts(s);
    expect(n.perLayer).toEqual({q: 64, k: 32, v: 32, o: 64, gate: 0, up: 256, down: 256});
    expect(n.linear).toBe(2 * 704);
    expect(n.embedding).toBe(160);
    expect(n.norms).toBe(2 * 16 + 8);
  });

  it("every catalog shape is self-consistent", () => {
    for (const s of SHAPES) {
      expect(s.heads % s.kvHeads, s.id).toBe(0);
      expect(Number.isInteger(s.headDim) && s.headDim > 0, s.id).toBe(true);
    }
    expect(new Set(SHAPES.map((s) => s.id.toLowerCase())).size).toBe(SHAPES.length);
    expect(() => getShape("nope")).toThrow(/unknown model "nope"/);
  });
});

describe("memory", () => {
  it("weights by precision scale with the bits of the linear layers only", () => {
    const s = getShape("7B");
    const n = paramCounts(s);
    const at = (bits: number) => memory(s, precision("fp16", {weightBits: bits})).linear;
    for (const bits of [16, 8, 4, 2, Math.log2(3)]) expect(at(bits)).toBeCloseTo((n.linear * bits) / 8, 0);
    // Embeddings stay at their own precision whatever the weights are.
    expect(memory(s, precision("b1.58")).embedding).toBe(n.embedding * 2);
    expect(memory(s, precision("fp16")).embedding).toBe(n.embedding * 2);
  });

  it("KV cache: 2 · layers · kvHeads · headDim values per token, at kvBits", () => {
    const s = getShape("70B");
    expect(kvCacheBytes(s, 16, 1)).toBe(327_680); // 2·80·8·128·2 bytes
    expect(kvCacheBytes(s, 16, 1, 1, "per-attention-head")).toBe(2_621_440);
    expect(kvCacheBytes(s, 3, 4096, 8)).toBe((8 * 4096 * 2 * 80 * 8 * 128 * 3) / 8);
    const m = memory(s, precision("b1.58", {kvBits: 4}), {context: 1000, batch: 2});
    expect(m.kvCache).toBe(2 * 1000 * 2 * 80 * 8 * 128 * 0.5);
    expect(m.total).toBe(m.weights + m.kvCache);
    expect(() => memory(s, precision("fp16"), {context: -1})).toThrow(/context/);
  });

  it("max batch: whole sequences that fit beside the weights", () => {
    const s = getShape("70B");
    const w = memory(s, precision("fp16")).weights;
    const per = kvCacheBytes(s, 16, 512, 1, "per-attention-head");
    const gb = (w + 16.5 * per) / 1e9;
    expect(maxBatch(s, precision("fp16"), {memoryGB: gb, context: 512, kvLayout: "per-attention-head"})).toBe(16);
    expect(maxBatch(s, precision("fp16"), {memoryGB: 100, context: 512})).toBe(0); // 138 GB of weights do not fit
  });
});

describe("decode latency and throughput", () => {
  it("bytes of one 2B4T b1.58 decode step, counted by hand", () => {
    const s = getShape("2B4T");
    const b = decodeStepBytes(s, precision("b1.58"), {context: 0});
    const linear = (2_084_044_800 * 2) / 8;
    const scales = 30 * 7 * 4;
    const lmHead = 128_256 * 2560 * 2; // tied: the embedding matrix is read as the LM head
    const norms = (30 * (2 * 2560 + 2560 + 6912) + 2560) * 2;
    const kvWrite = 2 * 30 * 5 * 128 * 2;
    expect(b.weights).toBe(linear + scales + lmHead + norms);
    expect(b.total).toBe(linear + scales + lmHead + norms + 2560 * 2 + kvWrite);
    const t = decodeStep(s, precision("b1.58"), {bandwidthGBps: 1000});
    expect(t.stepMs).toBeCloseTo(b.total / 1e9, 12);
    expect(t.tokensPerSecond).toBeCloseTo(1e3 / t.stepMs, 9);
  });

  it("efficiency, devices and overhead enter as stated; the compute roof takes over at large batch", () => {
    const s = getShape("7B");
    const p = precision("fp16");
    const base = decodeStep(s, p, {bandwidthGBps: 1000});
    expect(decodeStep(s, p, {bandwidthGBps: 1000, efficiency: 0.5}).stepMs).toBeCloseTo(2 * base.stepMs, 9);
    expect(decodeStep(s, p, {bandwidthGBps: 1000, devices: 2}).stepMs).toBeCloseTo(base.stepMs / 2, 9);
    expect(decodeStep(s, p, {bandwidthGBps: 1000, overheadMs: 1}).stepMs).toBeCloseTo(base.stepMs + 1, 9);
    const big = decodeStep(s, p, {bandwidthGBps: 1000, batch: 4096, peakTops: 100});
    expect(big.bound).toBe("compute");
    expect(big.stepMs).toBeCloseTo(big.computeMs, 9);
    expect(big.ops).toBe(2 * 4096 * (paramCounts(s).linear + s.vocab * s.hidden + 2 * s.layers * s.heads * s.headDim));
    expect(() => decodeStep(s, p, {bandwidthGBps: 0})).toThrow(/bandwidth/);
    expect(() => decodeStep(s, p, {bandwidthGBps: 1, batch: 1.5})).toThrow(/batch/);
    expect(() => decodeStep(s, p, {bandwidthGBps: 1, efficiency: 1.5})).toThrow(/efficiency/);
  });
});

describe("energy (BitNet eq. 16–18, Table 2)", () => {
  it("71.4×: FP16 multiply-accumulate vs INT8 addition on 7 nm", () => {
    expect(perMacRatio("7nm")).toBeCloseTo(0.5 / 0.007, 10);
    expect(perMacRatio("7nm").toFixed(1)).toBe("71.4");
  });

  it("a one-layer model by hand: m·n·p multiplications, m·(n−1)·p additions, ternary m·(n+p) rescaling", () => {
    const s: ModelShape = {
      ...getShape("700M"),
      hidden: 4,
      ffn: 8,
      layers: 1,
      heads: 2,
      kvHeads: 2,
      headDim: 2,
      vocab: 10,
      ffnKind: "mlp",
    };
    const m = 3;
    // Projections (n, p): q, k, v, o = (4, 4); up (4, 8); down (8, 4).
    const mats = [
      [4, 4],
      [4, 4],
      [4, 4],
      [4, 4],
      [4, 8],
      [8, 4],
    ];
    const macs = m * mats.reduce((a, [n, p]) => a + n * p, 0);
    const adds = m * mats.reduce((a, [n, p]) => a + (n - 1) * p, 0);
    const e = energy(s, "fp16", {tokens: m, node: "45nm", attention: "none"});
    expect(e.linear.muls).toBe(macs);
    expect(e.linear.adds).toBe(adds);
    expect(e.mulJ).toBeCloseTo(macs * 1.1e-12, 20);
    expect(e.addJ).toBeCloseTo(adds * 0.4e-12, 20);
    const t = energy(s, "ternary", {tokens: m, node: "45nm", attention: "none"});
    expect(t.linear.muls).toBe(m * mats.reduce((a, [n, p]) => a + n + p, 0));
    expect(t.addJ).toBeCloseTo(adds * 0.03e-12, 20);
    expect(t.multiplicationFreeShare).toBe(1);
    // Attention: per head (m×d)(d×m) and (m×m)(m×d), in FP16 for both variants.
    const full = energy(s, "ternary", {tokens: m, node: "45nm"});
    expect(full.attention.muls).toBe(2 * 2 * m * 2 * m);
    expect(full.attention.adds).toBe(2 * (m * 1 * m + m * 2 * 2));
    expect(full.attention.mulJ).toBeCloseTo(full.attention.muls * 1.1e-12, 20);
    expect(energy(s, "ternary", {tokens: m, node: "45nm", attention: "causal"}).attention.muls).toBe(
      full.attention.muls / 2,
    );
    expect(full.multiplicationFreeShare).toBeCloseTo(macs / (macs + full.attention.muls), 12);
  });

  it("a decoded token: attention grows with the context; the LM head is counted", () => {
    const s = getShape("2B4T");
    const e0 = decodeTokenEnergy(s, "ternary", 0, "7nm");
    const e1 = decodeTokenEnergy(s, "ternary", 1000, "7nm");
    expect(e0.attention.muls).toBe(0);
    expect(e1.attention.muls).toBe(2 * 30 * 20 * 128 * 1000);
    expect(e0.lmHead.muls).toBe(128_256 * 2560);
    expect(e1.multiplicationFreeShare).toBeLessThan(e0.multiplicationFreeShare);
    expect(() => energy(s, "fp16", {tokens: 0, node: "7nm"})).toThrow(/tokens/);
  });
});

describe("a4.8 activated parameters", () => {
  it("zero sparsity activates every projection weight; a4.8's up-projection estimate", () => {
    const s = getShape("3B");
    const z = activatedParams(s, {qkv: 0, out: 0, up: 0, gate: 0, down: 0});
    expect(z.active).toBe(paramCounts(s).linear);
    expect(z.overallPercent).toBe(0);
    const half = activatedParams(s, {qkv: 50, out: 50, up: 50, gate: 50, down: 50});
    expect(half.activeFraction).toBeCloseTo(0.5, 12);
    expect(upSparsityFromGate(12.0, 67.5)).toBeCloseTo(71.4, 10);
    expect(() => activatedParams(s, {qkv: 101, out: 0, up: 0, gate: 0, down: 0})).toThrow(/qkv/);
  });
});

describe("custom shapes", () => {
  it("a BitNetConfig (a shipped tiny model) becomes a shape", () => {
    const c = defaultConfig("b1.58");
    const s = shapeFromConfig(c, "tiny");
    expect(s).toMatchObject({
      hidden: 256,
      ffn: 688,
      layers: 4,
      heads: 4,
      kvHeads: 2,
      headDim: 64,
      vocab: 4096,
      tiedEmbedding: true,
      subNorms: true,
    });
    const r = costReport(s, precision("b1.58"), {context: 256, batch: 1, bandwidthGBps: 100, node: "7nm", memoryGB: 1});
    expect(r.params.linear).toBe(4 * (256 * 256 * 2 + 256 * 128 * 2 + 3 * 256 * 688));
    expect(r.maxBatch).toBeGreaterThan(0);
  });

  it("rejects malformed configs with the field's name", () => {
    const c = defaultConfig("b1.58");
    expect(() => shapeFromConfig({...c, hidden_size: 0})).toThrow(/hidden_size/);
    expect(() => shapeFromConfig({...c, num_key_value_heads: 3})).toThrow(/num_key_value_heads/);
    expect(() => shapeFromConfig({...c, hidden_size: 250})).toThrow(/head_dim/);
    expect(() => shapeFromConfig({...c, vocab_size: "4096" as unknown as number})).toThrow(/vocab_size/);
    expect(() =>
      costReport(getShape("7B"), precision("fp16"), {context: 1.5, batch: 1, bandwidthGBps: 1, node: "7nm"}),
    ).toThrow(/context/);
  });
});

describe("microbenchmark comparison", () => {
  it("places each GEMV on the copy-bandwidth line", () => {
    const m = {
      copyGBps: 500,
      ternaryGemvMs: 0.02,
      ternaryGBps: 250,
      denseGemvMs: 0.1,
      denseGBps: 400,
      rows: 2048,
      cols: 2048,
    };
    const c = compareMicrobench(m);
    expect(c.points[0].bytes).toBeCloseTo(250e9 * 0.02e-3, 3);
    expect(c.points[0].predictedMs).toBeCloseTo(0.01, 12);
    expect(c.points[0].efficiency).toBeCloseTo(0.5, 12);
    expect(c.points[1].predictedMs).toBeCloseTo(0.08, 12);
    expect(() => compareMicrobench({...m, copyGBps: Number.NaN})).toThrow(/copyGBps/);
  });
});
