// The prefill linears of one 2B4T layer at M tokens (issue 25): linearWGSL's R × MT prefill kernel against the tiled
// GEMM of linear-gemm.ts, every candidate timed alone on each projection (QKV 3840×2560, O 2560×2560, gate|up
// 13824×2560 with the ReLU² GLU, down 2560×6912 with the residual add), printed as ms, T multiply-adds/s and the
// 30-layer stack's tokens/s bound; each candidate's outputs are compared bit for bit with linearWGSL R4 T8 MT8 WG128's
// (the default before the GEMM; the engine's default is GEMM n64m64, DEFAULT_PREFILL_GEMM).
//   here: npx tsx bench/prefill-gemm.ts --quick   (SwiftShader: small shapes, checks that it runs)
// Then the whole 2B4T prefill of M tokens with the engine's default (the GEMM), linearWGSL's kernel (gemm "none"),
// the best candidate and the best per projection (--no-e2e skips it).
//   bundle: ../shared/gpu/prepare.sh bench/prefill-gemm.ts; on the GPU host: node .gpu/prefill-gemm.mjs [--M=512] > out.json
import {acquireGpu} from "../src/gpu/device.js";
import {createSyntheticSession} from "../src/gpu/engine.js";
import {model2B4T} from "../src/gpu/measure/bench-stack.js";
import {DEFAULT_PREFILL_GEMM, subgroupSize, linearConfig, type LinearTuning} from "../src/gpu/engine/tune.js";
import {bindGroup, pipelineChecked, readF32, storageBuffer, uniformBuffer, type Dispatch} from "../src/gpu/gpu.js";
import {actVec4s, linearGrid, linearParams, linearWGSL, rowVec4s, type Epilogue} from "../src/gpu/kernels/linear.js";
import {
  GEMM_SHAPES,
  gemmGrid,
  gemmWGSL,
  gemmWorkgroupBytes,
  type GemmShapeName,
} from "../src/gpu/kernels/linear-gemm.js";
import {timeDispatches} from "../src/gpu/measure/timing.js";
import {Rng} from "../src/lib/rng.js";
import {prefillWallMs} from "./parts-common.js";

const quick = process.argv.includes("--quick");
const M = Number(process.argv.find((a) => a.startsWith("--M="))?.slice(4) ?? (quick ? 24 : 512));
const log = (s: string) => console.error(`prefill-gemm: ${s}`);
const [C, F] = quick ? [192, 320] : [2560, 6912];
const projections: {name: string; N: number; K: number; ep: Epilogue}[] = [
  {name: "qkv", N: quick ? 288 : 3840, K: C, ep: "store"},
  {name: "o", N: C, K: C, ep: "residual"},
  {name: "gate_up", N: 2 * F, K: C, ep: "glu-relu2"},
  {name: "down", N: C, K: F, ep: "residual"},
];
const layers = 30;

type Candidate = {name: string; old?: {R: number; T: number; MT: number; WG: number}; gemm?: GemmShapeName};
const candidates: Candidate[] = [
  {name: "R4 T8 MT8 WG128 (linearWGSL)", old: {R: 4, T: 8, MT: 8, WG: 128}},
  {name: "R4 T4 MT8 WG128", old: {R: 4, T: 4, MT: 8, WG: 128}},
  ...(Object.keys(GEMM_SHAPES) as GemmShapeName[]).map((gemm) => ({
    name: `GEMM ${gemm}${gemm === DEFAULT_PREFILL_GEMM ? " (default)" : ""}`,
    gemm,
  })),
];

const ctx = await acquireGpu({dawnFlags: ["disable-dawn-features=timestamp_quantization"]});
const {device} = ctx;
const S = await subgroupSize(device);
log(`${ctx.description}; M ${M}; workgroup memory limit ${device.limits.maxComputeWorkgroupStorageSize} B`);
const rng = new Rng(25);

