// Trains the shipped models on one GPU in parallel processes (tfjs WebGPU on Dawn), on the same tokens:
//   fp, b1.58 and v2-a8 (both saving their state at the stage-two step), a4.8 (8-bit stage then 4-bit stage in
//   one process), and — once they reach that step — v2-a4 continued from v2-a8's state and v2-a4-nohadamard
//   from b1.58's (the same computation as the no-rotation W1.58A8 stage).
// Bundle: ../shared/gpu/prepare.sh bench/train-all.ts; run on the GPU host with the prepared data folder:
//   source .gpu/on-device.sh && node .gpu/train-all.mjs --data .train-data --out runs --steps N
// Options: --only a,b (subset), --max-steps N (stop early: calibration), --override '<json>' (merged into
// every config: local smoke tests), --eval-windows N, --configs DIR (default configs).
import {SHIPPED_RECIPES} from "../src/lib/recipes.js";
import {spawn} from "node:child_process";
import {existsSync, mkdirSync, readFileSync, writeFileSync, createWriteStream} from "node:fs";
import {join, resolve} from "node:path";
import {parseTrainConfig, type TrainConfig} from "../src/lib/train/config.js";
import {loadTf} from "../src/node/tfjs.js";
import {loadPrepared} from "../src/node/train-data.js";
import {runTraining} from "../src/node/train-run.js";
import {parseArgs} from "../src/cli/command.js";

const args = parseArgs(process.argv.slice(2));
const flag = (n: string) => {
  const v = args.flags.get(n);
  return v === undefined || v === true ? undefined : v;
};

function loadConfig(name: string): TrainConfig {
  const dir = flag("configs") ?? "configs";
  const raw = JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as Record<string, unknown>;
  const ov = flag("override");
  if (ov) {
    const o = JSON.parse(ov) as Record<string, unknown>;
    for (const [k, v] of Object.entries(o)) raw[k] = k === "model" ? {...(raw.model as object), ...(v as object)} : v;
  }
  const steps = flag("steps");
  if (steps) raw.steps = Number(steps);
  return parseTrainConfig(raw, name);
}

const stageTwoStep = (c: TrainConfig) => Math.round((c.stages?.[0]?.at ?? 1) * c.steps);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(path: string, what: string): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(path)) {
    if (Date.now() - t0 > 3_600_000) throw new Error(`gave up waiting for ${what} (${path})`);
    await sleep(500);
  }
}

/** Reads the step count the orchestrator decided (sync mode). */
async function decidedSteps(syncDir: string): Promise<number> {
  await waitFor(join(syncDir, "steps.json"), "the step count");
  return (JSON.parse(readFileSync(join(syncDir, "steps.json"), "utf8")) as {steps: number}).steps;
}

