// Turns the PyTorch trainer's exports (scripts/train_torch.py) into the shipped model folders, with the
// project's own checkpoint writer, and prepares the forward check that runs on the accelerator machine.
//
//   npx tsx scripts/import-torch.ts --runs DIR [--out data/models] [--fixtures data/fixtures/torch-logits] [--data .train-data]
//       DIR/<name>/s<seed>/{model.st.gz, log.jsonl, summary.json, train-config.json, fixture.json, train.log,
//       mirror-recipe.json} for the six shipped names, the seed DIR/train-torch.json names as shipped; writes <out>/<name>/{config.json, model.safetensors, tokenizer.json, log.jsonl,
//       summary.json, train-config.json} and <fixtures>/<name>.json, and prints the max |Δlogit| of the
//       reference forward against the torch fixture.
//   npx tsx scripts/import-torch.ts --make-check DIR
//       random latent weights (real layer shapes, 2 layers, vocab 512) and the reference forward's logits for
//       every variant configuration, for `python3 scripts/train_torch.py check --dir DIR`.
//
// model.st.gz holds, per BitLinear weight, int8 codes and s = 1/max(γ, ε) (F32), BF16 floats, and the f32
// latent values of two projections: the import re-ternarizes those with quant.ts's quantizer and requires
// the same codes and scale bit for bit, so torch's export rule is checked to be TS's.
import {SHIPPED_NAMES, SHIPPED_RECIPES} from "../src/lib/recipes.js";
import {copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync} from "node:fs";
import {join} from "node:path";
import {gunzipSync} from "node:zlib";
import {expectedTensors, readCheckpoint, writeCheckpoint} from "../src/lib/checkpoint.js";
import {defaultConfig, type BitNetConfig, type Variant} from "../src/lib/config.js";
import {randomWeights} from "../src/lib/init.js";
import {forwardFull} from "../src/lib/model.js";
import {quantizeWeightsAbsmean} from "../src/lib/quant.js";
import {Rng} from "../src/lib/rng.js";
import {
  fromFloat32,
  parseSafetensorsHeader,
  tensorBytes,
  toFloat32,
  writeSafetensors,
  type TensorEntry,
} from "../src/lib/safetensors.js";
import {modelConfigAt, parseTrainConfig} from "../src/lib/train/config.js";
import {stagePlan} from "../src/lib/train/plan.js";
import type {ModelWeights, Tensor, TernaryTensor} from "../src/lib/tensor.js";

const NAMES = SHIPPED_NAMES;