/** Random packed ternary codes (2-bit c ∈ {0, 1, 2}: a code 3 becomes 1) and i8 activations, on the GPU. */
function inputs(N: number, K: number) {
  const w = new Uint32Array(N * rowVec4s("ternary", K) * 4);
  for (let i = 0; i < w.length; i++) {
    const u = rng.int(2 ** 32) >>> 0;
    w[i] = (u ^ (((u >>> 1) & u & 0x55555555) << 1)) >>> 0;
  }
  const xs = actVec4s("ternary", K) * 4;
  const x = new Uint32Array(M * xs);
  for (let m = 0; m < M; m++) for (let k = 0; k < Math.ceil(K / 4); k++) x[m * xs + k] = rng.int(2 ** 32) >>> 0;
  const meta = new Uint32Array(2 * M);
  const f = new Float32Array(1);
  for (let m = 0; m < M; m++) {
    f[0] = 1 / (0.001 + rng.uniform() * 0.01);
    meta[2 * m] = new Uint32Array(f.buffer)[0];
    meta[2 * m + 1] = rng.int(2001) - 1000; // Σx: any value (the check compares kernels, not a reference)
  }
  const gam = Float32Array.from({length: 2 * N}, (_, i) => (i < N ? 0.5 + rng.uniform() : 0));
  return {w, x, meta, gam};
}

const report: {device: string; M: number; rows: Record<string, unknown>[]} = {device: ctx.description, M, rows: []};
const total = new Map<string, number>();
for (const pr of projections) {
  const {N, K, ep} = pr;
  const outW = ep.startsWith("glu") ? N / 2 : N;
  const d = inputs(N, K);
  const bufs = [
    uniformBuffer(device, linearParams("ternary", N, K, M, outW)),
    storageBuffer(device, d.w),
    storageBuffer(device, d.x),
    storageBuffer(device, d.meta),
    storageBuffer(device, d.gam),
  ];
  const y0 = new Float32Array(M * outW).fill(0.25);
  const macs = N * K * M;
  let want: Float32Array | undefined;
  for (const c of candidates) {
    try {
      let code: string;
      let grid: [number, number];
      if (c.gemm) {
        const g = {...GEMM_SHAPES[c.gemm], epilogue: ep};
        if (gemmWorkgroupBytes(g) > device.limits.maxComputeWorkgroupStorageSize)
          throw new Error(`${gemmWorkgroupBytes(g)} B of workgroup memory over the device's limit`);
        code = gemmWGSL(g);
        grid = gemmGrid(g, N, M);
      } else {
        const cfg = linearConfig(S, "ternary", ep, M, {prefill: c.old}, 256, K);
        code = linearWGSL(cfg);
        grid = linearGrid(cfg, N, M);
      }
      const pl = await pipelineChecked(device, code, `${pr.name} ${c.name}`);
      const Y = storageBuffer(device, y0);
      const dsp: Dispatch = {pipeline: pl, bind: bindGroup(device, pl, [...bufs, Y]), grid};
      // one run from y0 for the bit check (residual epilogues accumulate over the timing repetitions)
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pl);
      pass.setBindGroup(0, dsp.bind);
      pass.dispatchWorkgroups(...grid);
      pass.end();
      device.queue.submit([enc.finish()]);
      const got = await readF32(device, Y, M * outW);
      let mismatches = 0;
      if (!want) want = got;
      else {
        const a = new Uint32Array(got.buffer);
        const b = new Uint32Array(want.buffer);
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) mismatches++;
      }
      const t = await timeDispatches(device, [dsp], quick ? {reps: 1} : {reps: 10, warmupMs: 150, targetMs: 20});
      Y.destroy();
      total.set(c.name, (total.get(c.name) ?? 0) + t.ms);
      const tmacs = macs / (t.ms * 1e9);
      report.rows.push({projection: pr.name, N, K, M, candidate: c.name, ms: t.ms, tmacs, mismatches});
      log(
        `${pr.name} ${N}×${K} M=${M} ${c.name}: ${t.ms.toFixed(4)} ms, ${tmacs.toPrecision(3)} TMAC/s, ${mismatches} bits differ from linearWGSL's`,
      );
    } catch (e) {
      total.set(c.name, Number.NaN);
      const msg = e instanceof Error ? e.message : String(e);
      report.rows.push({projection: pr.name, candidate: c.name, error: msg});
      log(`${pr.name} ${c.name}: ${msg}`);
    }
  }
  for (const b of bufs) b.destroy();
}
const perLayerMacs = projections.reduce((s, p) => s + p.N * p.K, 0) * M;
for (const [name, ms] of total) {
  const line = `layer total ${name}: ${ms.toFixed(4)} ms, ${(perLayerMacs / (ms * 1e9)).toPrecision(3)} TMAC/s; ${layers} layers ${(layers * ms).toFixed(2)} ms → linears alone ${((M * 1000) / (layers * ms)).toFixed(0)} tok/s`;
  log(line);
  report.rows.push({candidate: name, layerMs: ms, stackMs: layers * ms, tokensPerSec: (M * 1000) / (layers * ms)});
}