async function worker(): Promise<void> {
  const name = flag("worker")!;
  const cfg = loadConfig(name);
  const outRoot = resolve(flag("out")!);
  const out = join(outRoot, name);
  const data = loadPrepared(flag("data")!);
  const tf = await loadTf("webgpu");
  const syncDir = flag("sync-dir");
  let from = flag("from");
  const branchOf = flag("branch-of");
  if (branchOf) {
    // A stage-two run: wait for the step count, then for the stage-one run's state at the branch step.
    if (syncDir) cfg.steps = await decidedSteps(syncDir);
    const at = Math.round((cfg.stages?.[0]?.at ?? 1) * cfg.steps);
    from = join(outRoot, branchOf, `state-${at}.safetensors`);
    const t0 = Date.now();
    await waitFor(from, "the branch-point state");
    await sleep(500);
    console.log(`${name}: ${from} appeared after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  const saveAt = flag("save-at")?.split(",").map(Number);
  const saveAtFractions = flag("save-at-frac")?.split(",").map(Number);
  const maxSteps = flag("max-steps") ? Number(flag("max-steps")) : undefined;
  const ew = flag("eval-windows");
  const dl = flag("deadline");
  const sync =
    syncDir && !branchOf
      ? {
          after: Number(flag("sync-after") ?? 10),
          decide: async (ms: number) => {
            writeFileSync(join(syncDir, `${name}.json`), JSON.stringify({msPerStep: ms}));
            return decidedSteps(syncDir);
          },
        }
      : undefined;
  const s = await runTraining({
    tf,
    cfg,
    data,
    outDir: out,
    from,
    saveAt,
    saveAtFractions,
    sync,
    maxSteps,
    backend: "webgpu",
    finalEvalWindows: ew ? Number(ew) : undefined,
    deadline: dl ? Number(dl) : undefined,
  });
  console.log(`SUMMARY ${JSON.stringify(s)}`);
}

async function orchestrate(): Promise<void> {
  const out = resolve(flag("out") ?? "runs");
  mkdirSync(out, {recursive: true});
  const only = flag("only")?.split(",");
  const want = (n: string) => !only || only.includes(n);
  const v2 = loadConfig("v2-a8");
  const branch = stageTwoStep(loadConfig("v2-a4"));
  const jobs: {name: string; extra: string[]}[] = [];
  const frac = loadConfig("v2-a4").stages?.[0]?.at ?? 1;
  // The no-rotation ablation is W1.58A8 without rotation before its switch — b1.58's computation — so it
  // continues b1.58's state; v2-a4 continues v2-a8's (issue 11: the ablation never rotates).
  // roots first; a root saves its state at the branch point when a wanted continuation starts from it
  const wanted = SHIPPED_RECIPES.filter((r) => want(r.name));
  for (const r of wanted.filter((x) => !x.continues))
    jobs.push({
      name: r.name,
      extra: wanted.some((c) => c.continues === r.name) ? ["--save-at-frac", String(frac)] : [],
    });
  for (const r of wanted.filter((x) => x.continues)) jobs.push({name: r.name, extra: ["--branch-of", r.continues!]});
  void v2;
  void branch;
  // --budget S (seconds): the stage-one runs measure their speed over the first warm-up steps, then all
  // train for the step count that fits the budget (same tokens for every model); a deadline backs it up.
  const budget = flag("budget") ? Number(flag("budget")) : undefined;
  const syncDir = join(out, "sync");
  let deciding: Promise<void> | undefined;
  if (budget) {
    mkdirSync(syncDir, {recursive: true});
    const tStart = Date.now();
    const stageOne = jobs.filter((j) => !j.extra.includes("--branch-of")).map((j) => j.name);
    const finalReserve = Number(flag("final-reserve") ?? 40);
    deciding = (async () => {
      for (const n of stageOne) await waitFor(join(syncDir, `${n}.json`), `${n}'s speed`);
      const ms = Math.max(
        ...stageOne.map(
          (n) => (JSON.parse(readFileSync(join(syncDir, `${n}.json`), "utf8")) as {msPerStep: number}).msPerStep,
        ),
      );
      const left = budget * 1000 - (Date.now() - tStart) - finalReserve * 1000;
      // The last (1 − frac) of the steps run with the two branch processes added (6 instead of 4).
      const slow = 1 + (1 - frac) * 0.6;
      const after = Number(flag("sync-after") ?? 10);
      const maxSteps = Number(flag("steps-cap") ?? 3000);
      const steps = Math.max(after + 10, Math.min(maxSteps, Math.floor(after + left / (ms * slow))));
      writeFileSync(join(syncDir, "steps.json"), JSON.stringify({steps, msPerStep: ms, leftMs: left}));
      console.log(`train-all: slowest stage-one run ${ms.toFixed(0)} ms/step → ${steps} steps for every model`);
    })();
    args.flags.set("deadline", String(tStart + (budget - finalReserve / 2) * 1000));
  }
  const pass = ["data", "steps", "max-steps", "override", "eval-windows", "configs", "deadline", "sync-after"].flatMap(
    (k) => (flag(k) ? [`--${k}`, flag(k)!] : []),
  );
  const t0 = Date.now();
  const results = await Promise.all(
    jobs.map(
      (j) =>
        new Promise<{name: string; code: number; summary?: unknown}>((res) => {
          const log = createWriteStream(join(out, `${j.name}.log`));
          const p = spawn(
            process.execPath,
            [
              process.argv[1],
              "--worker",
              j.name,
              "--out",
              out,
              ...pass,
              ...(budget ? ["--sync-dir", syncDir] : []),
              ...j.extra,
            ],
            {stdio: ["ignore", "pipe", "pipe"]},
          );
          let summary: unknown;
          const onData = (b: Buffer) => {
            log.write(b);
            for (const line of b.toString().split("\n")) {
              if (line.startsWith("SUMMARY ")) summary = JSON.parse(line.slice(8));
              else if (line.trim() && !/XDG_RUNTIME_DIR/.test(line))
                process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(0)}s] ${line}\n`);
            }
          };
          p.stdout.on("data", onData);
          p.stderr.on("data", onData);
          p.on("close", (code) => {
            log.end();
            res({name: j.name, code: code ?? 1, summary});
          });
        }),
    ),
  );
  await deciding;
  const wall = (Date.now() - t0) / 1000;
  writeFileSync(
    join(out, "train-all.json"),
    JSON.stringify({wallSeconds: wall, argv: process.argv.slice(2), results}, null, 2) + "\n",
  );
  console.log(
    `train-all: ${results.filter((r) => r.code === 0).length}/${results.length} runs ok in ${wall.toFixed(0)} s`,
  );
  process.exit(results.every((r) => r.code === 0) ? 0 : 1);
}

if (flag("worker")) {
  worker().then(
    () => process.exit(0),
    (e) => {
      console.error(e instanceof Error ? e.stack : String(e));
      process.exit(1);
    },
  );
} else {
  orchestrate().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
