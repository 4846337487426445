// `bitnet-lab generate <model-dir> --prompt TEXT`: sample a continuation on the CPU reference (or, once
// src/gpu/engine.ts exists, WebGPU).
import type {Command} from "./command.js";
import {MODEL_FLAGS, MODEL_USAGE, modelOpenOptions} from "./model-flags.js";
import {UsageError, expectPositionals, flagBool, flagNumber, flagString} from "./command.js";
import {MIN_TEMPERATURE, generate as generateTokens} from "../lib/generate.js";
import {readModelPath} from "../node/files.js";
import {CLI_BACKENDS, codecContext, openCliSession, textCodec} from "../node/runtime.js";
import type {CliBackend} from "../node/runtime.js";

export function backendFlag(v: string | undefined): CliBackend {
  const b = v ?? "cpu";
  if (!(CLI_BACKENDS as readonly string[]).includes(b))
    throw new UsageError(`--backend must be one of ${CLI_BACKENDS.join(", ")}, got "${b}"`);
  return b as CliBackend;
}

export const generateCommand: Command = {
  name: "generate",
  summary: "generate text from a checkpoint (greedy by default; temperature, top-k, top-p sampling)",
  usage:
    "bitnet-lab generate <model-dir> --prompt TEXT [--max-tokens N=32] [--temperature T=0] [--top-k K=0] [--top-p P=1] [--seed S=0] [--json] [--backend cpu|webgpu] " +
    MODEL_USAGE,
  options: {
    ...MODEL_FLAGS,
    prompt: "string",
    "max-tokens": "string",
    temperature: "string",
    "top-k": "string",
    "top-p": "string",
    seed: "string",
    json: "boolean",
    backend: "string",
  },
  async run(args) {
    expectPositionals(args, ["<model-dir>"]);
    const prompt = flagString(args, "prompt");
    if (prompt === undefined) throw new UsageError("--prompt TEXT is required");
    if (prompt === "") throw new UsageError("--prompt is empty: give the text to continue");
    const maxTokens = flagNumber(args, "max-tokens", 32, {min: 1, max: 1_000_000, integer: true});
    const temperature = flagNumber(args, "temperature", 0, {min: 0, max: 100});
    if (temperature > 0 && temperature < MIN_TEMPERATURE)
      throw new UsageError(
        `--temperature must be 0 (greedy) or in [${MIN_TEMPERATURE.toExponential()}, 100], got ${temperature}`,
      );
    const topK = flagNumber(args, "top-k", 0, {min: 0, integer: true, max: 1e9});
    const topP = flagNumber(args, "top-p", 1, {min: 1e-9, max: 1});
    const seed = flagNumber(args, "seed", 0, {integer: true, min: 0, max: 2 ** 53 - 1});
    const json = flagBool(args, "json");
    const backend = backendFlag(flagString(args, "backend"));
    const m = await readModelPath(args.positional[0], modelOpenOptions(args));
    const c = m.weights.config;
    const codec = textCodec(m.tokenizer, c, codecContext(m));
    if (codec.kind === "bytes")
      console.error("bitnet-lab generate: no tokenizer.json in the model folder; using UTF-8 bytes as token ids");
    if (codec.padding) console.error(`bitnet-lab generate: note: ${codec.padding}`);
    for (const w of m.warnings) console.error(`bitnet-lab generate: warning: ${w}`);
    const promptIds = codec.encode(prompt);
    const context = c.max_position_embeddings;
    const room = context - promptIds.length;
    if (room <= 0) throw new Error(`the prompt has ${promptIds.length} tokens, the model's context is ${context}`);
    const limit = Math.min(maxTokens, room);
    if (limit < maxTokens)
      console.error(
        `bitnet-lab generate: --max-tokens ${maxTokens} exceeds the model's context of ${context} positions (prompt ${promptIds.length} tokens): at most ${limit} new tokens`,
      );
    const session = await openCliSession(m.weights, backend, {maxLength: promptIds.length + Math.max(1, limit)});
    const t0 = performance.now();
    let tFirst = 0;
    let printed = "";
    const out: number[] = [];
    const result = await generateTokens(session, promptIds, {
      maxTokens: limit,
      sampling: {temperature, topK, topP, seed, vocabLimit: codec.vocabSize},
      stopAt: [codec.eosId],
      onToken: (id) => {
        if (out.length === 0) tFirst = performance.now();
        out.push(id);
        if (!json) {
          const text = codec.decode(out);
          // Print only what is stable (a multi-byte character may still be incomplete).
          const stable = text.endsWith("\uFFFD") ? text.slice(0, text.lastIndexOf("\uFFFD")) : text;
          if (stable.length > printed.length && stable.startsWith(printed)) {
            process.stdout.write(stable.slice(printed.length));
            printed = stable;
          }
        }
      },
    });
    const t1 = performance.now();
    session.dispose();
    // Stopped by the context, not by --max-tokens: say so, with the limit.
    const stop = result.stop === "max-tokens" && limit < maxTokens ? "context-full" : result.stop;
    const stopText = stop === "context-full" ? `context-full (the model's context is ${context} positions)` : stop;
    const text = codec.decode(result.tokens);
    const decodeSteps = Math.max(0, result.tokens.length - 1);
    const timing = {
      prefillMs: +(tFirst - t0).toFixed(2),
      decodeMs: +(t1 - tFirst).toFixed(2),
      decodeTokensPerSecond: decodeSteps > 0 ? +((decodeSteps * 1000) / (t1 - tFirst)).toFixed(2) : null,
    };
    if (json) {
      console.log(
        JSON.stringify(
          {
            backend,
            tokenizer: codec.kind,
            prompt,
            promptTokens: promptIds,
            tokens: result.tokens,
            text,
            stop,
            context,
            sampling: {temperature, topK, topP, seed},
            timing,
          },
          null,
          2,
        ),
      );
    } else {
      if (text.length > printed.length) process.stdout.write(text.slice(printed.length));
      process.stdout.write("\n");
      console.error(
        `[${result.tokens.length} tokens, stop: ${stopText}, ${backend}, ${timing.decodeTokensPerSecond ?? "–"} tokens/s]`,
      );
    }
    return 0;
  },
};
