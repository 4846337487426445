// The kernel lab: the engine's GPU benchmark (src/gpu/measure/benchmark.ts — copy ceiling, ternary GEMV variants, dense f32/f16
// GEMVs, the decode step and its kernels, Hadamard prologues, bit-exactness self-checks) run on the page's shared
// device, plus a correctness check of every GEMV variant it times against the CPU reference, each kernel placed on a
// roofline (bytes moved vs time, % of the copy ceiling), and the cost model's tokens/s next to the measured ones.
// DOM-free except for the download helper at the end; the page (src/kernel-lab.md) draws it.
import type {GpuContext} from "../gpu/device.js";
import {runGpuBenchmark} from "../gpu/measure/benchmark.js";
import {model2B4T} from "../gpu/measure/bench-stack.js";
import type {BenchReport} from "../gpu/measure/bench-report.js";
import {bindGroup, pipelineChecked, readBuffer, storageBuffer, uniformBuffer} from "../gpu/gpu.js";
import {
  actVec4s,
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
} from "../gpu/kernels/linear.js";
import type {LinearKind} from "../gpu/kernels/linear.js";
import {linearConfig, subgroupSize} from "../gpu/engine/tune.js";
import {decodeStep, precision, shapeFromConfig} from "../lib/cost.js";
import {defaultConfig} from "../lib/config.js";
import {randomWeights} from "../lib/init.js";
import {createWebGPUSession} from "../gpu/engine.js";
import {Rng} from "../lib/rng.js";

export interface VariantCheck {
  kernel: string;
  /** R, T, WG, U as the benchmark names them. */
  config: string;
  checked: number;
  mismatches: number;
  /** Largest error relative to max(1e-6, |reference|). */
  maxRelErr: number;
  tolerance: number;
  pass: boolean;
}

export interface RooflinePoint {
  label: string;
  group: "ceiling" | "ternary GEMV" | "dense GEMV" | "decode kernel" | "decode step" | "Hadamard prologue";
  bytes: number;
  ms: number;
  GBps: number;
  ofCeiling: number;
  /** "PASS" / "FAIL" from the variant's or kernel's correctness check; "—" where no check applies (the copy). */
  check: string;
}

export interface KernelLabReport {
  tool: "BitNet Lab kernel lab";
  date: string;
  adapter: string;
  quick: boolean;
  bench: BenchReport;
  variants: VariantCheck[];
  roofline: RooflinePoint[];
  tokensPerSecond: {context: number; predicted: number; measuredGpu: number; measuredWall: number}[];
}

const cfgName = (c: {R: number; T: number; WG: number; U?: number}) =>
  `R=${c.R} T=${c.T} WG=${c.WG} U=${c.U || "auto"}`;

/** One GEMV configuration against a float64 reference on fresh random inputs (odd row count). Ternary must match the
 *  reference's fround(Σ W̃·q · γ/s) bit for bit; dense kernels within float32 summation error. */
