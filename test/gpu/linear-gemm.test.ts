import {describe, expect, it} from "vitest";
import {bindGroup, pipelineChecked, readF32, storageBuffer, uniformBuffer} from "../../src/gpu/gpu.js";
import {
  gammaPairs,
  linearGrid,
  linearParams,
  linearWGSL,
  packActI8,
  packTernaryGPU,
  type Epilogue,
} from "../../src/gpu/kernels/linear.js";
import {
  GEMM_SHAPES,
  gemmGrid,
  gemmWGSL,
  gemmWorkgroupBytes,
  type GemmShape,
} from "../../src/gpu/kernels/linear-gemm.js";
import {DEFAULT_PREFILL_GEMM, linearConfig, prefillGemm} from "../../src/gpu/engine/tune.js";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import {defaultConfig} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import {Rng} from "../../src/lib/rng.js";
import {testDevice} from "./harness.js";

interface Case {
  N: number;
  K: number;
  M: number;
  ep: Epilogue;
  bufs: GPUBuffer[];
  y0: Float32Array;
  want: Float64Array;
}

/** Fresh random ternary weights, INT8 activations, scales and a Y to add to; the float64 reference output. */
function makeCase(device: GPUDevice, r: Rng, N: number, K: number, M: number, ep: Epilogue): Case {
  const w = Int8Array.from({length: N * K}, () => r.int(3) - 1);
  const x = Int8Array.from({length: M * K}, () => r.int(256) - 128);
  const xs = Float64Array.from({length: M}, () => 0.001 + r.uniform() * 0.01);
  const ws = Float64Array.from({length: N}, () => 0.5 + r.uniform());
  const outW = ep.startsWith("glu") ? N / 2 : N;
  const y0 = Float32Array.from({length: M * outW}, () => r.uniform() - 0.5);
  const meta = new Uint32Array(2 * M);
  const f = new Float32Array(1);
  const want = Float64Array.from(y0);
  const lin = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    let sx = 0;
    for (let k = 0; k < K; k++) sx += x[m * K + k];
    f[0] = 1 / xs[m]; // the kernels read the quantizer's scale s and multiply by 1/s
    meta[2 * m] = new Uint32Array(f.buffer)[0];
    meta[2 * m + 1] = sx >>> 0;
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += w[n * K + k] * x[m * K + k];
      // the reference's BitLinear: fround(acc · (γ / s)) with γ in float64 and s the f32 quantizer scale
      lin[n] = Math.fround(s * (ws[n] / f[0]));
    }
    for (let n = 0; n < outW; n++) {
      const i = m * outW + n;
      if (ep === "store") want[i] = lin[n];
      else if (ep === "residual") want[i] += lin[n];
      else {
        const [g, u] = [lin[2 * n], lin[2 * n + 1]];
        want[i] = ep === "glu-relu2" ? Math.max(g, 0) ** 2 * u : (g / (1 + Math.exp(-g))) * u;
      }
    }
  }
  const bufs = [
    uniformBuffer(device, linearParams("ternary", N, K, M, outW)),
    storageBuffer(
      device,
      packTernaryGPU(N, K, (i) => w.subarray(i * K, (i + 1) * K)),
    ),
    storageBuffer(device, packActI8(x, M, K)),
    storageBuffer(device, meta),
    storageBuffer(device, gammaPairs(ws)),
  ];
  return {N, K, M, ep, bufs, y0, want};
}

/** Runs one kernel on the case's inputs and a fresh copy of Y. */
async function run(device: GPUDevice, c: Case, code: string, grid: [number, number]): Promise<Float32Array> {
  const Y = storageBuffer(device, c.y0);
  const p = await pipelineChecked(device, code, "gemm-test");
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(p);
  pass.setBindGroup(0, bindGroup(device, p, [...c.bufs, Y]));
  pass.dispatchWorkgroups(...grid);
  pass.end();
  device.queue.submit([enc.finish()]);
  const out = await readF32(device, Y, c.y0.length);
  Y.destroy();
  return out;
}

