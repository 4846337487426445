// The resolved training recipe as plain JSON: what `bitnet-lab train --plan --json` prints so the PyTorch
// mirror (scripts/train_torch.py) reads the recipe instead of re-implementing it — the config with every
// default filled in, the per-step learning rate / weight decay / activation stage, the site plan of every
// stage (variant.ts), the Hadamard constructions with their ±1 matrices, and the optimizer groups.
import {hadamardMatrix, hadamardPlan} from "../hadamard.js";
import {linearNames, paramShapes} from "./model.js";
import {modelConfigAt, scheduleAt, stageIndexAt, type TrainConfig} from "./config.js";
import {SITES, sitePlanJSON} from "../variant.js";

export const PLAN_FORMAT = "bitnet-lab-plan/1";

export function resolvedPlanJSON(cfg: TrainConfig): Record<string, unknown> {
  const S = cfg.steps;
  const lr: number[] = [];
  const wd: number[] = [];
  const lrStage: number[] = [];
  const stage: number[] = [];
  for (let s = 0; s < S; s++) {
    const x = scheduleAt(cfg, s);
    lr.push(x.lr);
    wd.push(x.wd);
    lrStage.push(x.stage);
    stage.push(stageIndexAt(cfg, s));
  }
  // one entry per activation stage, with the step it starts at and its full model config + site plan
  const stages: Record<string, unknown>[] = [];
  const hadamard: Record<string, unknown> = {};
  for (let s = 0; s < S; s++) {
    if (s > 0 && stage[s] === stage[s - 1]) continue;
    const model = modelConfigAt(cfg, s);
    const plan = sitePlanJSON(model);
    stages.push({index: stage[s], from: s, model, ...plan});
    for (const site of SITES) {
      const p = plan.sites[site];
      if (!p.hadamard || hadamard[p.dim]) continue;
      const hp = hadamardPlan(p.dim);
      hadamard[p.dim] = {...hp, matrix: hp.construction === "paley1" || hp.construction === "paley2" ? Array.from(hadamardMatrix(hp.m)) : null};
    }
  }
  const c0 = modelConfigAt(cfg, 0);
  const shapes = paramShapes(c0);
  const groups = {
    decay: [...shapes].filter(([, sh]) => sh.length >= 2).map(([n]) => n),
    noDecay: [...shapes].filter(([, sh]) => sh.length < 2).map(([n]) => n),
    ternary: c0.bitnet_variant === "fp" ? [] : linearNames(c0),
  };
  return {format: PLAN_FORMAT, config: cfg, schedule: {lr, wd, lrStage, stage}, stages, hadamard, groups, init: {std: 0.02, norms: 1, seed: cfg.seed}};
}
