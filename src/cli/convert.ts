// `bitnet-lab convert <file-or-dir> --to gguf|hf --out PATH`: rewrites a ternary checkpoint between the
// Hugging Face packed layout and bitnet.cpp's GGUF I2_S, through the same readers the inspector uses (so
// every convention is decided and validated on the way in). GGUF out: arch bitnet-25, I2_S projections
// (x86 layout unless --to-i2s-layout arm|rows, recorded in bitnet_lab.i2s_layout), W_q/W_k in transformers' row
// order (bitnet.cpp runs bitnet-25 with rotate-half RoPE), rope.freq_base always, F32 norms, F16 embedding,
// tokenizer.ggml.* from tokenizer.json with llama.cpp's pre-tokenizer name. --i2s-layout / --scale say how to
// read the input, as for every command that reads a model. HF out: config.json + model.safetensors packed with
// linear_class "bitlinear" (weight_scale = 1/mean|W|, which transformers' BitLinear divides by) + tokenizer.json.
import {statSync} from "node:fs";
import {dirname, join} from "node:path";
import type {Command} from "./command.js";
import {MODEL_FLAGS, MODEL_USAGE, layoutFlag, modelOpenOptions} from "./model-flags.js";
import {UsageError, expectPositionals, flagBool, flagString} from "./command.js";
import {ggufFromWeights} from "../lib/formats/gguf-model.js";
import {writeGGUF} from "../lib/formats/gguf-write.js";
import {ggufTokenizerKVs} from "../lib/formats/gguf-tokenizer.js";
import {Tokenizer} from "../lib/tokenizer.js";
import {loadModelPath} from "../node/files.js";
import {writeModelDir} from "../node/modeldir.js";
import {checkTarget, writeDirAtomic, writeFileAtomic} from "../node/safe-write.js";

export const convert: Command = {
  name: "convert",
  summary: "convert a ternary checkpoint between Hugging Face packed safetensors and GGUF I2_S (bitnet.cpp)",
  usage:
    "bitnet-lab convert <file-or-dir> --to gguf|hf --out PATH [--to-i2s-layout x86|arm|rows] [--embedding f16|f32] [--force] " +
    MODEL_USAGE,
  options: {
    ...MODEL_FLAGS,
    to: "string",
    out: "string",
    "to-i2s-layout": "string",
    embedding: "string",
    force: "boolean",
  },
  async run(args) {
    expectPositionals(args, ["<file-or-dir>"]);
    const to = flagString(args, "to");
    if (to !== "gguf" && to !== "hf")
      throw new UsageError(`--to must be gguf or hf, got ${JSON.stringify(to ?? null)}`);
    const out = flagString(args, "out");
    if (!out) throw new UsageError("--out PATH is required");
    const layout = layoutFlag(args, "to-i2s-layout") ?? "x86";
    const input = modelOpenOptions(args);
    const emb = (flagString(args, "embedding") ?? "f16").toUpperCase();
    if (emb !== "F16" && emb !== "F32") throw new UsageError(`--embedding must be f16 or f32, got "${emb}"`);
    // Flags of the GGUF writer mean nothing for an HF folder: refused rather than ignored.
    if (to === "hf")
      for (const k of ["to-i2s-layout", "embedding"])
        if (args.flags.has(k))
          throw new UsageError(
            `--${k} applies to --to gguf only (the HF folder has packed ternary weights and BF16 floats)`,
          );
    const inputPath = args.positional[0];
    // A .gguf is read with the tokenizer.json beside it: that counts as an input too.
    const inputs = [inputPath];
    try {
      if (statSync(inputPath).isFile()) inputs.push(join(dirname(inputPath), "tokenizer.json"));
    } catch {
      // a missing input is reported by the reader
    }
    await checkTarget(out, {kind: to === "hf" ? "dir" : "file", inputs, force: flagBool(args, "force")});
    const m = await loadModelPath(inputPath, input);
    for (const w of m.warnings) console.error(`bitnet-lab convert: warning: ${w}`);
    const c = m.weights.config;
    if (to === "hf") {
      await writeDirAtomic(out, (tmp) =>
        writeModelDir(tmp, m.weights, {format: "packed", floatDtype: "BF16", tokenizer: m.tokenizer}),
      );
      console.error(`bitnet-lab convert: wrote ${out} (HF packed, linear_class bitlinear, BF16 floats)`);
      return 0;
    }
    let tokKVs;
    if (m.tokenizer !== undefined) {
      const tok = Tokenizer.fromJSON(m.tokenizer);
      tokKVs = ggufTokenizerKVs(m.tokenizer, {bos: tok.bosId, eos: tok.eosId});
    } else console.error("bitnet-lab convert: no tokenizer: the GGUF gets no tokenizer.ggml.* vocabulary");
    const {kvs, tensors} = ggufFromWeights(m.weights, {
      layout,
      embedding: emb as "F16" | "F32",
      tokenizer: tokKVs,
      name: c.bitnet_variant,
    });
    let bytes = 0;
    await writeFileAtomic(out, async (write) => {
      bytes = await writeGGUF(kvs, tensors, write);
    });
    console.error(`bitnet-lab convert: wrote ${out} (GGUF bitnet-25, I2_S ${layout}, ${bytes} bytes)`);
    return 0;
  },
};
