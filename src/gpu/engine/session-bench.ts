// The session's benchmarking hooks (measure/benchmark.ts, the kernel lab): a decode step's dispatches as a list to
// time one by one, selected by step tags. Kept apart from the session because nothing that decodes uses them.
import type {Dispatch} from "../gpu.js";
import {wanted} from "./blocks.js";
import type {BlockEncoder, StepAt} from "./session-encode.js";
import type {DecodeParts, Step, StepTag} from "./types.js";

/** The per-token dispatch list of a decode step at `at.pos` (embedding … final norm, LM head, argmax); writes the
 *  step uniform, and the argmax writes its token into slot maxBlock + 1 (one of the decode ring's). */
export function decodeDispatchList(
  encoder: BlockEncoder,
  at: StepAt,
  maxBlock: number,
  parts: DecodeParts,
): (Dispatch & {tag: StepTag})[] {
  const {nC} = encoder.writeStep(at, 1, maxBlock);
  const {embed, decode, headDecode, sampler, A} = encoder.steps;
  const list: (Dispatch & {tag: StepTag})[] = [];
  const add = (s: Dispatch & {gridFn?: Step["gridFn"]; tag: StepTag}) => {
    if (parts.filter && !parts.filter(s.label ?? "", s.tag)) return;
    list.push({
      pipeline: s.pipeline,
      bind: s.bind,
      grid: s.gridFn ? s.gridFn(1, nC) : s.grid,
      label: s.label,
      tag: s.tag,
    });
  };
  if (parts.layers) {
    if (!parts.linearOnly && !parts.hadamardOnly) add(embed);
    for (const s of decode) if (wanted(s.tag, parts)) add(s);
  }
  if (parts.head) for (const s of headDecode) add(s);
  if (parts.argmax) {
    // the argmax's uniform: stage 1's workgroups and the token slot it writes
    encoder.device.queue.writeBuffer(A.argP, 0, new Uint32Array([sampler.steps.partial.grid[0], maxBlock + 1, 0, 0]));
    add({...sampler.steps.partial, tag: {kind: "argmax"}});
    add({...sampler.steps.final, tag: {kind: "argmax"}});
  }
  return list;
}

/** setLengthForBenchmark's check: a cache length the session can decode from. */
export function checkBenchmarkLength(n: number, maxLen: number): void {
  if (!(Number.isInteger(n) && n >= 0 && n < maxLen))
    throw new Error(`setLengthForBenchmark: ${n} not in [0, ${maxLen})`);
}
