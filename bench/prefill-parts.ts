// Where a 2B4T prefill's time goes (issue 25): the whole prefill of M tokens (embedding … final norm, the last token's
// LM head and argmax: session.prefillDispatches, what append encodes) as one dispatch list, and each kind of dispatch
// alone (tag kind + BitLinear site: the ternary linears, attention over the M positions, the norm/quant prologues,
// RoPE + KV write, the embedding, the LM head), printed as "kind n× ms", plus tokens/s; then append's wall time for
// the same tokens (passes and submission included). Variants: the default (the tiled GEMM), linearWGSL's kernel
// (tuning.prefill.gemm "none"), the other GEMM tiles, v2. Decode's fuse options do not apply to prefill.
//   here: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx tsx bench/prefill-parts.ts --quick
//   bundle: ../shared/gpu/prepare.sh bench/prefill-parts.ts; on the GPU host: node .gpu/prefill-parts.mjs [--M=512]
//   [--only=a,b | --pick=NAME|NAME] > out.json (the log, on stderr, has the per-kind lines)
import {createSyntheticSession} from "../src/gpu/engine.js";
import {model2B4T} from "../src/gpu/measure/bench-stack.js";
import {timeDispatches} from "../src/gpu/measure/timing.js";
import type {WebGPUSessionOptions} from "../src/gpu/engine/types.js";
import {type KindTimes, kindsLine, partsDevice, prefillWallMs, timeKinds} from "./parts-common.js";

const quick = process.argv.includes("--quick");
const arg = (k: string) => process.argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
const M = Number(arg("M") ?? (quick ? 24 : 512));
if (!(Number.isInteger(M) && M >= 2)) throw new Error(`prefill-parts: --M=${arg("M")} is not an integer ≥ 2`);
const only = arg("only")?.split(",");
const pick = arg("pick")?.split("|"); // names may hold commas
const log = (s: string) => console.error(`prefill-parts: ${s}`);
// a whole prefill is tens of ms: few repetitions, but warm clocks and ≥ 50 ms per submission
const TM = quick ? {} : {warmupMs: 200, targetMs: 50};
const reps = quick ? 1 : 2;

interface Variant {
  name: string;
  opts: Partial<WebGPUSessionOptions>;
  variant?: "b1.58" | "v2";
}
const variants: Variant[] = (
  [
    {name: "default", opts: {}},
    {name: "gemm=none", opts: {tuning: {prefill: {gemm: "none"}}}},
    {name: "gemm=n128m64", opts: {tuning: {prefill: {gemm: "n128m64"}}}},
    {name: "gemm=n128m128", opts: {tuning: {prefill: {gemm: "n128m128"}}}},
    {name: "v2", opts: {}, variant: "v2"},
  ] as Variant[]
).filter(
  (v) =>
    (!only || only.some((o) => v.name.includes(o))) &&
    (!pick || pick.includes(v.name)) &&
    (!quick || only || pick || !v.name.startsWith("gemm=n1")), // --quick: the default, gemm=none and v2
);

const out: Record<string, unknown> = {quick, M, when: new Date().toISOString()};
const ctx = await partsDevice();
out.device = ctx.description;
const rows: Record<string, unknown>[] = [];
for (const v of variants) {
  try {
    const cfg = model2B4T(v.variant ?? "b1.58", quick, M + 1);
    const s = await createSyntheticSession(cfg, 11, {
      gpu: ctx,
      lmHead: "f16",
      kv16: "f16",
      maxBlock: M,
      maxLength: M + 1,
      ...v.opts,
    });
    const prompt = Array.from({length: M}, (_, i) => (i * 7919 + 13) % cfg.vocab_size);
    const full = s.prefillDispatches(prompt);
    const ms: number[] = [];
    for (let r = 0; r < 2; r++) ms.push((await timeDispatches(ctx.device, full, {...TM, reps})).ms);
    const kinds: KindTimes = await timeKinds(ctx.device, full, {...TM, reps: quick ? 1 : 4});
    const sum = Object.values(kinds).reduce((a, k) => a + k.ms, 0);
    // append's wall time (the engine's passes, uniform writes, submission and the sampled token's read-back)
    const wall = await prefillWallMs(s, prompt);
    s.dispose();
    const best = Math.min(...ms);
    const row = {variant: v.name, M, dispatches: full.length, ms, kinds, kindsSumMs: sum, appendWallMs: wall};
    rows.push({...row, tokensPerSec: (M * 1000) / best});
    log(
      `${v.name} M=${M}: ${ms.map((m) => m.toFixed(3)).join(" / ")} ms (${full.length} dispatches) = ${((M * 1000) / best).toFixed(0)} tok/s; kinds sum ${sum.toFixed(3)} ms; append wall ${wall.toFixed(3)} ms${kindsLine(kinds)}`,
    );
  } catch (e) {
    log(`${v.name}: failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    rows.push({variant: v.name, error: String(e).slice(0, 500)});
  }
}
out.rows = rows;
console.log(JSON.stringify(out, null, 2));
ctx.device.destroy();
process.exit(0);