// the whole prefill of M tokens (2B4T shape, weights generated on the GPU, last-token argmax on the GPU): the default
// (the GEMM), linearWGSL's R × MT kernel, the best candidate over the four projections, and the best per projection
// (tuning.prefill.gemmAt; the projections where a linearWGSL shape won opt out with gemm "none")
if (!process.argv.includes("--no-e2e")) {
  const named = (n: string) => candidates.find((c) => c.name === n)!;
  const ranked = [...total].filter(([, ms]) => Number.isFinite(ms)).sort((a, b) => a[1] - b[1]);
  const perSite: Record<string, GemmShapeName> = {};
  const bestOld = ranked.map(([n]) => named(n)).find((c) => c.old);
  for (const pr of projections) {
    const rows = report.rows.filter((r) => r.projection === pr.name && typeof r.ms === "number");
    const best = rows.sort((a, b) => (a.ms as number) - (b.ms as number))[0];
    const c = best && named(best.candidate as string);
    if (c?.gemm) perSite[pr.name] = c.gemm;
  }
  const uniform = ranked.length ? named(ranked[0][0]) : undefined;
  const runs: {name: string; prefill?: LinearTuning["prefill"]}[] = [
    {name: `default (GEMM ${DEFAULT_PREFILL_GEMM})`},
    {name: "linearWGSL R4 T8 MT8 WG128 (gemm none)", prefill: {gemm: "none"}},
    ...(uniform
      ? [
          {
            name: `best over the layer: ${uniform.name}`,
            prefill: uniform.old ? {...uniform.old, gemm: "none" as const} : {gemm: uniform.gemm},
          },
        ]
      : []),
    {
      name: `best per projection: ${JSON.stringify(perSite)}`,
      prefill: {...bestOld?.old, gemm: "none", gemmAt: perSite},
    },
  ];
  const cfg = model2B4T("b1.58", quick, M + 1);
  const prompt = Array.from({length: M}, (_, i) => (i * 7919 + 13) % cfg.vocab_size);
  for (const r of runs) {
    try {
      const s = await createSyntheticSession(cfg, 11, {
        gpu: ctx,
        lmHead: "f16",
        kv16: "f16",
        maxBlock: M,
        maxLength: M + 1,
        tuning: r.prefill ? {prefill: r.prefill} : undefined,
      });
      const best = await prefillWallMs(s, prompt);
      s.dispose();
      report.rows.push({e2e: r.name, tokens: M, ms: best, tokensPerSec: (M * 1000) / best});
      log(
        `prefill ${M} (whole model, wall) ${r.name}: ${best.toFixed(1)} ms = ${((M * 1000) / best).toFixed(0)} tok/s`,
      );
    } catch (e) {
      log(`prefill ${r.name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
console.log(JSON.stringify(report, null, 1));
device.destroy();
process.exit(0);
