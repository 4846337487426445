// `bitnet-lab embed <model-dir> (--prompt TEXT | --tokens 1,2,3) [--compare TEXT | --compare-tokens 4,5]`: an
// embedding model's vector (architecture pooling "last-token-l2": the last token's final hidden state, L2-normalized,
// as sentence-transformers' Pooling(lasttoken) + Normalize), and the cosine similarity of two inputs — on the CPU
// reference (embedTokens) or, with --backend webgpu, the engine (WebGPUSession.embedding: pooling + L2 on the GPU).
import type {Command} from "./command.js";
import {MODEL_FLAGS, MODEL_USAGE, modelOpenOptions} from "./model-flags.js";
import {UsageError, flagBool, flagString} from "./command.js";
import {checkModelDirArg} from "./inspect.js";
import {readModelPath} from "../node/files.js";
import {openCliSession, textCodec} from "../node/runtime.js";
import {embedTokens} from "../lib/model.js";
import {backendFlag} from "./generate.js";

export const embed: Command = {
  name: "embed",
  summary: "an embedding model's vector for a text (last-token pooling + L2), and the cosine similarity of two texts",
  usage:
    "bitnet-lab embed <model-dir> (--prompt TEXT | --tokens 1,2,3) [--compare TEXT | --compare-tokens 4,5,6] [--json] [--backend cpu|webgpu] " +
    MODEL_USAGE,
  options: {
    ...MODEL_FLAGS,
    prompt: "string",
    tokens: "string",
    compare: "string",
    "compare-tokens": "string",
    json: "boolean",
    backend: "string",
  },
  async run(args) {
    checkModelDirArg(args);
    const m = await readModelPath(args.positional[0], modelOpenOptions(args));
    const c = m.weights.config;
    if ((c.bitnet_pooling ?? "none") === "none")
      throw new UsageError(
        `${args.positional[0]} is a causal LM (no sentence-transformers pooling beside it): embed needs an embedding model (modules.json + 1_Pooling)`,
      );
    const ids = (text: string | undefined, list: string | undefined, what: string): number[] | undefined => {
      if (text !== undefined && list !== undefined)
        throw new UsageError(
          `give one of --${what === "input" ? "prompt" : "compare"} or --${what === "input" ? "tokens" : "compare-tokens"}`,
        );
      if (list !== undefined) {
        const parts = list.split(",").map((s) => s.trim());
        const out = parts.map(Number);
        if (parts.some((s) => !/^\d{1,9}$/.test(s)) || out.some((i) => i >= c.vocab_size))
          throw new UsageError(
            `token ids must be comma-separated integers in [0, ${c.vocab_size}), got ${JSON.stringify(list)}`,
          );
        return out;
      }
      if (text === undefined) return undefined;
      return textCodec(m.tokenizer, c).encode(text);
    };
    const a = ids(flagString(args, "prompt"), flagString(args, "tokens"), "input");
    if (!a) throw new UsageError("give --prompt TEXT or --tokens ID,ID,…");
    const b = ids(flagString(args, "compare"), flagString(args, "compare-tokens"), "compare");
    const backend = backendFlag(flagString(args, "backend"));
    let vec = async (t: number[]) => embedTokens(m.weights, t);
    let dispose = () => {};
    if (backend === "webgpu") {
      const s = (await openCliSession(m.weights, "webgpu", {
        maxLength: Math.max(a.length, b?.length ?? 0),
      })) as unknown as {
        embedding: (t: number[]) => Promise<Float32Array>;
        dispose: () => void;
      };
      vec = (t) => s.embedding(t);
      dispose = () => s.dispose();
    }
    let ea: Float32Array;
    let eb: Float32Array | undefined;
    try {
      ea = await vec(a);
      eb = b ? await vec(b) : undefined;
    } finally {
      dispose();
    }
    const cosine = eb ? ea.reduce((s, v, i) => s + v * eb[i], 0) : undefined;
    if (flagBool(args, "json")) {
      console.log(
        JSON.stringify({
          pooling: c.bitnet_pooling,
          backend,
          tokens: a,
          embedding: Array.from(ea),
          ...(eb ? {compareTokens: b, compareEmbedding: Array.from(eb), cosine} : {}),
        }),
      );
      return 0;
    }
    console.log(
      `pooling: ${c.bitnet_pooling} (${backend}) — ${a.length} tokens → ${ea.length} values, first ${Array.from(ea.subarray(0, 6), (v) => v.toFixed(5)).join(", ")}, …`,
    );
    if (eb) console.log(`cosine similarity with the second input (${b!.length} tokens): ${cosine!.toFixed(6)}`);
    return 0;
  },
};
