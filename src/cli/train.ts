// `bitnet-lab train`: trains one model from a config (configs/<name>.json or a file) with tfjs, on WebGPU
// (Dawn) or the CPU (auto: the CPU where there is no GPU driver, with a notice), with resumable checkpoints,
// and exports it in the reference checkpoint format into the run folder itself (generate runs/x works).
import {existsSync, readFileSync, statSync} from "node:fs";
import {tmpdir} from "node:os";
import {join, resolve} from "node:path";
import {fileURLToPath} from "node:url";
import {parameterCounts} from "../lib/model.js";
import {ConfigError, modelConfigAt, parseTrainConfig, type TrainConfig} from "../lib/train/config.js";
import {TF_BACKENDS, loadTf, type TfBackendName} from "../node/tfjs.js";
import type {TF} from "../lib/train/tf.js";
import {vulkanDrivers} from "../node/gpu-env.js";
import {progress, type Progress} from "../node/progress.js";
import {loadPrepared, preparedData} from "../node/train-data.js";
import {runTraining} from "../node/train-run.js";
import {prepareRunFolder} from "../node/safe-write.js";
import {trainPlan} from "../lib/train/plan.js";
import {
  UsageError,
  expectPositionals,
  flagBool,
  flagNumber,
  flagString,
  parseNumber,
  type Command,
  type ParsedArgs,
} from "./command.js";

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

/** The backend `auto` resolves to: WebGPU where a Vulkan driver is installed (a GPU), else the CPU — tfjs's
 *  WebGPU backend on SwiftShader (a CPU Vulkan) is slower than its CPU backend. The reason is printed. */
async function chooseBackend(
  asked: TfBackendName | "auto",
  say: (line: string) => void,
): Promise<{backend: TfBackendName; tf: TF}> {
  if (asked !== "auto") return {backend: asked, tf: await loadTf(asked)};
  const drivers = vulkanDrivers();
  if (drivers === "system" || drivers === "user") {
    try {
      return {backend: "webgpu", tf: await loadTf("webgpu")};
    } catch (e) {
      say(
        `train: no usable GPU (${(e instanceof Error ? e.message : String(e)).replace(/; use --backend cpu$/, "")}): falling back to the CPU backend (pure JS: small configs such as ci-tiny only)`,
      );
    }
  } else {
    say(
      `train: no GPU driver found${drivers === "swiftshader" ? " (only SwiftShader, a CPU Vulkan)" : ""}: training on the CPU backend (pure JS: small configs such as ci-tiny; --backend webgpu forces WebGPU)`,
    );
  }
  return {backend: "cpu", tf: await loadTf("cpu")};
}

