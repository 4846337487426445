// Where a 2B4T decode step's time goes (issue 25): the whole step and each kind of dispatch alone, for several
// prologue placements, in one run (ratios from one device). Variants named "~…" rewrite WGSL for timing only
// (their numbers are not the engine's bits): "~plaindiv" replaces the correctly rounded scale division by a plain
// f32 division, to price exactDiv; "~noprologue" drops the fused prologue call, to price the prologue inside a GEMV.
// The parts of a GEMV's fixed time (bench/gemv-latency.ts: ~2 µs beyond an empty dispatch): "~f32epilogue" replaces
// the ternary epilogue's float-float scaleOut (exact γ scaling) by one f32 multiply, "~noshuffle" drops the K-split
// reduction's subgroup shuffles (each lane keeps its partial sum), "~f32epilogue+noshuffle" both. Each rewrite logs
// how many shader modules it changed (0: it matched nothing on this device, e.g. no subgroups, and prices nothing).
//   here: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx tsx bench/decode-parts.ts --quick
//   bundle: ../shared/gpu/prepare.sh bench/decode-parts.ts; on the GPU host: node .gpu/decode-parts.mjs [--quick] > out.json
import {createSyntheticSession} from "../src/gpu/engine.js";
import {model2B4T} from "../src/gpu/measure/bench-stack.js";
import {copyDispatch} from "../src/gpu/measure/microbench.js";
import {timeDispatches} from "../src/gpu/measure/timing.js";
import type {Site} from "../src/lib/variant.js";
import type {WebGPUSessionOptions} from "../src/gpu/engine/types.js";
import {type KindTimes, kindsLine, partsDevice, rewrittenModules, timeKinds} from "./parts-common.js";

const quick = process.argv.includes("--quick");
const only = process.argv
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
// --pick=NAME|NAME…: exactly these variants (names hold commas, so '|' separates them)
// --contexts=512,2048 (the default): the contexts timed; --kinds-everywhere: the per-kind split at each of them
const pick = process.argv
  .find((a) => a.startsWith("--pick="))
  ?.slice(7)
  .split("|");
const log = (s: string) => console.error(`decode-parts: ${s}`);
const TM = quick ? {} : {warmupMs: 150, targetMs: 15};
const reps = quick ? 1 : 10;

