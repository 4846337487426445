// What every kernel-lab check is made of (kernel-lab-checks.ts, kernel-lab-attention.ts): the entry type, one timed
// dispatch with bindings by number, and a bit-for-bit comparison.
import type {KernelCheckRow} from "../components/kernel-checks.js";

export interface CheckOptions {
  /** Rewrites the candidate kernel's WGSL (never the baseline's): a deliberately broken kernel for tests. */
  perturb?: (wgsl: string) => string;
  /** Only the entry's first (smallest) shape: tests that compile a perturbed kernel keep to seconds. */
  firstShapeOnly?: boolean;
}

/** The shapes a check runs: all, or the first under firstShapeOnly. */
export const shapesFor = <T>(shapes: readonly T[], o: CheckOptions): readonly T[] =>
  o.firstShapeOnly ? shapes.slice(0, 1) : shapes;

/** What a check measures; the runner adds the entry's names and the verdict. */
export type CheckResult = Omit<KernelCheckRow, "kernel" | "against" | "pass">;

export interface LabEntry {
  kernel: string;
  against: string;
  check(device: GPUDevice, o: CheckOptions): Promise<CheckResult>;
}

/** Runs one dispatch; binds by binding number (fused kernels leave gaps). Returns wall ms, submit → done. */
export async function dispatchTimed(
  device: GPUDevice,
  pl: GPUComputePipeline,
  binds: Record<number, GPUBuffer>,
  grid: readonly number[],
): Promise<number> {
  const entries = Object.entries(binds).map(([b, buffer]) => ({binding: Number(b), resource: {buffer}}));
  const bind = device.createBindGroup({layout: pl.getBindGroupLayout(0), entries});
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pl);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(grid[0], grid[1] ?? 1, grid[2] ?? 1);
  pass.end();
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/** Compares bit patterns (so −0 vs 0 and NaNs count); maxDiff over the finite pairs. */
export function compareBits(got: Float32Array, want: Float32Array): {mismatches: number; maxDiff: number} {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  let mismatches = 0;
  let maxDiff = 0;
  for (let i = 0; i < g.length; i++)
    if (g[i] !== w[i]) {
      mismatches++;
      const e = Math.abs(got[i] - want[i]);
      maxDiff = Number.isNaN(e) ? Infinity : Math.max(maxDiff, e);
    }
  return {mismatches, maxDiff};
}

/** Sums a check's shapes: outputs compared, outputs that differ, the largest |Δ|, the slowest timed dispatch. */
export class Tally {
  checked = 0;
  mismatches = 0;
  maxDiff = 0;
  ms = 0;
  add(checked: number, c: {mismatches: number; maxDiff: number}, ms = 0): void {
    this.checked += checked;
    this.mismatches += c.mismatches;
    this.maxDiff = Math.max(this.maxDiff, c.maxDiff);
    this.ms = Math.max(this.ms, ms);
  }
  result(shape: string, tolerance: number, timed: string): CheckResult {
    const {checked, mismatches, maxDiff, ms} = this;
    return {shape, checked, mismatches, maxDiff, tolerance, ms, timed};
  }
}
