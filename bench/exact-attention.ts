// The cost of exact attention (Plan.exactAttention, a4.8): per decode step and per prefill, the attention path of one
// layer — RoPE + KV write, split attention, and the W_o prologue that combines the partials (RMSNorm, top-K 50%,
// INT8) — with the fast f32 kernels and with the float-float ones, same inputs, same run (the fast path is the
// baseline; the two alternate, three rounds, minimum of each). Prints a table; --json for machine-readable output.
//   npx tsx bench/exact-attention.ts [--json] [--reps N]
//   (without a GPU, VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json: SwiftShader)
import {attentionWGSL} from "../src/gpu/kernels/attention.js";
import {attnPartStride, hiLoTable, kvCacheBuffers, type KVFormat} from "../src/gpu/kernels/kv-cache.js";
import {ropeKVWGSL} from "../src/gpu/kernels/rope-kv.js";
import {acquireGpu} from "../src/gpu/device.js";
import {bindGroup, pipelineChecked, storageBuffer, uniformBuffer} from "../src/gpu/gpu.js";
import {normQuantBindings, normQuantWGSL, type NormQuantConfig} from "../src/gpu/kernels/normquant.js";

const json = process.argv.includes("--json");
const ri = process.argv.indexOf("--reps");
const reps = ri > 0 ? Number(process.argv[ri + 1]) : 0;

const ctx = await acquireGpu();
const device = ctx.device;
const soft = /swiftshader/i.test(ctx.description);
const kv: KVFormat = {bits: 3, bosBits: 4, store16: "f32"};
// a4.8 as shipped (4/2 heads of 64), and 2B4T's attention shape (20/5 heads of 128) on a real GPU
const shapes = soft
  ? [{name: "a4.8 shipped", H: 4, KV: 2, d: 64, contexts: [64, 256]}]
  : [
      {name: "a4.8 shipped", H: 4, KV: 2, d: 64, contexts: [256]},
      {name: "2B4T heads", H: 20, KV: 5, d: 128, contexts: [512, 2048]},
    ];

interface Row {
  shape: string;
  context: number;
  mode: "decode" | "prefill";
  tokens: number;
  fastMs: number;
  exactMs: number;
  ratio: number;
}
const rows: Row[] = [];

async function build(H: number, KV: number, d: number, S: number, exact: boolean) {
  const qkvN = (H + 2 * KV) * d;
  const half = d / 2;
  const cos = new Float64Array(S * half);
  const sin = new Float64Array(S * half);
  for (let i = 0; i < half; i++)
    for (let p = 0; p < S; p++) {
      cos[p * half + i] = Math.cos(p / Math.pow(10000, (2 * i) / d));
      sin[p * half + i] = Math.sin(p / Math.pow(10000, (2 * i) / d));
    }
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 4;
  const qkv = storageBuffer(device, Float32Array.from({length: S * qkvN}, rnd));
  const {K, V, Km, Vm} = kvCacheBuffers(kv, d, KV, S, (bytes) => storageBuffer(device, bytes));
  const n = H * d;
  const nq: NormQuantConfig = {
    n,
    src: "attn",
    H,
    d,
    attnFF: exact,
    norm: true,
    hadamard: false,
    topK: n / 2,
    quant: "int8",
    inspect: false,
    sub: 0,
    WG: 64,
  };
  const [rope, attn, comb] = await Promise.all([
    pipelineChecked(device, ropeKVWGSL({H, KV, d, kv, WG: 128, exact}), "rope"),
    pipelineChecked(device, attentionWGSL({H, KV, d, kv, exact}), "attn"),
    pipelineChecked(device, normQuantWGSL(nq), "combine"),
  ]);
  const tabs = [storageBuffer(device, hiLoTable(cos)), storageBuffer(device, hiLoTable(sin))];
  const stride = attnPartStride(d, exact);
  const part = storageBuffer(device, S * H * 8 * stride * 4);
  const out = storageBuffer(device, S * n * 4);
  const xmeta = storageBuffer(device, S * 8);
  const normW = storageBuffer(device, new Float32Array(n).fill(1));
  const eps = new Uint32Array(new Float32Array([1e-5, 1e-5 - Math.fround(1e-5)]).buffer);
  const nqP = uniformBuffer(device, new Uint32Array([0, n / 4, eps[0], eps[1]]));
  const ropeP = uniformBuffer(device, new Uint32Array([qkvN, 0, 0, 0]));
  const attnP = uniformBuffer(
    device,
    new Uint32Array([qkvN, new Uint32Array(new Float32Array([1 / Math.sqrt(d)]).buffer)[0], 0, 0]),
  );
  /** One pass: M tokens at positions P … P+M−1, nC chunks of `chunk`. */
  return (M: number, P: number, nC: number, chunk: number) => {
    const st = uniformBuffer(device, new Uint32Array([M, P, nC, chunk, 0, 0, 0, 0]));
    const map: Record<string, GPUBuffer> = {P: nqP, src: part, normW, out, xmeta, st};
    const groups = [
      bindGroup(device, rope, [ropeP, qkv, tabs[0], tabs[1], K, V, Km, Vm, st]),
      bindGroup(device, attn, [attnP, qkv, K, V, Km, Vm, part, st]),
      bindGroup(
        device,
        comb,
        normQuantBindings(nq).map((b) => map[b]),
      ),
    ];
    return (pass: GPUComputePassEncoder) => {
      pass.setPipeline(rope);
      pass.setBindGroup(0, groups[0]);
      pass.dispatchWorkgroups(M);
      pass.setPipeline(attn);
      pass.setBindGroup(0, groups[1]);
      pass.dispatchWorkgroups(nC, KV, M);
      pass.setPipeline(comb);
      pass.setBindGroup(0, groups[2]);
      pass.dispatchWorkgroups(M);
    };
  };
}

