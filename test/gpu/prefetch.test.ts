import {describe, expect, it} from "vitest";
import {createWebGPUSession, type WebGPUSessionOptions} from "../../src/gpu/engine.js";
import {pipelineChecked, readF32, storageBuffer, uniformBuffer} from "../../src/gpu/gpu.js";
import {
  gammaPairs,
  linearGrid,
  linearParams,
  linearWGSL,
  packActI8,
  packTernaryGPU,
  PF_BINDING,
  prefetchParams,
  prefetchPlan,
  storageBindingCount,
  type LinearConfig,
  type PrefetchMode,
} from "../../src/gpu/kernels/linear.js";
import {linearConfig, subgroupSize} from "../../src/gpu/engine/tune.js";
import {defaultConfig, type BitNetConfig, type Variant} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import type {Site} from "../../src/lib/variant.js";
import {Rng} from "../../src/lib/rng.js";
import {testDevice} from "./harness.js";

// In-kernel L2 prefetch of the next linear's weights (linear-prefetch.ts, issue 25): the loads must be live (the
// never-taken guard really reads them) and must never change an output.

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

async function dispatch(device: GPUDevice, pl: GPUComputePipeline, binds: GPUBuffer[], grid: number[]) {
  const entries: GPUBindGroupEntry[] = [];
  binds.forEach((buffer, binding) => entries.push({binding, resource: {buffer}}));
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pl);
  pass.setBindGroup(0, device.createBindGroup({layout: pl.getBindGroupLayout(0), entries}));
  pass.dispatchWorkgroups(grid[0], grid[1] ?? 1);
  pass.end();
  device.queue.submit([enc.finish()]);
}

