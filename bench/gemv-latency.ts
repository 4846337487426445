// Why the ternary stack misses ≤ 0.40 ms (issue 25): a decode GEMV's time against its bytes. For each shape, L distinct
// weight matrices (together ≥ 4× the L2) run chained through one output buffer — every GEMV waits for the one
// before, as in a decode step — so each reads its weights from DRAM. A least-squares line t = a + bytes/B over the
// K = 2560 shapes splits a GEMV into a fixed part a (dispatch + one dependent chain of loads, reduction, epilogue)
// and a streaming part at B; 120·a + 525 MB/B is then the stack's floor with this kernel and one dispatch per GEMV.
//   bundle: esbuild bench/gemv-latency.ts (prepare.sh's flags); on the GPU host: node gemv-latency.mjs [--quick] > out.json
import {acquireGpu} from "../src/gpu/device.js";
import {gpuFill} from "../src/gpu/engine/gpu-fill.js";
import {subgroupSize} from "../src/gpu/engine/tune.js";
import {bindGroup, type Dispatch, pipelineChecked, storageBuffer, uniformBuffer} from "../src/gpu/gpu.js";
import {type LinearConfig, linearGrid, linearWGSL, rowVec4s} from "../src/gpu/kernels/linear.js";
import {copyDispatch} from "../src/gpu/measure/microbench.js";
import {timeDispatches} from "../src/gpu/measure/timing.js";

const quick = process.argv.includes("--quick");
const log = (s: string) => console.error(`gemv-latency: ${s}`);
const TM = quick ? {reps: 1} : {warmupMs: 150, targetMs: 15, reps: 4};
const ctx = await acquireGpu({dawnFlags: ["disable-dawn-features=timestamp_quantization"]});
(globalThis as {keep?: unknown}).keep = ctx;
const {device} = ctx;
const S = await subgroupSize(device);
const coldBytes = quick ? 4 << 20 : 256 << 20; // H100's L2 is 50 MB

// the copy ceiling in this process (read + write)
const copy = await (async () => {
  const bytes = quick ? 8 << 20 : 512 << 20;
  const cp = await copyDispatch(device, bytes);
  const t = await timeDispatches(device, [cp.dispatch], {...TM, reps: quick ? 2 : 20});
  for (const b of cp.buffers) b.destroy();
  return (2 * bytes) / (t.ms * 1e6);
})();
log(`copy ${copy.toFixed(0)} GB/s, subgroup ${S}`);

const shapes: {N: number; K: number}[] = quick
  ? [16, 64].map((N) => ({N, K: 256}))
  : [
      ...[32, 128, 512, 1280, 2560, 3840, 6912, 13824, 27648].map((N) => ({N, K: 2560})),
      ...[640, 2560].map((N) => ({N, K: 6912})),
    ];
const configs: {name: string; c: Omit<LinearConfig, "kind" | "epilogue" | "sub">}[] = [
  {name: "R4·T32·WG256·U1", c: {R: 4, T: 32, MT: 1, WG: 256, U: 1}},
  {name: "R2·T32·WG128·U2", c: {R: 2, T: 32, MT: 1, WG: 128, U: 2}},
];

const X = storageBuffer(device, 16 * Math.ceil(6912 / 64) * 4);
await gpuFill(device, X, 16 * Math.ceil(6912 / 64), 0, 99, 1);
const meta = storageBuffer(device, new Uint32Array([0x42fe0000, 0, 0, 0]));
const ws = storageBuffer(device, new Float32Array(2 * 27648).fill(0.02));
const Y = storageBuffer(device, 27648 * 4);

interface Row {
  config: string;
  /** "cold": L distinct matrices (DRAM); "hot": one matrix L times (L2-resident where it fits). */
  cache: "cold" | "hot";
  N: number;
  K: number;
  bytes: number;
  matrices: number;
  usPerGemv: number;
  gbps: number;
}
const rows: Row[] = [];
for (const {N, K} of shapes) {
  const bytes = rowVec4s("ternary", K) * 16 * N;
  const L = Math.max(8, Math.min(256, Math.ceil(coldBytes / bytes)));
  const W: GPUBuffer[] = [];
  for (let i = 0; i < L; i++) {
    const b = storageBuffer(device, bytes, `W${i}`);
    await gpuFill(device, b, bytes / 4, 0, 1000 + i * 7919, 1);
    W.push(b);
  }
  for (const {name, c} of configs) {
    const cfg: LinearConfig = {...c, kind: "ternary", epilogue: "store", sub: S && S % c.T === 0 ? S : 0};
    const pl = await pipelineChecked(device, linearWGSL(cfg), `gemv-${name}`);
    const P = uniformBuffer(device, new Uint32Array([N, rowVec4s("ternary", K), 1, 4 * Math.ceil(K / 64), N, 0, 0, 0]));
    const binds = W.map((w) => bindGroup(device, pl, [P, w, X, meta, ws, Y]));
    for (const cache of ["cold", "hot"] as const) {
      const list: Dispatch[] = binds.map((b) => ({
        pipeline: pl,
        bind: cache === "cold" ? b : binds[0],
        grid: linearGrid(cfg, N, 1),
      }));
      const ms = Math.min((await timeDispatches(device, list, TM)).ms, (await timeDispatches(device, list, TM)).ms);
      const us = (1000 * ms) / L;
      rows.push({config: name, cache, N, K, bytes, matrices: L, usPerGemv: us, gbps: bytes / (us * 1e3)});
      log(
        `${name} ${cache} ${N}×${K}: ${us.toFixed(2)} µs per GEMV (${(bytes / 1e6).toFixed(2)} MB, ${(bytes / (us * 1e3)).toFixed(0)} GB/s; ${cache === "cold" ? L : 1} matrices)`,
      );
    }
    P.destroy();
  }
  for (const b of W) b.destroy();
}

// t = a + bytes / B over the K = 2560 shapes, per config
const fits = configs.map(({name}) => {
  const pts = rows.filter((r) => r.config === name && r.cache === "cold" && r.K === (quick ? 256 : 2560));
  const n = pts.length;
  const mx = pts.reduce((s, r) => s + r.bytes, 0) / n;
  const my = pts.reduce((s, r) => s + r.usPerGemv, 0) / n;
  const sxy = pts.reduce((s, r) => s + (r.bytes - mx) * (r.usPerGemv - my), 0);
  const sxx = pts.reduce((s, r) => s + (r.bytes - mx) ** 2, 0);
  const slope = sxy / sxx; // µs per byte
  const a = my - slope * mx;
  const B = 1 / (slope * 1e3); // GB/s
  // the 2B4T stack: 120 GEMVs, 525 MB packed
  const stackFloor = (120 * a + 525.1e6 * slope) / 1000;
  log(
    `${name}: fixed ${a.toFixed(2)} µs per GEMV, streaming ${B.toFixed(0)} GB/s → 2B4T stack floor ${stackFloor.toFixed(3)} ms`,
  );
  return {config: name, fixedUs: a, streamGBps: B, stackFloorMs: stackFloor};
});
console.log(JSON.stringify({quick, device: ctx.description, copyGBps: copy, subgroup: S, rows, fits}, null, 1));
device.destroy();
process.exit(0);
