import {describe, expect, it} from "vitest";
import {bindGroup, pipelineChecked, readF32, storageBuffer, uniformBuffer} from "../../src/gpu/gpu.js";
import {
  f16BitsToF32,
  f32ToF16Bits,
  gammaPairs,
  linearGrid,
  linearParams,
  linearWGSL,
  packActI8,
  packF16,
  packF32,
  packTernaryGPU,
  unpackTernaryGPU,
  type Epilogue,
  type LinearConfig,
  type LinearKind,
} from "../../src/gpu/kernels/linear.js";
import {linearConfig, subgroupSize} from "../../src/gpu/engine/tune.js";
import {testDevice} from "./harness.js";
import {Rng} from "../../src/lib/rng.js";

/** Uniform [0, 1) numbers from the library's seeded generator. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform();
}

async function runLinear(
  device: GPUDevice,
  cfg: LinearConfig,
  N: number,
  K: number,
  M: number,
  w: Float64Array | Int8Array,
  x: Float64Array | Int8Array,
  xs: Float64Array,
  sx: Int32Array,
  ws: Float64Array,
  y0: Float32Array,
): Promise<Float32Array> {
  const kind = cfg.kind;
  const row = (i: number) => w.subarray(i * K, (i + 1) * K);
  const Wdata =
    kind === "ternary"
      ? packTernaryGPU(N, K, row as (i: number) => Int8Array)
      : kind === "f32"
        ? packF32(N, K, row)
        : packF16(N, K, row);
  let X: Uint32Array | Float32Array;
  if (kind === "ternary") X = packActI8(x, M, K);
  else {
    const stride = (kind === "f32" ? Math.ceil(K / 4) : 2 * Math.ceil(K / 8)) * 4;
    X = new Float32Array(M * stride);
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) X[m * stride + k] = x[m * K + k];
  }
  const outW = cfg.epilogue.startsWith("glu") ? N / 2 : N;
  const bufs = [
    uniformBuffer(device, linearParams(kind, N, K, M, outW)),
    storageBuffer(device, Wdata),
    storageBuffer(device, X),
  ];
  if (kind === "ternary") {
    const meta = new Uint32Array(2 * M);
    const f = new Float32Array(1);
    for (let m = 0; m < M; m++) {
      f[0] = 1 / xs[m]; // the kernel reads the quantizer's scale s and multiplies by 1/s
      meta[2 * m] = new Uint32Array(f.buffer)[0];
      meta[2 * m + 1] = sx[m] >>> 0;
    }
    bufs.push(storageBuffer(device, meta), storageBuffer(device, gammaPairs(ws)));
  }
  const Y = storageBuffer(device, y0);
  bufs.push(Y);
  const p = await pipelineChecked(device, linearWGSL(cfg), "linear-test");
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(p);
  pass.setBindGroup(0, bindGroup(device, p, bufs));
  const [gx, gy] = linearGrid(cfg, N, M);
  pass.dispatchWorkgroups(gx, gy);
  pass.end();
  device.queue.submit([enc.finish()]);
  const out = await readF32(device, Y, M * outW);
  for (const b of bufs) b.destroy();
  return out;
}

function reference(
  kind: LinearKind,
  ep: Epilogue,
  N: number,
  K: number,
  M: number,
  w: ArrayLike<number>,
  x: ArrayLike<number>,
  xs: Float64Array,
  ws: Float64Array,
  y0: Float32Array,
): Float64Array {
  const outW = ep.startsWith("glu") ? N / 2 : N;
  const y = Float64Array.from(y0);
  const lin = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const wv = kind === "f16" ? f16BitsToF32(f32ToF16Bits(w[n * K + k])) : w[n * K + k];
        s += wv * x[m * K + k];
      }
      // the reference's BitLinear: fround(acc · (γ / s)) with γ in float64 and s the f32 quantizer scale
      lin[n] = kind === "ternary" ? Math.fround(s * (ws[n] / Math.fround(1 / xs[m]))) : s;
    }
    for (let n = 0; n < outW; n++) {
      if (ep === "store") y[m * outW + n] = lin[n];
      else if (ep === "residual") y[m * outW + n] += lin[n];
      else {
        const g = lin[2 * n],
          u = lin[2 * n + 1];
        y[m * outW + n] = ep === "glu-relu2" ? Math.max(g, 0) ** 2 * u : (g / (1 + Math.exp(-g))) * u;
      }
    }
  }
  return y;
}

describe("linear kernels vs float64 reference", () => {
  const shapes: [number, number, number][] = [
    [1, 5, 1],
    [37, 64, 1],
    [130, 200, 3],
    [66, 300, 9],
    [8, 1000, 2],
  ];
  const epilogues: Epilogue[] = ["store", "residual", "glu-relu2", "glu-silu"];

  it("packs and unpacks ternary codes", () => {
    const r = rng(7);
    for (const [N, K] of [
      [3, 5],
      [4, 64],
      [2, 130],
    ]) {
      const w = Int8Array.from({length: N * K}, () => Math.floor(r() * 3) - 1);
      expect(
        Array.from(
          unpackTernaryGPU(
            packTernaryGPU(N, K, (i) => w.subarray(i * K, (i + 1) * K)),
            N,
            K,
          ),
        ),
      ).toEqual(Array.from(w));
    }
  });

  for (const kind of ["ternary", "f32", "f16"] as LinearKind[]) {
    it(`${kind}: every epilogue, odd shapes, subgroup and workgroup-memory reductions`, async () => {
      const device = await testDevice();
      const S = await subgroupSize(device);
      const r = rng(kind.length * 31);
      let checked = 0;
      for (const [N0, K, M] of shapes) {
        for (const ep of epilogues) {
          const N = ep.startsWith("glu") ? N0 + (N0 % 2) : N0;
          const w =
            kind === "ternary"
              ? Int8Array.from({length: N * K}, () => Math.floor(r() * 3) - 1)
              : Float64Array.from({length: N * K}, () => r() * 2 - 1);
          const x =
            kind === "ternary"
              ? Int8Array.from({length: M * K}, () => Math.floor(r() * 256) - 128)
              : Float64Array.from({length: M * K}, () => r() * 2 - 1);
          const xs = Float64Array.from({length: M}, () => 0.001 + r() * 0.01);
          const sx = new Int32Array(M);
          for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) sx[m] += x[m * K + k];
          const ws = Float64Array.from({length: N}, () => 0.5 + r());
          const outW = ep.startsWith("glu") ? N / 2 : N;
          const y0 = Float32Array.from({length: M * outW}, () => r() - 0.5);
          const want = reference(kind, ep, N, K, M, w, x, xs, ws, y0);
          const variants: Partial<LinearConfig>[] = [{}, {T: 16, sub: 0, U: 3}, {T: 1, R: 2, WG: 32, U: 2}];
          for (const v of variants) {
            const base = linearConfig(S, kind, ep, M, {noSubgroups: v.sub === 0});
            const cfg = {...base, ...v, sub: v.sub === 0 || v.T === 1 ? 0 : base.sub};
            const got = await runLinear(device, cfg, N, K, M, w, x, xs, sx, ws, y0);
            for (let i = 0; i < want.length; i++) {
              // ternary "store": bit-exact with the reference's rounding; other epilogues add f32 arithmetic
              const tol =
                kind === "ternary"
                  ? ep === "store"
                    ? 0
                    : 2e-6 * Math.max(1, Math.abs(want[i]))
                  : 2e-5 * Math.sqrt(K) * Math.max(1, Math.abs(want[i]));
              if (!(Math.abs(got[i] - want[i]) <= tol))
                throw new Error(
                  `${kind} ${ep} N=${N} K=${K} M=${M} cfg=${JSON.stringify(cfg)} i=${i}: got ${got[i]} want ${want[i]}`,
                );
            }
            checked++;
          }
        }
      }
      expect(checked).toBe(shapes.length * epilogues.length * 3);
    });
  }
});
