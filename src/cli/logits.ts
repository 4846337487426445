// `bitnet-lab logits <model-dir> --prompt TEXT`: next-token logits at every prompt position (the numbers
// the GPU engine and the transformers twin are compared on).
import type {Command} from "./command.js";
import {MODEL_FLAGS, MODEL_USAGE, modelOpenOptions} from "./model-flags.js";
import {UsageError, flagBool, flagNumber, flagString} from "./command.js";
import {backendFlag} from "./generate.js";
import {checkModelDirArg} from "./inspect.js";
import {readModelPath} from "../node/files.js";
import {codecContext, openCliSession, textCodec} from "../node/runtime.js";

export const logits: Command = {
  name: "logits",
  summary: "next-token logits at every prompt position (--json for all of them, else the top tokens)",
  usage:
    "bitnet-lab logits <model-dir> (--prompt TEXT | --tokens 1,2,3) [--json] [--top N=5] [--backend cpu|webgpu] " +
    MODEL_USAGE,
  options: {...MODEL_FLAGS, prompt: "string", tokens: "string", json: "boolean", backend: "string", top: "string"},
  async run(args) {
    checkModelDirArg(args);
    const prompt = flagString(args, "prompt");
    const tokenList = flagString(args, "tokens");
    if ((prompt === undefined) === (tokenList === undefined))
      throw new UsageError("give exactly one of --prompt TEXT or --tokens ID,ID,…");
    const json = flagBool(args, "json");
    const top = flagNumber(args, "top", 5, {min: 1, max: 1000, integer: true});
    const backend = backendFlag(flagString(args, "backend"));
    const m = await readModelPath(args.positional[0], modelOpenOptions(args));
    const c = m.weights.config;
    let ids: number[];
    let codec: ReturnType<typeof textCodec> | undefined;
    if (tokenList !== undefined) {
      const parts = tokenList.split(",").map((s) => s.trim());
      ids = parts.map(Number);
      if (parts.some((s) => !/^\d{1,9}$/.test(s)) || ids.some((i) => i >= c.vocab_size)) {
        throw new UsageError(
          `--tokens must be comma-separated integers in [0, ${c.vocab_size}), got ${JSON.stringify(tokenList)}`,
        );
      }
      if (m.tokenizer !== undefined) codec = textCodec(m.tokenizer, c, codecContext(m));
    } else {
      codec = textCodec(m.tokenizer, c, codecContext(m));
      if (codec.kind === "bytes")
        console.error("bitnet-lab logits: no tokenizer.json in the model folder; using UTF-8 bytes as token ids");
      ids = codec.encode(prompt!);
    }
    if (ids.length > c.max_position_embeddings)
      throw new Error(`${ids.length} tokens exceed the model's context of ${c.max_position_embeddings}`);
    const session = await openCliSession(m.weights, backend, {maxLength: ids.length});
    const all = await session.append(ids, {allLogits: true});
    session.dispose();
    const V = c.vocab_size;
    const rows = ids.map((_, t) => all.subarray(t * V, (t + 1) * V));
    if (json) {
      console.log(JSON.stringify({backend, tokens: ids, vocab_size: V, logits: rows.map((r) => Array.from(r))}));
      return 0;
    }
    const piece = (id: number) => (codec ? (id < codec.vocabSize ? JSON.stringify(codec.decode([id])) : "<pad>") : "");
    for (let t = 0; t < ids.length; t++) {
      const r = rows[t];
      const order = Array.from({length: V}, (_, i) => i)
        .sort((a, b) => r[b] - r[a] || a - b)
        .slice(0, top);
      console.log(
        `${t}\t${ids[t]} ${piece(ids[t])}\t→ ${order.map((i) => `${i} ${piece(i)} ${r[i].toFixed(3)}`).join(", ")}`,
      );
    }
    return 0;
  },
};