export async function checkGemv(
  device: GPUDevice,
  kind: LinearKind,
  shape: {R: number; T: number; WG: number; U?: number},
  seed: number,
  N = 301,
  K = 2560,
): Promise<VariantCheck> {
  const S = await subgroupSize(device);
  const r = new Rng(seed);
  const cfg = {
    ...linearConfig(
      S,
      kind,
      "store",
      1,
      {decode: {R: shape.R, T: shape.T, WG: shape.WG, ...(shape.U ? {U: shape.U} : {})}},
      256,
      K,
    ),
    R: shape.R,
  };
  const y = await (async () => {
    const buffers: GPUBuffer[] = [];
    const keep = <B extends GPUBuffer>(b: B) => (buffers.push(b), b);
    try {
      const Y = keep(storageBuffer(device, N * 4));
      let binds: GPUBuffer[];
      let ref: Float64Array;
      if (kind === "ternary") {
        const codes = Int8Array.from({length: N * K}, () => Math.floor(r.uniform() * 3) - 1);
        const xq = Int8Array.from({length: K}, () => Math.floor(r.uniform() * 255) - 127);
        const gamma = Float64Array.from({length: N}, () => 0.01 + r.uniform() * 0.05);
        const s = Math.fround(127 / (1 + r.uniform()));
        let sx = 0;
        for (const v of xq) sx += v;
        const f32 = new Float32Array([s]);
        binds = [
          keep(uniformBuffer(device, linearParams("ternary", N, K, 1, N))),
          keep(
            storageBuffer(
              device,
              packTernaryGPU(N, K, (i) => codes.subarray(i * K, (i + 1) * K)),
            ),
          ),
          keep(storageBuffer(device, packActI8(xq, 1, K))),
          keep(storageBuffer(device, new Uint32Array([new Uint32Array(f32.buffer)[0], sx >>> 0, 0, 0]))),
          keep(storageBuffer(device, gammaPairs(gamma))),
          Y,
        ];
        ref = new Float64Array(N);
        for (let o = 0; o < N; o++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += codes[o * K + k] * xq[k];
          ref[o] = Math.fround(acc * (gamma[o] / s));
        }
      } else {
        const w = Float32Array.from({length: N * K}, () => (r.uniform() - 0.5) * 0.2);
        const x = Float32Array.from({length: K}, () => r.uniform() - 0.5);
        const stored = kind === "f16" ? w.map((v) => f16BitsToF32(f32ToF16Bits(v))) : w; // what the kernel reads
        const W =
          kind === "f16"
            ? packF16(N, K, (i) => w.subarray(i * K, (i + 1) * K))
            : packF32(N, K, (i) => w.subarray(i * K, (i + 1) * K));
        const X = new Float32Array(actVec4s(kind, K) * 4);
        X.set(x);
        binds = [
          keep(uniformBuffer(device, linearParams(kind, N, K, 1, N))),
          keep(storageBuffer(device, W)),
          keep(storageBuffer(device, X)),
          Y,
        ];
        ref = new Float64Array(N);
        for (let o = 0; o < N; o++) for (let k = 0; k < K; k++) ref[o] += stored[o * K + k] * x[k];
      }
      const pl = await pipelineChecked(device, linearWGSL(cfg), `lab-${kind}`);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pl);
      pass.setBindGroup(0, bindGroup(device, pl, binds));
      const [gx, gy] = linearGrid(cfg, N, 1);
      pass.dispatchWorkgroups(gx, gy);
      pass.end();
      device.queue.submit([enc.finish()]);
      return {got: new Float32Array(await readBuffer(device, Y, N * 4)), ref};
    } finally {
      for (const b of buffers) b.destroy();
    }
  })();
  const tolerance = kind === "ternary" ? 0 : 1e-4;
  let mismatches = 0;
  let maxRelErr = 0;
  for (let o = 0; o < N; o++) {
    const e = Math.abs(y.got[o] - y.ref[o]) / Math.max(1e-6, Math.abs(y.ref[o]));
    if (!(e <= maxRelErr)) maxRelErr = Number.isNaN(e) ? Infinity : e;
    if (
      kind === "ternary"
        ? y.got[o] !== y.ref[o]
        : !(Math.abs(y.got[o] - y.ref[o]) <= tolerance * Math.max(1, Math.abs(y.ref[o])))
    )
      mismatches++;
  }
  return {
    kernel: `${kind === "ternary" ? "ternary (2-bit × INT8)" : `dense ${kind}`} GEMV`,
    config: cfgName(shape),
    checked: N,
    mismatches,
    maxRelErr,
    tolerance,
    pass: mismatches === 0,
  };
}

/** Bytes each kind of decode dispatch moves at `context` (weights, KV cache, logits), from the benchmark's shape. */
function decodeKindBytes(b: BenchReport, context: number): Record<string, number> {
  const s = b.shape;
  return {
    "ternary linears (fused: with their prologue)": b.linear.bytesPerToken,
    "LM head": s.vocab * s.hidden * 2, // f16 rows
    "attention (decode: with RoPE + KV write)": 2 * s.layers * s.kvHeads * s.headDim * context * 2, // f16 K and V
    argmax: s.vocab * 4,
    embed: s.hidden * 2,
  };
}

