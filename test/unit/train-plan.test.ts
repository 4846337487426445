// The PyTorch mirror must not drift from the TS trainer. The mirror trains from the TS plan
// (`bitnet-lab train --plan --json`, src/lib/train/plan.ts) and records what it actually applied in
// data/models/<name>/mirror-recipe.json (written on the GPU host by scripts/train_torch.py). Here the plan is
// rebuilt from today's configs/<name>.json (with the run's seed / steps / batch overrides) and compared
// field by field with that record: resolved config, per-step lr / wd / activation bits / stage, each stage's
// site plan and Hadamard matrix, optimizer groups, init and batch windows. A change on either side — a
// config, a default, the schedule, a variant rule, the Hadamard construction, the batch RNG — fails here
// until the shipped models are retrained (or the change is reverted). No torch needed.
import {SHIPPED_NAMES} from "../../src/lib/recipes.js";
import {createHash} from "node:crypto";
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {explicitHadamard} from "../../src/lib/hadamard.js";
import {parseTrainConfig, type TrainConfig} from "../../src/lib/train/config.js";
import {batchStarts, recipePrefixDiff, trainPlan, type TrainPlan} from "../../src/lib/train/plan.js";
import {SITES} from "../../src/lib/variant.js";

interface MirrorSite {
  scheme?: string;
  quantizer?: string;
  hadamard: boolean;
  n?: number;
  dim?: number;
}
interface MirrorRecipe {
  format: string;
  name: string;
  seed: number;
  truncated: boolean;
  config: TrainConfig;
  applied: {
    lr: number[];
    wd: number[];
    activationBits: number[];
    actStage: number[];
    stages: {
      fromStep: number;
      stage: number;
      model: Record<string, unknown>;
      sites: Record<string, MirrorSite>;
      hadamardSha256: Record<string, string>;
    }[];
  };
  optimizer: {betas: number[]; eps: number; gradClip: number; decay: string[]; noDecay: string[]};
  init: {matrixStd: number; normValue: number; seed: number};
  params: [string, number[]][];
  batching: {batchSize: number; seqLen: number; trainTokens: number; startsSha256: string};
}

const MODELS = SHIPPED_NAMES;

/** The plan the TS side would print today for the run the recipe records. */
function planFor(name: string, r: MirrorRecipe, edit: (raw: Record<string, unknown>) => void = () => {}): TrainPlan {
  const raw = JSON.parse(readFileSync(`configs/${name}.json`, "utf8")) as Record<string, unknown>;
  Object.assign(raw, {
    seed: r.config.seed,
    steps: r.config.steps,
    batchSize: r.config.batchSize,
    evalEvery: r.config.evalEvery,
  });
  edit(raw);
  return trainPlan(parseTrainConfig(raw, `configs/${name}.json`));
}

const signsSha = (n: number) =>
  createHash("sha256")
    .update(Buffer.from(Array.from(explicitHadamard(n), (v) => (v > 0 ? 43 : 45))))
    .digest("hex");
const startsSha = (s: number[][]) =>
  createHash("sha256")
    .update(Buffer.from(new Uint32Array(s.flat()).buffer))
    .digest("hex");

/** Every difference between what the mirror applied and the plan; [] when they agree. */
function differences(r: MirrorRecipe, p: TrainPlan): string[] {
  const out: string[] = [];
  const same = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push(what);
  };
  same("resolved config", r.config, p.config);
  same("lr per step", r.applied.lr, p.schedule.lr);
  same("weight decay per step", r.applied.wd, p.schedule.wd);
  same("activation bits per step", r.applied.activationBits, p.schedule.activationBits);
  same("activation stage per step", r.applied.actStage, p.schedule.actStage);
  same(
    "stage boundaries",
    r.applied.stages.map((s) => s.fromStep),
    p.stages.map((s) => s.fromStep),
  );
  r.applied.stages.forEach((s, k) => {
    const ps = p.stages[k];
    if (!ps) return;
    // plan version 1 (these runs) spelled a site {scheme, hadamard, n} and gate_up "gateup"
    for (const site of SITES) {
      const m = s.sites[site] ?? s.sites[site === "gate_up" ? "gateup" : site];
      const t = ps.sites[site];
      same(`stage ${k} site ${site}`, m && {q: m.quantizer ?? m.scheme, h: m.hadamard, n: m.dim ?? m.n}, {
        q: t.quantizer,
        h: t.hadamard,
        n: t.dim,
      });
      if (t.hadamard) same(`stage ${k} Hadamard ${t.dim}`, s.hadamardSha256[t.dim], signsSha(t.dim));
    }
    // The computation, not the name: v2-a4-nohadamard's first stage was run as b1.58 (same sites, same
    // everything), so the variant name may differ where the site plans above agree.
    for (const k2 of ["hidden_act", "bitnet_sub_norms"] as const)
      same(`stage ${k} model.${k2}`, s.model[k2], ps.model[k2]);
    if (ps.sites.o.quantizer === "topk-int8")
      same(`stage ${k} top-K ratio`, s.model.bitnet_topk_ratio, ps.sites.o.topK);
  });
  same(
    "optimizer",
    {...r.optimizer, kind: undefined},
    {
      betas: p.optimizer.betas,
      eps: p.optimizer.eps,
      gradClip: p.optimizer.gradClip,
      decay: p.optimizer.decay,
      noDecay: p.optimizer.noDecay,
      kind: undefined,
    },
  );
  same("init", r.init, p.init);
  same("parameters", r.params, p.params);
  same("batch shape", [r.batching.batchSize, r.batching.seqLen], [p.config.batchSize, p.config.seqLen]);
  same(
    "batch windows",
    r.batching.startsSha256,
    startsSha(batchStarts(r.batching.trainTokens, p.config.batchSize, p.config.seqLen, p.config.seed, p.config.steps)),
  );
  return out;
}