const argv = process.argv.slice(2);
const opt = (name: string, fallback?: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value`);
  return v;
};

// ------------------------------------------------------------------ the torch export

export interface TorchExport {
  weights: ModelWeights;
  /** Metadata the trainer stored (name, config, exported step). */
  meta: {name: string; config: Record<string, unknown>; exportedStep: number};
}

/** Reads model.st.gz bytes (gzipped safetensors) into ModelWeights for `config`, checking the latent samples. */
export function readTorchExport(gz: Uint8Array, config: BitNetConfig): TorchExport {
  const bytes = new Uint8Array(gunzipSync(gz));
  const h = parseSafetensorsHeader(bytes);
  const metaRaw = h.metadata.bitnet_lab_torch;
  if (!metaRaw) throw new Error("model.st.gz: no bitnet_lab_torch metadata (not a train_torch.py export)");
  const meta = JSON.parse(metaRaw) as TorchExport["meta"];
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const get = (name: string) => {
    const t = byName.get(name);
    if (!t) throw new Error(`model.st.gz: missing ${name}`);
    return t;
  };
  const float = new Map<string, Tensor>();
  const ternary = new Map<string, TernaryTensor>();
  for (const e of expectedTensors(config)) {
    const t = get(e.name);
    if (t.shape.join() !== e.shape.join())
      throw new Error(`model.st.gz: ${e.name} has shape [${t.shape}], expected [${e.shape}]`);
    if (t.dtype === "I8") {
      if (e.kind !== "linear" || config.bitnet_variant === "fp")
        throw new Error(`model.st.gz: ${e.name} is I8 but is not a BitLinear weight`);
      const raw = tensorBytes(bytes, h, t);
      const codes = new Int8Array(raw.slice().buffer);
      for (let i = 0; i < codes.length; i++)
        if (codes[i] < -1 || codes[i] > 1)
          throw new Error(`model.st.gz: ${e.name} code ${codes[i]} at ${i} is not ternary`);
      const st = get(e.name.replace(/\.weight$/, ".weight_scale"));
      const s = toFloat32(tensorBytes(bytes, h, st), st.dtype)[0];
      if (!(s > 0 && Number.isFinite(s))) throw new Error(`model.st.gz: ${e.name} scale ${s}`);
      ternary.set(e.name, {shape: [e.shape[0], e.shape[1] as number], codes, gamma: 1 / s});
    } else {
      if (e.kind === "linear" && config.bitnet_variant !== "fp")
        throw new Error(`model.st.gz: ${e.name} of a quantized variant must be I8 codes, got ${t.dtype}`);
      float.set(e.name, {shape: [...e.shape], data: toFloat32(tensorBytes(bytes, h, t), t.dtype)});
    }
  }
  // torch's ternarization at export must be exactly checkpoint.ts's (quant.ts quantizeWeightsAbsmean).
  for (const t of h.tensors) {
    if (!t.name.startsWith("latent.")) continue;
    const name = t.name.slice("latent.".length);
    const q = quantizeWeightsAbsmean(toFloat32(tensorBytes(bytes, h, t), t.dtype));
    const mine = ternary.get(name);
    if (!mine) throw new Error(`model.st.gz: latent sample ${name} has no ternary weight`);
    if (Math.fround(1 / mine.gamma) !== q.scale)
      throw new Error(`${name}: torch scale ${1 / mine.gamma} ≠ TS scale ${q.scale}`);
    let diff = 0;
    for (let i = 0; i < q.codes.length; i++) if (q.codes[i] !== mine.codes[i]) diff++;
    if (diff)
      throw new Error(
        `${name}: ${diff} of ${q.codes.length} torch codes differ from TS's ternarization of the same latent weights`,
      );
  }
  return {weights: {config, float, ternary}, meta};
}

interface FixtureRow {
  subset: number[][];
  logsumexp: number[];
  top: [number, number][][];
}
export interface TorchFixture {
  model: string;
  sequences: number[][];
  vocabStride: number;
  exact: FixtureRow[];
  train: FixtureRow[];
  trainVsExactMaxAbs: number;
}

/** max |Δ| between reference logits [T, V] and a fixture row (subset, logsumexp, top entries). */
export function fixtureDiff(logits: Float32Array, V: number, row: FixtureRow, stride: number): number {
  let worst = 0;
  const T = row.logsumexp.length;
  for (let t = 0; t < T; t++) {
    const r = logits.subarray(t * V, (t + 1) * V);
    row.subset[t].forEach((v, k) => (worst = Math.max(worst, Math.abs(r[k * stride] - v))));
    let m = -Infinity;
    for (const v of r) m = Math.max(m, v);
    let z = 0;
    for (const v of r) z += Math.exp(v - m);
    worst = Math.max(worst, Math.abs(m + Math.log(z) - row.logsumexp[t]));
    for (const [id, v] of row.top[t]) worst = Math.max(worst, Math.abs(r[id] - v));
  }
  return worst;
}

function sameWeights(a: ModelWeights, b: ModelWeights): string | undefined {
  for (const [n, t] of a.ternary) {
    const u = b.ternary.get(n);
    if (!u) return `${n} missing`;
    if (Math.fround(1 / t.gamma) !== Math.fround(1 / u.gamma)) return `${n} scale`;
    for (let i = 0; i < t.codes.length; i++) if (t.codes[i] !== u.codes[i]) return `${n} code ${i}`;
  }
  for (const [n, t] of a.float) {
    const u = b.float.get(n);
    if (!u) return `${n} missing`;
    for (let i = 0; i < t.data.length; i++) if (t.data[i] !== u.data[i]) return `${n} value ${i}`;
  }
  return undefined;
}

