// Kernel-lab checks of the issue 25 kernels that landed after the first list (kernel-lab-checks.ts): the
// subgroup/register FWHT of the H-BitLinear prologue and the tiled prefill GEMM.
// Each runs its candidate and an independent baseline on the page's device at small odd shapes; `perturb` rewrites
// only the candidate's WGSL (test/gpu/kernel-lab-checks.test.ts shows each check sees a broken kernel).
import {
  type CheckOptions,
  type CheckResult,
  type LabEntry,
  Tally,
  compareBits,
  dispatchTimed,
  shapesFor,
} from "./kernel-lab-kit.js";
import {pipelineChecked, readF32, storageBuffer, uniformBuffer} from "../gpu/gpu.js";
import {
  type Epilogue,
  gammaPairs,
  linearGrid,
  linearParams,
  linearWGSL,
  packActI8,
  packTernaryGPU,
} from "../gpu/kernels/linear.js";
import {GEMM_SHAPES, type GemmShapeName, gemmGrid, gemmWGSL} from "../gpu/kernels/linear-gemm.js";
import {
  type NormQuantConfig,
  fwhtPartsFor,
  hadamardMixWGSL,
  hadamardSignBits,
  normQuantBindings,
  normQuantWGSL,
} from "../gpu/kernels/normquant.js";
import {linearConfig, subgroupSize} from "../gpu/engine/tune.js";
import {hadamardPlan, hadamardTransform} from "../lib/hadamard.js";
import {Rng} from "../lib/rng.js";

/** Fresh ternary weights, INT8 activations of M tokens (packed, with their scale and Σx), row scales, and Y. */
function ternaryCase(device: GPUDevice, r: Rng, N: number, K: number, M: number, outW: number) {
  const w = Int8Array.from({length: N * K}, () => r.int(3) - 1);
  const x = Int8Array.from({length: M * K}, () => r.int(255) - 127);
  const meta = new Uint32Array(2 * M);
  const f = new Float32Array(1);
  for (let m = 0; m < M; m++) {
    let sx = 0;
    for (let k = 0; k < K; k++) sx += x[m * K + k];
    f[0] = 1 / (0.001 + r.uniform() * 0.01); // the quantizer's scale s
    meta[2 * m] = new Uint32Array(f.buffer)[0];
    meta[2 * m + 1] = sx >>> 0;
  }
  const bufs = {
    W: storageBuffer(
      device,
      packTernaryGPU(N, K, (i) => w.subarray(i * K, (i + 1) * K)),
    ),
    X: storageBuffer(device, packActI8(x, M, K)),
    meta: storageBuffer(device, meta),
    ws: storageBuffer(device, gammaPairs(Float64Array.from({length: N}, () => 0.01 + r.uniform()))),
  };
  const y0 = Float32Array.from({length: M * outW}, () => r.uniform() - 0.5);
  return {...bufs, y0, destroy: () => Object.values(bufs).forEach((b) => b.destroy())};
}

/** One linear-style dispatch ([P, W, X, xmeta, wscale, Y]) on a fresh copy of y0: Y and the time. */
async function runLinear(
  device: GPUDevice,
  c: ReturnType<typeof ternaryCase>,
  pl: GPUComputePipeline,
  P: Uint32Array,
  grid: readonly number[],
): Promise<{y: Float32Array; ms: number}> {
  const Y = storageBuffer(device, c.y0);
  const Pu = uniformBuffer(device, P);
  try {
    const ms = await dispatchTimed(device, pl, {0: Pu, 1: c.W, 2: c.X, 3: c.meta, 4: c.ws, 5: Y}, grid);
    return {y: await readF32(device, Y, c.y0.length), ms};
  } finally {
    Y.destroy();
    Pu.destroy();
  }
}

/** M rows of n through the Hadamard prologue (no norm, no quantization): the rotated f32 rows and the prologue's
 *  time. With fwhtOnly (the split decode path) the prologue's M·fwhtParts workgroups leave the raw block sums as
 *  float-float rows and hadamardMixWGSL applies the cross-block matrix. */
async function runRotation(
  device: GPUDevice,
  cfg: NormQuantConfig,
  x: Float32Array,
  M: number,
  code: string,
): Promise<{y: Float32Array; ms: number}> {
  const n = cfg.n;
  const words = 8 * Math.ceil(n / 8);
  const split = cfg.fwhtOnly === true;
  const out = storageBuffer(device, (split ? 2 : 1) * M * words * 4);
  const y = split ? storageBuffer(device, M * words * 4) : out;
  const eps = new Uint32Array(new Float32Array([1e-5, 1e-5 - Math.fround(1e-5)]).buffer);
  const map: Record<string, GPUBuffer> = {
    P: uniformBuffer(device, new Uint32Array([n, words, eps[0], eps[1]])),
    src: storageBuffer(device, x),
    normW: storageBuffer(device, new Float32Array(n).fill(1)),
    out,
    had: storageBuffer(device, hadamardSignBits(n)),
  };
  try {
    const pl = await pipelineChecked(device, code, "lab-fwht");
    const binds = Object.fromEntries(normQuantBindings(cfg).map((k, i) => [i, map[k]]));
    const ms = await dispatchTimed(device, pl, binds, [M * (cfg.fwhtParts ?? 1)]);
    if (split) {
      const mix = await pipelineChecked(device, hadamardMixWGSL(n), "lab-mix");
      await dispatchTimed(device, mix, {0: out, 1: map.had, 2: y}, [hadamardPlan(n).m, M]);
    }
    const raw = await readF32(device, y, M * words);
    const rows = new Float32Array(M * n);
    for (let m = 0; m < M; m++) rows.set(raw.subarray(m * words, m * words + n), m * n);
    return {y: rows, ms};
  } finally {
    for (const b of Object.values(map)) b.destroy();
    if (split) y.destroy();
  }
}

