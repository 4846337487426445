// What a one-layer chapter view (activations, Hadamard, ternary) costs to inspect on the GPU: bytes copied back and
// time, reading every layer (before: what liveTrace did) against reading only the layer on show (after), and switching
// the layer selector: rerunning the pass for that layer against reading it from the kept pass. Engine inspection +
// inspectKV + traceFromInspection, as the page does. A benchmark that prints numbers, not a test.
//
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json nice npx tsx bench/inspect-bytes.ts [model] [--runs 5]
import {createWebGPUSession} from "../src/gpu/engine.js";
import {traceFromInspection} from "../src/lib/chapters/gpu-trace.js";
import {textCodec} from "../src/node/runtime.js";
import {readModelDir} from "../src/node/modeldir.js";
import {testDevice} from "../test/gpu/harness.js";

const args = process.argv.slice(2);
const ri = args.indexOf("--runs");
const runs = ri >= 0 ? Number(args.splice(ri, 2)[1]) : 5;
const name = args[0] ?? "b1.58";
const md = await readModelDir(`data/models/${name}`);
const w = md.weights;
const ids = textCodec(md.tokenizer, w.config).encode("Tonight I report to you on the state of our Union.");
const L = w.config.num_hidden_layers;
const device = await testDevice();
const s = await createWebGPUSession(w, {device, inspect: true, maxBlock: Math.max(64, ids.length)});

type Row = {bytes: number; ms: number};
async function measure(f: () => Promise<void>): Promise<Row> {
  const b0 = s.inspectionBytesRead;
  const t0 = performance.now();
  await f();
  return {bytes: s.inspectionBytesRead - b0, ms: performance.now() - t0};
}
const kvOf = async <T extends {layer: number}>(layers: readonly T[]) => {
  const out = [];
  for (const l of layers) out.push({...l, kv: await s.inspectKV(l.layer, 0, ids.length)});
  return out;
};
async function pass(opts: {layers?: number[]; keep?: boolean}): Promise<void> {
  s.reset();
  await s.append(ids, {inspect: opts});
  const ins = s.lastInspection!;
  traceFromInspection({...ins, layers: await kvOf(ins.layers)}, w.config, w);
}

const cases: [string, () => Promise<void>][] = [
  ["every layer (before)", () => pass({})],
  ["the layer on show (after)", () => pass({layers: [1], keep: true})],
  ["switch layer: rerun the pass for it", () => pass({layers: [2]})],
  [
    "switch layer: read it from the kept pass",
    async () => {
      const ins = await s.readInspection([2]);
      traceFromInspection({...ins, layers: await kvOf(ins.layers)}, w.config, w);
    },
  ],
];
await pass({}); // warm-up: compile
console.log(
  `${name}: ${L} layers, ${ids.length} tokens, ${runs} runs each (median), Dawn on ${process.env.VK_ICD_FILENAMES?.includes("swiftshader") ? "SwiftShader" : "the Vulkan driver"}`,
);
for (const [label, f] of cases) {
  const rows: Row[] = [];
  for (let r = 0; r < runs; r++) {
    if (label.includes("kept")) await pass({layers: [1], keep: true}); // the kept pass the switch reads from
    rows.push(await measure(f));
  }
  rows.sort((a, b) => a.ms - b.ms);
  const m = rows[Math.floor(rows.length / 2)];
  console.log(
    `${label.padEnd(42)} ${String(m.bytes).padStart(9)} bytes copied back  ${m.ms.toFixed(1).padStart(8)} ms`,
  );
}
s.dispose();
device.destroy();
