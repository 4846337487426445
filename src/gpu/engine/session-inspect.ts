// The session's inspection reads apart from the session: the bounds every inspection request is checked against,
// and a kept inspection pass (append inspect.keep) — every layer's copies left on the GPU, read per layer on demand.
import {collectInspection, type InspectCopy} from "./inspect.js";
import type {Plan} from "./plan.js";
import type {EngineInspection} from "./types.js";

/** A kept inspection pass: the copies of one block of M tokens starting at `start`. */
export interface KeptPass {
  copies: InspectCopy[];
  M: number;
  tokens: number[];
  start: number;
}

/** Throws `${what} ${l} is not in [0, L)` for the first layer index out of range. */
export function checkLayers(layers: Iterable<number>, L: number, what: string): void {
  for (const l of layers)
    if (!(Number.isInteger(l) && l >= 0 && l < L)) throw new Error(`${what} ${l} is not in [0, ${L})`);
}

/** inspectKV's bounds: a layer of the model, and positions [start, start + count) all in a cache of length `pos`. */
export function checkKVRange(layer: number, start: number, count: number, L: number, pos: number): void {
  checkLayers([layer], L, "inspectKV: layer");
  if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 1 && start + count <= pos))
    throw new Error(`inspectKV: positions [${start}, ${start + count}) are not all in the cache (length ${pos})`);
}

/** Reads `layers` of a kept pass back (only those cross to the CPU); `bytes`: what was read, for measuring. */
export async function readKept(
  device: GPUDevice,
  P: Plan,
  k: KeptPass,
  layers: readonly number[],
): Promise<{inspection: EngineInspection; bytes: number}> {
  const want = new Set(layers);
  const copies = k.copies.filter((c) => want.has(c.layer));
  const got = await collectInspection(device, P, k.M, k.tokens, k.start, copies);
  return {inspection: {start: got.start, tokens: got.tokens, layers: got.layers}, bytes: got.bytes};
}

/** Frees a kept pass's GPU copies. */
export function dropKept(k: KeptPass | undefined): void {
  for (const c of k?.copies ?? []) c.buf.destroy();
}
