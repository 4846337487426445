// Chained decode: each step samples its token into the GPU token ring, where the next step's embedding reads it, so
// the CPU only encodes and submits; the ids come back through a fixed ring of small mappable buffers (none created
// per step), up to `ahead` steps behind. With a profile (benchmarks) the wall clock per step splits into encode,
// submit and wait, and with timestamp queries into the GPU's own time per step and its idle gap between steps.
import {now} from "../gpu.js";

/** Per-token means of a profiled chain, ms. wallMs = encodeMs + submitMs + waitMs (+ a few µs of bookkeeping). */
export interface DecodeChainProfile {
  steps: number;
  wallMs: number;
  /** JS encoding of a step: uniform writes, command encoder, passes, finish. */
  encodeMs: number;
  /** queue.submit (where Dawn records the backend's commands) and the readback's mapAsync call. */
  submitMs: number;
  /** Awaiting ids: the CPU waiting for the GPU (ahead steps in flight). */
  waitMs: number;
  /** Timestamps: the GPU's time per step (first pass begin → last pass end), and its idle time between one step's
   *  end and the next one's begin (a large gap: the CPU or the submission path does not keep the GPU fed). */
  gpuMs?: number;
  gapMs?: number;
  /** The fastest and slowest step on the GPU (a slow phase, like a cold GPU, shows as a spread). */
  gpuMinMs?: number;
  gpuMaxMs?: number;
}

/** Encodes one decode step that reads the token in ring slot `slotIn` and samples into `slotOut`. */
export type EncodeChainStep = (enc: GPUCommandEncoder, slotIn: number, slotOut: number) => void;

const TS_STRIDE = 256; // resolveQuerySet's destination offset alignment

/** Runs n chained steps starting from ring slot `slot0`; resolves to the n sampled ids in order. */
export async function runDecodeChain(
  device: GPUDevice,
  tok: GPUBuffer,
  ring: {base: number; size: number; slot0: number},
  n: number,
  ahead: number,
  encodeStep: EncodeChainStep,
  profile?: {timestamps: boolean; out: (p: DecodeChainProfile) => void; encodeOnly?: boolean},
): Promise<number[]> {
  if (profile?.encodeOnly) return encodeOnly(device, ring, n, encodeStep, profile.out);
  const depth = Math.max(1, Math.min(Math.floor(ahead), n));
  const rbs = Array.from({length: depth}, () =>
    device.createBuffer({size: 32, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST}),
  );
  const ts = !!profile?.timestamps && device.features.has("timestamp-query");
  const qs = ts ? device.createQuerySet({type: "timestamp", count: 2 * depth}) : undefined;
  const resolve = ts
    ? device.createBuffer({size: TS_STRIDE * depth, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC})
    : undefined;
  const ids: number[] = [];
  const stamps: [bigint, bigint][] = [];
  const pending: Promise<void>[] = [];
  let encodeMs = 0;
  let submitMs = 0;
  let waitMs = 0;
  // reading the oldest step's id (and stamps) frees its ring buffer for the step `depth` later
  const take = async () => {
    const t = now();
    await pending.shift();
    const rb = rbs[ids.length % depth];
    const m = rb.getMappedRange();
    ids.push(new Uint32Array(m, 0, 1)[0]);
    if (ts) {
      const s = new BigUint64Array(m, 8, 2);
      stamps.push([s[0], s[1]]);
    }
    rb.unmap();
    waitMs += now() - t;
  };
  const emptyPass = (enc: GPUCommandEncoder, w: GPUComputePassTimestampWrites) =>
    enc.beginComputePass({timestampWrites: w}).end();
  const t0 = now();
  try {
    let slot = ring.slot0;
    for (let i = 0; i < n; i++) {
      if (i >= depth) await take();
      const k = i % depth;
      const e0 = now();
      const enc = device.createCommandEncoder();
      if (qs) emptyPass(enc, {querySet: qs, beginningOfPassWriteIndex: 2 * k});
      const next = (slot + 1) % ring.size;
      encodeStep(enc, ring.base + slot, ring.base + next);
      enc.copyBufferToBuffer(tok, (ring.base + next) * 4, rbs[k], 0, 4);
      if (qs && resolve) {
        emptyPass(enc, {querySet: qs, endOfPassWriteIndex: 2 * k + 1});
        enc.resolveQuerySet(qs, 2 * k, 2, resolve, TS_STRIDE * k);
        enc.copyBufferToBuffer(resolve, TS_STRIDE * k, rbs[k], 8, 16);
      }
      const cb = enc.finish();
      const s0 = now();
      device.queue.submit([cb]);
      pending.push(rbs[k].mapAsync(GPUMapMode.READ));
      const s1 = now();
      encodeMs += s0 - e0;
      submitMs += s1 - s0;
      slot = next;
    }
    while (pending.length) await take();
  } finally {
    // a failed step leaves buffers mapping: let those settle before destroying them
    await Promise.allSettled(pending);
    for (const b of rbs) b.destroy();
    qs?.destroy();
    resolve?.destroy();
  }
  if (profile) {
    const p: DecodeChainProfile = {
      steps: n,
      wallMs: (now() - t0) / n,
      encodeMs: encodeMs / n,
      submitMs: submitMs / n,
      waitMs: waitMs / n,
    };
    if (stamps.length === n && n > 0) {
      const ms = stamps.map(([a, b]) => Number(b - a) / 1e6);
      const gaps = stamps.slice(1).map(([a], i) => Number(a - stamps[i][1]) / 1e6);
      p.gpuMs = ms.reduce((x, y) => x + y) / n;
      p.gpuMinMs = Math.min(...ms);
      p.gpuMaxMs = Math.max(...ms);
      p.gapMs = gaps.length ? gaps.reduce((x, y) => x + y) / gaps.length : 0;
    }
    profile.out(p);
  }
  return ids;
}

/** Encodes n steps and submits none (their command buffers are dropped; no ids): the CPU's encoding alone, without
 *  the GPU's work competing for the CPU (on SwiftShader the chained run's encoding shares the cores with it). The
 *  session's length still advances by n over a cache never written: benchmarks set it back. */
function encodeOnly(
  device: GPUDevice,
  ring: {base: number; size: number; slot0: number},
  n: number,
  encodeStep: EncodeChainStep,
  out: (p: DecodeChainProfile) => void,
): number[] {
  const t0 = now();
  for (let i = 0, slot = ring.slot0; i < n; i++, slot = (slot + 1) % ring.size) {
    const enc = device.createCommandEncoder();
    encodeStep(enc, ring.base + slot, ring.base + ((slot + 1) % ring.size));
    enc.finish();
  }
  const ms = (now() - t0) / n;
  out({steps: n, wallMs: ms, encodeMs: ms, submitMs: 0, waitMs: 0});
  return [];
}
