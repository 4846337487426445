import {describe, expect, it} from "vitest";
import {DeviceLostError} from "../../src/gpu/device.js";
import {
  createStreamedSession,
  createWebGPUSession,
  weightSource,
  type WebGPUSessionOptions,
  type WeightSource,
} from "../../src/gpu/engine.js";
import {expectedTensors} from "../../src/lib/checkpoint.js";
import {defaultConfig, tensorNames, type BitNetConfig, type Variant} from "../../src/lib/config.js";
import {argmax, generate} from "../../src/lib/generate.js";
import {randomWeights} from "../../src/lib/init.js";
import {createCpuSession} from "../../src/lib/model.js";
import {statsLayout} from "../../src/gpu/kernels/norm-stats.js";
import {testDevice} from "./harness.js";

// Small enough for SwiftShader, shaped to reach every code path: GQA (4 heads over 2 KV heads, d = 32), an FFN of
// 160 = 20·8 (v2's Hadamard takes the Paley-20 Kronecker route), rows and K not multiples of the tile sizes.
const shape = {
  vocab_size: 300,
  hidden_size: 128,
  intermediate_size: 160,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 96,
};

const variants: {name: string; variant: Variant; extra?: Partial<BitNetConfig>}[] = [
  {name: "fp", variant: "fp"},
  {name: "b1.58", variant: "b1.58"},
  {name: "b1.58 relu2, 8-bit KV", variant: "b1.58", extra: {hidden_act: "relu2", bitnet_kv_bits: 8}},
  {name: "a4.8 (INT4, top-K 50%, 3-bit KV with a 4-bit BOS)", variant: "a4.8"},
  {name: "v2 a8", variant: "v2"},
  {name: "v2 a4, 4-bit KV", variant: "v2", extra: {bitnet_activation_bits: 4, bitnet_kv_bits: 4}},
];

// Logits of these random models are O(10). Everything that decides an integer code is computed on the GPU exactly
// as the reference rounds it (RMSNorm, scales, ternary outputs, the KV step: see normquant.ts, linear.ts, exact.ts),
// so GPU and CPU agree to ~1e-5 (f32 attention/softmax/SiLU/Hadamard sums vs float64). What is not reproduced bit
// for bit (softmax, SiLU, the Hadamard transform) can still put one activation code on the other side of a rounding
// edge; one INT8 step moves logits by ~1e-3, hence the bound. (Such a flip is rare: p ≈ 2.5e-5 per INT8 value.)
const TOL = 2e-3;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const prompt = [1, 5, 17, 42, 99, 7, 250, 3, 64];

