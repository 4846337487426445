// `bitnet-lab verify <model-dir> [--prompt TEXT]`: runs the WebGPU engine and the CPU reference on the same prompt
// and compares them — logits at every prompt position, then greedy decoding step by step. <model-dir> is one model
// folder, or a folder of model folders (data/models: one per variant), each verified in turn, once per engine option
// set (--options, verify-options.ts): the reference runs once, each set follows its greedy path. Exit 1 on a mismatch.
import {existsSync, readdirSync, statSync} from "node:fs";
import {join} from "node:path";
import type {Command} from "./command.js";
import {MODEL_FLAGS, MODEL_USAGE, modelOpenOptions} from "./model-flags.js";
import {UsageError, expectPositionals, flagBool, flagNumber, flagString} from "./command.js";
import {ENGINE_FLAGS, ENGINE_USAGE, type EngineOptions, optionSets} from "./verify-options.js";
import {acquireGpu} from "../gpu/device.js";
import {createWebGPUSession} from "../gpu/engine.js";
import {argmax} from "../lib/generate.js";
import {createCpuSession} from "../lib/model.js";
import {compareLogits} from "../lib/verify.js";
import type {DecodeSession} from "../lib/backend.js";
import {attentionRopeCheck, finiteLogitsCheck} from "../lib/formats/golden.js";
import type {GoldenCheck} from "../lib/formats/golden.js";
import {readModelPath} from "../node/files.js";
import {progress} from "../node/progress.js";
import {codecContext, textCodec} from "../node/runtime.js";

export interface VerifyResult {
  dir: string;
  variant: string;
  /** The engine option set (verify-options.ts) and the options it gave the WebGPU session. */
  options: string;
  engine: EngineOptions;
  positions: number;
  prefillMaxAbsDiff: number;
  prefillArgmaxAgree: number;
  steps: number;
  greedyAgree: number;
  decodeMaxAbsDiff: number;
  pass: boolean;
  /** Checks whose truth is not the reader's: layer-0 attention as the format's own runtime computes it from the
   *  stored rows, and finite logits on both backends (formats/golden.ts). */
  golden: GoldenCheck[];
  skipped?: string;
}

function modelDirs(dir: string): {dir: string; skip?: string}[] {
  if (!existsSync(dir)) throw new Error(`${dir} does not exist`);
  if (existsSync(join(dir, "config.json")) || !statSync(dir).isDirectory()) return [{dir}]; // a model folder or a .gguf file
  const subs = readdirSync(dir, {withFileTypes: true})
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, "config.json")))
    .map((e) => join(dir, e.name))
    .sort();
  if (!subs.length) throw new Error(`${dir} has no config.json and no model folders inside`);
  return subs.map((d) => ({
    dir: d,
    skip:
      existsSync(join(d, "model.safetensors")) || existsSync(join(d, "model.safetensors.index.json"))
        ? undefined
        : "no model.safetensors (not committed? rebuild it)",
  }));
}

/** One WebGPU session against the reference's prefill logits and greedy path (the tokens the reference chose). */
async function compareOnGpu(
  gpu: DecodeSession,
  r: {
    ids: number[];
    prefill: Float32Array;
    path: {tok: number; logits: Float32Array}[];
    V: number;
    tolerance: number;
    golden: GoldenCheck[];
    note: (line: string) => void;
  },
): Promise<Omit<VerifyResult, "dir" | "variant" | "options" | "engine">> {
  const {ids, V, tolerance} = r;
  r.note(`prefill of ${ids.length} positions…`);
  const b = await gpu.append(ids, {allLogits: true});
  const pre = compareLogits(r.prefill, b, V, tolerance);
  const golden = [...r.golden, finiteLogitsCheck(r.prefill, V), finiteLogitsCheck(b, V)];
  for (const g of golden) if (!g.pass) r.note(`golden check FAILED: ${g.detail}`);
  const bar = progress("bitnet-lab verify: greedy steps", r.path.length);
  let agree = 0;
  let worst = 0;
  let pass = pre.pass && golden.every((g) => g.pass);
  for (const [s, step] of r.path.entries()) {
    const cmp = compareLogits(step.logits, await gpu.append([step.tok]), V, tolerance);
    worst = Math.max(worst, cmp.maxAbsDiff);
    if (cmp.argmaxAgree === 1) agree++;
    pass &&= cmp.pass;
    bar.update(s + 1);
  }
  bar.end();
  return {
    positions: ids.length,
    prefillMaxAbsDiff: pre.maxAbsDiff,
    prefillArgmaxAgree: pre.argmaxAgree,
    steps: r.path.length,
    greedyAgree: agree,
    decodeMaxAbsDiff: worst,
    pass,
    golden,
  };
}

