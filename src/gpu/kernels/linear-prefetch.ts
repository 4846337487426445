// L2 prefetch of the next linear's weights inside a decode GEMV (issue 25). A decode step is a chain of dependent
// dispatches, each latency-bound (one or two DRAM round trips per thread), and WebGPU puts a barrier between them,
// so nothing overlaps across kernels. The next linear's weights do not depend on this one's output, though: each
// invocation of the grid loads its share of them at kernel start, the loads stay in flight while the kernel does
// its own work, and their XOR is used only under a condition that never holds at run time (p.pfKey is never
// 0xFFFFFFFF) but that the compiler cannot prove false — so the loads are not dead code and outputs never change.
// DRAM bytes stay the same; the next kernel's weight loads should hit L2 instead. Measured on one H100 (bench/results,
// issue 25 third pass): slower in every placement (decode @512 2.229 → 2.343 ms; the prefetched GEMVs themselves got
// slower), so tuning.prefetch is off by default and stays a bench candidate for other GPUs.

/** "grid": every vec4 of the next weights, spread over every invocation of the grid. "sector": one u32 per 32-byte
 *  sector (the x of every other vec4): the same L2 sectors touched with half the loads and a quarter of the
 *  registers. */
export type PrefetchMode = "grid" | "sector";
export const PREFETCH_MODES: readonly PrefetchMode[] = ["grid", "sector"];

export interface Prefetch {
  mode: PrefetchMode;
  /** Loads per invocation, all issued at kernel start (unrolled; indices clamped to the buffer). */
  loads: number;
}

/** The binding of the next linear's packed weights: after every fused-prologue and norm-statistics slot
 *  (fusedPrologueBindings: 4–7, 11; STATS_BINDINGS: 8–10). */
export const PF_BINDING = 12;
/** Most loads one invocation holds in flight (registers: 4 per load in "grid" mode, 1 in "sector" mode). */
export const PF_MAX_LOADS = 32;

/** The per-invocation loads that cover `pfVec4s` vec4 with `gridThreads` invocations, or why prefetch is off. */
export function prefetchPlan(
  mode: PrefetchMode,
  pfVec4s: number,
  gridThreads: number,
): {prefetch: Prefetch} | {off: string} {
  if (!PREFETCH_MODES.includes(mode)) throw new Error(`prefetch: unknown mode ${JSON.stringify(mode)}`);
  if (!(pfVec4s >= 1)) return {off: "nothing to prefetch"};
  const units = mode === "grid" ? pfVec4s : Math.ceil(pfVec4s / 2);
  const loads = Math.ceil(units / gridThreads);
  if (loads > PF_MAX_LOADS)
    return {
      off: `${loads} loads per invocation needed (${pfVec4s} vec4 over ${gridThreads} invocations; max ${PF_MAX_LOADS})`,
    };
  return {prefetch: {mode, loads}};
}

/** The uniform P of a prefetching kernel: linearParams' 8 words with pfLen (vec4 of the next weights) in the spare
 *  8th, then pfKey = 0 (the never-taken guard), padded to 12 words (the struct is 36 bytes, 48 as a uniform). */
export function prefetchParams(P: Uint32Array, pfVec4s: number): Uint32Array {
  const out = new Uint32Array(12);
  out.set(P.subarray(0, 7));
  out[7] = pfVec4s;
  return out;
}

/** Fields appended to struct P. */
export const prefetchStructFields = ", pfLen: u32, pfKey: u32";

export function prefetchDeclWGSL(): string {
  return `@group(0) @binding(${PF_BINDING}) var<storage, read> PF: array<vec4<u32>>;`;
}

/** The loads, issued at kernel start (needs @builtin(num_workgroups) nwg, wid, lid in scope). */
export function prefetchLoadsWGSL(pf: Prefetch, WG: number): string[] {
  const L = [
    `  // prefetch: the next linear's weights into L2 (consumed only under a never-taken guard at the end)`,
    `  let pfT = nwg.x * nwg.y * ${WG}u;`,
    `  let pfI = (wid.y * nwg.x + wid.x) * ${WG}u + lid;`,
    `  let pfN = max(p.pfLen, 1u) - 1u;`,
  ];
  for (let k = 0; k < pf.loads; k++) {
    const i = `pfI + ${k}u * pfT`;
    L.push(pf.mode === "grid" ? `  let pf${k} = PF[min(${i}, pfN)];` : `  let pf${k} = PF[min(2u * (${i}), pfN)].x;`);
  }
  return L;
}

/** The use of the loaded values, before the entry point closes: a store that never happens. */
export function prefetchUseWGSL(pf: Prefetch): string[] {
  const all = [...Array(pf.loads).keys()].map((k) => `pf${k}`).join(" ^ ");
  const fold = pf.mode === "grid" ? "pfX.x ^ pfX.y ^ pfX.z ^ pfX.w" : "pfX";
  return [`  let pfX = ${all};`, `  if (p.pfKey == 0xffffffffu && (${fold}) == 0x2545f491u) { Y[0] = 0.0; }`];
}

/** Storage buffers a WGSL module declares (to check against maxStorageBuffersPerShaderStage). */
export const storageBindingCount = (code: string) => (code.match(/var<storage\b/g) ?? []).length;
