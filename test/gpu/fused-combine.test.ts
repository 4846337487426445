import {describe, expect, it} from "vitest";
import {pipelineChecked, readF32, storageBuffer, uniformBuffer} from "../../src/gpu/gpu.js";
import {
  fusedPrologueBindings,
  fusedWorkgroupBytes,
  gammaPairs,
  linearGrid,
  linearParams,
  linearWGSL,
  packTernaryGPU,
  rowVec4s,
} from "../../src/gpu/kernels/linear.js";
import {normQuantBindings, normQuantWGSL, type NormQuantConfig} from "../../src/gpu/kernels/normquant.js";
import {linearConfig, subgroupSize, type LinearTuning} from "../../src/gpu/engine/tune.js";
import {testDevice} from "./harness.js";
import {Rng} from "../../src/lib/rng.js";

// W_o's decode prologue fused into W_o (blocks.ts combineFusable): every workgroup combines the split-attention
// partials, applies attn_sub_norm and quantizes to INT8 itself. Its output must be the two-dispatch path's bits
// (normQuantWGSL src "attn" → xin/xmeta → the unfused linear, each tested against the CPU reference elsewhere).

const eps = new Uint32Array(new Float32Array([1e-5, 1e-5 - Math.fround(1e-5)]).buffer);

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

async function runBoth(
  device: GPUDevice,
  S: number,
  tuning: LinearTuning,
  H: number,
  d: number,
  nC: number,
  N: number,
) {
  const n = H * d;
  const r = new Rng(H * 1000 + d * 10 + nC);
  const u = () => r.uniform();
  // partials (max, sum, Σ e^(s−max)·v[d]) per head and chunk; the last chunk of head 0 is empty (past the causal edge)
  const part = new Float32Array(H * nC * (d + 2));
  for (let h = 0; h < H; h++)
    for (let c = 0; c < nC; c++) {
      const b = (h * nC + c) * (d + 2);
      const empty = h === 0 && c === nC - 1 && nC > 1;
      part[b] = empty ? -3e38 : (u() - 0.5) * 10;
      part[b + 1] = empty ? 0 : 0.5 + 3 * u();
      for (let e = 0; e < d; e++) part[b + 2 + e] = empty ? 0 : (u() - 0.5) * 4;
    }
  const normW = Float32Array.from({length: n}, () => 0.5 + u());
  const w = Int8Array.from({length: N * n}, () => Math.floor(u() * 3) - 1);
  const gamma = Float64Array.from({length: N}, () => 0.01 + u());
  const y0 = Float32Array.from({length: N}, () => (u() - 0.5) * 8);
  const W = storageBuffer(
    device,
    packTernaryGPU(N, n, (i) => w.subarray(i * n, (i + 1) * n)),
  );
  const ws = storageBuffer(device, gammaPairs(gamma));
  const src = storageBuffer(device, part);
  const nw = storageBuffer(device, normW);
  const st = uniformBuffer(device, new Uint32Array([1, 0, nC, 64, 0, 0, 0, 0]));
  const WG = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup);
  const cfg = linearConfig(S, "ternary", "residual", 1, tuning, WG, n);
  const nq: NormQuantConfig = {
    n,
    src: "attn",
    H,
    d,
    norm: true,
    hadamard: false,
    quant: "int8",
    inspect: false,
    sub: tuning.noSubgroups ? 0 : S, // as the engine's BuildContext.S
    WG: cfg.WG,
  };
  const grid = linearGrid(cfg, N, 1);
  // two dispatches: the combine prologue, then the linear
  const words = 16 * Math.ceil(n / 64);
  const xin = storageBuffer(device, words * 4);
  const xmeta = storageBuffer(device, 8);
  const Y1 = storageBuffer(device, y0);
  const nqMap: Record<string, GPUBuffer> = {
    P: uniformBuffer(device, new Uint32Array([0, words, eps[0], eps[1]])),
    src,
    normW: nw,
    out: xin,
    xmeta,
    st,
  };
  const nqPl = await pipelineChecked(device, normQuantWGSL(nq), "nq-combine");
  await dispatch(
    device,
    nqPl,
    normQuantBindings(nq).map((k) => nqMap[k]),
    [1],
  );
  const linPl = await pipelineChecked(device, linearWGSL(cfg), "linear-o");
  const P1 = uniformBuffer(device, linearParams("ternary", N, n, 1, N));
  await dispatch(device, linPl, [P1, W, xin, xmeta, ws, Y1], grid);
  const want = await readF32(device, Y1, N);
  // one dispatch: the fused kernel
  const Y2 = storageBuffer(device, y0);
  const fusedPl = await pipelineChecked(device, linearWGSL(cfg, {prologue: nq}), "nq+o");
  const P2 = uniformBuffer(device, new Uint32Array([N, rowVec4s("ternary", n), 1, 0, N, 0, 0, 0]));
  const NP = uniformBuffer(device, new Uint32Array([0, 0, eps[0], eps[1]]));
  const binds: GPUBuffer[] = [P2, W, ws, Y2, NP, src, nw];
  binds[fusedPrologueBindings(nq).st] = st;
  await dispatch(device, fusedPl, binds, grid);
  const got = await readF32(device, Y2, N);
  for (const b of [W, ws, src, nw, st, xin, xmeta, Y1, Y2, P1, P2, NP, nqMap.P]) b.destroy();
  return {want, got, bytes: fusedWorkgroupBytes(cfg, nq)};
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe("W_o with the attention-combine prologue fused (decode)", () => {
  it("gives the two-dispatch path's bits: odd shapes and 2B4T widths (20 heads × 128), subgroup and workgroup-memory reductions", async () => {
    const device = await testDevice();
    const S = await subgroupSize(device);
    const tunings: LinearTuning[] = [{}, {noSubgroups: true}, {decode: {R: 2, T: 4, WG: 64}}];
    // [H, d, nC, N]: odd head dim and rows (K = 3·20 = 60, not a multiple of 64), one chunk, many chunks; 2B4T
    for (const [H, d, nC, N] of [
      [3, 20, 5, 37],
      [4, 32, 1, 50],
      [20, 128, 8, 67],
    ]) {
      for (const tuning of H === 20 ? tunings.slice(0, 2) : tunings) {
        const {want, got, bytes} = await runBoth(device, S, tuning, H, d, nC, N);
        const label = JSON.stringify({H, d, nC, N, tuning});
        expect(bits(got), label).toEqual(bits(want));
        expect(want.some((v) => v !== 0)).toBe(true);
        if (H * d === 2560) expect(bytes, label).toBeLessThanOrEqual(48 * 1024); // the 48 KB workgroup limit
      }
    }
  });
});
