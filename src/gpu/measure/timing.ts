// GPU timing: timestamp queries around compute passes where the device has them, wall time otherwise.
import {encodeDispatches, type Dispatch, now} from "../gpu.js";

export type EncodeMode = "one-pass" | "pass-per-dispatch";

export interface TimingResult {
  /** Milliseconds per repetition of the dispatch list. */
  ms: number;
  /** "timestamp" (GPU clock) or "wall" (submit → onSubmittedWorkDone). */
  clock: "timestamp" | "wall";
}

/** Encodes `reps` repetitions of `list` (all in one compute pass, or one pass per dispatch), submits once,
 *  and returns the time per repetition, the best of `trials` submissions. Before timing, the list runs for at
 *  least `warmupMs` of wall time (GPUs idle at low clocks between measurements; a short burst would be timed
 *  at whatever clock the idle left), and with `targetMs` the repetitions grow until one submission takes that long. */
export async function timeDispatches(
  device: GPUDevice,
  list: readonly Dispatch[],
  {reps = 10, trials = 3, mode = "one-pass" as EncodeMode, useTimestamps = true, warmupMs = 0, targetMs = 0} = {},
): Promise<TimingResult> {
  const ts = useTimestamps && device.features.has("timestamp-query");
  const qs = ts ? device.createQuerySet({type: "timestamp", count: 2}) : undefined;
  const resolve = ts ? device.createBuffer({size: 16, usage: 0x200 | 0x04 /* QUERY_RESOLVE | COPY_SRC */}) : undefined;
  const read = ts ? device.createBuffer({size: 16, usage: 0x01 | 0x08 /* MAP_READ | COPY_DST */}) : undefined;
  const encodeOnce = (withTs: boolean): GPUCommandBuffer => {
    const enc = device.createCommandEncoder();
    const total = reps * list.length;
    let k = 0;
    if (mode === "one-pass") {
      const pass = enc.beginComputePass(
        withTs && qs
          ? {timestampWrites: {querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1}}
          : undefined,
      );
      for (let r = 0; r < reps; r++) encodeDispatches(pass, list);
      pass.end();
    } else {
      for (let r = 0; r < reps; r++)
        for (const d of list) {
          const tw: GPUComputePassTimestampWrites | undefined =
            withTs && qs
              ? {
                  querySet: qs,
                  ...(k === 0 ? {beginningOfPassWriteIndex: 0} : {}),
                  ...(k === total - 1 ? {endOfPassWriteIndex: 1} : {}),
                }
              : undefined;
          const pass = enc.beginComputePass(tw && (k === 0 || k === total - 1) ? {timestampWrites: tw} : undefined);
          encodeDispatches(pass, [d]);
          pass.end();
          k++;
        }
    }
    if (withTs && qs && resolve && read) {
      enc.resolveQuerySet(qs, 0, 2, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
    }
    return enc.finish();
  };
  // warm-up (pipeline creation, first-touch of buffers, clocks)
  const w0 = now();
  let wSubmits = 0;
  do {
    const t = now();
    device.queue.submit([encodeOnce(false)]);
    await device.queue.onSubmittedWorkDone();
    wSubmits++;
    if (targetMs > 0) {
      const took = now() - t;
      if (took < targetMs / 2 && reps < 100000)
        reps = Math.min(100000, Math.ceil((reps * targetMs) / Math.max(took, 0.05)));
    }
  } while (now() - w0 < warmupMs || (targetMs > 0 && wSubmits < 2));
  let best = Infinity;
  let clock: TimingResult["clock"] = ts ? "timestamp" : "wall";
  for (let trial = 0; trial < trials; trial++) {
    const cb = encodeOnce(ts);
    const t0 = now();
    device.queue.submit([cb]);
    await device.queue.onSubmittedWorkDone();
    const wall = now() - t0;
    let ms = wall;
    if (ts && read) {
      await read.mapAsync(1);
      const t = new BigInt64Array(read.getMappedRange().slice(0));
      read.unmap();
      const ns = Number(t[1] - t[0]);
      if (ns > 0) ms = ns / 1e6;
      else clock = "wall";
    }
    best = Math.min(best, ms / reps);
  }
  qs?.destroy();
  resolve?.destroy();
  read?.destroy();
  return {ms: best, clock};
}
