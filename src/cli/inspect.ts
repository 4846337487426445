// `bitnet-lab inspect <model-dir>`: what a checkpoint holds — config, parameter counts, bytes and bits per
// weight, and the ternary weights' histogram.
import type {Command, ParsedArgs} from "./command.js";
import {expectPositionals, flagBool} from "./command.js";
import {headDim} from "../lib/config.js";
import {expectedTensors} from "../lib/checkpoint.js";
import {parameterCounts} from "../lib/model.js";
import {readModelPath} from "../node/files.js";
import {MODEL_FLAGS, MODEL_USAGE, modelOpenOptions} from "./model-flags.js";
import {codecContext, textCodec} from "../node/runtime.js";

/** One <model-dir> (flags are checked by the parser against each command's `options`). */
export function checkModelDirArg(args: ParsedArgs): void {
  expectPositionals(args, ["<model-dir>"]);
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

type Model = Awaited<ReturnType<typeof readModelPath>>;

/** Per stored tensor, in checkpoint order: bytes (with its weight_scale), bits per weight and, for projections, the
 *  ternary histogram. */
function tensorsOf(m: Model) {
  const c = m.weights.config;
  // Per tensor: stored bytes and, for projections, the ternary histogram.
  const scaleOf = new Map(
    m.stored.filter((t) => t.name.endsWith(".weight_scale")).map((t) => [t.name.replace(/_scale$/, ""), t.bytes]),
  );
  const order = new Map(expectedTensors(c).map((e, i) => [e.name, i]));
  const rank = (n: string) => order.get(n) ?? order.size;
  return m.stored
    .filter((t) => !t.name.endsWith(".weight_scale"))
    .sort((a, b) => rank(a.name) - rank(b.name))
    .map((t) => {
      const tern = m.weights.ternary.get(t.name);
      const numel = tern ? tern.codes.length : t.shape.reduce((a, b) => a * b, 1);
      const bytes = t.bytes + (scaleOf.get(t.name) ?? 0);
      let histogram: {minus: number; zero: number; plus: number} | undefined;
      if (tern) {
        histogram = {minus: 0, zero: 0, plus: 0};
        for (const v of tern.codes) v < 0 ? histogram.minus++ : v > 0 ? histogram.plus++ : histogram.zero++;
      }
      return {
        name: t.name,
        dtype: t.dtype,
        shape: tern ? tern.shape : t.shape,
        params: numel,
        bytes,
        bitsPerWeight: (bytes * 8) / numel,
        gamma: tern?.gamma,
        histogram,
      };
    });
}

/** The conventions the reader decided on, and why (the Open page's inspection, as JSON). */
function conventionsOf(ins: Model["inspection"]) {
  return {
    format: ins.formatName,
    architecture: ins.architecture,
    family: {
      id: ins.family.value,
      name: ins.family.family.name,
      decidedBy: ins.family.how,
      releases: ins.family.family.releases,
    },
    runsAs: ins.arch,
    pseudo: ins.pseudo,
    storedWord: ins.word,
    scale: ins.scale && {
      convention: ins.scale.value,
      decidedBy: ins.scale.how,
      evidence: ins.scale.evidence,
      otherWay: ins.scale.otherWay,
    },
    rope: {convention: ins.rope.value, decidedBy: ins.rope.how},
    i2s: ins.i2s && {layout: ins.i2s.value, description: ins.i2s.description, decidedBy: ins.i2s.how},
    codeTable: ins.codeTable,
    tokenizer: ins.tokenizer,
    gpuBytes: {ctx2048: ins.gpuBytes(2048), ctx4096: ins.gpuBytes(4096)},
  };
}

export const inspect: Command = {
  name: "inspect",
  summary: "show a checkpoint's config, parameter counts, bytes and bits per weight, and ternary histogram",
  usage: "bitnet-lab inspect <model-dir> [--json] " + MODEL_USAGE,
  options: {...MODEL_FLAGS, json: "boolean"},
  async run(args) {
    checkModelDirArg(args);
    const dir = args.positional[0];
    const m = await readModelPath(dir, modelOpenOptions(args));
    const c = m.weights.config;
    // The tokenizer is checked as generate checks it (too large → error; smaller → padded ids, never sampled).
    const codec = m.tokenizer === undefined ? undefined : textCodec(m.tokenizer, c, codecContext(m));
    const tokenizer = codec
      ? {tokens: codec.vocabSize, paddedIds: c.vocab_size - codec.vocabSize, bos: codec.bosId, eos: codec.eosId}
      : null;
    const params = parameterCounts(c);
    const tensors = tensorsOf(m);
    const tern = tensors.filter((t) => t.histogram);
    const total = {minus: 0, zero: 0, plus: 0};
    for (const t of tern) {
      total.minus += t.histogram!.minus;
      total.zero += t.histogram!.zero;
      total.plus += t.histogram!.plus;
    }
    const linearBytes = tensors.filter((t) => /_proj\.weight$/.test(t.name)).reduce((a, t) => a + t.bytes, 0);
    const fileBytes = m.files.filter((f) => !f.name.endsWith(".json")).reduce((a, f) => a + f.bytes, 0);
    const ins = m.inspection;
    const conventions = conventionsOf(ins);
    const report = {
      dir,
      files: m.files,
      format: m.format,
      conventions,
      warnings: m.warnings,
      tokenizer,
      config: c,
      headDim: headDim(c),
      parameters: params,
      bytes: {file: fileBytes, linear: linearBytes},
      bitsPerWeight: {
        linear: params.linear ? (linearBytes * 8) / params.linear : 0,
        overall: (fileBytes * 8) / params.total,
      },
      ternary: tern.length
        ? {
            tensors: tern.length,
            ...total,
            zeroFraction: total.zero / Math.max(1, total.minus + total.zero + total.plus),
          }
        : undefined,
      tensors,
    };
    if (flagBool(args, "json")) {
      console.log(JSON.stringify(report, null, 2));
      return 0;
    }
    const q = c.quantization_config;
    console.log(`${dir}: ${c.bitnet_variant} (${m.format}${q ? `, ${q.linear_class}/${q.quantization_mode}` : ""})`);
    console.log(
      `  hidden ${c.hidden_size}, FFN ${c.intermediate_size} (${c.hidden_act}), ${c.num_hidden_layers} layers, ${c.num_attention_heads} heads / ${c.num_key_value_heads} KV (head ${headDim(c)}), vocab ${c.vocab_size}, context ${c.max_position_embeddings}`,
    );
    console.log(
      `  rope θ ${c.rope_theta}, rms eps ${c.rms_norm_eps}, ${c.tie_word_embeddings ? "tied" : "untied"} head, sub-norms ${c.bitnet_sub_norms ? "on" : "off"}, activations ${c.bitnet_activation_bits}-bit, KV ${c.bitnet_kv_bits}-bit${c.bitnet_variant === "v2" ? `, Hadamard ${c.bitnet_hadamard ? "on" : "off"}` : ""}${c.bitnet_variant === "a4.8" ? `, top-K ${c.bitnet_topk_ratio}` : ""}`,
    );
    console.log(
      `  parameters: ${params.total.toLocaleString("en-US")} (embedding ${params.embedding.toLocaleString("en-US")}, linear ${params.linear.toLocaleString("en-US")}, norms ${params.norm.toLocaleString("en-US")}${params.head ? `, head ${params.head.toLocaleString("en-US")}` : ""})`,
    );
    console.log(`  format: ${ins.formatName} — ${ins.architecture}`);
    console.log(`  family: ${ins.family.family.name} — ${ins.family.how}`);
    console.log(`  runs as: ${ins.arch.summary}`);
    if (ins.pseudo) console.log(`  pseudo-quantized: ${ins.pseudo.description}`);
    if (ins.word) {
      console.log(
        `  one stored word: ${ins.word.tensor} byte ${ins.word.offset} = 0x${ins.word.hex.replace(/ /g, "")} = ${ins.word.bits} — ${ins.word.value}`,
      );
      for (const f of ins.word.fields) console.log(`    ${f.bits.padEnd(10)} ${f.meaning}`);
    }
    if (ins.scale)
      console.log(
        `  weight_scale ${ins.scale.value === "multiply" ? "MULTIPLIES" : "DIVIDES"}: ${ins.scale.how}; ${ins.scale.evidence}`,
      );
    console.log(`  RoPE ${ins.rope.value}: ${ins.rope.how}`);
    if (ins.i2s) console.log(`  I2_S layout ${ins.i2s.description}: ${ins.i2s.how}`);
    console.log(`  codes: ${ins.codeTable}`);
    if (ins.tokenizer)
      console.log(
        `  tokenizer (${ins.tokenizer.source}): ${ins.tokenizer.tokens} tokens, BOS ${ins.tokenizer.bos}${ins.tokenizer.addsBos ? " (added by the template)" : ""}, EOS ${ins.tokenizer.eos}${ins.tokenizer.chat ? ", chat template" : ""}`,
      );
    console.log(`  WebGPU engine needs ≈ ${fmtBytes(ins.gpuBytes(2048))} at context 2048`);
    console.log(
      `  weights ${fmtBytes(fileBytes)}: ${report.bitsPerWeight.overall.toFixed(2)} bits/param overall, ${report.bitsPerWeight.linear.toFixed(3)} bits/weight in the projections`,
    );
    if (report.ternary) {
      const n = total.minus + total.zero + total.plus;
      const pct = (x: number) => `${((100 * x) / n).toFixed(1)}%`;
      console.log(
        `  ternary weights: −1 ${pct(total.minus)}, 0 ${pct(total.zero)}, +1 ${pct(total.plus)} over ${tern.length} tensors`,
      );
    }
    console.log(
      `  tokenizer: ${codec ? `tokenizer.json, ${codec.vocabSize} tokens (BOS ${codec.bosId}, EOS ${codec.eosId})${codec.padding ? `; ${codec.padding}` : ""}` : "none (generate would use UTF-8 bytes as token ids)"}`,
    );
    for (const w of m.warnings) console.log(`  warning: ${w}`);
    console.log("");
    const rows = tensors.map((t) => [
      t.name,
      t.dtype,
      `[${t.shape.join(", ")}]`,
      fmtBytes(t.bytes),
      t.bitsPerWeight.toFixed(2),
      t.histogram ? `${t.histogram.minus}/${t.histogram.zero}/${t.histogram.plus}` : "",
    ]);
    const head = ["tensor", "dtype", "shape", "bytes", "bits/w", "−1/0/+1"];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) =>
      r
        .map((x, i) => (i >= 3 ? x.padStart(w[i]) : x.padEnd(w[i])))
        .join("  ")
        .trimEnd();
    console.log(line(head));
    for (const r of rows) console.log(line(r));
    return 0;
  },
};
