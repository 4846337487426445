// Where the wall clock of chained decode goes (issue 25: wall within 15% of GPU time): per token, the CPU's encoding,
// queue.submit (Dawn records the backend's commands there), waiting for the GPU, and with timestamps the GPU's time per
// step and its idle gap between steps, at several contexts. The CPU side depends on the dispatch count, not on widths,
// so on SwiftShader a 2B4T-structured model (30 layers, GQA 4 per KV head, f16 KV and LM head) at narrow widths
// shows the CPU costs of the real step; `--full` uses 2B4T's widths (for a real GPU).
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx tsx bench/decode-wall.ts [--steps=24]
//     [--contexts=128,512,2048] [--fuse=o+down|true|down|false] [--ahead=8] [--rounds=1] [--full] [--json]
//     [--skip-validation]  (Dawn's skip_validation toggle: no per-command validation; on SwiftShader ~10% less encode)
import {acquireGpu} from "../src/gpu/device.js";
import {createSyntheticSession} from "../src/gpu/engine.js";
import {model2B4T} from "../src/gpu/measure/bench-stack.js";
import {measureDecodeWall, type DecodeWall} from "../src/gpu/measure/decode-wall.js";
import {timeDispatches} from "../src/gpu/measure/timing.js";
import {defaultConfig} from "../src/lib/config.js";
import type {Site} from "../src/lib/variant.js";

const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const full = process.argv.includes("--full");
const steps = Number(arg("steps") ?? 24);
const ahead = Number(arg("ahead") ?? 8);
const contexts = (arg("contexts") ?? "128,512,2048").split(",").map(Number);
const fuseArg = arg("fuse") ?? "o+down";
const fuse: boolean | Site[] = fuseArg === "true" ? true : fuseArg === "false" ? false : (fuseArg.split("+") as Site[]);
const maxPos = Math.max(...contexts) + 2 * steps + 8;

const skipValidation = process.argv.includes("--skip-validation");
const dawnFlags = ["disable-dawn-features=timestamp_quantization"];
if (skipValidation) dawnFlags.push("enable-dawn-features=skip_validation");
const ctx = await acquireGpu({dawnFlags});
const tb = performance.now();
(globalThis as {keep?: unknown}).keep = ctx; // Dawn's instance must outlive the device
const cfg = full
  ? model2B4T("b1.58", false, maxPos)
  : defaultConfig("b1.58", {
      vocab_size: 300,
      hidden_size: 128,
      intermediate_size: 160,
      num_hidden_layers: 30,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      max_position_embeddings: maxPos,
      bitnet_kv_bits: 16,
      bitnet_kv_bos_bits: 0,
    });
const s = await createSyntheticSession(cfg, 11, {
  gpu: ctx,
  lmHead: "f16",
  kv16: "f16",
  maxBlock: 1,
  maxLength: maxPos,
  tuning: {decode: {R: 4, T: 32, WG: 256, U: 1}},
  fuse,
});
console.error(
  `${ctx.description}; ${cfg.num_hidden_layers} layers, hidden ${cfg.hidden_size}, fuse ${fuseArg}${skipValidation ? ", skip_validation" : ""}; built in ${((performance.now() - tb) / 1000).toFixed(1)} s`,
);
const rounds = Number(arg("rounds") ?? 1);
const TM = full ? {warmupMs: 300, targetMs: 15, reps: 4, trials: 3} : {reps: 2, trials: 2};
const rows: (DecodeWall & {context: number; round: number; dispatches: number; gpuTimedMs: number})[] = [];
const t0 = performance.now();
const at = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
for (let round = 1; round <= rounds; round++)
  for (const c of contexts) {
    s.setLengthForBenchmark(c - 1);
    const list = s.decodeDispatches();
    const gpuTimed = await timeDispatches(ctx.device, list, TM);
    const w = await measureDecodeWall(s, c, {steps, ahead, trials: 2, warmupMs: full ? 100 : 0});
    console.error(`round ${round} @${c} done (${at()})`);
    rows.push({context: c, round, dispatches: list.length, gpuTimedMs: gpuTimed.ms, ...w});
  }
s.dispose();
if (process.argv.includes("--json"))
  console.log(JSON.stringify({device: ctx.description, fuse: fuseArg, skipValidation, rows}));
const f = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(3)).padStart(8);
console.log(
  `round   ctx  disp  GPU(timed)  wall(best)   over  wall(prof)   encode   submit     wait  GPU/step   (max)  GPU gap  enc(alone)   (ms per token)`,
);
for (const r of rows)
  console.log(
    `${String(r.round).padStart(5)} ${String(r.context).padStart(5)} ${String(r.dispatches).padStart(5)}  ${f(r.gpuTimedMs)}    ${f(r.msPerToken)} ${`${((100 * (r.msPerToken - r.gpuTimedMs)) / r.gpuTimedMs).toFixed(0)}%`.padStart(6)}    ${f(r.wallMs)} ${f(r.encodeMs)} ${f(r.submitMs)} ${f(r.waitMs)}  ${f(r.gpuMs)} ${f(r.gpuMaxMs)} ${f(r.gapMs)}    ${f(r.encodeOnlyMs)}`,
  );
ctx.device.destroy();
process.exit(0);
