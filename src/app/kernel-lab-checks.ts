// The kernel lab's checks of issue 25's decode kernels: a list of entries (kernel, what it is compared against, the
// check), each run on the page's device at small random shapes with odd sizes. A new kernel is one more entry in
// ISSUE25_CHECKS. Every check runs the candidate and an independent baseline (another kernel path, or the reference's
// arithmetic in JS) and counts the outputs that differ; `perturb` rewrites only the candidate's WGSL, so a test can
// show that a check would see a broken kernel (test/gpu/kernel-lab-checks.test.ts).
import type {KernelCheckRow} from "../components/kernel-checks.js";
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
import {exactDivWGSL, floatFloatWGSL} from "../gpu/kernels/exact.js";
import {
  fusedPrologueBindings,
  fusedWorkgroupBytes,
  gammaPairs,
  linearGrid,
  linearParams,
  linearWGSL,
  packTernaryGPU,
  rowVec4s,
} from "../gpu/kernels/linear.js";
import {type NormQuantConfig, normQuantBindings, normQuantWGSL} from "../gpu/kernels/normquant.js";
import {type LinearTuning, linearConfig, subgroupSize} from "../gpu/engine/tune.js";
import {Rng} from "../lib/rng.js";
export type {CheckOptions, CheckResult, LabEntry} from "./kernel-lab-kit.js";
import {checkNormStats} from "./kernel-lab.js";
import {fusedRopeCheck, wideAttentionOutputCheck, wideAttentionStatsCheck} from "./kernel-lab-attention.js";
import {LANDED_CHECKS} from "./kernel-lab-landed.js";

/** Divisors for the INT8 step 127/d: the ε clamp, powers of two and their neighbours, f32's extremes, log-uniform
 *  values, and quotients next to f32 rounding midpoints (where a one-ulp error would show). */
export function div127Inputs(seed: number, n = 6000): Float32Array {
  const r = new Rng(seed);
  const ds: number[] = [1e-5, 1e-5 * 1.0000001, 1, 2, 0.5, 127, 254, 63.5, 3.4e38, 1.1754944e-38 * 4];
  for (let k = -17; k < 127; k += 3) for (const f of [1, 127 / 128, 1 + 2 ** -23, 2 - 2 ** -22]) ds.push(2 ** k * f);
  for (let i = 0; i < n; i++) ds.push(Math.exp(Math.log(1e-5) + r.uniform() * (Math.log(1e30) - Math.log(1e-5))));
  for (let i = 0; i < n / 4; i++) {
    const c = Math.fround(1 + r.uniform()) * 2 ** Math.floor(r.uniform() * 40 - 10);
    const ulp = 2 ** (Math.floor(Math.log2(c)) - 23);
    ds.push(127 / (c + ulp / 2 + (r.uniform() - 0.5) * ulp * 1e-6));
  }
  return Float32Array.from(ds.filter((x) => Math.fround(x) >= Math.fround(1e-5) && Math.fround(x) < 3.4e38));
}

async function checkDiv127(device: GPUDevice, o: CheckOptions): Promise<CheckResult> {
  const d = div127Inputs(25);
  const n = d.length;
  const code = `
@group(0) @binding(0) var<storage, read> d: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;
${exactDivWGSL}
${floatFloatWGSL}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  OPQ = arrayLength(&d) >> 31u;
  let i = g.x;
  if (i < ${n}u) { o[i] = div127(d[i]); }
}`;
  const pl = await pipelineChecked(device, o.perturb ? o.perturb(code) : code, "lab-div127");
  const dB = storageBuffer(device, d);
  const oB = storageBuffer(device, 4 * n);
  try {
    const ms = await dispatchTimed(device, pl, [dB, oB], [Math.ceil(n / 64)]);
    const got = await readF32(device, oB, n);
    const want = Float32Array.from(d, (x) => 127 / x); // float64 quotient, rounded once to f32
    return {
      shape: `${n} divisors in [1e-5, 3.4e38]`,
      checked: n,
      tolerance: 0,
      ms,
      timed: "one dispatch",
      ...compareBits(got, want),
    };
  } finally {
    dB.destroy();
    oB.destroy();
  }
}

const EPS = new Uint32Array(new Float32Array([1e-5, 1e-5 - Math.fround(1e-5)]).buffer);

/** A ternary W_o-/qkv-like GEMV with a residual epilogue whose norm/quant prologue is fused into it, against the
 *  prologue as its own dispatch (normQuantWGSL → xin/xmeta) then the unfused linear. src "attn": the prologue
 *  combines H heads' split-attention partials (nC chunks; the last chunk of head 0 empty) — W_o with the combine
 *  (fuseCombine); "plain": RMSNorm of an n-wide row (fuse=true's qkv/gate_up). Returns both outputs. */
