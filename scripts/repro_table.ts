// Regenerates the reproduction table from the shipped models' training logs (data/models/*) and measures
// a4.8's (and b1.58's) activation sparsity per component with the CPU reference model's traces on
// validation text, next to the a4.8 paper's Table 2.
//   npx tsx scripts/repro_table.ts [--windows N]   → data/repro-table.md, data/repro-table.json
import {existsSync, readFileSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {readCheckpoint} from "../src/lib/checkpoint.js";
import {tokenizeDocuments} from "../src/lib/corpus.js";
import {forwardFull} from "../src/lib/model.js";
import {Tokenizer} from "../src/lib/tokenizer.js";
import {loadSplit} from "../src/node/corpus.js";

const ROOT = new URL("../", import.meta.url).pathname;
const MODELS = join(ROOT, "data/models");
const NAMES = ["fp", "b1.58", "a4.8", "v2-a8", "v2-a4", "v2-a4-nohadamard"];
const arg = process.argv.indexOf("--windows");
const WINDOWS = arg > 0 ? Number(process.argv[arg + 1]) : 4;
const T = 256;

// a4.8 paper Table 2 (700M and 7B rows; % zeros, non-embedding)
const PAPER = {
  "BitNet b1.58 700M": {QKV: 1.2, Out: 5.9, Up: 1.2, Gate: 1.2, Down: 21.8, Overall: 6.2},
  "BitNet a4.8 700M": {QKV: 12.1, Out: 50.0, Up: 66.2, Gate: 12.1, Down: 80.9, Overall: 42.5},
  "BitNet a4.8 7B": {QKV: 12.1, Out: 50.0, Up: 71.4, Gate: 12.0, Down: 84.2, Overall: 44.5},
};

interface Row {name: string; variant: string; activationBits: number; hadamard: boolean; steps: number; scheduleSteps: number; tokens: number; epochs: number | null; valLoss: number; perplexity: number; valTokens: number; trainSeconds: number; tokensPerSecond: number; modelBytes: number | null; trainer: string; batchSize: number; seqLen: number; startStep: number; evalEvery: number}

const rows: Row[] = [];
for (const n of NAMES) {
  const dir = join(MODELS, n);
  if (!existsSync(join(dir, "summary.json"))) continue;
  const s = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8"));
  const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const tc = JSON.parse(readFileSync(join(dir, "train-config.json"), "utf8"));
  // The step of the exported model: the last one, or (PyTorch runs) the best validation in the final stage.
  const stepsDone = s.final?.step ?? s.steps;
  rows.push({
    name: n, variant: cfg.bitnet_variant, activationBits: cfg.bitnet_activation_bits, hadamard: cfg.bitnet_hadamard,
    steps: stepsDone, scheduleSteps: s.scheduleSteps ?? tc.steps, tokens: stepsDone * tc.batchSize * tc.seqLen, epochs: s.epochs ?? null,
    valLoss: s.final.loss, perplexity: s.final.perplexity, valTokens: s.final.tokens,
    trainSeconds: s.seconds, tokensPerSecond: s.tokensPerSecond, trainer: s.trainer ?? "tfjs", batchSize: tc.batchSize, seqLen: tc.seqLen, startStep: s.startStep ?? 0, evalEvery: tc.evalEvery,
    modelBytes: existsSync(join(dir, "model.safetensors")) ? readFileSync(join(dir, "model.safetensors")).length : s.modelBytes ?? null,
  });
}

// ---- sparsity with the reference model's traces
type Comp = "QKV" | "Out" | "Up" | "Gate" | "Down";
function sparsity(name: string): (Record<Comp | "Overall", number> & {windows: number; tokens: number; refLoss: number}) | undefined {
  const dir = join(MODELS, name);
  if (!existsSync(join(dir, "model.safetensors"))) return undefined;
  const ck = readCheckpoint(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")), new Uint8Array(readFileSync(join(dir, "model.safetensors"))));
  const w = ck.weights;
  const tok = Tokenizer.fromJSON(readFileSync(join(dir, "tokenizer.json"), "utf8"));
  const val = tokenizeDocuments(tok, loadSplit().val.map((a) => a.text));
  const c = w.config;
  const C = c.hidden_size, F = c.intermediate_size, D = C / c.num_attention_heads;
  const params: Record<Comp, number> = {QKV: C * (c.num_attention_heads + 2 * c.num_key_value_heads) * D, Out: C * C, Up: C * F, Gate: C * F, Down: F * C};
  const acc: Record<Comp, number> = {QKV: 0, Out: 0, Up: 0, Gate: 0, Down: 0};
  let n = 0, nll = 0, count = 0;
  for (let k = 0; k < WINDOWS; k++) {
    const s = Math.floor((k * (val.length - T - 1)) / WINDOWS);
    const toks = Array.from(val.subarray(s, s + T));
    const {logits, trace} = forwardFull(w, toks, {trace: true});
    for (let t = 0; t + 1 < T; t++) {
      const row = logits.subarray(t * c.vocab_size, (t + 1) * c.vocab_size);
      let m = -Infinity;
      for (const v of row) m = Math.max(m, v);
      let z = 0;
      for (const v of row) z += Math.exp(v - m);
      nll += m + Math.log(z) - row[val[s + t + 1]];
      count++;
    }
    for (const L of trace!.layers) {
      const li = L.linears;
      acc.QKV += (li.q.sparsity * params.QKV) / params.QKV; // q, k, v share one input
      acc.Out += li.o.sparsity;
      acc.Gate += li.gate.sparsity;
      // Up is computed only where ReLU²(gate) ≠ 0 (a4.8 §3): 1 − (1 − input zeros)(1 − gate-output zeros)
      let gz = 0;
      for (const v of li.gate.output) if (c.hidden_act === "relu2" ? v <= 0 : v === 0) gz++;
      acc.Up += 1 - (1 - li.up.sparsity) * (1 - gz / li.gate.output.length);
      acc.Down += li.down.sparsity;
      n++;
    }
  }
  const out = {} as Record<Comp | "Overall", number>;
  let tot = 0, wsum = 0;
  for (const k of Object.keys(acc) as Comp[]) {
    out[k] = (100 * acc[k]) / n;
    tot += out[k] * params[k];
    wsum += params[k];
  }
  out.Overall = tot / wsum;
  return {...out, windows: WINDOWS, tokens: WINDOWS * T, refLoss: nll / count};
}

const sp: Record<string, ReturnType<typeof sparsity>> = {};
for (const n of ["a4.8", "b1.58"]) sp[n] = sparsity(n);

const f2 = (x: number) => x.toFixed(2);
const f1 = (x: number) => x.toFixed(1);
const torchRun = rows.some((r) => r.trainer === "pytorch");
const trainRows = rows.filter((r) => r.startStep === 0);
const shape = rows[0] ? `batch ${rows[0].batchSize} × ${rows[0].seqLen}` : "";
const md: string[] = [
  "# Reproduction table (generated by `npx tsx scripts/repro_table.ts`; do not edit)",
  "",
  "Models: hidden 256, 4 layers, 4 heads / 2 KV heads, FFN 688, context 256, vocab 4096 (byte-level BPE on the training split);",
  torchRun
    ? `trained with \`scripts/train_torch.py\` (the PyTorch mirror of the tfjs trainer) on one H100, ${trainRows.length} stage-one runs in parallel processes, all on the same token stream (seed 1, ${shape});`
    : `trained with \`bench/train-all.ts\` on one H100 (tfjs WebGPU on Dawn), all on the same token stream (seed 1, ${shape}).`,
  ...(torchRun ? [`v2-a4 and v2-a4-nohadamard continue v2-a8's state at 80% of the steps. Each run evaluates on the whole validation split every ${rows[0].evalEvery} steps and exports the best evaluation within its final activation stage (Steps = that step / the schedule's).`, ""] : []),
  "Validation: State of the Union addresses of the years ending in 7 (23 addresses), whole split" + (torchRun
    ? ", the exported model (ternary codes, BF16 embedding/norms) in torch float32 (TF32 off), KV cache not quantized."
    : ", tfjs forward (training-time numerics; KV cache not quantized)."),
  "",
  "| Model | Activations | Steps | Train tokens | Epochs | Val loss (nats) | Val PPL | Train time (s) | tok/s (per run, 4–6 runs sharing the GPU) | model.safetensors |",
  "|---|---|---|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.name} | ${r.variant === "fp" ? "fp32" : r.variant === "a4.8" ? (r.activationBits === 4 ? "A4 hybrid (INT4 / top-K 50% INT8 / INT8)" : "A8") : `A${r.activationBits}${r.variant === "v2" ? (r.hadamard ? " + Hadamard" : " no Hadamard") : ""}`} | ${r.steps === r.scheduleSteps ? r.steps : `${r.steps} / ${r.scheduleSteps}`} | ${r.tokens} | ${r.epochs === null ? "—" : r.epochs.toFixed(1)} | ${f2(r.valLoss)} | ${f2(r.perplexity)} | ${r.trainSeconds.toFixed(0)}${r.startStep ? ` (from step ${r.startStep})` : ""} | ${(r.tokensPerSecond / 1000).toFixed(1)}k | ${r.modelBytes === null ? "—" : (r.modelBytes / 1e6).toFixed(2) + " MB"} |`),
  "",
  `## Activation sparsity per component (% zeros among the quantized inputs; ${WINDOWS} validation windows × ${T} tokens, reference model traces)`,
  "",
  "Up counts the up-projection as skipped where ReLU²(gate) = 0, as a4.8 §3 does: 1 − (1 − input zeros)(1 − gate zeros). Overall is weighted by the projections' parameter counts.",
  "",
  "| Model | QKV | Out | Up | Gate | Down | Overall |",
  "|---|---|---|---|---|---|---|",
  ...Object.entries(sp).filter(([, v]) => v).map(([k, v]) => `| this repo: ${k} (4M) | ${f1(v!.QKV)} | ${f1(v!.Out)} | ${f1(v!.Up)} | ${f1(v!.Gate)} | ${f1(v!.Down)} | ${f1(v!.Overall)} |`),
  ...Object.entries(PAPER).map(([k, v]) => `| paper: ${k} (a4.8 Table 2) | ${f1(v.QKV)} | ${f1(v.Out)} | ${f1(v.Up)} | ${f1(v.Gate)} | ${f1(v.Down)} | ${f1(v.Overall)} |`),
  "",
  ...Object.entries(sp).filter(([, v]) => v).map(([k, v]) => `Reference-model loss on those windows, ${k}: ${f2(v!.refLoss)} nats (packed checkpoint, BF16 embedding${k === "a4.8" ? ", 3-bit KV cache with a 4-bit BOS as configured" : ""}).`),
  "",
];
writeFileSync(join(ROOT, "data/repro-table.md"), md.join("\n"));
writeFileSync(join(ROOT, "data/repro-table.json"), JSON.stringify({rows, sparsity: sp, paperTable2: PAPER}, null, 2) + "\n");
console.log(md.join("\n"));