interface Variant {
  name: string;
  opts: Partial<WebGPUSessionOptions>;
  rewrite?: (code: string) => string;
  variant?: "b1.58" | "v2";
}
// the decode kernel shape of every variant (a variant's own tuning replaces it: keep these fields there)
const tuning: NonNullable<WebGPUSessionOptions["tuning"]> = {decode: {R: 4, T: 32, WG: 256, U: 1}};
const fuseSets: (boolean | Site[])[] = [["down"], false, true];
const variants: Variant[] = (
  [
    ...fuseSets.map((fuse) => ({name: `fuse=${JSON.stringify(fuse)}`, opts: {fuse}})),
    ...fuseSets.map((fuse) => ({name: `normStats fuse=${JSON.stringify(fuse)}`, opts: {fuse, normStats: true}})),
    // W_o's attention-combine prologue as its own dispatch (the engine before fuseCombine: 6 dispatches per layer)
    {name: "fuse=true fuseCombine=false", opts: {fuse: true, fuseCombine: false}},
    {name: "fuse=o+down", opts: {fuse: ["o", "down"] as Site[]}},
    {name: "fuse=qkv+o+down", opts: {fuse: ["qkv", "o", "down"] as Site[]}},
    {name: "fuse=true attnChunk=32", opts: {fuse: true, attnChunk: 32}},
    // decode attention's chunks (issue 25): W_o's fused combine reads H·nC·(d + 2) floats in every workgroup, so at
    // 2048 positions 32 chunks of 64 cost more there than they gain in attention; fewer, longer chunks past a cap
    ...[4, 8, 16].map((n) => ({name: `fuse=o+down attnMaxChunks=${n}`, opts: {fuse: ["o", "down"], attnMaxChunks: n}})),
    ...[128, 256].map((n) => ({name: `fuse=o+down attnChunk=${n}`, opts: {fuse: ["o", "down"], attnChunk: n}})),
    {name: "fuse=o+down fuseCombine=false", opts: {fuse: ["o", "down"], fuseCombine: false}},
    {name: 'v2 fuse=["down"]', opts: {fuse: ["down"] as Site[]}, variant: "v2"},
    {name: 'v2 normStats fuse=["down"]', opts: {fuse: ["down"] as Site[], normStats: true}, variant: "v2"},
    {
      name: '~exactDiv fuse=["down"] (the engine before issue 25)',
      opts: {fuse: ["down"] as Site[]},
      rewrite: (c: string) => c.replace(/div127\(max\(g, 1e-5\)\)/g, "exactDiv(0u, 127u, 0, max(g, 1e-5))"),
    },
    {
      name: "~exactDiv fuse=true",
      opts: {fuse: true},
      rewrite: (c: string) => c.replace(/div127\(max\(g, 1e-5\)\)/g, "exactDiv(0u, 127u, 0, max(g, 1e-5))"),
    },
    {
      name: "~plaindiv fuse=true",
      opts: {fuse: true},
      rewrite: (c: string) => c.replace(/div127\(max\(g, 1e-5\)\)/g, "(127.0 / max(g, 1e-5))"),
    },
    {
      name: "~plaindiv normStats",
      opts: {fuse: ["down"] as Site[], normStats: true},
      rewrite: (c: string) => c.replace(/div127\(max\(g, 1e-5\)\)/g, "(127.0 / max(g, 1e-5))"),
    },
    {
      name: "~noprologue fuse=true",
      opts: {fuse: true},
      rewrite: (c: string) =>
        c.replace(/\n  prologue\(lid\);/g, "\n  if (np.srcStride == 0xffffffffu) { prologue(lid); }"),
    }, // a uniform condition (the prologue has barriers)
    ...gemvPartVariants(),
    // v2's in-block FWHT: the default (subgroup shuffles + registers) against every stage through workgroup memory
    ...v2FwhtVariants(),
  ] as Variant[]
).filter((v) => (!only || only.some((o) => v.name.includes(o))) && (!pick || pick.includes(v.name)));

/** Timing-only rewrites that price the parts of a GEMV's fixed time, on the default fuse set (o and down). */
function gemvPartVariants(): Variant[] {
  // scaleOut(acc, γ hi, γ lo, s) = acc·γ/s in float-float (linear-stages.ts): its body has no nested braces
  const f32Epilogue = (c: string) =>
    c.replace(
      /(fn scaleOut\(acc: i32, gh: f32, gl: f32, s: f32\) -> f32 \{)[^}]*\}/,
      "$1\n  return f32(acc) * (gh / s);\n}",
    );
  // linearReduceWGSL's shuffle tree over the T lanes of a K split: a<r>_<m> += subgroupShuffleXor(a<r>_<m>, off)
  const noShuffle = (c: string) => c.replace(/\n {2}(a\d+_\d+) \+= subgroupShuffleXor\(\1, \d+u\);/g, "");
  const opts = {fuse: ["o", "down"] as Site[]};
  return [
    {name: "~f32epilogue fuse=o+down", opts, rewrite: f32Epilogue},
    {name: "~noshuffle fuse=o+down", opts, rewrite: noShuffle},
    {name: "~f32epilogue+noshuffle fuse=o+down", opts, rewrite: (c: string) => noShuffle(f32Epilogue(c))},
  ];
}

/** v2's H-BitLinear prologue: `v2 fuse=["down"]` above is the default (FWHT through subgroup shuffles, W_down's norm +
 *  FWHT over fwhtPartsFor workgroups); against it the kernels before (every FWHT stage through workgroup memory, one
 *  workgroup: fwhtLanes 0, fwhtParts 1), the shuffles in one workgroup, the default fused everywhere, and the `o` site
 *  split too (hadamardSplit: norm + FWHT over 10 workgroups, its 20-wide mix over 20, then its quantization fused
 *  into W_o where `o` is in fuse). */