export async function fusedVsTwoDispatch(
  device: GPUDevice,
  sh: {src: "attn" | "plain"; n: number; N: number; H?: number; d?: number; nC?: number; tuning: LinearTuning},
  o: CheckOptions = {},
): Promise<{want: Float32Array; got: Float32Array; ms: number} | undefined> {
  const {n, N, src} = sh;
  const H = sh.H ?? 1;
  const d = sh.d ?? n;
  const nC = sh.nC ?? 1;
  const r = new Rng(n * 7 + N * 13 + nC + (src === "attn" ? 1 : 0));
  const u = () => r.uniform();
  let row: Float32Array;
  if (src === "attn") {
    row = new Float32Array(H * nC * (d + 2));
    for (let hh = 0; hh < H; hh++)
      for (let c = 0; c < nC; c++) {
        const b = (hh * nC + c) * (d + 2);
        const empty = hh === 0 && c === nC - 1 && nC > 1; // past the causal edge
        row[b] = empty ? -3e38 : (u() - 0.5) * 10;
        row[b + 1] = empty ? 0 : 0.5 + 3 * u();
        for (let e = 0; e < d; e++) row[b + 2 + e] = empty ? 0 : (u() - 0.5) * 4;
      }
  } else row = Float32Array.from({length: n}, () => (u() - 0.5) * 6 * (u() < 0.02 ? 20 : 1)); // a few outliers
  const S = await subgroupSize(device);
  const WG = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup);
  const cfg = linearConfig(S, "ternary", "residual", 1, sh.tuning, WG, n);
  const nq: NormQuantConfig = {
    n,
    src,
    ...(src === "attn" ? {H, d} : {}),
    norm: true,
    hadamard: false,
    quant: "int8",
    inspect: false,
    sub: sh.tuning.noSubgroups ? 0 : S, // as the engine's BuildContext
    WG: cfg.WG,
  };
  if (fusedWorkgroupBytes(cfg, nq) > device.limits.maxComputeWorkgroupStorageSize) return undefined;
  const w = Int8Array.from({length: N * n}, () => Math.floor(u() * 3) - 1);
  const y0 = Float32Array.from({length: N}, () => (u() - 0.5) * 8);
  const bufs: GPUBuffer[] = [];
  const keep = (b: GPUBuffer) => (bufs.push(b), b);
  try {
    const W = keep(
      storageBuffer(
        device,
        packTernaryGPU(N, n, (i) => w.subarray(i * n, (i + 1) * n)),
      ),
    );
    const ws = keep(storageBuffer(device, gammaPairs(Float64Array.from({length: N}, () => 0.01 + u()))));
    const srcB = keep(storageBuffer(device, row));
    const nw = keep(
      storageBuffer(
        device,
        Float32Array.from({length: n}, () => 0.5 + u()),
      ),
    );
    const st = keep(uniformBuffer(device, new Uint32Array([1, 0, nC, 64, 0, 0, 0, 0])));
    const grid = linearGrid(cfg, N, 1);
    // the baseline: the prologue's own dispatch, then the unfused linear
    const words = 16 * Math.ceil(n / 64);
    const xin = keep(storageBuffer(device, words * 4));
    const xmeta = keep(storageBuffer(device, 8));
    const Y1 = keep(storageBuffer(device, y0));
    const byName: Record<string, GPUBuffer> = {
      P: keep(uniformBuffer(device, new Uint32Array([0, words, EPS[0], EPS[1]]))),
      src: srcB,
      normW: nw,
      out: xin,
      xmeta,
      st,
    };
    const nqPl = await pipelineChecked(device, normQuantWGSL(nq), "lab-prologue");
    await dispatchTimed(
      device,
      nqPl,
      normQuantBindings(nq).map((k) => byName[k]),
      [1],
    );
    const linPl = await pipelineChecked(device, linearWGSL(cfg), "lab-linear");
    const P1 = keep(uniformBuffer(device, linearParams("ternary", N, n, 1, N)));
    await dispatchTimed(device, linPl, [P1, W, xin, xmeta, ws, Y1], grid);
    const want = await readF32(device, Y1, N);
    // the candidate: one dispatch
    const Y2 = keep(storageBuffer(device, y0));
    const code = linearWGSL(cfg, {prologue: nq});
    const fusedPl = await pipelineChecked(device, o.perturb ? o.perturb(code) : code, "lab-fused");
    const P2 = keep(uniformBuffer(device, new Uint32Array([N, rowVec4s("ternary", n), 1, 0, N, 0, 0, 0])));
    const NP = keep(uniformBuffer(device, new Uint32Array([0, 0, EPS[0], EPS[1]])));
    const binds: Record<number, GPUBuffer> = {0: P2, 1: W, 2: ws, 3: Y2, 4: NP, 5: srcB, 6: nw};
    if (src === "attn") binds[fusedPrologueBindings(nq).st] = st;
    const ms = await dispatchTimed(device, fusedPl, binds, grid);
    return {want, got: await readF32(device, Y2, N), ms};
  } finally {
    for (const b of bufs) b.destroy();
  }
}

type FusedShape = Parameters<typeof fusedVsTwoDispatch>[1];