export const train: Command = {
  name: "train",
  summary: "train a model with tfjs and the straight-through estimator; the run folder becomes a model folder",
  usage:
    "bitnet-lab train --config <name|file.json> --out <dir> [--backend auto|webgpu|cpu|wasm] [--steps N] [--resume | --force] [--from <state.safetensors>] [--max-steps N] [--save-at N,M] [--data <dir>] [--eval-windows N]\n       bitnet-lab train --config <name|file.json> --plan [--json] [--steps N] [--data <dir>]   (the resolved recipe; --data adds every step's batch windows)",
  options: {
    config: "string",
    out: "string",
    backend: "string",
    steps: "string",
    resume: "boolean",
    force: "boolean",
    from: "string",
    "max-steps": "string",
    "save-at": "string",
    data: "string",
    "eval-windows": "string",
    plan: "boolean",
    json: "boolean",
  },
  async run(args: ParsedArgs): Promise<number> {
    expectPositionals(args, []);
    const ref = flagString(args, "config");
    if (!ref) throw new UsageError("--config is required");
    if (flagBool(args, "plan")) return await printPlan(args, ref);
    const out = flagString(args, "out");
    if (!out) throw new UsageError("--out is required");
    const asked = (flagString(args, "backend") ?? "auto") as TfBackendName | "auto";
    if (asked !== "auto" && !TF_BACKENDS.includes(asked))
      throw new UsageError(`--backend must be one of auto, ${TF_BACKENDS.join(", ")}, got "${asked}"`);
    let cfg = readTrainConfig(ref);
    const steps = flagNumber(args, "steps", cfg.steps, {min: 1, max: 10_000_000, integer: true});
    if (steps !== cfg.steps) cfg = {...cfg, steps};
    const maxSteps = flagNumber(args, "max-steps", Infinity, {min: 1, max: 10_000_000, integer: true});
    const saveAtRaw = flagString(args, "save-at");
    const saveAt = saveAtRaw
      ?.split(",")
      .map((s) => parseNumber("--save-at", s.trim(), {min: 1, max: cfg.steps, integer: true}));
    const evalWindows = flagNumber(args, "eval-windows", 0, {min: 1, max: 100_000_000, integer: true});
    const from = flagString(args, "from");
    if (from !== undefined && !existsSync(from)) throw new UsageError(`--from: no such file ${from}`);
    const resume = flagBool(args, "resume");
    if (resume && from) throw new UsageError("--resume and --from exclude each other");
    if (existsSync(out) && !statSync(out).isDirectory())
      throw new UsageError(`--out: ${out} exists and is not a folder`);
    const force = flagBool(args, "force");
    if (force && resume) throw new UsageError("--resume continues the run in --out, --force starts it over: give one");
    const clearOut = await prepareRunFolder(out, {resume, force, from});

    const say = (line: string) => console.error(line);
    const vocab = modelConfigAt(cfg, 0).vocab_size;
    const dataDir = flagString(args, "data");
    const t0 = performance.now();
    const cache = join(tmpdir(), `bitnet-lab-sotu-${vocab}`);
    if (!dataDir && !existsSync(join(cache, "data.json")))
      say(
        `data: preparing the State of the Union corpus and a ${vocab}-token BPE tokenizer (once; cached in ${cache})…`,
      );
    let prep: Progress | undefined;
    const data = dataDir
      ? loadPrepared(dataDir)
      : preparedData(cache, vocab, (phase, done, total) => {
          prep ??= progress(`data: ${phase}`, total, {start: t0});
          prep.update(done);
        });
    prep?.end();
    if (data.tokenizer.vocabSize !== vocab)
      throw new Error(
        `the prepared tokenizer has ${data.tokenizer.vocabSize} tokens, the config's vocab_size is ${vocab}`,
      );
    console.log(
      `data: ${data.info.trainTokens} train / ${data.info.valTokens} validation tokens (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
    say(`train: starting tfjs (${asked === "auto" ? "choosing a backend" : asked})…`);
    const {backend, tf} = await chooseBackend(asked, say);
    if (backend !== "webgpu") {
      // Pure-JS tfjs does ~1e8 multiply-adds per second per core here: say so before a step that takes minutes.
      const params = parameterCounts(modelConfigAt(cfg, 0)).total;
      const flopsPerStep = 6 * params * cfg.batchSize * cfg.seqLen;
      if (flopsPerStep > 1e10)
        say(
          `train: note: ${cfg.name} has ${(params / 1e6).toFixed(1)}M parameters and ${cfg.batchSize * cfg.seqLen} tokens per step: on the ${backend} backend one step may take minutes (the first line comes after step 1); ci-tiny trains in seconds, a GPU (--backend webgpu) is the way for this config`,
        );
    }
    await clearOut();
    let bar: Progress | undefined;
    const s = await runTraining({
      tf,
      cfg,
      data,
      outDir: out,
      resume,
      from,
      saveAt,
      maxSteps,
      backend,
      exportPartial: true,
      finalEvalWindows: evalWindows || "proportional",
      onEvalBatch: (done, total) => {
        bar ??= progress("final evaluation", total);
        bar.update(done);
        if (done === total) bar.end();
      },
    });
    console.log(
      `done: ${s.steps} steps, ${s.tokens} tokens in ${s.seconds.toFixed(1)} s (${(s.tokensPerSecond / 1000).toFixed(1)}k tok/s)`,
    );
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
  console.log(
    `lr: warm-up ${cfg.lr.warmup}, ${plan.schedule.lr[0].toExponential(2)} → stage two at step ${plan.schedule.lrStage.indexOf(2)} → ${plan.schedule.lr[last].toExponential(2)}; wd ${cfg.weightDecay.join(" → ")}`,
  );
  for (const s of plan.stages) {
    const sites = Object.entries(s.sites)
      .map(([k, v]) => `${k} ${v.hadamard ? "H+" : ""}${v.quantizer}`)
      .join(", ");
    console.log(`from step ${s.fromStep}: ${s.model.bitnet_variant} A${s.model.bitnet_activation_bits}: ${sites}`);
  }
  for (const [n, h] of Object.entries(plan.hadamard))
    console.log(
      `Hadamard ${n}: ${h.plan.kind}${h.plan.kind === "kronecker" ? ` (${h.plan.construction} q = ${h.plan.q}) ⊗ H_${h.plan.block}` : ` blocks of ${h.plan.block}`}`,
    );
  return 0;
}
