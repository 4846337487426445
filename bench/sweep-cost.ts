// What one more setting of the sparsity chapter's sweeps costs on the GPU, on the page's model (the shipped a4.8) and
// 24 tokens: (1) a runtime top-K (WebGPUSession.setTopKRatio: the W_o prologue reads K from the step uniform) against
// (2) a session per K on the shared device, whose only new kernels are the W_o prologue compiled for that K (prefill
// with inspection, and decode) — timed here by compiling exactly those; and for KV bits (compiled into the attention
// kernels) a new session per format on the shared device against reusing it. A benchmark that prints numbers.
//
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json nice npx tsx bench/sweep-cost.ts [--runs 3]
import {createSweepRunner, createWebGPUSession, makePlan} from "../src/gpu/engine.js";
import {pipelineChecked} from "../src/gpu/gpu.js";
import {normQuantWGSL, type NormQuantConfig} from "../src/gpu/kernels/normquant.js";
import {subgroupSize} from "../src/gpu/engine/tune.js";
import {forwardFull} from "../src/lib/model.js";
import {textCodec} from "../src/node/runtime.js";
import {readModelDir} from "../src/node/modeldir.js";
import {testDevice} from "../test/gpu/harness.js";

const args = process.argv.slice(2);
const ri = args.indexOf("--runs");
const runs = ri >= 0 ? Number(args.splice(ri, 2)[1]) : 3;
const md = await readModelDir("data/models/a4.8");
const w = md.weights;
const ids = textCodec(md.tokenizer, w.config).encode("The budget I send you today is balanced.").slice(0, 24);
const device = await testDevice();
const ms = async (f: () => Promise<unknown>) => {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
};
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const line = (label: string, v: number) => console.log(`${label.padEnd(72)} ${v.toFixed(0).padStart(8)} ms`);

console.log(
  `a4.8 (shipped), ${ids.length} tokens, Dawn on ${process.env.VK_ICD_FILENAMES?.includes("swiftshader") ? "SwiftShader" : "the Vulkan driver"}; medians of ${runs}`,
);
line(
  "cold: the page's inspection session (every kernel compiled)",
  await ms(() => createWebGPUSession(w, {device, inspect: true, maxBlock: 64}).then((s) => s.dispose())),
);
const runner = createSweepRunner(w, {device, maxTokens: ids.length});
line(
  "sweep runner, first setting (its session; pipelines already compiled)",
  await ms(() => runner.run(ids, {bitnet_topk_ratio: 1})),
);

// (1) runtime K: a new K is one pass
const ks = [0.1, 0.25, 0.75];
line(
  "(1) runtime K: one more K (setTopKRatio + the pass)",
  med(
    await Promise.all(
      [0].map(async () => {
        const t: number[] = [];
        for (let r = 0; r < runs; r++)
          for (const k of ks) t.push(await ms(() => runner.run(ids, {bitnet_topk_ratio: k + r * 1e-3})));
        return t;
      }),
    ).then((x) => x[0]),
  ),
);

// (2) compile-time K: the W_o prologue's two new pipelines per K (prefill with inspection, decode), plus the same pass
const P = makePlan(w.config, "f32");
const S = await subgroupSize(device);
const WG = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup);
const nq = (K: number, inspect: boolean): NormQuantConfig => ({
  n: P.H * P.d,
  src: "attn",
  H: P.H,
  d: P.d,
  norm: P.sites.o.subNorm,
  hadamard: false,
  topK: K,
  quant: "int8",
  inspect,
  sub: S,
  WG,
});
const compile: number[] = [];
for (let r = 0; r < runs; r++) {
  const K = 3 + r; // Ks no session has compiled
  compile.push(
    await ms(async () => {
      await pipelineChecked(device, normQuantWGSL(nq(K, true)), "nq_o prefill");
      await pipelineChecked(device, normQuantWGSL(nq(K, false)), "nq_o decode");
    }),
  );
}
line("(2) compile-time K: the two W_o prologue pipelines one more K compiles", med(compile));

// KV bits: a new format = a new session on the device (its attention kernels compile); again = the pass only
const kvNew: number[] = [];
const kvAgain: number[] = [];
for (const [bits, bos] of [
  [8, 4],
  [4, 0],
  [16, 0],
] as const) {
  kvNew.push(await ms(() => runner.run(ids, {bitnet_kv_bits: bits, bitnet_kv_bos_bits: bos})));
  kvAgain.push(await ms(() => runner.run(ids, {bitnet_kv_bits: bits, bitnet_kv_bos_bits: bos})));
}
line("KV bits: a new format (a session on the shared device, attention kernels compiled)", med(kvNew));
line("KV bits: the same format again (its session kept)", med(kvAgain));
line(
  "CPU reference: one setting (forwardFull, same tokens)",
  med(
    await Promise.all(
      [0, 1, 2].map(() => ms(async () => forwardFull({...w, config: {...w.config, bitnet_topk_ratio: 0.25}}, ids))),
    ),
  ),
);
runner.dispose();
device.destroy();
