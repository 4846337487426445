// The Node training driver behind `bitnet-lab train` and bench/train-all.ts: progress lines with tokens/s
// and ETA, periodic validation, atomic checkpoints that resume exactly (the saved state validated first), a
// final evaluation proportional to the run (or the whole validation split), and export to the reference
// checkpoint format (config.json + packed ternary model.safetensors + tokenizer.json) in the run folder
// itself, so every other command takes the run folder as a model folder.
import {existsSync, mkdirSync, readFileSync, renameSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {writeCheckpoint} from "../lib/checkpoint.js";
import {parseSafetensorsHeader} from "../lib/safetensors.js";
import {parseStateMeta} from "../lib/train/state.js";
import type {TrainConfig} from "../lib/train/config.js";
import {valBatches} from "../lib/train/data.js";
import type {TF} from "../lib/train/tf.js";
import {Trainer, type EvalResult} from "../lib/train/trainer.js";
import type {PreparedData} from "./train-data.js";

export interface TrainRunOptions {
  tf: TF;
  cfg: TrainConfig;
  data: PreparedData;
  outDir: string;
  /** Continue from outDir/state.safetensors. */
  resume?: boolean;
  /** Start from another run's saved state (weights, optimizer, step) under this config. */
  from?: string;
  /** Also save state-<step>.safetensors at these steps (branch points for continued runs). */
  saveAt?: number[];
  /** Stop after this many steps in this invocation (the schedule still spans cfg.steps). */
  maxSteps?: number;
  /** Write the exported model when training finishes (default true). */
  export?: boolean;
  /** Also save state-<step>.safetensors at round(f·steps) for these fractions f (evaluated with the
   *  final step count, see `sync`). */
  saveAtFractions?: number[];
  /** Agree on the step count with parallel runs: after `after` steps (all still in the warm-up, where
   *  nothing depends on the total), call `decide(msPerStep)` and continue with the steps it returns.
   *  Batches depend only on (seed, step) and the schedule only on the final total, so the run is the
   *  same as one started with that total. */
  sync?: {after: number; decide: (msPerStep: number) => Promise<number>};
  /** Wall-clock deadline (ms since the epoch): training stops before it, then evaluates and exports what
   *  it has, marked `truncated` (a safety net for time-limited GPU runs). */
  deadline?: number;
  /** Windows of the validation split for the final evaluation: a count, "proportional" (finalEvalWindows() of
   *  the steps done), or — by default — all of them. */
  finalEvalWindows?: number | "proportional";
  /** Evaluate and export also when this invocation stops before cfg.steps (--max-steps): the run folder is
   *  then a usable model folder after every invocation. */
  exportPartial?: boolean;
  /** Progress of the final evaluation (batches done of total). */
  onEvalBatch?: (done: number, total: number) => void;
  print?: (line: string) => void;
  backend?: string;
}

export interface RunSummary {
  name: string;
  steps: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  final?: EvalResult;
  modelBytes?: number;
  /** Stopped at the deadline before cfg.steps. */
  truncated?: boolean;
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  writeFileSync(path + ".tmp", data);
  renameSync(path + ".tmp", path);
}

const fmtTime = (s: number) =>
  s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`
      : `${s.toFixed(0)}s`;

/** Windows of the validation split for a run's final evaluation: proportional to the run (as many windows as
 *  training sequences seen, at least the periodic evaluation's), capped by the split — a 4-step run is
 *  evaluated on a few thousand tokens, a full run on the whole split. */
export function finalEvalWindows(cfg: TrainConfig, stepsDone: number): number {
  return Math.max(cfg.evalBatches, stepsDone) * cfg.batchSize;
}

/** Restores a saved training state, validating the file as strictly as a checkpoint; errors name the file. */
function loadState(tf: TF, path: string, streams: {train: Uint16Array; val: Uint16Array}, cfg: TrainConfig): Trainer {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const h = parseSafetensorsHeader(bytes);
    const raw = h.metadata["bitnet_lab_train_state"];
    if (raw === undefined) throw new Error("not a training state (no bitnet_lab_train_state metadata)");
    parseStateMeta(raw, path, cfg.steps);
    return Trainer.fromState(tf, bytes, streams, cfg);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(msg.startsWith(path) ? msg : `${path}: ${msg.replace(/^trainer: (training state: )?/, "")}`);
  }
}

/** The run's trainer: resumed from the run folder's state, continued from another run's (`from`), or new. */
function openTrainer(o: TrainRunOptions, statePath: string, print: (l: string) => void): Trainer {
  const {tf, cfg, data, outDir} = o;
  const streams = {train: data.train, val: data.val};
  if (o.resume && existsSync(statePath)) {
    const tr = loadState(tf, statePath, streams, cfg);
    print(
      `resumed ${cfg.name} at step ${tr.step}/${cfg.steps} from ${statePath}${tr.done ? " (the run is complete: evaluating and exporting again)" : ""}`,
    );
    return tr;
  }
  if (o.from) {
    const tr = loadState(tf, o.from, streams, cfg);
    print(`continuing ${cfg.name} from ${o.from} at step ${tr.step}/${cfg.steps}`);
    return tr;
  }
  if (o.resume) print(`no state in ${outDir}: starting ${cfg.name} from scratch`);
  return Trainer.create(tf, cfg, streams);
}

export async function runTraining(o: TrainRunOptions): Promise<RunSummary> {
  const print = o.print ?? ((l: string) => console.log(l));
  const {cfg, data, outDir} = o;
  mkdirSync(outDir, {recursive: true});
  const statePath = join(outDir, "state.safetensors");
  const tr = openTrainer(o, statePath, print);
  writeFileSync(join(outDir, "train-config.json"), JSON.stringify(cfg, null, 2));
  const save = async (path: string) => writeAtomic(path, await tr.saveState());
  const writeLog = () => writeAtomic(join(outDir, "log.jsonl"), tr.log.map((r) => JSON.stringify(r)).join("\n") + "\n");

  const tokensPerStep = cfg.batchSize * cfg.seqLen;
  const startStep = tr.step;
  let until = Math.min(cfg.steps, startStep + (o.maxSteps ?? Infinity));
  let syncT0 = 0;
  const t0 = performance.now();
  let tWindow = t0;
  let stepsWindow = 0;
  print(
    `${cfg.name}: ${cfg.model.bitnet_variant}, ${cfg.steps} steps × ${tokensPerStep} tokens, backend ${o.backend ?? "?"}`,
  );
  let truncated = false;
  let lastStepMs = 0;
  let lastLine = t0;
  while (tr.step < until) {
    if (o.deadline && Date.now() + 1.5 * lastStepMs > o.deadline) {
      truncated = true;
      print(`${cfg.name}: deadline reached at step ${tr.step}/${cfg.steps}: stopping early`);
      break;
    }
    const r = await tr.trainStep();
    lastStepMs = r.ms;
    stepsWindow++;
    if (!Number.isFinite(r.loss)) throw new Error(`${cfg.name}: loss is ${r.loss} at step ${r.step} (diverged)`);
    // A line every logEvery steps, and at least every 10 s (slow backends), and after the first step.
    const tNow = performance.now();
    if (r.step % cfg.logEvery === 0 || r.step === until || r.step === startStep + 1 || tNow - lastLine > 10_000) {
      lastLine = tNow;
      const t = tNow;
      const tps = (stepsWindow * tokensPerStep) / ((t - tWindow) / 1000);
      const eta = ((until - r.step) * tokensPerStep) / tps;
      print(
        `${cfg.name} step ${r.step}/${cfg.steps} loss ${r.loss.toFixed(4)} gnorm ${r.gradNorm.toFixed(3)} lr ${r.lr.toExponential(2)} wd ${r.wd} a${r.activationBits} | ${(tps / 1000).toFixed(1)}k tok/s | ETA ${fmtTime(eta)}`,
      );
      tWindow = t;
      stepsWindow = 0;
    }
    if (cfg.evalEvery > 0 && r.step % cfg.evalEvery === 0 && r.step < cfg.steps) {
      print(`${cfg.name} eval step ${r.step}: ${cfg.evalBatches} batches…`);
      const e = await tr.evaluate();
      print(`${cfg.name} eval step ${e.step}: val loss ${e.loss.toFixed(4)} ppl ${e.perplexity.toFixed(2)}`);
    }
    if (o.sync && r.step === Math.max(1, o.sync.after - 6)) syncT0 = performance.now();
    if (o.sync && r.step === o.sync.after) {
      if (r.step >= cfg.lr.warmup)
        throw new Error(
          `${cfg.name}: sync.after (${o.sync.after}) must lie inside the warm-up (${cfg.lr.warmup} steps)`,
        );
      const msPerStep = (performance.now() - syncT0) / (o.sync.after - Math.max(1, o.sync.after - 6));
      const steps = await o.sync.decide(msPerStep);
      (cfg as {steps: number}).steps = steps; // the trainer reads the same config object
      until = Math.min(steps, startStep + (o.maxSteps ?? Infinity));
      print(`${cfg.name}: ${msPerStep.toFixed(0)} ms/step measured; training for ${steps} steps`);
    }
    if (o.saveAt?.includes(r.step) || o.saveAtFractions?.some((f) => Math.round(f * cfg.steps) === r.step))
      await save(join(outDir, `state-${r.step}.safetensors`));
    if (cfg.checkpointEvery > 0 && r.step % cfg.checkpointEvery === 0) {
      await save(statePath);
      writeLog();
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const steps = tr.step - startStep;
  const summary: RunSummary = {
    name: cfg.name,
    steps,
    tokens: steps * tokensPerStep,
    seconds,
    tokensPerSecond: (steps * tokensPerStep) / Math.max(seconds, 1e-9),
  };
  if (truncated) summary.truncated = true;
  if (tr.done || truncated || (o.exportPartial && steps > 0)) {
    const count = o.finalEvalWindows === "proportional" ? finalEvalWindows(cfg, tr.step) : o.finalEvalWindows;
    const batches = valBatches(data.val, cfg.batchSize, cfg.seqLen, count);
    const windows = batches.reduce((n, b) => n + b.B, 0);
    print(`${cfg.name} final evaluation: ${windows} validation windows (${windows * cfg.seqLen} tokens)…`);
    const final = await tr.evaluate(batches, o.onEvalBatch);
    summary.final = final;
    print(
      `${cfg.name} final: val loss ${final.loss.toFixed(4)} ppl ${final.perplexity.toFixed(2)} on ${final.tokens} tokens`,
    );
    if (o.export !== false) {
      // The run folder is the model folder: config.json + model.safetensors + tokenizer.json beside the state.
      const w = await tr.exportWeights();
      const ck = writeCheckpoint(w, {
        floatDtype: "BF16",
        metadata: {
          bitnet_lab_trained: JSON.stringify({name: cfg.name, steps: tr.step, of: cfg.steps, val_loss: final.loss}),
        },
      });
      writeAtomic(join(outDir, "model.safetensors"), ck.safetensors);
      writeAtomic(join(outDir, "tokenizer.json"), JSON.stringify(data.tokenizer.toJSON()));
      writeAtomic(join(outDir, "config.json"), JSON.stringify(ck.config, null, 2) + "\n");
      summary.modelBytes = ck.safetensors.length;
      print(
        `${cfg.name} exported to ${outDir} at step ${tr.step}/${cfg.steps} (model.safetensors ${(ck.safetensors.length / 1e6).toFixed(2)} MB): bitnet-lab generate ${outDir} --prompt …`,
      );
    }
  }
  await save(statePath);
  writeLog();
  writeFileSync(join(outDir, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  tr.dispose();
  return summary;
}
