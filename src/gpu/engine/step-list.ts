// A fixed list of steps that is encoded again and again (each decode step's compute passes). Encoding a dispatch
// costs three calls into Dawn's binding; what JS adds on top (a grid array per dispatch from its gridFn) is kept
// per list for the last (M, nC): a decode step's grids change only when the attention chunk count nC does.
import type {Step} from "./types.js";

export class StepList {
  private M = -1;
  private nC = -1;
  /** x, y, z per step for (M, nC). */
  private readonly grid: Uint32Array;

  constructor(readonly steps: readonly Step[]) {
    this.grid = new Uint32Array(3 * steps.length);
  }

  private grids(M: number, nC: number): Uint32Array {
    if (M !== this.M || nC !== this.nC) {
      this.steps.forEach((s, i) => this.grid.set(s.gridFn(M, nC), 3 * i));
      this.M = M;
      this.nC = nC;
    }
    return this.grid;
  }

  /** Encodes the steps into `pass`; setPipeline only where the pipeline changes (every bind group differs). */
  encode(pass: GPUComputePassEncoder, M: number, nC: number): void {
    const g = this.grids(M, nC);
    const steps = this.steps;
    let last: GPUComputePipeline | undefined;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i];
      if (s.pipeline !== last) pass.setPipeline((last = s.pipeline));
      pass.setBindGroup(0, s.bind);
      pass.dispatchWorkgroups(g[3 * i], g[3 * i + 1], g[3 * i + 2]);
    }
  }
}

/** `steps` split into `passes` consecutive lists of (nearly) equal length, at least one. */
export function splitPasses(steps: readonly Step[], passes: number): StepList[] {
  const n = Math.max(1, Math.min(steps.length, Math.floor(passes)));
  const per = Math.ceil(steps.length / n);
  const lists: StepList[] = [];
  for (let i = 0; i < steps.length; i += per) lists.push(new StepList(steps.slice(i, i + per)));
  return lists;
}