for (const name of MODELS) {
  describe(`mirror recipe: data/models/${name}`, () => {
    const r = JSON.parse(readFileSync(`data/models/${name}/mirror-recipe.json`, "utf8")) as MirrorRecipe;

    it("is a complete, untruncated record of the shipped run", () => {
      expect(r.format).toBe("bitnet-lab-mirror-recipe");
      expect(r.name).toBe(name);
      expect(r.truncated).toBe(false);
      expect(r.applied.lr).toHaveLength(r.config.steps);
      const summary = JSON.parse(readFileSync(`data/models/${name}/summary.json`, "utf8")) as {seed: number};
      expect(r.seed).toBe(summary.seed);
    });

    it("applied exactly the recipe the TS trainer resolves from today's config", () => {
      expect(differences(r, planFor(name, r))).toEqual([]);
    });
  });
}

describe("the comparison catches drift", () => {
  const r = JSON.parse(readFileSync("data/models/a4.8/mirror-recipe.json", "utf8")) as MirrorRecipe;
  it("a stage switch at 80% instead of 95%", () => {
    const d = differences(
      r,
      planFor("a4.8", r, (raw) => ((raw.stages as {at: number}[])[0].at = 0.8)),
    );
    expect(d).toContain("activation bits per step");
    expect(d).toContain("stage boundaries");
  });
  it("a different warm-up, weight decay or seed", () => {
    expect(
      differences(
        r,
        planFor("a4.8", r, (raw) => ((raw.lr as {warmup: number}).warmup = 19)),
      ),
    ).toContain("lr per step");
    expect(
      differences(
        r,
        planFor("a4.8", r, (raw) => (raw.weightDecay = [0.1, 0.1])),
      ),
    ).toContain("weight decay per step");
    expect(
      differences(
        r,
        planFor("a4.8", r, (raw) => (raw.seed = 7)),
      ),
    ).toContain("batch windows");
    expect(
      differences(
        r,
        planFor(
          "a4.8",
          r,
          (raw) => ((raw.stages as {model: Record<string, unknown>}[])[0].model.bitnet_topk_ratio = 0.4),
        ),
      ),
    ).toContain("stage 1 top-K ratio");
  });
  it("a different rotation (v2) or site rule", () => {
    const v = JSON.parse(readFileSync("data/models/v2-a4/mirror-recipe.json", "utf8")) as MirrorRecipe;
    const d = differences(
      v,
      planFor("v2-a4", v, (raw) => ((raw.model as Record<string, unknown>).bitnet_hadamard = false)),
    );
    expect(d).toContain("stage 0 site o");
    expect(d).toContain("stage 1 site down");
  });
});

describe("continuing a state: the recipe before the branch step must be the same computation", () => {
  const load = (n: string) =>
    parseTrainConfig({...JSON.parse(readFileSync(`configs/${n}.json`, "utf8")), steps: 200}, n);
  const at = Math.round(0.95 * 200);
  it("the no-rotation ablation continues b1.58 (W1.58A8 without rotation is b1.58), never v2-a8", () => {
    expect(recipePrefixDiff(load("b1.58"), load("v2-a4-nohadamard"), at)).toBeUndefined();
    expect(recipePrefixDiff(load("v2-a8"), load("v2-a4-nohadamard"), at)).toMatch(
      /the o input at step 0 \(rotated absmax-int8 vs absmax-int8\)/,
    );
  });
  it("v2-a4 continues v2-a8 up to the 95% switch, not beyond", () => {
    expect(recipePrefixDiff(load("v2-a8"), load("v2-a4"), at)).toBeUndefined();
    expect(recipePrefixDiff(load("v2-a8"), load("v2-a4"), at + 1)).toMatch(/step 190/);
    expect(recipePrefixDiff(load("fp"), load("b1.58"), 10)).toMatch(/schedule|input/);
  });
});