function expectReference(c: Case, got: Float32Array, what: string): void {
  for (let i = 0; i < c.want.length; i++) {
    // "store" is the reference's rounding exactly; the other epilogues add f32 arithmetic
    const tol = c.ep === "store" ? 0 : 2e-6 * Math.max(1, Math.abs(c.want[i]));
    if (!(Math.abs(got[i] - c.want[i]) <= tol))
      throw new Error(`${what} ${c.ep} N=${c.N} K=${c.K} M=${c.M} i=${i}: got ${got[i]} want ${c.want[i]}`);
  }
}

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe("ternary prefill GEMM (tiles in workgroup memory)", () => {
  // small tiles so odd N, M, K cross several tiles and K steps (the named shapes are checked below); 24×12 with
  // BK 3 leaves threads idle in staging; the last decodes the weights when staging them
  const tiles: GemmShape[] = [
    {BN: 16, BM: 8, BK: 1, RN: 2, RM: 2},
    {BN: 24, BM: 12, BK: 3, RN: 6, RM: 3},
    {BN: 32, BM: 16, BK: 2, RN: 4, RM: 2},
    {BN: 16, BM: 8, BK: 2, RN: 2, RM: 2, unpack: true},
  ];
  const shapes: [number, number, number][] = [
    [37, 70, 5],
    [130, 300, 33],
    [38, 250, 1],
  ];
  const epilogues: Epilogue[] = ["store", "residual", "glu-relu2", "glu-silu"];

  it("every epilogue, odd N/M/K: the float64 reference, and the MT > 1 kernel's bits", async () => {
    const device = await testDevice();
    const r = new Rng(2025);
    let checked = 0;
    // each (shape, epilogue) on one tile shape, rotating, so every tile meets every shape and epilogue but one
    // (SwiftShader compiles slowly: one pipeline per pair)
    for (const [i, [N0, K, M]] of shapes.entries())
      for (const [j, ep] of epilogues.entries()) {
        const N = ep.startsWith("glu") ? N0 + (N0 % 2) : N0;
        const c = makeCase(device, r, N, K, M, ep);
        // the MT > 1 kernel in a small shape (fast to compile; the engine test below runs the default one)
        const old = {...linearConfig(0, "ternary", ep, 2), R: 2, T: 4, MT: 2, WG: 32};
        const ref = await run(device, c, linearWGSL(old), linearGrid(old, N, M));
        expectReference(c, ref, "linearWGSL");
        const t = tiles[(i + j) % tiles.length];
        const g = {...t, epilogue: ep};
        const got = await run(device, c, gemmWGSL(g), gemmGrid(g, N, M));
        expectReference(c, got, `gemm ${JSON.stringify(t)}`);
        expect(bits(got), `${ep} N=${N} K=${K} M=${M} ${JSON.stringify(t)}`).toEqual(bits(ref));
        checked++;
        for (const b of c.bufs) b.destroy();
      }
    expect(checked).toBe(shapes.length * epilogues.length);
  });

  it("named shapes: every one is valid WGSL; three (packed BK 2, BK 1 with idle stagers, decoded) give the reference", async () => {
    const device = await testDevice();
    for (const [name, t] of Object.entries(GEMM_SHAPES)) {
      const mod = device.createShaderModule({code: gemmWGSL({...t, epilogue: "glu-relu2"}), label: name});
      const errors = (await mod.getCompilationInfo()).messages.filter((m) => m.type === "error");
      expect(errors.map((m) => m.message).join("\n"), name).toBe("");
    }
    // running them costs SwiftShader seconds each (large unrolled blocks); bench/prefill-gemm.ts checks every
    // named shape's bits against the MT > 1 kernel on the device it times
    const c = makeCase(device, new Rng(77), 130, 200, 33, "glu-silu");
    for (const name of ["n64m64", "n128m128", "n64m64u"] as const) {
      const g = {...GEMM_SHAPES[name], epilogue: c.ep};
      expect(gemmWorkgroupBytes(g)).toBeLessThanOrEqual(16384);
      expectReference(c, await run(device, c, gemmWGSL(g), gemmGrid(g, c.N, c.M)), name);
    }
    for (const b of c.bufs) b.destroy();
  });

  it("rejects shapes it cannot run, with specific errors", () => {
    expect(() => gemmWGSL({BN: 30, BM: 8, BK: 1, RN: 4, RM: 2, epilogue: "store"})).toThrow(/RN 4 must divide BN 30/);
    expect(() => gemmWGSL({BN: 24, BM: 8, BK: 1, RN: 3, RM: 2, epilogue: "glu-silu"})).toThrow(/even RN/);
    expect(() => gemmWGSL({BN: 16, BM: 8, BK: 0, RN: 2, RM: 2, epilogue: "store"})).toThrow(/BK must be a positive/);
    const limits = {maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256};
    expect(() => prefillGemm({prefill: {gemm: "n128m128k2"}}, "ternary", "store", 8, limits)).toThrow(
      /20640 bytes of workgroup memory exceed the device's 16384/,
    );
    expect(() => prefillGemm({prefill: {gemm: "nope" as "n64m64"}}, "ternary", "store", 8, limits)).toThrow(
      /unknown GEMM shape "nope"/,
    );
    expect(prefillGemm({prefill: {gemm: "n64m64"}}, "ternary", "store", 1, limits)).toBeUndefined(); // decode
    expect(prefillGemm({prefill: {gemm: "n64m64"}}, "f32", "store", 8, limits)).toBeUndefined(); // dense
    // the default: n64m64 for every ternary prefill (explicit linearWGSL fields included), unless opted out
    expect(DEFAULT_PREFILL_GEMM).toBe("n64m64");
    for (const t of [{}, {prefill: {R: 2, MT: 16}}])
      expect(prefillGemm(t, "ternary", "glu-silu", 2, limits)).toEqual({...GEMM_SHAPES.n64m64, epilogue: "glu-silu"});
    expect(prefillGemm({}, "ternary", "store", 1, limits)).toBeUndefined(); // decode
    expect(prefillGemm({}, "f16", "store", 8, limits)).toBeUndefined(); // dense
    expect(prefillGemm({prefill: {gemm: "none"}}, "ternary", "store", 8, limits)).toBeUndefined(); // opted out
    const perSite = {prefill: {gemm: "n64m64", gemmAt: {o: "n128m64", down: "none"}}} as const;
    expect(prefillGemm(perSite, "ternary", "residual", 8, limits, "o")?.BN).toBe(128);
    expect(prefillGemm(perSite, "ternary", "store", 8, limits, "qkv")?.BN).toBe(64);
    expect(prefillGemm(perSite, "ternary", "residual", 8, limits, "down")).toBeUndefined();
    const onlyO = {prefill: {gemm: "none", gemmAt: {o: "n128m64"}}} as const;
    expect(prefillGemm(onlyO, "ternary", "store", 8, limits, "qkv")).toBeUndefined();
    expect(prefillGemm(onlyO, "ternary", "residual", 8, limits, "o")?.BN).toBe(128);
    // a device below the default tiles' needs (10.2 KB, 128 threads) keeps linearWGSL by default; named, it throws
    for (const small of [
      {...limits, maxComputeWorkgroupStorageSize: 8192},
      {...limits, maxComputeInvocationsPerWorkgroup: 64},
    ]) {
      expect(prefillGemm({}, "ternary", "store", 8, small)).toBeUndefined();
      expect(() => prefillGemm({prefill: {gemm: "n64m64"}}, "ternary", "store", 8, small)).toThrow(/exceed the device/);
    }
  });

  it("a whole prefill through the engine with the GEMM (default or named tiles) gives the MT > 1 kernels' logits bit for bit", async () => {
    const device = await testDevice();
    // rows and K off the tile sizes (hidden 72, FFN 100 → gate|up 200 rows, K 72 and 100); prompts over several
    // token tiles and, with maxBlock 16, in blocks whose last is partial
    const shape = {
      vocab_size: 300,
      hidden_size: 72,
      intermediate_size: 100,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 96,
    };
    const prompt = Array.from({length: 41}, (_, i) => (i * 37 + 5) % 300);
    const tileA = {BN: 16, BM: 8, BK: 1, RN: 2, RM: 2};
    const tileD = {BN: 16, BM: 8, BK: 2, RN: 2, RM: 2, unpack: true};
    for (const [hidden_act, maxBlock, prefill, tiles] of [
      ["relu2", 64, {gemm: tileA}, "16×8"],
      ["silu", 16, {gemm: tileD, gemmAt: {o: tileA, down: tileA}}, "16×8"],
      ["relu2", 64, undefined, "64×64"], // the default
    ] as const) {
      const w = randomWeights(defaultConfig("b1.58", {...shape, hidden_act}), 5);
      // the kernel before the GEMM, pinned by the opt-out
      const old = await createWebGPUSession(w, {device, maxBlock, tuning: {prefill: {gemm: "none"}}});
      const neu = await createWebGPUSession(w, {device, maxBlock, ...(prefill ? {tuning: {prefill}} : {})});
      // every ternary prefill linear of the new session is a GEMM (the step tags), none of the old one's
      const gemmTags = (s: typeof old) =>
        s
          .prefillDispatches(prompt.slice(0, 2), {layers: true})
          .filter((d) => d.tag.kind === "linear")
          .map((d) => d.tag.gemm);
      expect(gemmTags(neu).length).toBeGreaterThanOrEqual(8); // 2 layers × qkv, o, gate_up, down
      expect(new Set(gemmTags(neu))).toEqual(new Set([tiles]));
      expect(new Set(gemmTags(old))).toEqual(new Set([undefined]));
      const a = await old.append(prompt, {allLogits: true});
      const b = await neu.append(prompt, {allLogits: true});
      expect(bits(b), `${hidden_act} maxBlock ${maxBlock}`).toEqual(bits(a));
      // decode after the GEMM prefill reads the KV cache it wrote: the same next logits
      expect(bits(await neu.append([9]))).toEqual(bits(await old.append([9])));
      old.dispose();
      neu.dispose();
    }
    // the engine really builds its prefill linears from the tuning's shapes: a shape it cannot run, given for all
    // sites or for W_o only, stops the session with the kernel's reason
    const w = randomWeights(defaultConfig("b1.58", shape), 5);
    const bad = {BN: 30, BM: 8, BK: 1, RN: 4, RM: 2};
    for (const prefill of [{gemm: bad}, {gemmAt: {o: bad}}])
      await expect(createWebGPUSession(w, {device, maxBlock: 16, tuning: {prefill}})).rejects.toThrow(
        /RN 4 must divide BN 30/,
      );
  });
});