export function rooflinePoints(b: BenchReport, variants: VariantCheck[]): RooflinePoint[] {
  const ceil = b.copy.GBps;
  const pt = (
    label: string,
    group: RooflinePoint["group"],
    bytes: number,
    ms: number,
    check: string,
  ): RooflinePoint => ({
    label,
    group,
    bytes,
    ms,
    GBps: bytes / (ms * 1e6),
    ofCeiling: bytes / (ms * 1e6) / ceil,
    check,
  });
  const verdict = (kernel: string, config: string) => {
    const v = variants.find((x) => x.kernel.startsWith(kernel) && x.config === config);
    return v ? (v.pass ? "PASS" : "FAIL") : "not checked";
  };
  const selfOk = (re: RegExp) => {
    const c = b.selfcheck.filter((x) => re.test(x.name));
    return c.length ? (c.every((x) => x.mismatches === 0) ? "PASS" : "FAIL") : "not checked";
  };
  const out: RooflinePoint[] = [
    pt(`copy (${(b.copy.bytes / 2 ** 20).toFixed(0)} MiB read + write)`, "ceiling", 2 * b.copy.bytes, b.copy.ms, "—"),
  ];
  for (const s of b.linear.sweep)
    out.push(
      pt(
        `ternary stack ${cfgName(s.config)}`,
        "ternary GEMV",
        b.linear.bytesPerToken,
        s.msPerToken,
        verdict("ternary", cfgName(s.config)),
      ),
    );
  out.push(
    pt(
      "ternary stack, best, one pass per dispatch",
      "ternary GEMV",
      b.linear.bytesPerToken,
      b.linear.passPerDispatch.msPerToken,
      verdict("ternary", cfgName(b.linear.best.config)),
    ),
  );
  out.push(
    pt(
      "ternary stack, best, no barriers (upper bound)",
      "ternary GEMV",
      b.linear.bytesPerToken,
      b.linear.independent.msPerToken,
      verdict("ternary", cfgName(b.linear.best.config)),
    ),
  );
  for (const k of ["f32", "f16"] as const)
    out.push(
      pt(
        `dense ${k} stack (best of its shapes)`,
        "dense GEMV",
        b.dense[k].GBps * b.dense[k].msPerToken * 1e6,
        b.dense[k].msPerToken,
        variants.some((v) => v.kernel === `dense ${k} GEMV`)
          ? variants.filter((v) => v.kernel === `dense ${k} GEMV`).every((v) => v.pass)
            ? "PASS"
            : "FAIL"
          : "not checked",
      ),
    );
  for (const h of b.hadamard)
    out.push(
      pt(
        `norm + Hadamard + quant prologue, n = ${h.n}`,
        "Hadamard prologue",
        h.n * 4 + 16 * Math.ceil(h.n / 64) * 4,
        h.prologueHadamardMs,
        selfOk(/hadamard|Hadamard/),
      ),
    );
  if (b.e2e) {
    const ctx = b.e2e.decode[Math.min(1, b.e2e.decode.length - 1)].context;
    const kb = decodeKindBytes(b, ctx);
    for (const k of b.e2e.breakdown)
      if (kb[k.kind] !== undefined)
        out.push(
          pt(
            `${k.kind} @${ctx} (${k.dispatches} dispatches)`,
            "decode kernel",
            kb[k.kind],
            k.ms,
            k.kind.startsWith("ternary") ? verdict("ternary", cfgName(b.linear.best.config)) : selfOk(/./),
          ),
        );
    const total = Object.values(kb).reduce((a, x) => a + x, 0);
    const d = b.e2e.decode.find((x) => x.context === ctx)!;
    const gpuCheck = b.check.length
      ? b.check.every((c) => c.greedyAgree === c.steps)
        ? "PASS"
        : "FAIL"
      : "not checked";
    out.push(pt(`whole decode step @${ctx}`, "decode step", total, d.gpuMsPerToken, gpuCheck));
  }
  return out;
}

