// Accelerator entry (bundled by ../shared/gpu/prepare.sh bench/open-2b4t.ts): a full-size random BitNet b1.58
// 2B4T checkpoint goes through the files path a user's download would take, then the WebGPU engine runs it.
//   1. test/gpu/stream-checkpoint.ts writes it as a sharded HF packed folder (2 shards + index, 1.2 GB), one
//      tensor at a time;
//   2. src/node/files.ts + src/lib/formats/open.ts open it (headers validated, conventions decided) and load it
//      tensor by tensor through file handles, recording peak RSS;
//   3. the engine (src/gpu/engine.ts) uploads it and decodes at contexts 128/512/2048 (wall-clock chained decode,
//      and GPU time per token), next to the synthetic-weights session of the same shape in the same run.
//   on the GPU host: source .gpu/on-device.sh && node .gpu/open-2b4t.mjs [--dir /tmp/2b4t] > result.json
import {rmSync} from "node:fs";
import {acquireGpu} from "../src/gpu/device.js";
import {model2B4T} from "../src/gpu/measure/bench-stack.js";
import {createSyntheticSession, createWebGPUSession} from "../src/gpu/engine.js";
import type {WebGPUSession} from "../src/gpu/engine.js";
import {timeDispatches} from "../src/gpu/measure/timing.js";
import {openModelPath} from "../src/node/files.js";
import {writeRandomCheckpoint} from "../test/gpu/stream-checkpoint.js";

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const dir = arg("dir", "/tmp/bitnet-2b4t-random");
const contexts = arg("contexts", "128,512,2048").split(",").map(Number);
const steps = Number(arg("steps", "48"));
const log = (s: string) => console.error(`open-2b4t: ${s}`);
const rssGiB = () => process.memoryUsage().rss / 2 ** 30;
const peakGiB = () => process.resourceUsage().maxRSS / 2 ** 20; // maxRSS is in KiB

const config = model2B4T("b1.58", process.argv.includes("--quick"));
const result: Record<string, unknown> = {
  command: `node ${process.argv.slice(1).join(" ")}`,
  config: {
    hidden: config.hidden_size,
    ffn: config.intermediate_size,
    layers: config.num_hidden_layers,
    heads: config.num_attention_heads,
    kvHeads: config.num_key_value_heads,
    vocab: config.vocab_size,
  },
};

let t = performance.now();
rmSync(dir, {recursive: true, force: true});
const bytes = writeRandomCheckpoint(dir, config, {seed: 2024, shards: 2});
result.write = {bytes, seconds: (performance.now() - t) / 1000, peakRssGiB: peakGiB()};
log(
  `wrote ${(bytes / 2 ** 30).toFixed(2)} GiB in ${((performance.now() - t) / 1000).toFixed(1)} s, peak RSS ${peakGiB().toFixed(2)} GiB`,
);

t = performance.now();
const opened = await openModelPath(dir);
const ins = opened.inspection;
result.inspection = {
  format: ins.format,
  files: ins.files,
  scale: ins.scale && {value: ins.scale.value, how: ins.scale.how, evidence: ins.scale.evidence},
  rope: ins.rope.value,
  bitsPerWeight: ins.bitsPerWeight,
  parameters: ins.parameters,
  gpuBytesAt2048: ins.gpuBytes(2048),
  warnings: ins.warnings,
};
log(
  `opened ${ins.format} in ${((performance.now() - t) / 1000).toFixed(2)} s: ${ins.parameters.total} parameters, ${ins.bitsPerWeight.projections.toFixed(3)} bits/weight in projections; scale ${ins.scale?.value} (${ins.scale?.how})`,
);
let maxDuring = 0;
t = performance.now();
const weights = await opened.load((i) => {
  if (i % 20 === 0) maxDuring = Math.max(maxDuring, rssGiB());
});
result.load = {
  seconds: (performance.now() - t) / 1000,
  rssAfterGiB: rssGiB(),
  peakRssGiB: peakGiB(),
  fileGiB: bytes / 2 ** 30,
};
log(
  `loaded in ${((performance.now() - t) / 1000).toFixed(1)} s; RSS ${rssGiB().toFixed(2)} GiB, peak ${peakGiB().toFixed(2)} GiB`,
);

const gpu = await acquireGpu({dawnFlags: ["disable-dawn-features=timestamp_quantization"]});
result.device = gpu.description;
// f32 embedding/head rows: with lmHead "f16" the engine converts 328M values through src/gpu/kernels/linear.ts f32ToF16Bits,
// which allocates two typed arrays per value — the first device run spent its whole 240 s budget there.
const opts = {
  gpu,
  lmHead: "f32" as const,
  kv16: "f32" as const,
  maxBlock: 512,
  maxLength: config.max_position_embeddings,
};
t = performance.now();
const session = await createWebGPUSession(weights, opts);
result.upload = {seconds: (performance.now() - t) / 1000, peakRssGiB: peakGiB()};
log(`uploaded in ${((performance.now() - t) / 1000).toFixed(1)} s, peak RSS ${peakGiB().toFixed(2)} GiB`);

async function measure(s: WebGPUSession, label: string) {
  const rows: {context: number; wallTokensPerSec: number; gpuMsPerToken: number; gpuTokensPerSec: number}[] = [];
  for (const c of contexts) {
    s.setLengthForBenchmark(c - 1);
    const g = await timeDispatches(gpu.device, s.decodeDispatches({layers: true, head: true, argmax: true}), {
      reps: 10,
      warmupMs: 150,
      targetMs: 15,
    });
    s.setLengthForBenchmark(c - 1);
    await s.decodeChain(1, 2);
    s.setLengthForBenchmark(c - 1);
    const w0 = performance.now();
    await s.decodeChain(1, steps);
    const wall = (performance.now() - w0) / steps;
    rows.push({context: c, wallTokensPerSec: 1000 / wall, gpuMsPerToken: g.ms, gpuTokensPerSec: 1000 / g.ms});
    log(`${label} @${c}: wall ${(1000 / wall).toFixed(0)} tok/s, GPU ${g.ms.toFixed(3)} ms/token`);
  }
  return rows;
}
result.decode = await measure(session, "loaded");
// greedy and sampled generation through the real prompt path (prefill + chained decode)
session.reset();
t = performance.now();
const V = config.vocab_size;
const prompt = [Math.min(128000, V - 1), 791 % V, 1917 % V, 315 % V];
const greedy = await session.generateOnGpu(prompt, 32);
result.generate = {greedy: greedy.slice(0, 16), greedyTokensPerSec: 32 / ((performance.now() - t) / 1000)};
log(
  `generate greedy: ${(result.generate as {greedyTokensPerSec: number}).greedyTokensPerSec.toFixed(0)} tok/s (prefill + 32 tokens)`,
);
session.reset();
t = performance.now();
const sampled = await session.generateOnGpu(prompt, 32, {temperature: 0.8, topK: 40, topP: 0.95, seed: 1});
(result.generate as Record<string, unknown>).sampled = sampled.slice(0, 16);
(result.generate as Record<string, unknown>).sampledTokensPerSec = 32 / ((performance.now() - t) / 1000);
log(`generate sampled: ${(32 / ((performance.now() - t) / 1000)).toFixed(0)} tok/s`);
session.dispose();

const synth = await createSyntheticSession(config, 11, opts);
result.synthetic = await measure(synth, "synthetic");
synth.dispose();
console.log(JSON.stringify(result, null, 2));
gpu.device.destroy();
rmSync(dir, {recursive: true, force: true});
process.exit(0);
