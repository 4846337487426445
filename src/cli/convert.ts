// `bitnet-lab convert <file-or-dir> --to gguf|hf --out PATH`: rewrites a ternary checkpoint between the
// Hugging Face packed layout and bitnet.cpp's GGUF I2_S, through the same readers the inspector uses (so
// every convention is decided and validated on the way in). GGUF out: arch bitnet-25, I2_S projections
// (x86 layout unless --i2s-layout arm), W_q/W_k permuted for interleaved RoPE, F32 norms, F16 embedding,
// tokenizer.ggml.* from tokenizer.json. HF out: config.json + model.safetensors packed with
// linear_class "bitlinear" (weight_scale = 1/mean|W|, which transformers' BitLinear divides by) + tokenizer.json.
import {statSync} from "node:fs";
import {dirname, join} from "node:path";
import type {Command} from "./command.js";
import {UsageError, expectPositionals, flagBool, flagString} from "./command.js";
import {ggufFromWeights} from "../lib/formats/gguf-model.js";
import {writeGGUF} from "../lib/formats/gguf.js";
import {ggufTokenizerKVs} from "../lib/formats/gguf-tokenizer.js";
import type {I2SLayout} from "../lib/formats/i2s.js";
import type {ScaleConvention} from "../lib/formats/open.js";
import {Tokenizer} from "../lib/tokenizer.js";
import {loadModelPath} from "../node/files.js";
import {writeModelDir} from "../node/modeldir.js";
import {checkTarget, writeDirAtomic, writeFileAtomic} from "../node/safe-write.js";

export const convert: Command = {
  name: "convert",
  summary: "convert a ternary checkpoint between Hugging Face packed safetensors and GGUF I2_S (bitnet.cpp)",
  usage: "bitnet-lab convert <file-or-dir> --to gguf|hf --out PATH [--i2s-layout x86|arm] [--in-i2s-layout x86|arm] [--scale multiply|divide] [--embedding f16|f32] [--force]",
  options: {to: "string", out: "string", "i2s-layout": "string", "in-i2s-layout": "string", scale: "string", embedding: "string", force: "boolean"},
  async run(args) {
    expectPositionals(args, ["<file-or-dir>"]);
    const to = flagString(args, "to");
    if (to !== "gguf" && to !== "hf") throw new UsageError(`--to must be gguf or hf, got ${JSON.stringify(to ?? null)}`);
    const out = flagString(args, "out");
    if (!out) throw new UsageError("--out PATH is required");
    const layout = (flagString(args, "i2s-layout") ?? "x86") as I2SLayout;
    const inLayout = flagString(args, "in-i2s-layout") as I2SLayout | undefined;
    for (const [k, v] of [["i2s-layout", layout], ["in-i2s-layout", inLayout]] as const) if (v !== undefined && v !== "x86" && v !== "arm") throw new UsageError(`--${k} must be x86 or arm, got "${v}"`);
    const scale = flagString(args, "scale") as ScaleConvention | undefined;
    if (scale !== undefined && scale !== "multiply" && scale !== "divide") throw new UsageError(`--scale must be multiply or divide, got "${scale}"`);
    const emb = (flagString(args, "embedding") ?? "f16").toUpperCase();
    if (emb !== "F16" && emb !== "F32") throw new UsageError(`--embedding must be f16 or f32, got "${emb}"`);
    // Flags of the GGUF writer mean nothing for an HF folder: refused rather than ignored.
    if (to === "hf") for (const k of ["i2s-layout", "embedding"]) if (args.flags.has(k)) throw new UsageError(`--${k} applies to --to gguf only (the HF folder has packed ternary weights and BF16 floats)`);
    const input = args.positional[0];
    // A .gguf is read with the tokenizer.json beside it: that counts as an input too.
    const inputs = [input];
    try {
      if (statSync(input).isFile()) inputs.push(join(dirname(input), "tokenizer.json"));
    } catch {
      // a missing input is reported by the reader
    }
    await checkTarget(out, {kind: to === "hf" ? "dir" : "file", inputs, force: flagBool(args, "force")});
    const m = await loadModelPath(input, {scale, i2sLayout: inLayout});
    for (const w of m.warnings) console.error(`bitnet-lab convert: warning: ${w}`);
    const c = m.weights.config;
    if (to === "hf") {
      await writeDirAtomic(out, (tmp) => writeModelDir(tmp, m.weights, {format: "packed", floatDtype: "BF16", tokenizer: m.tokenizer}));
      console.error(`bitnet-lab convert: wrote ${out} (HF packed, linear_class bitlinear, BF16 floats)`);
      return 0;
    }
    let tokKVs;
    if (m.tokenizer !== undefined) {
      const tok = Tokenizer.fromJSON(m.tokenizer);
      tokKVs = ggufTokenizerKVs(m.tokenizer, {bos: tok.bosId, eos: tok.eosId});
    } else console.error("bitnet-lab convert: no tokenizer: the GGUF gets no tokenizer.ggml.* vocabulary");
    const {kvs, tensors} = ggufFromWeights(m.weights, {layout, embedding: emb as "F16" | "F32", tokenizer: tokKVs, name: c.bitnet_variant});
    let bytes = 0;
    await writeFileAtomic(out, async (write) => {
      bytes = await writeGGUF(kvs, tensors, write);
    });
    console.error(`bitnet-lab convert: wrote ${out} (GGUF bitnet-25, I2_S ${layout}, ${bytes} bytes)`);
    return 0;
  },
};
