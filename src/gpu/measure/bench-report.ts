// The GPU benchmark's options, its report and the report as text (split from benchmark.ts, issue 21).
import type {Site} from "../../lib/variant.js";
import type {LinearConfig} from "../kernels/linear.js";
import type {SelfCheck} from "./selfcheck.js";
import type {PeerComparison, PeerResults, RooflineRow} from "./roofline.js";
import {decodeWallLines, type DecodeWall} from "./decode-wall.js";

/** One decode configuration the bench times on the whole step: kernel shape, where prologues fuse, the options. */
export interface DecodeCandidate {
  R: number;
  T: number;
  WG: number;
  U: number;
  fuse: boolean | Site[];
  normStats?: boolean;
  attnChunk?: number;
  /** Decode GPU ms at the middle context, one per interleaved round. */
  ms: number[];
}

export interface BenchOptions {
  /** Small shapes and few repetitions (SwiftShader, CI smoke runs). */
  quick?: boolean;
  /** Progress lines. */
  log?: (line: string) => void;
  /** The peers' results from the same run (../shared/peers harnesses), printed beside ours with ratios. */
  peers?: PeerResults;
}

export interface LinearResult {
  config: Pick<LinearConfig, "R" | "T" | "WG" | "sub" | "U">;
  msPerToken: number;
  GBps: number;
  /** GB/s of weights as a fraction of the copy ceiling's GB/s (read + write). */
  ofCopy: number;
}

export interface BenchReport {
  device: {description: string; subgroupSize: number; features: string[]; clock: "timestamp" | "wall"};
  shape: {
    name: string;
    hidden: number;
    ffn: number;
    layers: number;
    heads: number;
    kvHeads: number;
    headDim: number;
    vocab: number;
  };
  copy: {bytes: number; ms: number; GBps: number};
  linear: {
    bytesPerToken: number;
    sweep: LinearResult[];
    best: LinearResult;
    /** The best config with every dispatch in its own compute pass. */
    passPerDispatch: LinearResult;
    /** The best config with no dependency between GEMVs (distinct outputs, so no barriers): an upper bound. */
    independent: LinearResult;
  };
  dense: {
    f32: {msPerToken: number; GBps: number};
    f16: {msPerToken: number; GBps: number};
    speedupVsF32: number;
    speedupVsF16: number;
  };
  e2e?: {
    config: string;
    decode: {
      context: number;
      gpuMsPerToken: number;
      gpuTokensPerSec: number;
      wallTokensPerSec: number;
      lmHeadShare: number;
      passPerDispatchMsPerToken: number;
      /** The wall clock's split (decode-wall.ts); absent in reports from before it. */
      wall?: DecodeWall;
    }[];
    /** The discarded first decode timing (GPU ms/token at the first context). */
    decodeWarmupMs?: number;
    /** GPU ms per token of each kind of dispatch at the middle context, each kind timed alone (same barriers). */
    breakdown: {kind: string; dispatches: number; ms: number}[];
    dispatchesPerToken: number;
    /** Decode GPU time with every norm/quant prologue as its own dispatch (the fused default for comparison). */
    unfused?: {context: number; gpuMsPerToken: number; dispatchesPerToken: number};
    cpuEncodeMsPerToken: number;
    /** The decode configuration chosen on the end-to-end step (not on the stack sweep alone): each candidate's
     *  decode GPU time at the middle context, measured twice (interleaved) to show it is stable. */
    choice?: {
      context: number;
      candidates: DecodeCandidate[];
      chosen: Omit<DecodeCandidate, "ms" | "attnChunk"> & {attnChunk: number};
    };
    /** Bytes / time / fraction of copy of each kind of dispatch of a decode step (middle context). */
    roofline?: RooflineRow[];
    /** Wall-clock decode with the step split into this many compute passes. */
    passes?: {passesPerToken: number; wallMsPerToken: number}[];
    /** Best of the prefill GEMM shapes tried (wall clock of appendAndSample, best of two after a warm-up). */
    prefill: {
      tokens: number;
      ms: number;
      tokensPerSec: number;
      /** Each shape tried: linearWGSL's R × MT threads, or (gemm: a GEMM_SHAPES name) the tiled GEMM. */
      sweep?: {R?: number; T?: number; MT?: number; WG?: number; gemm?: string; ms: number}[];
    };
    v2?:
      | {
          context: number;
          /** v2's own best step among the modes timed (the end-to-end step is the unit of tuning, as for b1.58). */
          gpuMsPerToken: number;
          /** The mode that gave gpuMsPerToken; the b1.58 choice's fuse set is "default". */
          chosen?: string;
          /** The step with b1.58's chosen configuration (rotated prologues fused where b1.58 fuses). */
          defaultMsPerToken?: number;
          hadamardLayerShare: number;
          split?: {mode: string; gpuMsPerToken: number; dispatchesPerToken: number}[];
        }
      | {error: string};
  };
  hadamard: {
    n: number;
    rows: number;
    prologueMs: number;
    prologueHadamardMs: number;
    gemvMs: number;
    shareOfLayer: number;
  }[];
  check: {variant: string; maxAbsDiff: number; greedyAgree: number; steps: number}[];
  /** Our numbers against the peers' from the same run (when given). */
  peers?: PeerComparison[];
  /** Bit-exactness of the kernels against src/lib on this device. */
  selfcheck: SelfCheck[];
  /** µs per dispatch of a tiny kernel: chained through one buffer (a barrier each) and independent. */
  dispatch: {chainedUs: number; independentUs: number; chainedPassPerDispatchUs: number};
  /** Sections that failed on this device, with the reason. */
  errors?: string[];
  seconds: number;
}