describe("ternary decode linear with the next linear's weights prefetched", () => {
  it("emits the PF loads, gives the plain kernel's bits at odd shapes, and its guard really reads PF", async () => {
    const device = await testDevice();
    const S = await subgroupSize(device);
    const r = new Rng(2525);
    for (const [N, K, mode, pfBase] of [
      [37, 100, "grid", 5000],
      [130, 200, "sector", 9001],
      [64, 64, "grid", 3],
    ] as [number, number, PrefetchMode, number][]) {
      const cfg = linearConfig(S, "ternary", "residual", 1, {}, 256, K);
      const [gx] = linearGrid(cfg, N, 1);
      // an odd number of loads per invocation (the guard check below needs it): one grid's worth more if even
      const perLoad = gx * cfg.WG * (mode === "grid" ? 1 : 2);
      const base = prefetchPlan(mode, pfBase, gx * cfg.WG);
      const pfVec4s = "prefetch" in base && base.prefetch.loads % 2 === 0 ? pfBase + perLoad : pfBase;
      const plan = prefetchPlan(mode, pfVec4s, gx * cfg.WG);
      if ("off" in plan) throw new Error(plan.off);
      const pcfg: LinearConfig = {...cfg, prefetch: plan.prefetch};
      const code = linearWGSL(pcfg);
      const label = JSON.stringify({N, K, mode, pfVec4s, loads: plan.prefetch.loads, gx, WG: cfg.WG});
      // one load per unit, issued before the K loop; the binding and the guard are there
      const loads = code.match(/let pf\d+ = PF\[/g) ?? [];
      expect(loads.length, label).toBe(plan.prefetch.loads);
      expect(code.indexOf("let pf0 = PF[")).toBeLessThan(code.indexOf("for (var j"));
      expect(code).toContain(`@binding(${PF_BINDING}) var<storage, read> PF`);
      expect(code).toMatch(/p\.pfKey == 0xffffffffu/);
      expect(storageBindingCount(code)).toBe(storageBindingCount(linearWGSL(cfg)) + 1);
      if (pfVec4s > gx * cfg.WG * 2) expect(plan.prefetch.loads, label).toBeGreaterThan(1);

      const w = Int8Array.from({length: N * K}, () => Math.floor(r.uniform() * 3) - 1);
      const q = Int8Array.from({length: K}, () => Math.floor(r.uniform() * 255) - 127);
      let sx = 0;
      for (const v of q) sx += v;
      const W = storageBuffer(
        device,
        packTernaryGPU(N, K, (i) => w.subarray(i * K, (i + 1) * K)),
      );
      const X = storageBuffer(device, packActI8(q, 1, K));
      const meta = storageBuffer(
        device,
        new Uint32Array([new Uint32Array(new Float32Array([3.5]).buffer)[0], sx >>> 0]),
      );
      const ws = storageBuffer(device, gammaPairs(Float64Array.from({length: N}, () => 0.01 + r.uniform())));
      const y0 = Float32Array.from({length: N}, () => 1 + r.uniform());
      const PF = storageBuffer(
        device,
        Uint32Array.from({length: 4 * pfVec4s}, () => (r.uniform() * 2 ** 32) >>> 0),
      );
      const P8 = linearParams("ternary", N, K, 1, N);
      const run = async (pl: GPUComputePipeline, P: Uint32Array, pf?: GPUBuffer) => {
        const Y = storageBuffer(device, y0);
        const Pu = uniformBuffer(device, P);
        const binds = [Pu, W, X, meta, ws, Y];
        if (pf) binds[PF_BINDING] = pf;
        await dispatch(device, pl, binds, [gx]);
        const out = await readF32(device, Y, N);
        Y.destroy();
        Pu.destroy();
        return out;
      };
      const plainPl = await pipelineChecked(device, linearWGSL(cfg), "plain");
      const pfPl = await pipelineChecked(device, code, "prefetch");
      const want = await run(plainPl, P8);
      expect(want[0], label).not.toBe(0);
      expect(bits(await run(pfPl, prefetchParams(P8, pfVec4s), PF)), label).toEqual(bits(want));
      // the guard's key set and PF one vec4 whose fold is the guard's constant: every invocation stores Y[0] = 0,
      // so the loads feed the guard (they are not dead code the compiler may drop)
      const magic = storageBuffer(device, new Uint32Array([0x2545f491, 0, 0, 0]));
      const keyed = prefetchParams(P8, 1);
      keyed[8] = 0xffffffff;
      expect(plan.prefetch.loads % 2, label).toBe(1);
      const got = await run(pfPl, keyed, magic);
      expect(got[0], label).toBe(0);
      expect(bits(got.subarray(1)), label).toEqual(bits(want.subarray(1)));
      for (const b of [W, X, meta, ws, PF, magic]) b.destroy();
    }
  });

  it("plans loads per invocation and refuses with a reason where too many would be needed", () => {
    expect(prefetchPlan("grid", 1000, 256)).toEqual({prefetch: {mode: "grid", loads: 4}});
    expect(prefetchPlan("sector", 1000, 256)).toEqual({prefetch: {mode: "sector", loads: 2}});
    const off = prefetchPlan("grid", 100000, 256);
    expect("off" in off && off.off).toMatch(/391 loads per invocation/);
    expect(() => prefetchPlan("nope" as PrefetchMode, 1, 1)).toThrow(/unknown mode/);
    // W_o with the attention-combine prologue fused and norm statistics out: PF's slot collides with none, and its
    // loads come after the kernel's own first weights, before the prologue
    const cfg: LinearConfig = {kind: "ternary", R: 4, T: 8, MT: 1, WG: 256, sub: 0, epilogue: "residual", U: 2};
    const prologue = {
      n: 96,
      src: "attn",
      H: 3,
      d: 32,
      norm: true,
      hadamard: false,
      quant: "int8",
      inspect: false,
      sub: 0,
      WG: 256,
    } as const;
    const code = linearWGSL({...cfg, prefetch: {mode: "sector", loads: 3}}, {prologue}, true);
    const slots = [...code.matchAll(/@binding\((\d+)\)/g)].map((m) => Number(m[1]));
    expect(new Set(slots).size).toBe(slots.length);
    expect(slots).toContain(PF_BINDING);
    expect(code.indexOf("let w0_p1 = W[")).toBeLessThan(code.indexOf("let pf0 = PF["));
    expect(code.indexOf("let pf2 = PF[")).toBeLessThan(code.indexOf("  prologue(lid);"));
    expect(storageBindingCount(code)).toBe(storageBindingCount(linearWGSL(cfg, {prologue}, true)) + 1);
    expect(() =>
      linearWGSL({
        kind: "ternary",
        R: 4,
        T: 8,
        MT: 8,
        WG: 128,
        sub: 0,
        epilogue: "store",
        prefetch: {mode: "grid", loads: 1},
      }),
    ).toThrow(/decode kernels/);
  });
});

// Small random models (odd widths: K = 96 and 136 are not multiples of 64); decode logits with prefetch on must be
// those with prefetch off, bit for bit, on every path the decode step takes.
const shape = {
  vocab_size: 300,
  hidden_size: 96,
  intermediate_size: 136,
  num_hidden_layers: 2,
  num_attention_heads: 3,
  num_key_value_heads: 1,
  max_position_embeddings: 64,
};
const prompt = [1, 5, 17, 42, 99, 7];

describe("engine decode with tuning.prefetch", () => {
  type Case = {
    variant: Variant;
    extra?: Partial<BitNetConfig>;
    opts: Partial<WebGPUSessionOptions>;
    mode: PrefetchMode;
  };
  const cases: Case[] = [
    {variant: "b1.58", opts: {fuse: true}, mode: "grid"},
    {variant: "b1.58", extra: {hidden_act: "relu2"}, opts: {fuse: ["down"] as Site[], normStats: true}, mode: "sector"},
    {variant: "b1.58", opts: {fuse: false, tuning: {noSubgroups: true, decode: {R: 2, T: 4, WG: 64}}}, mode: "grid"},
    {variant: "v2", opts: {fuse: ["down"] as Site[]}, mode: "grid"},
    // F = 160 = 20·8: the down site's prologue split (FWHT, cross-block mix, quantize fused into the linear)
    {variant: "v2", extra: {intermediate_size: 160}, opts: {fuse: true, hadamardSplit: true}, mode: "sector"},
    {variant: "a4.8", opts: {fuse: true}, mode: "sector"},
  ];
  for (const c of cases) {
    it(`${c.variant} ${JSON.stringify(c.opts)} ${c.mode}: the same logits, each linear but the last prefetching`, async () => {
      const device = await testDevice();
      const cfg = defaultConfig(c.variant, {...shape, ...c.extra});
      const w = randomWeights(cfg, 41);
      const tuning = c.opts.tuning ?? {};
      const off = await createWebGPUSession(w, {device, ...c.opts, tuning});
      const on = await createWebGPUSession(w, {device, ...c.opts, tuning: {...tuning, prefetch: c.mode}});
      const lin = (s: typeof on) =>
        s.decodeDispatches({layers: true, linearOnly: true}).filter((d) => d.tag.site !== undefined);
      const tags = lin(on).map((d) => d.tag);
      // qkv → o → gate|up → down → next qkv; the last layer's down prefetches nothing
      expect(tags.filter((t) => t.prefetch === c.mode).length).toBe(4 * cfg.num_hidden_layers - 1);
      expect(tags.filter((t) => t.prefetchOff)).toEqual([]);
      expect(tags.at(-1)?.prefetch).toBeUndefined();
      expect(on.decodeDispatches().length).toBe(off.decodeDispatches().length); // dispatch count unchanged
      if (c.opts.hadamardSplit)
        expect(
          on.decodeDispatches({layers: true, filter: (_l, t) => t.kind === "hadamard-mix"}).length,
        ).toBeGreaterThanOrEqual(2);
      expect(lin(off).some((d) => d.tag.prefetch)).toBe(false);
      const a = await on.append(prompt);
      const b = await off.append(prompt);
      expect(bits(a)).toEqual(bits(b));
      for (const tok of [3, 299]) expect(bits(await on.append([tok]))).toEqual(bits(await off.append([tok])));
      on.dispose();
      off.dispose();
    });
  }
});

describe("engine prefetch on a device with too few storage bindings", () => {
  it("turns prefetch off with the reason in the step tags, and the logits stay the same", async () => {
    const real = await testDevice();
    // the limit the engine checks, as a device that allows only the plain linear's 5 storage buffers would report
    const limits = new Proxy(real.limits, {
      get: (t, k) => (k === "maxStorageBuffersPerShaderStage" ? 5 : Reflect.get(t, k, t)),
    });
    const device = new Proxy(real, {
      get: (t, k) => {
        if (k === "limits") return limits;
        const v = Reflect.get(t, k, t);
        return typeof v === "function" ? v.bind(t) : v;
      },
    });
    const cfg = defaultConfig("b1.58", {...shape, num_hidden_layers: 1});
    const w = randomWeights(cfg, 43);
    const on = await createWebGPUSession(w, {device, fuse: false, tuning: {prefetch: "grid"}});
    const off = await createWebGPUSession(w, {device: real, fuse: false});
    const tags = on.decodeDispatches({layers: true, linearOnly: true}).map((d) => d.tag);
    expect(tags.filter((t) => t.prefetch)).toEqual([]);
    expect(tags.filter((t) => t.prefetchOff).map((t) => t.prefetchOff)).toEqual(
      Array(3).fill("6 storage buffers needed, the device allows 5 per stage"),
    );
    await on.append(prompt);
    await off.append(prompt);
    expect(bits(await on.append([9]))).toEqual(bits(await off.append([9])));
    on.dispose();
    off.dispose();
  });
});
