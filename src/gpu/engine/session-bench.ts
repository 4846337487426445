// The session's benchmarking hooks (measure/benchmark.ts, the kernel lab): a decode step's dispatches as a list to
// time one by one, selected by step tags. Kept apart from the session because nothing that decodes uses them.
import type {Dispatch} from "../gpu.js";
import {wanted} from "./blocks.js";
import {TOKEN_RING} from "./buffers.js";
import type {BlockEncoder, StepAt} from "./session-encode.js";
import type {DecodeParts, Step, StepTag} from "./types.js";

type Listed = Dispatch & {tag: StepTag};

/** A dispatch list builder: steps pass `parts.filter`, grids are taken for m tokens and nC chunks. */
function lister(parts: DecodeParts, nC: number) {
  const list: Listed[] = [];
  const add = (s: Dispatch & {gridFn?: Step["gridFn"]; tag: StepTag}, m: number) => {
    if (parts.filter && !parts.filter(s.label ?? "", s.tag)) return;
    list.push({
      pipeline: s.pipeline,
      bind: s.bind,
      grid: s.gridFn ? s.gridFn(m, nC) : s.grid,
      label: s.label,
      tag: s.tag,
    });
  };
  return {list, add};
}

/** The argmax's two stages, writing their token into `slot`. */
function addArgmax(encoder: BlockEncoder, add: ReturnType<typeof lister>["add"], slot: number): void {
  const {sampler} = encoder.steps;
  sampler.argmaxInto(slot);
  add({...sampler.steps.partial, tag: {kind: "argmax"}}, 1);
  add({...sampler.steps.final, tag: {kind: "argmax"}}, 1);
}

/** The per-token dispatch list of a decode step at `at.pos` (embedding … final norm, LM head, argmax); writes the
 *  step uniform, and the argmax writes its token into slot maxBlock + 1 (one of the decode ring's). */
export function decodeDispatchList(encoder: BlockEncoder, at: StepAt, maxBlock: number, parts: DecodeParts): Listed[] {
  const {nC} = encoder.writeStep(at, 1, maxBlock);
  const {embed, decode, headDecode} = encoder.steps;
  const {list, add} = lister(parts, nC);
  if (parts.layers) {
    if (!parts.linearOnly && !parts.hadamardOnly) add(embed, 1);
    for (const s of decode) if (wanted(s.tag, parts)) add(s, 1);
  }
  if (parts.head) for (const s of headDecode) add(s, 1);
  if (parts.argmax) addArgmax(encoder, add, maxBlock + 1);
  return list;
}

/** The dispatch list of one prefill block of `tokens` at `at.pos` (embedding … final norm, the last token's LM head,
 *  argmax: what append's prefill encodes, in one list); the tokens go to the token buffer's prompt area, the
 *  position is not advanced, and the argmax writes into the decode ring's last slot. */
export function prefillDispatchList(
  encoder: BlockEncoder,
  at: StepAt,
  maxBlock: number,
  tokens: readonly number[],
  parts: DecodeParts,
): Listed[] {
  const M = tokens.length;
  if (M > maxBlock) throw new Error(`prefillDispatches: ${M} tokens exceed maxBlock ${maxBlock}`);
  const q = encoder.device.queue;
  const {A, embed, prefill, headLast} = encoder.steps;
  q.writeBuffer(A.tok, 0, new Uint32Array(tokens));
  const {nC} = encoder.writeStep(at, M, 0);
  const {list, add} = lister(parts, nC);
  if (parts.layers) {
    if (!parts.linearOnly && !parts.hadamardOnly) add(embed, M);
    for (const s of prefill) if (wanted(s.tag, parts)) add(s, M);
  }
  if (parts.head) {
    encoder.headAtLastToken(M);
    for (const s of headLast.steps) add(s, 1);
  }
  if (parts.argmax) addArgmax(encoder, add, maxBlock + TOKEN_RING - 1);
  return list;
}

/** setLengthForBenchmark's check: a cache length the session can decode from. */
export function checkBenchmarkLength(n: number, maxLen: number): void {
  if (!(Number.isInteger(n) && n >= 0 && n < maxLen))
    throw new Error(`setLengthForBenchmark: ${n} not in [0, ${maxLen})`);
}