describe("WebGPU engine vs the CPU reference", () => {
  for (const v of variants) {
    it(`${v.name}: prefill logits, then greedy decode gives the reference's tokens`, async () => {
      const device = await testDevice();
      const cfg = defaultConfig(v.variant, {...shape, ...v.extra});
      const w = randomWeights(cfg, 7);
      const gpu = await createWebGPUSession(w, {device});
      const cpu = createCpuSession(w);
      const V = cfg.vocab_size;
      const a = await cpu.append(prompt, {allLogits: true});
      const b = await gpu.append(prompt, {allLogits: true});
      expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(TOL);
      let tok = argmax(a.subarray((prompt.length - 1) * V));
      expect(argmax(b.subarray((prompt.length - 1) * V))).toBe(tok);
      const tokensCpu: number[] = [];
      const tokensGpu: number[] = [];
      let worst = 0;
      for (let s = 0; s < 10; s++) {
        const la = await cpu.append([tok]);
        const lb = await gpu.append([tok]);
        worst = Math.max(worst, maxAbsDiff(la, lb));
        tokensCpu.push(argmax(la));
        tokensGpu.push(argmax(lb));
        tok = tokensCpu[s];
      }
      expect(tokensGpu).toEqual(tokensCpu);
      expect(worst).toBeLessThanOrEqual(TOL);
      expect(gpu.length).toBe(prompt.length + 10);
      gpu.dispose();
    });
  }

  it("KV BOS rule (variant.ts kvBitsAt): a window that does not start with BOS gets ordinary bits at position 0", async () => {
    const device = await testDevice();
    const cfg = defaultConfig("a4.8", {...shape, num_hidden_layers: 1, bitnet_kv_bits: 3, bitnet_kv_bos_bits: 8});
    const w = randomWeights(cfg, 11);
    const gpu = await createWebGPUSession(w, {device});
    for (const p of [prompt, prompt.slice(1)]) {
      const cpu = createCpuSession(w);
      expect(
        maxAbsDiff(await cpu.append(p, {allLogits: true}), await gpu.append(p, {allLogits: true})),
      ).toBeLessThanOrEqual(TOL);
      for (const t of [9, 33])
        expect(maxAbsDiff(await cpu.append([t]), await gpu.append([t]))).toBeLessThanOrEqual(TOL);
      gpu.reset();
    }
    gpu.dispose();
  });

  it("a streamed weight source (row ranges, bounded reads) gives the in-memory session's logits", async () => {
    const device = await testDevice();
    const cfg = defaultConfig("b1.58", {...shape, num_hidden_layers: 1});
    const w = randomWeights(cfg, 13);
    const mem = weightSource(w);
    const reads = new Set<string>();
    const streamed: WeightSource = {
      floatRows: async (n, r0, rows) => (reads.add(n), mem.floatRows(n, r0, rows)),
      ternaryRows: async (n, r0, rows) => (reads.add(n), mem.ternaryRows(n, r0, rows)),
      gamma: async (n) => mem.gamma(n),
    };
    const gpu = await createStreamedSession(cfg, streamed, {device});
    expect(reads.size).toBe(expectedTensors(cfg).filter((e) => e.name !== tensorNames.lmHead).length);
    const cpu = createCpuSession(w);
    expect(
      maxAbsDiff(await cpu.append(prompt, {allLogits: true}), await gpu.append(prompt, {allLogits: true})),
    ).toBeLessThanOrEqual(TOL);
    gpu.dispose();
  });

  it("incremental decode equals prefill; prompts longer than maxBlock run in blocks", async () => {
    const device = await testDevice();
    const cfg = defaultConfig("b1.58", shape);
    const w = randomWeights(cfg, 8);
    const V = cfg.vocab_size;
    const full = await createWebGPUSession(w, {device});
    const all = await full.append(prompt, {allLogits: true});
    const inc = await createWebGPUSession(w, {device});
    for (let i = 0; i < prompt.length; i++) {
      const l = await inc.append([prompt[i]]);
      expect(maxAbsDiff(l, all.subarray(i * V, (i + 1) * V))).toBeLessThanOrEqual(1e-4);
    }
    const blocks = await createWebGPUSession(w, {device, maxBlock: 4});
    const bl = await blocks.append(prompt, {allLogits: true});
    expect(maxAbsDiff(bl, all)).toBeLessThanOrEqual(1e-4);
    const lastOnly = await blocks.append([11, 12, 13, 14, 15]); // a block boundary inside, logits of the last token
    const ref = await full.append([11, 12, 13, 14, 15], {allLogits: true});
    expect(maxAbsDiff(lastOnly, ref.subarray(4 * V))).toBeLessThanOrEqual(1e-4);
    // reset() empties the cache
    full.reset();
    expect(full.length).toBe(0);
    expect(maxAbsDiff(await full.append(prompt, {allLogits: true}), all)).toBe(0);
    for (const s of [full, inc, blocks]) s.dispose();
  });

  it("decode with the norm/quant prologue fused into the linear kernels equals the unfused kernels bit for bit", async () => {
    const device = await testDevice();
    for (const variant of ["b1.58", "v2"] as const) {
      const cfg = defaultConfig(variant, {...shape, bitnet_activation_bits: variant === "v2" ? 4 : 8});
      const w = randomWeights(cfg, 13);
      const fused = await createWebGPUSession(w, {device});
      const plain = await createWebGPUSession(w, {device, fuse: false});
      expect(fused.decodeDispatches().length).toBeLessThan(plain.decodeDispatches().length); // really fused
      await fused.append(prompt);
      await plain.append(prompt);
      // fusing at some sites only (the bench may choose that)
      const some = await createWebGPUSession(w, {device, fuse: ["down"]});
      await some.append(prompt);
      for (const tok of [3, 77, 150]) {
        const a = await fused.append([tok]);
        expect(maxAbsDiff(a, await plain.append([tok]))).toBe(0);
        expect(maxAbsDiff(a, await some.append([tok]))).toBe(0);
      }
      fused.dispose();
      plain.dispose();
      some.dispose();
    }
  });

  it("decode with W_o's attention-combine prologue fused into W_o (fuseCombine) equals the unfused kernels bit for bit, several chunks, subgroup and workgroup-memory paths", async () => {
    const device = await testDevice();
    type Tuning = NonNullable<WebGPUSessionOptions["tuning"]>;
    // odd widths (96 = 3 heads of 32, GQA 3 over 1 KV head), 4-bit KV (RoPE its own step), relu2; attnChunk 4 →
    // 3–4 chunks to combine; subgroup, workgroup-memory and small-workgroup reductions
    const cases: [Partial<BitNetConfig>, Tuning[], number][] = [
      [{}, [{}, {noSubgroups: true}], 5],
      [
        {
          hidden_size: 96,
          num_attention_heads: 3,
          num_key_value_heads: 1,
          intermediate_size: 136,
          hidden_act: "relu2",
          bitnet_kv_bits: 4,
        },
        [{decode: {R: 2, T: 4, WG: 64}}],
        6,
      ],
    ];
    for (const [extra, tunings, perLayer] of cases) {
      const cfg = defaultConfig("b1.58", {...shape, ...extra});
      const w = randomWeights(cfg, 31);
      for (const tuning of tunings) {
        const plain = await createWebGPUSession(w, {device, fuse: false, tuning, attnChunk: 4});
        const fused = await createWebGPUSession(w, {device, tuning, attnChunk: 4});
        const kinds = fused.decodeDispatches({layers: true}).map((d) => d.tag.kind);
        expect(kinds.filter((k) => k === "norm-quant").length, JSON.stringify(tuning)).toBe(0); // o's combine fused too
        expect(kinds.length).toBe(2 + perLayer * cfg.num_hidden_layers); // embed, final norm
        await plain.append(prompt);
        await fused.append(prompt);
        for (const tok of [3, 77, 150])
          expect(
            maxAbsDiff(await fused.append([tok]), await plain.append([tok])),
            JSON.stringify({extra, tuning}),
          ).toBe(0);
        plain.dispose();
        fused.dispose();
      }
    }
  });

  it("decode with prologues from the producers' norm statistics (normStats) equals the unfused kernels bit for bit, subgroup and workgroup-memory paths", async () => {
    const device = await testDevice();
    // b1.58 (all four sites from statistics but layer 0's qkv), relu2, and v2 a8 (qkv and gate_up; o/down rotated)
    type Tuning = NonNullable<WebGPUSessionOptions["tuning"]>;
    const all: Tuning[] = [{}, {noSubgroups: true}, {decode: {R: 2, T: 4, WG: 64}}];
    const cases: {variant: Variant; extra?: Partial<BitNetConfig>; tunings: Tuning[]}[] = [
      {variant: "b1.58", tunings: all},
      {variant: "b1.58", extra: {hidden_act: "relu2", hidden_size: 96, intermediate_size: 136}, tunings: [all[2]]},
      {variant: "v2", tunings: [all[0]]},
    ];
    for (const c of cases) {
      const cfg = defaultConfig(c.variant, {...shape, num_hidden_layers: 3, ...c.extra});
      const w = randomWeights(cfg, 29);
      for (const tuning of c.tunings) {
        // the reference: the same kernel shapes, every prologue its own whole-vector dispatch (the dense LM head
        // sums in another order under noSubgroups, so each tuning has its own)
        const plain = await createWebGPUSession(w, {device, fuse: false, tuning});
        await plain.append(prompt);
        const ref = [];
        for (const tok of [3, 77, 150]) ref.push(await plain.append([tok]));
        plain.dispose();
        for (const fuse of [false, true] as const) {
          const st = await createWebGPUSession(w, {device, fuse, normStats: true, tuning});
          const kinds = st.decodeDispatches({layers: true}).map((d) => d.tag.kind);
          if (c.variant === "b1.58") expect(kinds.filter((k) => k === "norm-quant").length).toBe(fuse ? 0 : 4); // unfused: o's combine per layer and layer 0's qkv; fused: none (fuseCombine)
          await st.append(prompt);
          for (let i = 0; i < 3; i++)
            expect(
              maxAbsDiff(await st.append([[3, 77, 150][i]]), ref[i]),
              `${c.variant} ${JSON.stringify(tuning)} fuse=${fuse}`,
            ).toBe(0);
          st.dispose();
        }
        // no candidates kept: every record overflows and each consumer scans the whole row for the step
        if (c.variant !== "b1.58" || c.extra) continue;
        statsLayout.ncand = 0;
        try {
          const st = await createWebGPUSession(w, {device, fuse: ["down"], normStats: true, tuning});
          await st.append(prompt);
          for (let i = 0; i < 3; i++)
            expect(
              maxAbsDiff(await st.append([[3, 77, 150][i]]), ref[i]),
              `whole-row path ${JSON.stringify(tuning)}`,
            ).toBe(0);
          st.dispose();
        } finally {
          statsLayout.ncand = 4;
        }
      }
    }
  });

  it("v2 decode with the Hadamard prologue split over workgroups (FWHT, cross-block mix, quantize) equals the one-kernel path bit for bit", async () => {
    const device = await testDevice();
    // F = 160 = 20·8: the down site's plan has a cross-block step (Paley 20, the order of 2B4T's W_o 2560 = 20·128),
    // which the split path spreads out; the default ("auto") splits it as true does (W_o's 128 is one block)
    for (const [bits, fuse, hadamardSplit] of [
      [4, true, undefined],
      [8, false, true],
    ] as const) {
      const cfg = defaultConfig("v2", {...shape, num_hidden_layers: 1, bitnet_activation_bits: bits});
      const w = randomWeights(cfg, 17);
      const split = await createWebGPUSession(w, {device, ...(hadamardSplit ? {hadamardSplit} : {}), fuse});
      const one = await createWebGPUSession(w, {device, hadamardSplit: false, fuse});
      const mixes = (s: typeof split) =>
        s.decodeDispatches({layers: true, filter: (_l, t) => t.kind === "hadamard-mix"}).map((d) => d.tag.site);
      expect(mixes(split), `hadamardSplit ${hadamardSplit ?? "default"}`).toEqual(["down"]); // really split
      expect(mixes(one)).toEqual([]);
      await split.append(prompt);
      await one.append(prompt);
      for (const tok of [3, 77, 150]) expect(maxAbsDiff(await split.append([tok]), await one.append([tok]))).toBe(0);
      split.dispose();
      one.dispose();
    }
  });

  it("decode attention split into 16-position chunks (attnChunk) still matches the reference", async () => {
    const device = await testDevice();
    for (const extra of [{}, {bitnet_kv_bits: 4 as const}]) {
      const cfg = defaultConfig("b1.58", {...shape, num_hidden_layers: 1, ...extra});
      const w = randomWeights(cfg, 19);
      const gpu = await createWebGPUSession(w, {device, attnChunk: 16});
      const cpu = createCpuSession(w);
      const long = Array.from({length: 30}, (_, i) => (i * 37 + 1) % cfg.vocab_size);
      expect(maxAbsDiff(await cpu.append(long), await gpu.append(long))).toBeLessThanOrEqual(TOL);
      // 31 … 33 positions: 2, 2, then 3 chunks — the decode grids the session keeps must follow (step-list.ts)
      for (const t of [5, 250, 17])
        expect(maxAbsDiff(await cpu.append([t]), await gpu.append([t]))).toBeLessThanOrEqual(TOL);
      gpu.dispose();
    }
  });

  it("decode attention capped at attnMaxChunks chunks (longer chunks past attnChunk · cap) matches the reference", async () => {
    const device = await testDevice();
    const cfg = defaultConfig("b1.58", {...shape, num_hidden_layers: 1});
    const w = randomWeights(cfg, 23);
    const gpu = await createWebGPUSession(w, {device, attnChunk: 8, attnMaxChunks: 2});
    const cpu = createCpuSession(w);
    const long = Array.from({length: 29}, (_, i) => (i * 41 + 3) % cfg.vocab_size);
    expect(maxAbsDiff(await cpu.append(long), await gpu.append(long))).toBeLessThanOrEqual(TOL);
    const chunks = () =>
      gpu.decodeDispatches({layers: true}).filter((d) => d.tag.kind.includes("attention"))[0].grid[0];
    expect(chunks()).toBe(2); // 30 positions: 4 chunks of 8 capped to 2 of 16
    for (const t of [5, 250, 17, 9, 33]) // 30 … 35 positions: the last chunk crosses 16 and 32
      expect(maxAbsDiff(await cpu.append([t]), await gpu.append([t]))).toBeLessThanOrEqual(TOL);
    expect(chunks()).toBe(2); // 35 positions: 3 chunks of 16 would exceed the cap, so 2 of 24
    await expect(createWebGPUSession(w, {device, attnMaxChunks: 0})).rejects.toThrow(
      /attnMaxChunks must be an integer/,
    );
    gpu.dispose();
  });

  it("greedy on the GPU (4-byte readback, chained steps) gives generate()'s tokens", async () => {
    const device = await testDevice();
    const cfg = defaultConfig("a4.8", shape);
    const w = randomWeights(cfg, 9);
    const cpu = createCpuSession(w);
    const want = await generate(cpu, prompt, {maxTokens: 12});
    const gpu = await createWebGPUSession(w, {device});
    const first = await gpu.appendAndSample(prompt);
    expect(first).toBe(want.tokens[0]);
    gpu.reset();
    const ids = await gpu.generateOnGpu(prompt, 11, {}, 4);
    expect(ids).toEqual(want.tokens);
    expect(gpu.length).toBe(prompt.length + 11);
    // sampling path: top-k 1 is greedy whatever the temperature
    gpu.reset();
    expect(await gpu.appendAndSample(prompt, {temperature: 1.5, topK: 1, topP: 1, seed: 3})).toBe(want.tokens[0]);
    gpu.dispose();
  });

  it("inspection copies back the per-layer intermediates the reference traces", async () => {
    const device = await testDevice();
    for (const variant of ["v2", "a4.8"] as const) {
      const cfg = defaultConfig(variant, shape);
      const w = randomWeights(cfg, 10);
      const cpu = createCpuSession(w);
      await cpu.append(prompt.slice(0, 5), {trace: true});
      const gpu = await createWebGPUSession(w, {device, inspect: true});
      await gpu.append(prompt.slice(0, 5), {inspect: {layers: [1]}});
      const ins = gpu.lastInspection!;
      expect(ins.layers.map((l) => l.layer)).toEqual([1]);
      const g = ins.layers[0];
      const t = cpu.lastTrace!.layers[1];
      const close = (x: ArrayLike<number>, y: ArrayLike<number>, what: string) => {
        expect(x.length, what).toBe(y.length);
        for (let i = 0; i < x.length; i++)
          if (Math.abs(x[i] - y[i]) > 1e-4 * Math.max(1, Math.abs(y[i])))
            throw new Error(`${variant} ${what}[${i}]: ${x[i]} vs ${y[i]}`);
      };
      close(g.qkvInput, t.linears.q.input, "qkvInput");
      close(g.oInput, t.linears.o.rotated ?? t.linears.o.input, "oInput");
      // a4.8's attention is exact (Plan.exactAttention): the W_o input that decides its top-K mask has the reference's bits
      if (variant === "a4.8")
        expect(
          Array.from(g.oInput).findIndex((x, i) => x !== t.linears.o.input[i]),
          "first W_o input element that differs",
        ).toBe(-1);
      close(g.gateUpInput, t.linears.gate.input, "gateUpInput");
      const gate = t.linears.gate.output;
      const up = t.linears.up.output;
      const glu = gate.map(
        (x, i) => (cfg.hidden_act === "relu2" ? Math.max(x, 0) ** 2 : x / (1 + Math.exp(-x))) * up[i],
      );
      close(g.glu, glu, "glu");
      close(g.downInput, t.linears.down.rotated ?? t.linears.down.input, "downInput");
      // the integer codes the linears consumed
      expect(Array.from(g.codes!.o.q)).toEqual(Array.from(t.linears.o.act!.q));
      expect(Array.from(g.codes!.down.q)).toEqual(Array.from(t.linears.down.act!.q));
      expect(Array.from(g.codes!.qkv.q)).toEqual(Array.from(t.linears.q.act!.q));
      gpu.dispose();
    }
  });

  it("f16 storage (embedding/LM-head rows, 16-bit KV, projections) stays close to the f32 reference", async () => {
    // In the fp model rounding errors stay proportional; in quantized variants a 2^-11 perturbation flips
    // activation codes and the random model amplifies them, so f16 storage is checked on fp here (and per
    // kernel in linear.test.ts / attention.test.ts).
    const device = await testDevice();
    const cfg = defaultConfig("fp", shape);
    const w = randomWeights(cfg, 11);
    const a = await createCpuSession(w).append(prompt, {allLogits: true});
    for (const opts of [{dense: "f16"}, {lmHead: "f16", kv16: "f16"}] as WebGPUSessionOptions[]) {
      const gpu = await createWebGPUSession(w, {device, ...opts});
      const b = await gpu.append(prompt, {allLogits: true});
      // f16 keeps 11 significant bits: logits of size ~30 move by ~1e-2
      expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(0.05);
      expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4); // really stored in f16
      gpu.dispose();
    }
  });

  it("a lost device gives DeviceLostError; rebuild() makes a working session on a new device", async () => {
    const cfg = defaultConfig("fp", shape);
    const w = randomWeights(cfg, 14);
    const want = await createCpuSession(w).append(prompt);
    let lost = 0;
    const gpu = await createWebGPUSession(w, {onDeviceLost: () => lost++}); // owns its device
    expect(maxAbsDiff(await gpu.append(prompt), want)).toBeLessThanOrEqual(TOL);
    const old = gpu.device;
    old.destroy();
    await old.lost;
    await expect(gpu.append([1])).rejects.toThrow(DeviceLostError);
    await expect(gpu.append([1])).rejects.toThrow(/device lost/);
    expect(lost).toBe(0); // destroyed on purpose: not reported as a loss
    await gpu.rebuild();
    expect(gpu.device).not.toBe(old);
    expect(gpu.length).toBe(0);
    expect(maxAbsDiff(await gpu.append(prompt), want)).toBeLessThanOrEqual(TOL);
    gpu.dispose();
  });

  it("rejects bad input with specific errors", async () => {
    const device = await testDevice();
    const cfg = defaultConfig("b1.58", {...shape, max_position_embeddings: 12});
    const w = randomWeights(cfg, 12);
    const gpu = await createWebGPUSession(w, {device});
    await expect(gpu.append([1, 300])).rejects.toThrow(/token id 300 is outside the vocabulary/);
    await expect(gpu.append([1.5])).rejects.toThrow(/outside the vocabulary/);
    await expect(gpu.append([])).rejects.toThrow(/no tokens/);
    await expect(gpu.append(Array(13).fill(1))).rejects.toThrow(/exceed the 12-position limit/);
    await expect(gpu.append([1], {inspect: {}})).rejects.toThrow(/inspect: true/);
    await expect(createWebGPUSession(w, {device, maxLength: 0})).rejects.toThrow(/maxLength/);
    gpu.dispose();
    await expect(gpu.append([1])).rejects.toThrow(/after dispose/);
  });
});