/** Fast and exact alternately, three rounds, the minimum of each (a shared CPU makes SwiftShader timings noisy). */
async function pair(
  a: (pass: GPUComputePassEncoder) => void,
  b: (pass: GPUComputePassEncoder) => void,
  n: number,
): Promise<[number, number]> {
  let ta = Infinity;
  let tb = Infinity;
  for (let r = 0; r < 3; r++) {
    ta = Math.min(ta, await time(a, n));
    tb = Math.min(tb, await time(b, n));
  }
  return [ta, tb];
}

async function time(enc: (pass: GPUComputePassEncoder) => void, n: number): Promise<number> {
  const run = async (k: number) => {
    const e = device.createCommandEncoder();
    const pass = e.beginComputePass();
    for (let i = 0; i < k; i++) enc(pass);
    pass.end();
    device.queue.submit([e.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run(1); // warm-up
  const t0 = performance.now();
  await run(n);
  return (performance.now() - t0) / n;
}

for (const sh of shapes) {
  for (const S of sh.contexts) {
    const fast = await build(sh.H, sh.KV, sh.d, S, false);
    const exact = await build(sh.H, sh.KV, sh.d, S, true);
    // fill the cache: a prefill of all S positions (in 64-position chunks, at most 8 per token, as the engine does)
    const nCp = Math.min(Math.ceil(S / 64), 8);
    const chunkP = 64 * Math.ceil(Math.ceil(S / 64) / nCp);
    const pre = [fast(S, 0, nCp, chunkP), exact(S, 0, nCp, chunkP)];
    const nPre = reps || (soft ? 2 : 20);
    const [pf, pe] = await pair(pre[0], pre[1], nPre);
    rows.push({shape: sh.name, context: S, mode: "prefill", tokens: S, fastMs: pf, exactMs: pe, ratio: pe / pf});
    // decode: the last position over the whole cache, 64-position chunks
    const dec = [fast(1, S - 1, Math.ceil(S / 64), 64), exact(1, S - 1, Math.ceil(S / 64), 64)];
    const nDec = reps || (soft ? 10 : 200);
    const [df, de] = await pair(dec[0], dec[1], nDec);
    rows.push({shape: sh.name, context: S, mode: "decode", tokens: 1, fastMs: df, exactMs: de, ratio: de / df});
  }
}
if (json) console.log(JSON.stringify({device: ctx.description, kv, rows}, null, 2));
else {
  console.log(
    `exact vs fast attention path of one layer (RoPE+KV write, split attention, combine+RMSNorm+top-K+INT8), KV ${kv.bits}-bit (BOS ${kv.bosBits}), on ${ctx.description}; wall ms per pass`,
  );
  for (const r of rows)
    console.log(
      `${r.shape.padEnd(14)} ${r.mode.padEnd(8)} context ${String(r.context).padStart(5)}: fast ${r.fastMs.toFixed(3)} ms, exact ${r.exactMs.toFixed(3)} ms (×${r.ratio.toFixed(2)})`,
    );
}
device.destroy();
process.exit(0);
