// The interop table of issue 20: this project's logits on every vendor-made GGUF (data/fixtures/vendor) against
// transformers on the same weights and against bitnet.cpp's own logits on the file, with bitnet.cpp's own distance
// to transformers beside them.   npx tsx bench/vendor-agreement.ts [--json]
import {readFileSync} from "node:fs";
import {forwardFull} from "../src/lib/model.js";
import {logitsAgreement} from "../src/lib/verify.js";
import type {LogitsGrid} from "../src/lib/verify.js";
import type {I2SLayout} from "../src/lib/formats/i2s.js";
import {readModelPath} from "../src/node/files.js";

const V = "data/fixtures/vendor";
const seqs = (JSON.parse(readFileSync(`${V}/sequences.json`, "utf8")) as {sequences: number[][]}).sequences;
const load = (f: string): LogitsGrid => JSON.parse(readFileSync(`${V}/logits/${f}`, "utf8")).logits;
const files: {file: string; maker: string; layout: I2SLayout; hf: string; bcpp: string | null}[] = [
  {
    file: "a-hf-bf16.i2_s.gguf",
    maker: "convert-hf-to-gguf-bitnet.py --outtype i2_s (bitnet-b1.58)",
    layout: "x86",
    hf: "hf-bf16",
    bcpp: "a-hf-bf16.i2_s.bitnetcpp.json",
  },
  {
    file: "a-hf-packed.i2_s.gguf",
    maker: "convert-hf-to-gguf-bitnet.py on the packed folder (bitnet-b1.58)",
    layout: "x86",
    hf: "hf-packed",
    bcpp: "a-hf-packed.i2_s.bitnetcpp.json",
  },
  {
    file: "b-ms.i2_s.x86.gguf",
    maker: "preprocess → convert-ms-to-gguf-bitnet.py → llama-quantize I2_S, x86 build (bitnet-25)",
    layout: "x86",
    hf: "hf-bf16",
    bcpp: "b-ms.i2_s.x86.bitnetcpp.json",
  },
  {
    file: "b-ms.i2_s.arm.gguf",
    maker: "same, llama-quantize built for aarch64 (qemu)",
    layout: "arm",
    hf: "hf-bf16",
    bcpp: "b-ms.i2_s.arm.bitnetcpp.step.json",
  },
  {
    file: "b-ms.i2_s.rows.gguf",
    maker: "same, x86 build without ACT_PARALLEL",
    layout: "rows",
    hf: "hf-bf16",
    bcpp: "b-ms.i2_s.rows.bitnetcpp.json",
  },
];
const rows = [];
for (const f of files) {
  const m = await readModelPath(`${V}/${f.file}`, {i2sLayout: f.layout});
  const n = m.weights.config.vocab_size;
  const ours: LogitsGrid = seqs.map((s) => {
    const l = forwardFull(m.weights, s).logits;
    return Array.from({length: s.length}, (_, p) => Array.from(l.subarray(p * n, (p + 1) * n)));
  });
  const tf = load(`${f.hf}.transformers.json`);
  const b = f.bcpp ? load(f.bcpp) : null;
  rows.push({
    ...f,
    oursVsTransformers: logitsAgreement(ours, tf),
    oursVsBitnetCpp: b && logitsAgreement(ours, b),
    bitnetCppVsTransformers: b && logitsAgreement(b, tf),
  });
}
if (process.argv.includes("--json")) console.log(JSON.stringify(rows, null, 1));
else {
  const fmt = (a: ReturnType<typeof logitsAgreement> | null) =>
    a
      ? `${a.max.toExponential(2)} (p50 ${a.p50.toExponential(1)}, p99 ${a.p99.toExponential(1)}), argmax ${a.argmax}/${a.positions}`
      : "—";
  console.log(
    "| file | maker | layout | ours vs transformers | ours vs bitnet.cpp | bitnet.cpp vs transformers |\n|---|---|---|---|---|---|",
  );
  for (const r of rows)
    console.log(
      `| ${r.file} | ${r.maker} | ${r.layout} | ${fmt(r.oursVsTransformers)} | ${fmt(r.oursVsBitnetCpp)} | ${fmt(r.bitnetCppVsTransformers)} |`,
    );
}