/** The report as a text table. */
/** Rates and sizes to three significant figures below 100 (the --quick shapes on a software adapter give
 *  fractions of a GB/s and of a MB/token, which toFixed(0) printed as "0"). */
export function sig(x: number): string {
  return Math.abs(x) >= 100 || x === 0 ? x.toFixed(0) : x.toPrecision(3);
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/** The ternary and dense GEMV stack lines of the report. */
function formatLinearSection(r: BenchReport): string[] {
  const L: string[] = [];
  L.push(`ternary linear stack, ${sig(r.linear.bytesPerToken / 1e6)} MB/token (2-bit)`);
  L.push(`  kernel shape            ms/token     GB/s   of copy`);
  for (const s of r.linear.sweep)
    L.push(
      `  R=${s.config.R} T=${String(s.config.T).padEnd(2)} WG=${String(s.config.WG).padEnd(3)} U=${s.config.U || "a"} sub=${String(s.config.sub).padEnd(2)} ${s.msPerToken.toFixed(4).padStart(8)} ${sig(s.GBps).padStart(8)} ${pct(s.ofCopy).padStart(8)}`,
    );
  L.push(
    `  best, one pass per dispatch       ${r.linear.passPerDispatch.msPerToken.toFixed(4).padStart(8)} ${sig(r.linear.passPerDispatch.GBps).padStart(8)} ${pct(r.linear.passPerDispatch.ofCopy).padStart(8)}`,
  );
  L.push(
    `  best, GEMVs independent (bound)   ${r.linear.independent.msPerToken.toFixed(4).padStart(8)} ${sig(r.linear.independent.GBps).padStart(8)} ${pct(r.linear.independent.ofCopy).padStart(8)}`,
  );
  L.push(
    `dense GEMV stack: f32 ${r.dense.f32.msPerToken.toFixed(3)} ms (${sig(r.dense.f32.GBps)} GB/s), f16 ${r.dense.f16.msPerToken.toFixed(3)} ms (${sig(r.dense.f16.GBps)} GB/s); ternary is ${r.dense.speedupVsF32.toFixed(1)}× faster than f32, ${r.dense.speedupVsF16.toFixed(1)}× than f16`,
  );
  return L;
}

export function formatBenchReport(r: BenchReport): string {
  const L: string[] = [];
  L.push(`device: ${r.device.description} (subgroup ${r.device.subgroupSize || "none"}, ${r.device.clock} clock)`);
  L.push(
    `shape: ${r.shape.name}: hidden ${r.shape.hidden}, FFN ${r.shape.ffn}, ${r.shape.layers} layers, ${r.shape.heads}/${r.shape.kvHeads} heads of ${r.shape.headDim}, vocab ${r.shape.vocab}`,
  );
  L.push("");
  if (r.selfcheck?.length)
    L.push(`bit-exactness vs src/lib: ` + r.selfcheck.map((c) => `${c.name} ${c.mismatches}/${c.checked}`).join("; "));
  if (r.dispatch)
    L.push(
      `per dispatch (tiny kernel): ${r.dispatch.chainedUs.toFixed(2)} µs chained (barrier each), ${r.dispatch.independentUs.toFixed(2)} µs independent, ${r.dispatch.chainedPassPerDispatchUs.toFixed(2)} µs chained with one pass each`,
    );
  L.push(`copy ceiling (WGSL, read+write)            ${sig(r.copy.GBps).padStart(8)} GB/s`);
  L.push(...formatLinearSection(r));
  L.push("");
  if (r.e2e) {
    L.push(
      `end-to-end decode (${r.e2e.config}); ${r.e2e.dispatchesPerToken} dispatches/token, CPU encode ${r.e2e.cpuEncodeMsPerToken.toFixed(3)} ms/token`,
    );
    L.push(`  context   GPU ms/token   GPU tok/s   wall tok/s   LM head   pass/dispatch ms`);
    for (const d of r.e2e.decode)
      L.push(
        `  ${String(d.context).padStart(7)}   ${d.gpuMsPerToken.toFixed(3).padStart(12)}   ${d.gpuTokensPerSec.toFixed(0).padStart(9)}   ${d.wallTokensPerSec.toFixed(0).padStart(10)}   ${pct(d.lmHeadShare).padStart(7)}   ${d.passPerDispatchMsPerToken.toFixed(3).padStart(16)}`,
      );
    L.push(...decodeWallLines(r.e2e.decode, r.e2e.decodeWarmupMs));
    L.push(
      `  GPU time by kind of dispatch (@${r.e2e.decode[Math.min(1, r.e2e.decode.length - 1)].context}, each timed alone): ` +
        r.e2e.breakdown.map((b) => `${b.kind} ${b.ms.toFixed(3)} ms`).join(", "),
    );
    if (r.e2e.choice) {
      L.push(
        `  decode configuration chosen on the whole step @${r.e2e.choice.context} (two interleaved timings each):`,
      );
      const fn = (f: boolean | string[]) =>
        f === true ? "fused" : f === false ? "unfused" : `fused at ${f.join("+")}`;
      for (const c of r.e2e.choice.candidates)
        L.push(
          `    R=${c.R} T=${c.T} WG=${c.WG} U=${c.U || "a"} ${fn(c.fuse).padEnd(22)} chunk ${String(c.attnChunk ?? 64).padEnd(3)} ${c.ms.map((m) => m.toFixed(3)).join(" / ")} ms`,
        );
      const ch = r.e2e.choice.chosen;
      L.push(
        `    chosen: R=${ch.R} T=${ch.T} WG=${ch.WG} U=${ch.U || "a"} ${fn(ch.fuse)}, attention chunk ${ch.attnChunk ?? 64}`,
      );
    }
    if (r.e2e.roofline?.length) {
      L.push(`  roofline of a decode step (@${r.e2e.choice?.context ?? ""}; each kind timed alone):`);
      L.push(`    kind                                            dispatches      bytes        ms     GB/s   of copy`);
      for (const x of r.e2e.roofline)
        L.push(
          `    ${x.kind.padEnd(48)} ${String(x.dispatches).padStart(9)} ${(x.bytes / 1e6).toFixed(2).padStart(9)} MB ${x.ms.toFixed(4).padStart(8)} ${x.GBps.toFixed(0).padStart(8)} ${pct(x.ofCopy).padStart(8)}`,
        );
    }
    if (r.e2e.passes?.length)
      L.push(
        `  compute passes per decode step → wall ms/token: ` +
          r.e2e.passes.map((p) => `${p.passesPerToken}: ${p.wallMsPerToken.toFixed(3)}`).join(", "),
      );
    if (r.e2e.unfused)
      L.push(
        `  without fused prologues @${r.e2e.unfused.context}: ${r.e2e.unfused.gpuMsPerToken.toFixed(3)} ms/token (${r.e2e.unfused.dispatchesPerToken} dispatches)`,
      );
    L.push(
      `prefill ${r.e2e.prefill.tokens} tokens: ${r.e2e.prefill.ms.toFixed(1)} ms (${r.e2e.prefill.tokensPerSec.toFixed(0)} tok/s)` +
        (r.e2e.prefill.sweep
          ? "; kernels: " + r.e2e.prefill.sweep.map((x) => `${prefillShapeName(x)} ${x.ms.toFixed(1)} ms`).join(", ")
          : ""),
    );
    if (r.e2e.v2)
      L.push(
        "error" in r.e2e.v2
          ? `v2: ${r.e2e.v2.error}`
          : `v2 decode @${r.e2e.v2.context}: ${r.e2e.v2.gpuMsPerToken.toFixed(3)} ms/token (${r.e2e.v2.chosen ?? "default"}); the rotated W_o/W_down prologues take ${pct(r.e2e.v2.hadamardLayerShare)} of it` +
              (r.e2e.v2.split
                ? "; " + r.e2e.v2.split.map((x) => `${x.mode} ${x.gpuMsPerToken.toFixed(3)} ms`).join(", ")
                : ""),
      );
  }
  L.push("");
  L.push(`Hadamard in H-BitLinear (1 token):`);
  for (const h of r.hadamard)
    L.push(
      `  n=${h.n}: prologue ${h.prologueMs.toFixed(4)} → ${h.prologueHadamardMs.toFixed(4)} ms with the rotation; GEMV ${h.rows}×${h.n} ${h.gemvMs.toFixed(4)} ms; rotation = ${(100 * h.shareOfLayer).toFixed(1)}% of the layer`,
    );
  L.push("");
  L.push(
    `GPU vs CPU reference on this device: ` +
      r.check
        .map((c) => `${c.variant} max|Δ| ${c.maxAbsDiff.toExponential(1)}, greedy ${c.greedyAgree}/${c.steps}`)
        .join("; "),
  );
  if (r.peers?.length) {
    L.push("");
    L.push(`against the peers, same run (speedup = peer ms / ours):`);
    for (const p of r.peers)
      L.push(
        `  ${p.what.padEnd(28)} ${p.peer.padEnd(62)} ${p.peerMs.toFixed(3).padStart(8)} ms vs ${p.oursMs.toFixed(3).padStart(8)} ms  ${p.speedup.toFixed(2)}×`,
      );
  }
  for (const e of r.errors ?? []) L.push(`error: ${e}`);
  L.push(`(${r.seconds.toFixed(1)} s)`);
  return L.join("\n");
}

/** A prefill sweep entry's shape: "GEMM n64m64" or linearWGSL's "R4 T8 MT8 WG128" (gemm "none", or absent in
 *  reports from before the GEMM was the default). */
export function prefillShapeName(x: {R?: number; T?: number; MT?: number; WG?: number; gemm?: string}): string {
  return x.gemm && x.gemm !== "none" ? `GEMM ${x.gemm}` : `R${x.R} T${x.T} MT${x.MT} WG${x.WG}`;
}
