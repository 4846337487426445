// Shared by decode-parts.ts and prefill-parts.ts: a device whose WGSL a timing-only variant may rewrite, and a dispatch
// list timed by kind of step (tag kind + BitLinear site), printed as "kind n× ms".
import {acquireGpu, type GpuContext} from "../src/gpu/device.js";
import type {Dispatch} from "../src/gpu/gpu.js";
import {timeDispatches} from "../src/gpu/measure/timing.js";
import type {StepTag} from "../src/gpu/engine/types.js";

const changed = new WeakMap<GPUDevice, number>();
/** How many shader modules a timing-only rewrite changed on `device` (0: the variant's numbers are the baseline's). */
export const rewrittenModules = (device: GPUDevice): number => changed.get(device) ?? 0;

/** A device (kept alive for the run); with `rewrite`, every shader module's WGSL goes through it first. */
export async function partsDevice(rewrite?: (c: string) => string): Promise<GpuContext> {
  const ctx = await acquireGpu({dawnFlags: ["disable-dawn-features=timestamp_quantization"]});
  (globalThis as {keep?: unknown[]}).keep = [...((globalThis as {keep?: unknown[]}).keep ?? []), ctx];
  if (rewrite) {
    const d = ctx.device;
    const orig = d.createShaderModule.bind(d);
    d.createShaderModule = (desc: GPUShaderModuleDescriptor) => {
      const code = rewrite(desc.code);
      if (code !== desc.code) changed.set(d, (changed.get(d) ?? 0) + 1);
      return orig({...desc, code});
    };
  }
  return ctx;
}

export type KindTimes = Record<string, {n: number; ms: number}>;

/** Each kind of dispatch in `list` (tag kind, ":site" for a BitLinear step) timed alone, in list order. */
export async function timeKinds(
  device: GPUDevice,
  list: readonly (Dispatch & {tag: StepTag})[],
  opts: Parameters<typeof timeDispatches>[2],
): Promise<KindTimes> {
  const byKind = new Map<string, Dispatch[]>();
  for (const d of list) {
    const k = d.tag.kind + (d.tag.site ? `:${d.tag.site}` : "");
    byKind.set(k, [...(byKind.get(k) ?? []), d]);
  }
  const kinds: KindTimes = {};
  for (const [k, l] of byKind) kinds[k] = {n: l.length, ms: (await timeDispatches(device, l, opts)).ms};
  return kinds;
}

/** " — kind n× ms, …", or "" when nothing was split. */
export function kindsLine(kinds: KindTimes): string {
  const e = Object.entries(kinds);
  return e.length ? ` — ${e.map(([k, x]) => `${k} ${x.n}× ${x.ms.toFixed(3)}`).join(", ")}` : "";
}

/** A prefill's wall time through the engine (its passes, uniform writes, submission and the sampled token's
 *  read-back): the best of two `appendAndSample(prompt)` after a warm-up, each from an empty cache. */
export async function prefillWallMs(
  s: {reset(): void; appendAndSample(tokens: number[]): Promise<number>},
  prompt: number[],
): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    s.reset();
    const t0 = performance.now();
    await s.appendAndSample(prompt); // the first run is the warm-up
    if (i > 0) best = Math.min(best, performance.now() - t0);
  }
  return best;
}