function importRuns(runs: string, out: string, fixtures: string, data: string): void {
  const tokPath = join(data, "tokenizer.json");
  if (!existsSync(tokPath)) throw new Error(`${tokPath} is missing (npx tsx bench/train-data.ts ${data} 4096)`);
  const tokenizer = readFileSync(tokPath);
  mkdirSync(fixtures, {recursive: true});
  let n = 0;
  // train_torch.py all: DIR/<name>/s<seed>/…, the shipped seed of each model in DIR/train-torch.json
  // (chosen on the selection split); older single-seed runs: DIR/<name>/….
  const index = existsSync(join(runs, "train-torch.json"))
    ? (JSON.parse(readFileSync(join(runs, "train-torch.json"), "utf8")) as {shipped?: Record<string, string>})
    : {};
  for (const name of NAMES) {
    const seed = index.shipped?.[name];
    const src = seed ? join(runs, name, `s${seed}`) : join(runs, name);
    if (!existsSync(join(src, "model.st.gz"))) {
      console.log(`${name}: no ${join(src, "model.st.gz")}, skipped`);
      continue;
    }
    const cfg = parseTrainConfig(
      JSON.parse(readFileSync(join(src, "train-config.json"), "utf8")),
      `${name}/train-config.json`,
    );
    const config = modelConfigAt(cfg, cfg.steps);
    const {weights, meta} = readTorchExport(new Uint8Array(readFileSync(join(src, "model.st.gz"))), config);
    for (const [k, v] of Object.entries(config)) {
      if (k.startsWith("bitnet_") && JSON.stringify(meta.config[k]) !== JSON.stringify(v))
        throw new Error(
          `${name}: torch config ${k} = ${JSON.stringify(meta.config[k])}, TS config ${JSON.stringify(v)}`,
        );
    }
    const summary = JSON.parse(readFileSync(join(src, "summary.json"), "utf8")) as {
      final: {loss: number};
      exportedStep: number;
    } & Record<string, unknown>;
    const ck = writeCheckpoint(weights, {
      floatDtype: "BF16",
      metadata: {
        bitnet_lab_trained: JSON.stringify({
          name,
          trainer: "pytorch (scripts/train_torch.py)",
          steps: summary.exportedStep,
          val_loss: summary.final.loss,
        }),
      },
    });
    // The written checkpoint must read back to exactly the exported weights (BF16 values are exact).
    const back = readCheckpoint(ck.config, ck.safetensors);
    const bad = sameWeights(weights, back.weights);
    if (bad) throw new Error(`${name}: the written checkpoint does not read back to the export (${bad})`);
    const dir = join(out, name);
    mkdirSync(dir, {recursive: true});
    const existingTok = join(dir, "tokenizer.json");
    if (existsSync(existingTok) && !readFileSync(existingTok).equals(tokenizer))
      throw new Error(`${existingTok} differs from ${tokPath}: the tokenizer must stay identical`);
    writeFileSync(join(dir, "config.json"), JSON.stringify(ck.config, null, 2) + "\n");
    writeFileSync(join(dir, "model.safetensors"), ck.safetensors);
    writeFileSync(join(dir, "tokenizer.json"), tokenizer);
    copyFileSync(join(src, "log.jsonl"), join(dir, "log.jsonl"));
    copyFileSync(join(src, "train-config.json"), join(dir, "train-config.json"));
    for (const f of ["train.log", "mirror-recipe.json"])
      if (existsSync(join(src, f))) copyFileSync(join(src, f), join(dir, f));
    writeFileSync(
      join(dir, "summary.json"),
      JSON.stringify({...summary, modelBytes: ck.safetensors.length}, null, 2) + "\n",
    );

    // The reference forward (KV cache unquantized, as the torch fixture) against torch's logits.
    const fx = JSON.parse(readFileSync(join(src, "fixture.json"), "utf8")) as TorchFixture;
    writeFileSync(join(fixtures, `${name}.json`), JSON.stringify(fx) + "\n");
    const w16: ModelWeights = {...back.weights, config: {...back.weights.config, bitnet_kv_bits: 16}};
    const V = config.vocab_size;
    let dx = 0;
    let dt = 0;
    fx.sequences.forEach((seq, s) => {
      const {logits} = forwardFull(w16, seq);
      dx = Math.max(dx, fixtureDiff(logits, V, fx.exact[s], fx.vocabStride));
      dt = Math.max(dt, fixtureDiff(logits, V, fx.train[s], fx.vocabStride));
    });
    console.log(
      `${name}: wrote ${dir} (model.safetensors ${(ck.safetensors.length / 1e6).toFixed(2)} MB, exported step ${summary.exportedStep}, val loss ${summary.final.loss.toFixed(4)}); reference vs torch max |Δlogit|: exact ${dx.toExponential(2)}, train ${dt.toExponential(2)} (torch train vs exact ${fx.trainVsExactMaxAbs.toExponential(2)})`,
    );
    n++;
  }
  if (!n) throw new Error(`no runs found under ${runs}`);
}