/** The decode step with prologues from the producers' norm statistics (issue 25: residual adds and the GLU write
 *  per-workgroup Σx², max |γ·x| and candidates; the consuming GEMV derives the RMSNorm scale and the INT8 step) against
 *  the step with every prologue its own whole-vector kernel: logits equal bit for bit on a small random b1.58 model
 *  with odd widths (hidden 136, FFN 200). */
export async function checkNormStats(device: GPUDevice, seed = 7): Promise<VariantCheck> {
  const cfg = defaultConfig("b1.58", {
    vocab_size: 300,
    hidden_size: 136,
    intermediate_size: 200,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 64,
  });
  const w = randomWeights(cfg, seed);
  const plain = await createWebGPUSession(w, {device, fuse: false});
  const stats = await createWebGPUSession(w, {device, fuse: ["down"], normStats: true});
  let checked = 0;
  let mismatches = 0;
  let maxRelErr = 0;
  try {
    const prompt = [1, 9, 33, 70, 120];
    await plain.append(prompt);
    await stats.append(prompt);
    for (const tok of [5, 150, 299, 42]) {
      const a = await plain.append([tok]);
      const b = await stats.append([tok]);
      for (let i = 0; i < a.length; i++) {
        checked++;
        if (a[i] !== b[i]) mismatches++;
        maxRelErr = Math.max(maxRelErr, Math.abs(a[i] - b[i]) / Math.max(1e-6, Math.abs(a[i])));
      }
    }
  } finally {
    plain.dispose();
    stats.dispose();
  }
  return {
    kernel: "decode step, prologues from norm statistics",
    config: "vs unfused, bit for bit",
    checked,
    mismatches,
    maxRelErr,
    tolerance: 0,
    pass: mismatches === 0,
  };
}

/** Runs everything on the page's device. `quick`: the benchmark's shrunk shapes (software adapters, phones). */
export async function runKernelLab(
  ctx: GpuContext,
  opts: {quick: boolean; log?: (line: string) => void},
): Promise<KernelLabReport> {
  const log = opts.log ?? (() => {});
  const bench = await runGpuBenchmark(ctx, {quick: opts.quick, log});
  log("correctness of every GEMV variant against the CPU reference…");
  const variants: VariantCheck[] = [];
  for (const [i, s] of bench.linear.sweep.entries()) {
    if (variants.some((v) => v.config === cfgName(s.config))) continue;
    variants.push(
      await checkGemv(ctx.device, "ternary", {R: s.config.R, T: s.config.T, WG: s.config.WG, U: s.config.U}, 100 + i),
    );
  }
  const S = bench.device.subgroupSize;
  const TS = S && S <= 32 ? S : 8;
  for (const kind of ["f32", "f16"] as const)
    variants.push(await checkGemv(ctx.device, kind, {R: 4, T: TS, WG: 256, U: 1}, 200));
  variants.push(await checkNormStats(ctx.device));
  for (const v of variants)
    log(
      `${v.kernel} ${v.config}: ${v.mismatches}/${v.checked} differ (max rel. error ${v.maxRelErr.toExponential(1)})`,
    );
  const cfg = model2B4T("b1.58", opts.quick);
  const shape = shapeFromConfig(cfg, "lab", bench.shape.name);
  const tokensPerSecond = (bench.e2e?.decode ?? []).map((d) => ({
    context: d.context,
    predicted: decodeStep(shape, precision("b1.58"), {bandwidthGBps: bench.copy.GBps, context: d.context})
      .tokensPerSecond,
    measuredGpu: d.gpuTokensPerSec,
    measuredWall: d.wallTokensPerSec,
  }));
  return {
    tool: "BitNet Lab kernel lab",
    date: new Date().toISOString(),
    adapter: ctx.description,
    quick: opts.quick,
    bench,
    variants,
    roofline: rooflinePoints(bench, variants),
    tokensPerSecond,
  };
}
