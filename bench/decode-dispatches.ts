// Dispatches per decode step and their kinds, per prologue placement, for 2B4T's structure (30 layers, GQA 4 per KV
// head, d = 128, f16 KV and LM head) at narrow widths so it runs anywhere (counts do not depend on widths once
// every fused kernel fits the device's workgroup memory, which fused-combine.test.ts checks at 2B4T's widths).
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx tsx bench/decode-dispatches.ts
import {acquireGpu} from "../src/gpu/device.js";
import {createSyntheticSession} from "../src/gpu/engine.js";
import type {WebGPUSessionOptions} from "../src/gpu/engine/types.js";
import {defaultConfig} from "../src/lib/config.js";

const ctx = await acquireGpu({});
(globalThis as {keep?: unknown}).keep = ctx; // Dawn's instance must outlive the device
const cfg = defaultConfig("b1.58", {
  vocab_size: 1000,
  hidden_size: 512,
  intermediate_size: 704,
  num_hidden_layers: 30,
  num_attention_heads: 4,
  num_key_value_heads: 1,
  max_position_embeddings: 600,
});
const variants: [string, Partial<WebGPUSessionOptions>][] = [
  ['fuse=["down"] (main\'s chosen)', {fuse: ["down"]}],
  ["fuse=true fuseCombine=false (main's fused everywhere)", {fuse: true, fuseCombine: false}],
  ["fuse=true", {fuse: true}],
  ["fuse=o+down", {fuse: ["o", "down"]}],
  ["normStats fuse=true", {fuse: true, normStats: true}],
];
for (const [name, opts] of variants) {
  const s = await createSyntheticSession(cfg, 11, {
    gpu: ctx,
    lmHead: "f16",
    kv16: "f16",
    maxBlock: 1,
    maxLength: 600,
    tuning: {decode: {R: 4, T: 32, WG: 256, U: 1}},
    ...opts,
  });
  s.setLengthForBenchmark(511);
  const d = s.decodeDispatches({layers: true, head: true, argmax: true});
  const kinds = new Map<string, number>();
  for (const x of d) {
    const k = x.tag.kind + (x.tag.site ? `:${x.tag.site}` : "");
    kinds.set(k, (kinds.get(k) ?? 0) + 1);
  }
  console.log(`${name}: ${d.length} — ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}`);
  s.dispose();
}
ctx.device.destroy();
process.exit(0);
