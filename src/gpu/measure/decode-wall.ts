// Wall clock of chained decode (the bench's "wall" column) and where it goes: per token the CPU's encoding, submit
// and wait, and from timestamps inside the chain the GPU's time per step and its idle gap between steps — so a run
// shows whether a gap to the GPU-timed step is the CPU (encode + submit ≥ GPU time, no wait), the submission path
// (large GPU gap) or the chained steps themselves running slower on the GPU (GPU/step above the timed step).
import {now} from "../gpu.js";
import type {DecodeChainProfile} from "../engine/decode-chain.js";
import type {WebGPUSession} from "../engine/session.js";

export interface DecodeWall extends DecodeChainProfile {
  /** Best of the plain (unprofiled, no timestamps) chained runs, ms per token; `trials` all of them. */
  msPerToken: number;
  trials: number[];
  ahead: number;
  /** Encoding a step with nothing submitted (no GPU work competing for the CPU), ms per token, best of a few rounds. */
  encodeOnlyMs?: number;
}

/** Chained greedy decode of `steps` tokens from context c (the cache length set, not computed): a warm-up of at least
 *  `warmupMs`, `trials` plain runs, then one profiled run with timestamps. */
export async function measureDecodeWall(
  s: WebGPUSession,
  c: number,
  {steps = 64, trials = 2, warmupMs = 100, ahead = 8} = {},
): Promise<DecodeWall> {
  const w0 = now();
  do {
    s.setLengthForBenchmark(c - 1);
    await s.decodeChain(1, Math.min(8, steps), {}, ahead);
  } while (now() - w0 < warmupMs);
  const plain: number[] = [];
  for (let t = 0; t < trials; t++) {
    s.setLengthForBenchmark(c - 1);
    const t0 = now();
    await s.decodeChain(1, steps, {}, ahead);
    plain.push((now() - t0) / steps);
  }
  s.setLengthForBenchmark(c - 1);
  let prof: DecodeChainProfile | undefined;
  await s.decodeChain(1, steps, {}, ahead, {timestamps: true, out: (p) => (prof = p)});
  let encodeOnlyMs = Infinity;
  // nothing runs on the GPU here, so a few more rounds (best of) cost little and steady the number
  for (let t = 0; t < 2 * trials + 2; t++) {
    s.setLengthForBenchmark(c - 1);
    await s.decodeChain(1, steps, {}, ahead, {
      timestamps: false,
      encodeOnly: true,
      out: (p) => (encodeOnlyMs = Math.min(encodeOnlyMs, p.encodeMs)),
    });
  }
  s.setLengthForBenchmark(c - 1);
  return {...prof!, msPerToken: Math.min(...plain), trials: plain, ahead, encodeOnlyMs};
}

/** One line: wall vs GPU and the split. */
export function formatDecodeWall(w: DecodeWall, gpuMs: number): string {
  const f = (x: number) => x.toFixed(3);
  const over = (100 * (w.msPerToken - gpuMs)) / gpuMs;
  const gpu =
    w.gpuMs === undefined
      ? ""
      : `; in the chain GPU ${f(w.gpuMs)} ms/step (${f(w.gpuMinMs ?? w.gpuMs)}–${f(w.gpuMaxMs ?? w.gpuMs)}), idle gap ${f(w.gapMs ?? 0)} ms`;
  return (
    `wall ${f(w.msPerToken)} ms/token (${over >= 0 ? "+" : ""}${over.toFixed(1)}% over GPU; trials ${w.trials.map(f).join(" / ")}); ` +
    `profiled ${f(w.wallMs)} = encode ${f(w.encodeMs)} + submit ${f(w.submitMs)} + wait ${f(w.waitMs)}${gpu}` +
    (w.encodeOnlyMs === undefined ? "" : `; encoding alone ${f(w.encodeOnlyMs)} ms/step`)
  );
}

/** The report's lines: each context's wall split, and the discarded first timing. */
export function decodeWallLines(
  decode: {context: number; gpuMsPerToken: number; wall?: DecodeWall}[],
  warmupMs: number | undefined,
): string[] {
  const L = decode.flatMap((d) => (d.wall ? [`  @${d.context}: ${formatDecodeWall(d.wall, d.gpuMsPerToken)}`] : []));
  if (warmupMs !== undefined) L.push(`  first decode timing (warm-up, discarded): ${warmupMs.toFixed(3)} ms/token`);
  return L;
}