// ------------------------------------------------------------------ random-weight forward check

function makeCheck(dir: string): void {
  const shape = {vocab_size: 512, num_hidden_layers: 2, bitnet_kv_bits: 16 as const, bitnet_kv_bos_bits: 0};
  const cases: {name: string; variant: Variant; over: Partial<BitNetConfig>}[] = [
    ...SHIPPED_RECIPES.map((r) => ({name: r.name, variant: r.variant, over: r.shape})),
    // a4.8's first stage (A8, no top-K) as its own configuration
    {name: "a4.8-stage1", variant: "a4.8" as Variant, over: {bitnet_activation_bits: 8, bitnet_topk_ratio: 1}},
  ];
  // One set of latent weights with every tensor (sub-norms included); fp reads the ones it needs.
  const full = randomWeights(defaultConfig("b1.58", shape), 2024, {latent: true});
  const entries: TensorEntry[] = [...full.float].map(([name, t]) => ({
    name,
    dtype: "F32",
    shape: t.shape,
    data: fromFloat32(t.data, "F32"),
  }));
  mkdirSync(dir, {recursive: true});
  writeFileSync(join(dir, "weights.safetensors"), writeSafetensors(entries));
  const rng = new Rng(7);
  const tokens = [1, ...Array.from({length: 19}, () => rng.int(shape.vocab_size))];
  const out = cases.map((cs) => {
    const config = defaultConfig(cs.variant, {...shape, ...cs.over});
    const float = new Map<string, Tensor>();
    for (const e of expectedTensors(config)) float.set(e.name, full.float.get(e.name)!);
    const w: ModelWeights = {config, float, ternary: new Map()};
    const {logits} = forwardFull(w, tokens);
    const codesSample: Record<string, {codes: number[]; scale: number}> = {};
    if (cs.variant !== "fp") {
      for (const e of expectedTensors(config)) {
        if (e.kind !== "linear") continue;
        const q = quantizeWeightsAbsmean(float.get(e.name)!.data);
        codesSample[e.name] = {codes: Array.from(q.codes.subarray(0, 4096)), scale: q.scale};
      }
    }
    return {name: cs.name, config, ...stagePlan(config), tokens, logits: Array.from(logits), codesSample};
  });
  writeFileSync(join(dir, "reference.json"), JSON.stringify({cases: out}));
  console.log(
    `wrote ${dir}/weights.safetensors and reference.json (${cases.length} configurations, ${tokens.length} tokens)`,
  );
}

const check = opt("make-check");
if (check) makeCheck(check);
else {
  const runs = opt("runs");
  if (!runs)
    throw new Error(
      "usage: npx tsx scripts/import-torch.ts --runs DIR [--out data/models] [--fixtures data/fixtures/torch-logits] [--data .train-data] | --make-check DIR",
    );
  importRuns(
    runs,
    opt("out", "data/models")!,
    opt("fixtures", "data/fixtures/torch-logits")!,
    opt("data", ".train-data")!,
  );
}
