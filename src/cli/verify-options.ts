// The engine options `bitnet-lab verify` runs the WebGPU side with: named option sets (the engine's defaults, the
// configuration the benchmark chose on the H100 in issue 25, the unfused kernels, …) and single flags on top, so
// the configuration a benchmark times is the one verify checks against the CPU reference. Every set but
// "prefill-rows" runs the prompt through the tiled GEMM (the default); "prefill-rows" keeps the kernel before it.
import type {WebGPUSessionOptions} from "../gpu/engine.js";
import {SITES, type Site} from "../lib/variant.js";
import {type ParsedArgs, UsageError, flagBool, flagString, parseNumber} from "./command.js";

export type EngineOptions = Pick<
  WebGPUSessionOptions,
  "fuse" | "fuseCombine" | "normStats" | "kv16" | "lmHead" | "attnChunk" | "tuning"
>;

/** Named option sets. "bench-h100" is what bench/gpu.ts chose on one H100 in issue 25's second pass
 *  (bench/results/README.md): R4·T32·WG256·U1, prologues fused at o and down (W_o with the attention combine
 *  fused in), f16 LM head and KV cache, attention chunks of 64. The f16 KV cache and LM head round what the
 *  reference keeps in f32 (the logits move by up to ~1 on the shipped models: a rounding flips activation codes),
 *  so "bench-h100-kernels" is the same kernels on f32 storage, which must give the reference's logits. Where a
 *  model's KV cache is 16-bit and G ≤ 4, every set but "unfused" runs the wide attention kernel with fused RoPE. */
export const OPTION_SETS: Readonly<Record<string, {what: string; opts: EngineOptions}>> = {
  default: {what: "the engine's defaults (fuse everywhere, combine fused into W_o, f32 storage)", opts: {}},
  unfused: {what: "every prologue its own dispatch, RoPE its own dispatch", opts: {fuse: false}},
  "bench-h100": {
    what: "the H100 bench's choice: R4 T32 WG256 U1, fuse o+down with the combine, f16 LM head and KV, chunk 64",
    opts: {
      fuse: ["o", "down"],
      fuseCombine: true,
      kv16: "f16",
      lmHead: "f16",
      attnChunk: 64,
      tuning: {decode: {R: 4, T: 32, WG: 256, U: 1}},
    },
  },
  "bench-h100-kernels": {
    what: "the H100 bench's kernels (R4 T32 WG256 U1, fuse o+down with the combine, chunk 64) on f32 storage",
    opts: {fuse: ["o", "down"], fuseCombine: true, attnChunk: 64, tuning: {decode: {R: 4, T: 32, WG: 256, U: 1}}},
  },
  "norm-stats": {what: "prologues from the producers' norm statistics, fuse=true", opts: {fuse: true, normStats: true}},
  "prefill-gemm": {
    what: "the prompt through other GEMM tiles (n64m64u: weights decoded when staged), W_o and W_down the default's",
    opts: {tuning: {prefill: {gemm: "n64m64u", gemmAt: {o: "n64m64", down: "n64m64"}}}},
  },
  "prefill-rows": {
    what: "the prompt through linearWGSL's R × MT prefill kernel (tuning.prefill.gemm none), the one before the GEMM",
    opts: {tuning: {prefill: {gemm: "none"}}},
  },
};

/** The sets that must give the reference's logits (every set but "bench-h100", whose f16 storage rounds what the
 *  reference keeps in f32): what bench/verify-gpu.ts runs unless told otherwise. */
export const EXACT_SETS = Object.keys(OPTION_SETS).filter((k) => k !== "bench-h100");

export const ENGINE_FLAGS = {
  options: "string",
  fuse: "string",
  "fuse-combine": "string",
  kv16: "string",
  "lm-head": "string",
  "attn-chunk": "string",
  "decode-shape": "string",
  "norm-stats": "boolean",
} as const;

export const ENGINE_USAGE =
  `[--options all|${Object.keys(OPTION_SETS).join("|")}[,…]] [--fuse all|none|SITE,…] [--fuse-combine on|off] ` +
  "[--kv16 f32|f16] [--lm-head f32|f16] [--attn-chunk N] [--decode-shape R,T,WG,U] [--norm-stats]";

/** --fuse: "all" (true), "none" (false) or a comma list of sites (qkv, o, gate_up, down). */
export function parseFuse(v: string): boolean | Site[] {
  if (v === "all") return true;
  if (v === "none") return false;
  const sites = v.split(",");
  for (const s of sites)
    if (!(SITES as readonly string[]).includes(s))
      throw new UsageError(`--fuse: "${s}" is not a site; give all, none or a comma list of ${SITES.join(", ")}`);
  if (new Set(sites).size !== sites.length) throw new UsageError(`--fuse: a site is named twice in "${v}"`);
  return sites as Site[];
}

function choice<T extends string>(args: ParsedArgs, name: string, values: readonly T[]): T | undefined {
  const v = flagString(args, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${values.join(", ")}, got "${v}"`);
  return v as T;
}

/** The single flags, applied over an option set (a flag given wins). */
export function flagOptions(args: ParsedArgs): EngineOptions {
  const o: EngineOptions = {};
  const fuse = flagString(args, "fuse");
  if (fuse !== undefined) o.fuse = parseFuse(fuse);
  const combine = choice(args, "fuse-combine", ["on", "off"] as const);
  if (combine) o.fuseCombine = combine === "on";
  const kv16 = choice(args, "kv16", ["f32", "f16"] as const);
  if (kv16) o.kv16 = kv16;
  const lm = choice(args, "lm-head", ["f32", "f16"] as const);
  if (lm) o.lmHead = lm;
  const chunk = flagString(args, "attn-chunk");
  if (chunk !== undefined) o.attnChunk = parseNumber("--attn-chunk", chunk, {min: 1, max: 4096, integer: true});
  const shape = flagString(args, "decode-shape");
  if (shape !== undefined) {
    const parts = shape.split(",");
    if (parts.length !== 4) throw new UsageError(`--decode-shape takes R,T,WG,U (four integers), got "${shape}"`);
    const [R, T, WG, U] = parts.map((p, i) =>
      parseNumber(`--decode-shape ${"RTWU"[i]}`, p, {min: i === 3 ? 0 : 1, max: i === 2 ? 1024 : 64, integer: true}),
    );
    o.tuning = {decode: {R, T, WG, ...(U ? {U} : {})}};
  }
  if (flagBool(args, "norm-stats")) o.normStats = true;
  return o;
}

/** The option sets to verify with: --options (default: "default"; "all": every set), each with the single flags on
 *  top. */
export function optionSets(args: ParsedArgs): {name: string; opts: EngineOptions}[] {
  const v = flagString(args, "options") ?? "default";
  const names = v === "all" ? Object.keys(OPTION_SETS) : v.split(",");
  const extra = flagOptions(args);
  const suffix = Object.keys(extra).length ? `+${JSON.stringify(extra)}` : "";
  return names.map((n) => {
    const set = OPTION_SETS[n];
    if (!set)
      throw new UsageError(`--options: "${n}" is not an option set; known: ${Object.keys(OPTION_SETS).join(", ")}`);
    return {name: n + suffix, opts: {...set.opts, ...extra}};
  });
}