/** The in-block FWHT through subgroup shuffles and registers (fwhtLanes default) against the same prologue with
 *  every stage through workgroup memory (fwhtLanes 0), and against the float64 rotation rounded once, bit for bit;
 *  at a Kronecker size, a power of two, and on the split decode path (FWHT-only over fwhtParts workgroups + mix). */
async function fwhtCheck(device: GPUDevice, o: CheckOptions): Promise<CheckResult> {
  const S = await subgroupSize(device);
  const maxWG = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup);
  const r = new Rng(2527);
  const t = new Tally();
  const ran: string[] = [];
  const plus0 = (a: Float32Array) => a.map((v) => v + 0); // −0 and +0 alike against the reference
  const shapes = [
    {n: 640, WG: maxWG},
    {n: 688, WG: maxWG},
    {n: 256, WG: maxWG},
    {n: 640, WG: 64, split: true},
  ];
  for (const {n, WG, split} of shapesFor(shapes, o)) {
    const M = 3;
    // outliers, tiny values and cancellations, so the block sums carry many bits
    const x = Float32Array.from({length: M * n}, () => {
      const u = r.uniform();
      return (r.uniform() - 0.5) * 2 * (u < 0.05 ? 30 : u < 0.1 ? 1e-3 : 1);
    });
    const parts = split ? fwhtPartsFor(n, WG) : undefined;
    const base: NormQuantConfig = {
      n,
      src: "plain",
      norm: false,
      hadamard: true,
      quant: "none",
      inspect: false,
      sub: S,
      WG,
    };
    if (split) Object.assign(base, {fwhtOnly: true, fwhtParts: parts});
    const code = normQuantWGSL(base);
    const got = await runRotation(device, base, x, M, o.perturb ? o.perturb(code) : code);
    const mem = await runRotation(device, base, x, M, normQuantWGSL({...base, fwhtLanes: 0}));
    const want = Float32Array.from(x);
    hadamardTransform(want, n); // float64 inside, rounded once to f32
    t.add(M * n, compareBits(got.y, mem.y), got.ms);
    t.add(M * n, compareBits(plus0(got.y), plus0(want)));
    const {kind, m, block} = hadamardPlan(n);
    const how = split ? ` split over ${parts} workgroups + mix` : "";
    ran.push(`${M}×${n} (${kind === "kronecker" ? `${m}·${block}` : `blocks of ${block}`}) lanes ${S || 1}${how}`);
  }
  return t.result(ran.join("; "), 0, "slowest shuffle-FWHT dispatch");
}

/** The tiled prefill GEMM (a named shape) against the MT > 1 linear kernel the engine uses without it. */
async function gemmCheck(device: GPUDevice, o: CheckOptions): Promise<CheckResult> {
  const S = await subgroupSize(device);
  const maxWG = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup);
  const r = new Rng(2528);
  const t = new Tally();
  const ran: string[] = [];
  const shapes: [GemmShapeName, Epilogue, number, number, number][] = [
    ["n64m64u", "residual", 37, 70, 5],
    ["n64m64u", "glu-silu", 130, 201, 67],
  ];
  for (const [name, epilogue, N, K, M] of shapesFor(shapes, o)) {
    const outW = epilogue.startsWith("glu") ? N / 2 : N;
    const c = ternaryCase(device, r, N, K, M, outW);
    try {
      const P = linearParams("ternary", N, K, M, outW);
      const old = linearConfig(S, "ternary", epilogue, M, {}, maxWG);
      const want = (
        await runLinear(device, c, await pipelineChecked(device, linearWGSL(old), "lab-mt"), P, linearGrid(old, N, M))
      ).y;
      const g = {...GEMM_SHAPES[name], epilogue};
      const code = gemmWGSL(g);
      const pl = await pipelineChecked(device, o.perturb ? o.perturb(code) : code, "lab-gemm");
      const got = await runLinear(device, c, pl, P, gemmGrid(g, N, M));
      t.add(M * outW, compareBits(got.y, want), got.ms);
      ran.push(`${name} ${epilogue} N${N}·K${K}·M${M}`);
    } finally {
      c.destroy();
    }
  }
  return t.result(ran.join("; "), 0, "slowest GEMM dispatch");
}

/** The entries, appended to ISSUE25_CHECKS. */
export const LANDED_CHECKS: readonly LabEntry[] = [
  {
    kernel: "H-BitLinear in-block FWHT through subgroup shuffles and registers (fwhtLanes)",
    against: "the all-workgroup-memory FWHT (fwhtLanes 0) and the float64 rotation rounded once (bit for bit)",
    check: fwhtCheck,
  },
  {
    kernel: "tiled prefill GEMM (the default prefill kernel, tuning.prefill.gemm)",
    against: 'the MT > 1 linear kernel (tuning.prefill.gemm "none"), bit for bit',
    check: gemmCheck,
  },
];