function v2FwhtVariants(): Variant[] {
  const shape = {R: 4, T: 32, WG: 256, U: 1};
  return [
    {
      name: 'v2 fwhtMemory fwhtParts=1 fuse=["down"]',
      opts: {fuse: ["down"], tuning: {decode: shape, fwhtLanes: 0, fwhtParts: 1}},
      variant: "v2",
    },
    {
      name: 'v2 fwhtParts=1 fuse=["down"]',
      opts: {fuse: ["down"], tuning: {decode: shape, fwhtParts: 1}},
      variant: "v2",
    },
    {name: "v2 fuse=true", opts: {fuse: true}, variant: "v2"},
    {name: 'v2 hadamardSplit fuse=["down"]', opts: {fuse: ["down"], hadamardSplit: true}, variant: "v2"},
    {name: 'v2 hadamardSplit fuse=["o","down"]', opts: {fuse: ["o", "down"], hadamardSplit: true}, variant: "v2"},
    {name: "v2 hadamardSplit fuse=true", opts: {fuse: true, hadamardSplit: true}, variant: "v2"},
  ];
}

const out: Record<string, unknown> = {quick, when: new Date().toISOString()};
const base = await partsDevice();
out.device = base.description;
{
  const bytes = quick ? 8 << 20 : 512 << 20;
  const cp = await copyDispatch(base.device, bytes);
  const t = await timeDispatches(base.device, [cp.dispatch], {...TM, reps: quick ? 2 : 20});
  out.copyGBps = (2 * bytes) / (t.ms * 1e6);
  log(`copy ${(out.copyGBps as number).toFixed(0)} GB/s`);
  for (const b of cp.buffers) b.destroy();
}
const contexts = quick
  ? [16]
  : (process.argv
      .find((a) => a.startsWith("--contexts="))
      ?.slice(11)
      .split(",")
      .map(Number) ?? [512, 2048]);
// --kinds-everywhere: the per-kind split at every context, not just the first
const kindsEverywhere = process.argv.includes("--kinds-everywhere");
const rows: Record<string, unknown>[] = [];
for (const v of variants) {
  try {
    const ctx = v.rewrite ? await partsDevice(v.rewrite) : base;
    const cfg = model2B4T(v.variant ?? "b1.58", quick, quick ? 512 : 2304);
    const s = await createSyntheticSession(cfg, 11, {
      gpu: ctx,
      lmHead: "f16",
      kv16: "f16",
      maxBlock: 1,
      maxLength: cfg.max_position_embeddings,
      tuning,
      ...v.opts,
    });
    for (const c of contexts) {
      s.setLengthForBenchmark(c - 1);
      const full = s.decodeDispatches({layers: true, head: true, argmax: true});
      const ms: number[] = [];
      for (let r = 0; r < 2; r++) ms.push((await timeDispatches(ctx.device, full, {...TM, reps})).ms);
      const kinds: KindTimes =
        c === contexts[0] || kindsEverywhere ? await timeKinds(ctx.device, full, {...TM, reps}) : {};
      const rewritten = v.rewrite ? rewrittenModules(ctx.device) : undefined;
      const row = {variant: v.name, context: c, dispatches: full.length, ms, kinds, rewritten};
      rows.push(row);
      log(
        `${v.name} @${c}: ${ms.map((m) => m.toFixed(3)).join(" / ")} ms (${full.length} dispatches)${
          v.rewrite ? ` [timing only: ${rewritten} shader modules rewritten]` : ""
        }${kindsLine(kinds)}`,
      );
    }
    s.dispose();
    if (v.rewrite) ctx.device.destroy();
  } catch (e) {
    log(`${v.name}: failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    rows.push({variant: v.name, error: String(e).slice(0, 500)});
  }
}
out.rows = rows;
console.log(JSON.stringify(out, null, 2));
base.device.destroy();
process.exit(0);
