// `bitnet-lab train`: trains one model from a config (configs/<name>.json or a file) with tfjs, on WebGPU
// (Dawn) or the CPU, with resumable checkpoints, and exports it in the reference checkpoint format.
import {existsSync, readFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join, resolve} from "node:path";
import {fileURLToPath} from "node:url";
import {ConfigError, modelConfigAt, parseTrainConfig, type TrainConfig} from "../lib/train/config.js";
import {BACKENDS, loadTf, type BackendName} from "../node/tfjs.js";
import {loadPrepared, preparedData} from "../node/train-data.js";
import {runTraining} from "../node/train-run.js";
import {trainPlan} from "../lib/train/plan.js";
import {UsageError, flagBool, flagNumber, flagString, type Command, type ParsedArgs} from "./command.js";

export const CONFIG_DIR = fileURLToPath(new URL("../../configs/", import.meta.url));

/** Reads a training config by name (configs/<name>.json) or path; errors name the file and field. */
export function readTrainConfig(ref: string): TrainConfig {
  const path = ref.endsWith(".json") ? resolve(ref) : join(CONFIG_DIR, `${ref}.json`);
  if (!existsSync(path)) throw new UsageError(`--config: no such config "${ref}" (looked for ${path})`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  try {
    return parseTrainConfig(raw, path);
  } catch (e) {
    // A bad config is bad input: exit code 2, with the message naming the field.
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

export const train: Command = {
  name: "train",
  summary: "train a model with tfjs and the straight-through estimator; export a packed checkpoint",
  usage: "bitnet-lab train --config <name|file.json> --out <dir> [--backend webgpu|cpu|wasm] [--steps N] [--resume] [--from <state.safetensors>] [--max-steps N] [--save-at N,M] [--data <dir>] [--eval-windows N]\n       bitnet-lab train --config <name|file.json> --plan [--json] [--steps N] [--data <dir>]   (the resolved recipe; --data adds every step's batch windows)",
  async run(args: ParsedArgs): Promise<number> {
    if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}"`);
    const ref = flagString(args, "config");
    if (!ref) throw new UsageError("--config is required");
    if (flagBool(args, "plan")) return await printPlan(args, ref);
    const out = flagString(args, "out");
    if (!out) throw new UsageError("--out is required");
    const backend = (flagString(args, "backend") ?? "webgpu") as BackendName;
    if (!BACKENDS.includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(", ")}, got "${backend}"`);
    let cfg = readTrainConfig(ref);
    const steps = flagNumber(args, "steps", cfg.steps, {min: 1, integer: true});
    if (steps !== cfg.steps) cfg = {...cfg, steps};
    const maxSteps = flagNumber(args, "max-steps", Infinity, {min: 1, integer: true});
    const saveAtRaw = flagString(args, "save-at");
    const saveAt = saveAtRaw?.split(",").map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`--save-at must be a comma-separated list of step numbers, got "${saveAtRaw}"`);
      return n;
    });
    const evalWindows = flagNumber(args, "eval-windows", Infinity, {min: 1, integer: true});
    const from = flagString(args, "from");
    if (from && !existsSync(from)) throw new UsageError(`--from: no such file ${from}`);
    const resume = flagBool(args, "resume");
    if (resume && from) throw new UsageError("--resume and --from exclude each other");

    const vocab = modelConfigAt(cfg, 0).vocab_size;
    const dataDir = flagString(args, "data");
    const t0 = performance.now();
    const data = dataDir ? loadPrepared(dataDir) : preparedData(join(tmpdir(), `bitnet-lab-sotu-${vocab}`), vocab);
    if (data.tokenizer.vocabSize !== vocab) throw new Error(`the prepared tokenizer has ${data.tokenizer.vocabSize} tokens, the config's vocab_size is ${vocab}`);
    console.log(`data: ${data.info.trainTokens} train / ${data.info.valTokens} validation tokens (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const tf = await loadTf(backend);
    const s = await runTraining({tf, cfg, data, outDir: out, resume, from, saveAt, maxSteps, backend,
      finalEvalWindows: Number.isFinite(evalWindows) ? evalWindows : undefined});
    console.log(`done: ${s.steps} steps, ${s.tokens} tokens in ${s.seconds.toFixed(1)} s (${(s.tokensPerSecond / 1000).toFixed(1)}k tok/s)`);
    return 0;
  },
};

/** `--plan`: the resolved recipe (src/lib/train/plan.ts) as JSON (--json) or a short summary; trains nothing. */
async function printPlan(args: ParsedArgs, ref: string): Promise<number> {
  let cfg = readTrainConfig(ref);
  const steps = flagNumber(args, "steps", cfg.steps, {min: 1, integer: true});
  if (steps !== cfg.steps) cfg = {...cfg, steps};
  const dataDir = flagString(args, "data");
  const trainTokens = dataDir ? loadPrepared(dataDir).train.length : undefined;
  const plan = trainPlan(cfg, {trainTokens});
  if (flagBool(args, "json")) {
    // The CLI exits right after run() returns: wait until a large JSON has left for the pipe.
    await new Promise<void>((done) => process.stdout.write(JSON.stringify(plan) + "\n", () => done()));
    return 0;
  }
  const last = cfg.steps - 1;
  console.log(`${cfg.name}: ${cfg.steps} steps × ${cfg.batchSize}×${cfg.seqLen} tokens, seed ${cfg.seed}`);
  console.log(`lr: warm-up ${cfg.lr.warmup}, ${plan.schedule.lr[0].toExponential(2)} → stage two at step ${plan.schedule.lrStage.indexOf(2)} → ${plan.schedule.lr[last].toExponential(2)}; wd ${cfg.weightDecay.join(" → ")}`);
  for (const s of plan.stages) {
    const sites = Object.entries(s.sites).map(([k, v]) => `${k} ${v.hadamard ? "H+" : ""}${v.quantizer}`).join(", ");
    console.log(`from step ${s.fromStep}: ${s.model.bitnet_variant} A${s.model.bitnet_activation_bits}: ${sites}`);
  }
  for (const [n, h] of Object.entries(plan.hadamard)) console.log(`Hadamard ${n}: ${h.plan.kind}${h.plan.kind === "kronecker" ? ` (${h.plan.construction} q = ${h.plan.q}) ⊗ H_${h.plan.block}` : ` blocks of ${h.plan.block}`}`);
  return 0;
}