/** Runs fusedVsTwoDispatch over shapes and sums the differences (shapes over the device's workgroup memory skip). */
async function fusedCheck(device: GPUDevice, shapes: FusedShape[], o: CheckOptions): Promise<CheckResult> {
  const t = new Tally();
  const ran: string[] = [];
  for (const sh of shapesFor(shapes, o)) {
    const res = await fusedVsTwoDispatch(device, sh, o);
    if (!res) continue;
    t.add(sh.N, compareBits(res.got, res.want), res.ms);
    const red = sh.tuning.noSubgroups ? "wg-mem" : sh.tuning.decode ? `WG${sh.tuning.decode.WG}` : "subgroups";
    ran.push(sh.src === "attn" ? `H${sh.H}·d${sh.d}·nC${sh.nC}→N${sh.N} ${red}` : `K${sh.n}→N${sh.N} ${red}`);
  }
  return t.result(ran.join("; "), 0, "slowest fused dispatch");
}

/** Issue 25's kernels, one entry each. */
export const ISSUE25_CHECKS: readonly LabEntry[] = [
  {
    kernel: "div127: the INT8 step 127/max(γ, ε) from the f32 quotient + exact residual",
    against: "the reference's f32(127 / d) (float64 division rounded once)",
    check: checkDiv127,
  },
  {
    kernel: "W_o with the attention combine fused in (fuseCombine)",
    against: "combine + sub-norm + INT8 prologue dispatch, then W_o (bit for bit)",
    check: (device, o) =>
      fusedCheck(
        device,
        [
          {src: "attn", H: 3, d: 20, nC: 5, n: 60, N: 37, tuning: {}},
          {src: "attn", H: 3, d: 20, nC: 5, n: 60, N: 37, tuning: {noSubgroups: true}},
          {src: "attn", H: 4, d: 32, nC: 1, n: 128, N: 50, tuning: {decode: {R: 2, T: 4, WG: 64}}},
          {src: "attn", H: 20, d: 128, nC: 3, n: 2560, N: 67, tuning: {}},
        ],
        o,
      ),
  },
  {
    kernel: "GEMV with its RMSNorm → INT8 prologue fused in (fuse=true)",
    against: "the standalone norm/quant prologue dispatch, then the GEMV (bit for bit)",
    check: (device, o) =>
      fusedCheck(
        device,
        [
          {src: "plain", n: 200, N: 37, tuning: {}},
          {src: "plain", n: 200, N: 37, tuning: {noSubgroups: true}},
          {src: "plain", n: 333, N: 21, tuning: {decode: {R: 2, T: 4, WG: 64}}},
          {src: "plain", n: 2560, N: 67, tuning: {}},
        ],
        o,
      ),
  },
  {
    kernel: "wide decode attention: G heads' softmax trees side by side",
    against: "the same kernel with one query head per workgroup (G = 1): max and Σ bit for bit",
    check: wideAttentionStatsCheck,
  },
  {
    kernel: "wide decode attention: the output",
    against: "the 16-bit split-attention kernel (attention16), combined in float64",
    check: wideAttentionOutputCheck,
  },
  {
    kernel: "wide decode attention with RoPE and the K/V write fused in (fuse on)",
    against: "rope_kv's dispatch, then the wide kernel: partials and cache bit for bit",
    check: fusedRopeCheck,
  },
  {
    kernel: "decode step with prologues from norm statistics (normStats)",
    against: "the unfused decode step's logits (bit for bit)",
    async check(device) {
      const t0 = performance.now();
      const c = await checkNormStats(device);
      return {
        shape: "b1.58, hidden 136, FFN 200, 3 layers, 4 decode steps",
        checked: c.checked,
        mismatches: c.mismatches,
        maxDiff: c.maxRelErr,
        relative: true,
        tolerance: 0,
        ms: performance.now() - t0,
        timed: "the whole check: two sessions built and run",
      };
    },
  },
  ...LANDED_CHECKS, // shuffle FWHT, prefill GEMM
];

/** Runs the entries in order on `device`; a check that throws is a failed row with its error. */
export async function runKernelChecks(
  device: GPUDevice,
  entries: readonly LabEntry[] = ISSUE25_CHECKS,
  log: (line: string) => void = () => {},
): Promise<KernelCheckRow[]> {
  const rows: KernelCheckRow[] = [];
  for (const e of entries) {
    log(`check: ${e.kernel} against ${e.against}…`);
    let row: KernelCheckRow;
    try {
      const r = await e.check(device, {});
      row = {kernel: e.kernel, against: e.against, ...r, pass: r.checked > 0 && r.mismatches === 0};
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      const none = {shape: "—", checked: 0, mismatches: 0, maxDiff: 0, tolerance: 0, ms: 0, timed: "—"};
      row = {kernel: e.kernel, against: e.against, ...none, pass: false, error};
    }
    log(`  ${row.mismatches} of ${row.checked} differ: ${row.pass ? "PASS" : "FAIL"}`);
    rows.push(row);
  }
  return rows;
}