export const verify: Command = {
  name: "verify",
  summary: "compare the WebGPU engine with the CPU reference: max |Δlogits| and greedy agreement per model/variant",
  usage:
    "bitnet-lab verify <model-dir | folder of model dirs> [--prompt TEXT] [--steps N=16] [--tolerance T=0.01] [--json] " +
    `${ENGINE_USAGE} ${MODEL_USAGE}`,
  options: {
    ...MODEL_FLAGS,
    prompt: "string",
    steps: "string",
    tolerance: "string",
    json: "boolean",
    ...ENGINE_FLAGS,
  },
  async run(args) {
    expectPositionals(args, ["<model-dir>"]);
    const prompt = flagString(args, "prompt") ?? "The history of the world is the history of";
    const steps = flagNumber(args, "steps", 16, {min: 1, max: 4096, integer: true});
    const tolerance = flagNumber(args, "tolerance", 0.01, {min: 0, max: 1e6});
    const json = flagBool(args, "json");
    // the WebGPU side's engine options: --options names sets (each model is checked once per set), flags on top
    const sets = optionSets(args);
    const dirs = modelDirs(args.positional[0]);
    // Every phase says what it does on stderr (building pipelines on a software adapter takes many seconds).
    const note = (line: string) => console.error(`bitnet-lab verify: ${line}`);
    note("opening WebGPU…");
    const ctx = await acquireGpu();
    note(`WebGPU on ${ctx.description}`);
    const results: VerifyResult[] = [];
    try {
      for (const {dir, skip} of dirs) {
        if (skip) {
          results.push({
            dir,
            variant: "?",
            options: sets.map((x) => x.name).join(","),
            engine: {},
            positions: 0,
            prefillMaxAbsDiff: 0,
            prefillArgmaxAgree: 0,
            steps: 0,
            greedyAgree: 0,
            decodeMaxAbsDiff: 0,
            pass: true,
            golden: [],
            skipped: skip,
          });
          continue;
        }
        note(`${dir}: loading`);
        const m = await readModelPath(dir, modelOpenOptions(args));
        const c = m.weights.config;
        const codec = textCodec(m.tokenizer, c, codecContext(m));
        let ids = codec.encode(prompt);
        const room = c.max_position_embeddings - steps;
        if (room < 1)
          throw new UsageError(
            `--steps ${steps} leaves no room for the prompt in ${dir} (context ${c.max_position_embeddings})`,
          );
        if (ids.length > room) ids = ids.slice(0, room);
        const V = c.vocab_size;
        // the reference once: prefill logits, then its greedy path (each option set follows the same tokens)
        const cpu = createCpuSession(m.weights);
        const a = await cpu.append(ids, {allLogits: true});
        const path: {tok: number; logits: Float32Array}[] = [];
        let tok = argmax(a.subarray((ids.length - 1) * V));
        for (let s = 0; s < steps; s++) {
          const la = await cpu.append([tok]);
          path.push({tok, logits: la});
          tok = argmax(la);
        }
        const variant =
          c.bitnet_variant +
          (c.bitnet_variant === "v2" || c.bitnet_variant === "a4.8" ? ` a${c.bitnet_activation_bits}` : "");
        for (const set of sets) {
          note(`${dir} (${c.bitnet_variant}, ${set.name}): building the WebGPU session (compiling pipelines)…`);
          const gpu = await createWebGPUSession(m.weights, {gpu: ctx, ...set.opts});
          try {
            const golden = [await attentionRopeCheck(m.opened, ids.length > 1 ? ids.slice(0, 4) : [ids[0], ids[0]])];
            const r = await compareOnGpu(gpu, {
              ids,
              prefill: a,
              path,
              V,
              tolerance,
              golden,
              note: (l) => note(`${dir}: ${l}`),
            });
            results.push({dir, variant, options: set.name, engine: set.opts, ...r});
          } finally {
            gpu.dispose();
          }
        }
      }
    } finally {
      ctx.device.destroy();
    }
    if (json) console.log(JSON.stringify({tolerance, prompt, device: ctx.description, results}, null, 2));
    else {
      console.log(
        `tolerance ${tolerance} on |Δlogits| (an argmax that differs only where the reference's top two are within 2× the tolerance is accepted)`,
      );
      for (const r of results) {
        if (r.skipped) {
          console.log(`${r.dir}: skipped (${r.skipped})`);
          continue;
        }
        console.log(
          `${r.pass ? "ok  " : "FAIL"} ${r.dir} (${r.variant}) [${r.options}]: prefill ${r.positions} positions max|Δ| ${r.prefillMaxAbsDiff.toExponential(2)}, argmax ${r.prefillArgmaxAgree}/${r.positions}; greedy ${r.greedyAgree}/${r.steps} steps, max|Δ| ${r.decodeMaxAbsDiff.toExponential(2)}; golden ${r.golden.filter((g) => g.pass).length}/${r.golden.length}`,
        );
        for (const g of r.golden) if (!g.pass) console.log(`     golden ${g.id}: ${g.detail}`);
      }
    }
    return results.every((r) => r.pass) ? 0 : 1;
  },
};
