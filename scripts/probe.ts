// The bad-input probe (issue 12): property-based fuzzing of the readers (config.json, model.safetensors,
// tokenizer.json, training-state metadata) and of the CLI's argument space, each family time-boxed; issue 22
// added tokenizer Split regexes (complexity), absurd scales, huge sparse GGUFs, and the data safety of every
// command that writes (convert, train: its input and what is at --out must survive). Every case
// is known to be bad (or, for byte-level corruption, checked against the original after loading), and lands in
// one bucket:
//   handled   refused with the reader's own error class / a usage error (exit 2) naming what is wrong
//   harmless  the corruption left the input valid and it loaded identically (e.g. a byte of header padding)
//   crashed   any other exception (TypeError, RangeError, …) or the wrong exit code
//   silent    bad input accepted (or loaded with different content) without a word; a command that exits 0
//             with NaN or garbage; a command that writes and changed what it read or what was there
//   hung      any case that took longer than HUNG_MS (a catastrophic regex, an element-by-element array)
// `npx tsx scripts/probe.ts [--seconds S]` prints the figures; test/unit/fuzz.test.ts asserts crashed = silent = 0.
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import {tmpdir} from "node:os";
import {basename, join} from "node:path";
import {pathToFileURL} from "node:url";
import fc from "fast-check";
import {main} from "../src/cli/main.js";
import {CheckpointError, configToJSON, parseConfig, readCheckpoint, writeCheckpoint} from "../src/lib/checkpoint.js";
import {defaultConfig} from "../src/lib/config.js";
import {randomWeights} from "../src/lib/init.js";
import {SafetensorsError, parseSafetensorsHeader} from "../src/lib/safetensors.js";
import type {ModelWeights} from "../src/lib/tensor.js";
import {BYTE_LEVEL_REGEX, LLAMA3_REGEX, Tokenizer} from "../src/lib/tokenizer.js";
import {NonFiniteLogitsError} from "../src/lib/backend.js";
import {ggufFromWeights} from "../src/lib/formats/gguf-model.js";
import {GGUFValueType, parseGGUF, writeGGUF} from "../src/lib/formats/gguf.js";
import {openCheckpoint} from "../src/lib/formats/open.js";
import {FormatError, mapFileSet, memorySource, type ByteSource} from "../src/lib/formats/source.js";
import {createCpuSession} from "../src/lib/model.js";
import {CONFIG_LIMITS} from "../src/lib/variant.js";
import {StateError, parseStateMeta} from "../src/lib/train/state.js";
import {writeModelDir} from "../src/node/modeldir.js";

export type Bucket = "handled" | "harmless" | "crashed" | "silent" | "hung";
/** A single case taking longer than this is counted hung, whatever it returned. */
export const HUNG_MS = 15_000;
export interface FamilyResult {
  family: string;
  tried: number;
  /** Different inputs among those tried (the catalog-based families repeat cases). */
  distinct: number;
  handled: number;
  harmless: number;
  crashed: number;
  silent: number;
  hung: number;
  /** Up to 5 examples of crashed/silent cases, for the report. */
  examples: string[];
}

/** Runs the CLI in-process with stdout/stderr captured (no child process). */
export async function runCli(argv: readonly string[]): Promise<{code: number; out: string; err: string}> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = {
    log: console.log,
    error: console.error,
    warn: console.warn,
    ew: process.stderr.write,
    ow: process.stdout.write,
  };
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = console.warn = (...a: unknown[]) => void err.push(a.join(" "));
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
  process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write;
  try {
    return {code: await main([...argv]), out: out.join("\n"), err: err.join("\n")};
  } finally {
    Object.assign(console, {log: saved.log, error: saved.error, warn: saved.warn});
    process.stderr.write = saved.ew;
    process.stdout.write = saved.ow;
  }
}

async function family<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  budgetMs: number,
  seed: number,
  judge: (x: T) => Bucket | Promise<Bucket>,
  show: (x: T) => string = (x) => JSON.stringify(x).slice(0, 200),
): Promise<FamilyResult> {
  const r: FamilyResult = {
    family: name,
    tried: 0,
    distinct: 0,
    handled: 0,
    harmless: 0,
    crashed: 0,
    silent: 0,
    hung: 0,
    examples: [],
  };
  const seen = new Set<string>();
  const t0 = performance.now();
  // Batches of samples from one seeded stream, until the time box closes.
  for (let batch = 0; performance.now() - t0 < budgetMs; batch++) {
    for (const x of fc.sample(arb, {numRuns: 50, seed: seed + batch})) {
      let b: Bucket;
      const t1 = performance.now();
      try {
        b = await judge(x);
      } catch (e) {
        b = "crashed";
        if (r.examples.length < 5)
          r.examples.push(`${show(x)} → ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
      if (performance.now() - t1 > HUNG_MS) b = "hung";
      r.tried++;
      seen.add(show(x));
      r.distinct = seen.size;
      r[b]++;
      if (
        (b === "silent" || b === "crashed" || b === "hung") &&
        r.examples.length < 5 &&
        !r.examples.at(-1)?.startsWith(show(x))
      )
        r.examples.push(`${show(x)} → ${b}`);
      if (performance.now() - t0 >= budgetMs) break;
    }
  }
  return r;
}

/** Classifies a reader call: its own error class → handled; any other exception → crashed (rethrown). */
function refused(fn: () => unknown, ...ok: (new (...a: never[]) => Error)[]): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (ok.some((C) => e instanceof C)) return true;
    throw e;
  }
}

// ---------------------------------------------------------------- config.json

const SHAPE = {
  vocab_size: 300,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 24,
};
const anyBad = [true, "8", [], {}, -1, 1.5, 1e300, -1e300];
const BAD_FIELDS: Record<string, unknown[]> = {
  ...Object.fromEntries(
    [
      "vocab_size",
      "hidden_size",
      "intermediate_size",
      "num_hidden_layers",
      "num_attention_heads",
      "num_key_value_heads",
      "head_dim",
      "max_position_embeddings",
    ].map((k) => [
      k,
      [
        ...anyBad,
        0,
        CONFIG_LIMITS[k as keyof typeof CONFIG_LIMITS] * 2 + 1,
        2 ** 53,
        1e9 * CONFIG_LIMITS[k as keyof typeof CONFIG_LIMITS],
        -0.5,
      ],
    ]),
  ),
  rms_norm_eps: [...anyBad, 0, 2],
  rope_theta: [true, "8", [], {}, -1, 0, 1e13, 1e300, -1e300],
  bos_token_id: [...anyBad, 300, 1e9],
  eos_token_id: [...anyBad, 300, 2 ** 53],
  bitnet_activation_bits: [...anyBad, 2, 16, 0],
  bitnet_kv_bits: [...anyBad, 2, 5, 32],
  bitnet_kv_bos_bits: [...anyBad, 17, 2.5],
  bitnet_topk_ratio: [true, "0.5", [], {}, -0.1, 1.1, 1e300],
  hidden_act: ["gelu", 1, true, "", {}],
  tie_word_embeddings: [1, "true", 0, {}],
  bitnet_sub_norms: [1, "false"],
  bitnet_hadamard: [1, "yes"],
  bitnet_variant: ["b2", 1, "", true],
  model_type: ["llama", 1, true],
  rope_scaling: [{type: "linear"}, {rope_type: "yarn", factor: 2}],
  quantization_config: [
    {quant_method: "gptq"},
    5,
    "bitnet",
    {quant_method: "bitnet", linear_class: "x"},
    {quant_method: "bitnet", quantization_mode: 1},
  ],
};

const badConfigArb = fc
  .uniqueArray(fc.constantFrom(...Object.keys(BAD_FIELDS)), {minLength: 1, maxLength: 3})
  .chain((keys) => fc.tuple(fc.constant(keys), fc.tuple(...keys.map((k) => fc.constantFrom(...BAD_FIELDS[k])))));

function judgeConfig([keys, values]: [string[], unknown[]]): Bucket {
  const j: Record<string, unknown> = {...configToJSON(defaultConfig("b1.58", SHAPE))};
  keys.forEach((k, i) => (j[k] = values[i]));
  return refused(() => parseConfig(JSON.parse(JSON.stringify(j))), CheckpointError) ? "handled" : "silent";
}

// Whole random JSON values: never a config (hidden_size etc. are required).
const judgeRandomConfig = (v: unknown): Bucket =>
  refused(() => parseConfig(v), CheckpointError) ? "handled" : "silent";

// ---------------------------------------------------------------- model.safetensors

interface Fixture {
  config: Record<string, unknown>;
  bytes: Uint8Array;
  weights: ModelWeights;
}
let fixture: Fixture | undefined;
function checkpointFixture(): Fixture {
  if (fixture) return fixture;
  const w = randomWeights(defaultConfig("b1.58", {...SHAPE, tie_word_embeddings: false}), 11);
  const {config, safetensors} = writeCheckpoint(w);
  fixture = {config, bytes: safetensors, weights: readCheckpoint(config, safetensors).weights};
  return fixture;
}

function sameWeights(a: ModelWeights, b: ModelWeights): boolean {
  if (a.float.size !== b.float.size || a.ternary.size !== b.ternary.size) return false;
  for (const [k, t] of a.float) {
    const u = b.float.get(k);
    if (!u || u.data.length !== t.data.length || t.data.some((x, i) => !Object.is(x, u.data[i]))) return false;
  }
  for (const [k, t] of a.ternary) {
    const u = b.ternary.get(k);
    if (!u || u.gamma !== t.gamma || u.codes.length !== t.codes.length || t.codes.some((x, i) => x !== u.codes[i]))
      return false;
  }
  return true;
}

type Corruption =
  | {kind: "truncate"; at: number}
  | {kind: "byte"; at: number; value: number}
  | {kind: "length"; value: number}
  | {kind: "entry"; tensor: number; field: "dtype" | "shape" | "data_offsets"; value: unknown}
  | {kind: "drop"; tensor: number}
  | {kind: "header"; value: unknown};

const corruptionArb: fc.Arbitrary<Corruption> = fc.oneof(
  fc.record({kind: fc.constant("truncate" as const), at: fc.double({min: 0, max: 1, noNaN: true})}),
  fc.record({
    kind: fc.constant("byte" as const),
    at: fc.double({min: 0, max: 1, noNaN: true}),
    value: fc.integer({min: 0, max: 255}),
  }),
  fc.record({
    kind: fc.constant("length" as const),
    value: fc.oneof(fc.integer({min: 0, max: 2000}), fc.constantFrom(2 ** 32, 2 ** 52, 1e8 + 1)),
  }),
  fc.record({
    kind: fc.constant("entry" as const),
    tensor: fc.nat(),
    field: fc.constantFrom("dtype" as const, "shape" as const, "data_offsets" as const),
    value: fc.oneof(
      fc.constantFrom("F8", "Q4", "", "U8", "F64", "BF16", "I8"),
      fc.array(fc.integer({min: -5, max: 1 << 20}), {maxLength: 3}),
      fc.tuple(fc.integer({min: -8, max: 1 << 22}), fc.integer({min: -8, max: 1 << 22})),
      fc.jsonValue(),
    ),
  }),
  fc.record({kind: fc.constant("drop" as const), tensor: fc.nat()}),
  fc.record({kind: fc.constant("header" as const), value: fc.jsonValue({maxDepth: 3})}),
);

function corrupt(bytes: Uint8Array, c: Corruption): Uint8Array {
  const N = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  if (c.kind === "truncate") return bytes.slice(0, Math.floor(c.at * (bytes.length - 1)));
  if (c.kind === "byte") {
    const out = bytes.slice();
    out[Math.floor(c.at * (8 + N - 1))] = c.value;
    return out;
  }
  if (c.kind === "length") {
    const out = bytes.slice();
    new DataView(out.buffer).setBigUint64(0, BigInt(c.value), true);
    return out;
  }
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + N))) as Record<string, unknown>;
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  let next: unknown = header;
  if (c.kind === "entry") (header[names[c.tensor % names.length]] as Record<string, unknown>)[c.field] = c.value;
  else if (c.kind === "drop") delete header[names[c.tensor % names.length]];
  else next = c.value;
  const json = new TextEncoder().encode(JSON.stringify(next));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - N);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + N), 8 + json.length);
  return out;
}

function judgeSafetensors(c: Corruption): Bucket {
  const f = checkpointFixture();
  const bad = corrupt(f.bytes, c);
  let loaded: ModelWeights;
  try {
    loaded = readCheckpoint(f.config, bad).weights;
  } catch (e) {
    if (e instanceof SafetensorsError || e instanceof CheckpointError) return "handled";
    throw e;
  }
  return sameWeights(loaded, f.weights) ? "harmless" : "silent";
}

// ---------------------------------------------------------------- tokenizer.json

let tokJSON: Record<string, unknown> | undefined;
const TEXT =
  "the state of the union is strong; we the people of the united states, in order to form a more perfect union ";
const BAD_TOKENIZER: [string, unknown[]][] = [
  ["model", [null, 5, "BPE", []]],
  ["model.type", ["WordPiece", 1, null, ""]],
  ["model.vocab", [[], {}, "x", 5, null]],
  ["model.merges", [{}, "a b", 5, null]],
  ["model.merges.0", [5, "ab", ["a"], ["a", 1], null, "a  b"]],
  ["model.vocab.<first>", [-1, 1.5, "0", 1e9, null, 10_000]],
  ["model.vocab.<dup>", [0]],
  [
    "pre_tokenizer",
    [null, 5, {type: "Whitespace"}, {type: "ByteLevel", add_prefix_space: true}, {type: "ByteLevel", use_regex: false}],
  ],
  ["decoder", [{type: "WordPiece"}, 7]],
  ["normalizer", [{type: "NFC"}, 1]],
  ["added_tokens", [5, "x", {}]],
];
const badTokenizerArb = fc
  .constantFrom(...BAD_TOKENIZER)
  .chain(([path, values]) => fc.tuple(fc.constant(path), fc.constantFrom(...values)));

function judgeTokenizer([path, value]: [string, unknown]): Bucket {
  tokJSON ??= Tokenizer.train(TEXT.repeat(20), 280).toJSON() as Record<string, unknown>;
  const j = JSON.parse(JSON.stringify(tokJSON)) as Record<string, Record<string, unknown>>;
  const vocab = (j.model as {vocab: Record<string, number>}).vocab;
  const keys = Object.keys(vocab);
  if (path === "model.vocab.<first>") vocab[keys[0]] = value as number;
  else if (path === "model.vocab.<dup>") vocab[keys[keys.length - 1]] = vocab[keys[0]];
  else if (path === "model.merges.0") (j.model.merges as unknown[])[0] = value;
  else if (path.startsWith("model.")) j.model[path.slice(6)] = value;
  else (j as Record<string, unknown>)[path] = value;
  return refusedAsTokenizerError(() => Tokenizer.fromJSON(j)) ? "handled" : "silent";
}

function refusedAsTokenizerError(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    // The tokenizer's errors are plain Errors that name the file ("tokenizer.json: …").
    if (e instanceof Error && e.constructor === Error && /^tokenizer(\.json)?: /.test(e.message)) return true;
    throw e;
  }
}

const judgeRandomTokenizer = (v: unknown): Bucket =>
  refusedAsTokenizerError(() => Tokenizer.fromJSON(v)) ? "handled" : "silent";

// ---------------------------------------------------------------- training-state metadata

const META = {
  version: 2,
  step: 3,
  config: {name: "x"},
  log: [
    {kind: "step", step: 1, loss: 6.2},
    {kind: "eval", step: 3, loss: 6, perplexity: 403, tokens: 64},
  ],
  layout: [["w", [2, 2], 0]],
};
const BAD_META: Record<string, unknown[]> = {
  version: [1, 3, "2", null],
  step: ["3", 1e9, -100, 2.5, null, true, 11, 2 ** 60],
  config: [null, 5, "x", []],
  log: [
    5,
    "x",
    null,
    {},
    [5],
    [{kind: "x", step: 1, loss: 1}],
    [{kind: "step", step: -1, loss: 1}],
    [{kind: "eval", step: 1, loss: "a"}],
    [{kind: "step", step: 9, loss: 1}],
  ],
  layout: ["x", null, [["w"]], [["w", [-2], 0]], [["w", [2], -1]], [[1, [2], 0]]],
};
const badMetaArb = fc.oneof(
  fc
    .constantFrom(...Object.keys(BAD_META))
    .chain((k) =>
      fc.tuple(fc.constant(k), fc.constantFrom(...BAD_META[k])).map(([key, v]) => JSON.stringify({...META, [key]: v})),
    ),
  fc.string().filter((s) => s.trim() !== "" && !s.trim().startsWith("{")),
  fc.jsonValue().map((v) => JSON.stringify(v)),
);
const judgeMeta = (raw: string): Bucket =>
  refused(() => parseStateMeta(raw, "state.safetensors", 10), StateError) ? "handled" : "silent";

// ---------------------------------------------------------------- CLI arguments

interface CliSetup {
  model: string;
}
const NUMERIC: Record<string, string[]> = {
  generate: ["max-tokens", "temperature", "top-k", "top-p", "seed"],
  logits: ["top"],
  cost: ["context", "batch", "bandwidth", "memory"],
  train: ["steps", "max-steps", "eval-windows"],
  verify: ["steps", "tolerance"],
  bench: [],
  inspect: [],
  convert: [],
};
const SWITCHES: Record<string, string[]> = {
  generate: ["json"],
  logits: ["json"],
  cost: ["json"],
  train: ["resume"],
  verify: ["json"],
  bench: ["json", "quick"],
  inspect: ["json"],
  convert: [],
};
const BAD_NUMBERS = [
  "",
  "0x10",
  "0o7",
  "1_000",
  "Infinity",
  "-Infinity",
  "NaN",
  "5e-324",
  "1e999",
  "abc",
  "1.2.3",
  " 4",
  "4 ",
  "1e",
  "--",
  "٣",
  "1,5",
  "-1",
  "1e10000000",
];
type BadArg =
  | {kind: "unknown"; name: string}
  | {kind: "number"; flag: number; value: string}
  | {kind: "switch-value"; flag: number}
  | {kind: "missing-value"; flag: number}
  | {kind: "twice"; flag: number}
  | {kind: "extra-positional"; value: string};
const badArgArb: fc.Arbitrary<BadArg> = fc.oneof(
  fc.record({
    kind: fc.constant("unknown" as const),
    name: fc.oneof(
      fc.stringMatching(/^[a-z][a-z-]{0,12}$/),
      fc.constantFrom("max-step", "temprature", "topk", "jsn", "steps2", "prompt-file", "x"),
    ),
  }),
  fc.record({
    kind: fc.constant("number" as const),
    flag: fc.nat(),
    value: fc.oneof(
      fc.constantFrom(...BAD_NUMBERS),
      fc.string({maxLength: 6}).filter((s) => !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)),
    ),
  }),
  fc.record({kind: fc.constant("switch-value" as const), flag: fc.nat()}),
  fc.record({kind: fc.constant("missing-value" as const), flag: fc.nat()}),
  fc.record({kind: fc.constant("twice" as const), flag: fc.nat()}),
  fc.record({kind: fc.constant("extra-positional" as const), value: fc.stringMatching(/^[a-z0-9_.]{1,8}$/)}),
);
const cliArb = fc.tuple(
  fc.constantFrom("generate", "logits", "inspect", "cost", "train", "verify", "bench", "convert"),
  fc.array(badArgArb, {minLength: 1, maxLength: 2}),
);

/** The valid part of each command's argv (the bad elements are appended). */
function baseArgv(cmd: string, s: CliSetup): string[] {
  switch (cmd) {
    case "generate":
      return [s.model, "--prompt", "the", "--max-tokens", "2"];
    case "logits":
      return [s.model, "--tokens", "1,2"];
    case "inspect":
      return [s.model];
    case "cost":
      return ["--model", "7B"];
    case "train": // a missing --data folder: if a bad flag slipped through, train fails fast (exit 1 → counted crashed)
      return [
        "--config",
        "ci-tiny",
        "--out",
        join(tmpdir(), "bl-probe-never"),
        "--backend",
        "cpu",
        "--data",
        join(tmpdir(), "bl-probe-no-data"),
      ];
    case "convert": // a missing input: same reason
      return [join(tmpdir(), "bl-probe-no-model"), "--to", "hf", "--out", join(tmpdir(), "bl-probe-never")];
    case "verify": // a missing folder: same reason
      return [join(tmpdir(), "bl-probe-no-model")];
    default:
      return [];
  }
}

function cliArgv(cmd: string, bad: BadArg[], s: CliSetup): string[] {
  const argv = [cmd, ...baseArgv(cmd, s)];
  const nums = NUMERIC[cmd];
  const sw = SWITCHES[cmd];
  // A flag left without its value goes last (else the next element would be its value, a valid argv).
  const order = [...bad].sort((a, b) => Number(a.kind === "missing-value") - Number(b.kind === "missing-value"));
  for (const b of order) {
    if (b.kind === "unknown") argv.push(`--${b.name}`, "1");
    else if (b.kind === "number" && nums.length) {
      const f = nums[b.flag % nums.length];
      argv.push(`--${f}=${b.value}`);
    } else if (b.kind === "switch-value" && sw.length) argv.push(`--${sw[b.flag % sw.length]}=1`);
    else if (b.kind === "missing-value" && nums.length) argv.push(`--${nums[b.flag % nums.length]}`);
    else if (b.kind === "twice" && nums.length) {
      const f = nums[b.flag % nums.length];
      argv.push(`--${f}=1`, `--${f}=1`);
    } else if (b.kind === "twice" && sw.length) argv.push(`--${sw[b.flag % sw.length]}`, `--${sw[b.flag % sw.length]}`);
    else argv.push(b.kind === "extra-positional" ? b.value : "--no-such-flag");
  }
  return argv;
}

async function judgeCli([cmd, bad]: [string, BadArg[]], s: CliSetup): Promise<Bucket> {
  const argv = cliArgv(cmd, bad, s);
  const r = await runCli(argv);
  if (r.code === 2 && new RegExp(`^bitnet-lab ${cmd}: .+\\nusage: bitnet-lab ${cmd}`).test(r.err.trim()))
    return "handled";
  if (r.code === 0) return "silent";
  throw new Error(`exit ${r.code}: ${r.err.split("\n")[0]}`);
}

// ---------------------------------------------------------------- issue 22: regex complexity

const LLAMA3_TOK = "data/fixtures/hf-tokenizers/llama3-style-tokenizer.json";
const EVIL_PATTERNS = [
  "(?:[^0]|[^1]|.)*0|\\s+|.",
  "(a+)+$|.",
  "(a|aa)*b|.",
  "(\\s*)*x|\\s+|.",
  "(.*a){12}|.",
  "(?:\\p{L}+)+!|.",
  "(?:x+x+)+y|.",
  "(\\w|\\d)*$|.",
];
const regexArb = fc.oneof(
  fc.constantFrom(
    ...EVIL_PATTERNS,
    LLAMA3_REGEX,
    BYTE_LEVEL_REGEX,
    LLAMA3_REGEX + "|x",
    LLAMA3_REGEX.replace("{1,3}", "+"),
    BYTE_LEVEL_REGEX.replace("+(?!\\S)", "*(?!\\S)"),
  ),
  fc
    .array(fc.constantFrom("(", ")", "(?:", "*", "+", "?", "|", ".", "a", "\\s", "\\p{L}", "[^0]", "{2,}", "$"), {
      minLength: 1,
      maxLength: 14,
    })
    .map((a) => a.join("")),
);
// 33 characters, as in the issue: no "0" or "1" for (?:[^0]|[^1]|.)*0 to end on, so it backtracks 3^33 ways.
const ADVERSARIAL = "a".repeat(25) + " ".repeat(8);

function judgeRegex(pattern: string): Bucket {
  const j = JSON.parse(readFileSync(LLAMA3_TOK, "utf8"));
  j.pre_tokenizer.pretokenizers[0].pattern.Regex = pattern;
  let tok: Tokenizer;
  try {
    tok = Tokenizer.fromJSON(j);
  } catch (e) {
    if (e instanceof Error && /^tokenizer(\.json)?: /.test(e.message)) return "handled";
    throw e;
  }
  // Accepted: it must be one of the known patterns, and fast (the family's clock counts a slow one as hung).
  if (tok.preTokenizer !== "llama3" && tok.preTokenizer !== "gpt2") return "silent";
  tok.encode(ADVERSARIAL);
  return "harmless";
}

// ---------------------------------------------------------------- issue 22: scale ranges

interface ScaleCase {
  format: "weight_scale" | "i2s";
  tensor: number;
  value: number;
}
const scaleArb: fc.Arbitrary<ScaleCase> = fc.record({
  format: fc.constantFrom("weight_scale" as const, "i2s" as const),
  tensor: fc.nat(),
  value: fc.oneof(
    fc.constantFrom(3e38, 1e30, 1e-30, 1e-38, 1e20, 1e12, 1e-12),
    fc.double({min: 1e7, max: 3e38, noNaN: true}),
    fc.double({min: 1e-38, max: 1e-7, noNaN: true}),
  ),
});
let packedFiles: Map<string, Uint8Array> | undefined;
let packedGGUF: Uint8Array | undefined;

async function judgeScale(c: ScaleCase): Promise<Bucket> {
  packedFiles ??= new Map(
    ["config.json", "model.safetensors"].map((n) => [
      n,
      new Uint8Array(readFileSync(join("data/fixtures/hf-packed", n))),
    ]),
  );
  let files: Map<string, ByteSource>;
  let name: string;
  if (c.format === "weight_scale") {
    const st = packedFiles.get("model.safetensors")!.slice();
    const h = parseSafetensorsHeader(st);
    const scales = h.tensors.filter((t) => t.name.endsWith(".weight_scale"));
    const t = scales[c.tensor % scales.length];
    name = t.name.replace(/_scale$/, "");
    const dv = new DataView(st.buffer, h.dataOffset + t.begin);
    if (t.dtype === "F32") dv.setFloat32(0, c.value, true);
    else dv.setUint16(0, new Uint16Array(new Float32Array([c.value]).buffer)[1], true); // bf16: the high half
    files = new Map([
      ["config.json", memorySource(packedFiles.get("config.json")!, "config.json")],
      ["model.safetensors", memorySource(st, "model.safetensors")],
    ]);
  } else {
    if (!packedGGUF) {
      const w = await (
        await openCheckpoint(
          mapFileSet("hf-packed", new Map([...packedFiles].map(([n, b]) => [n, memorySource(b, n)]))),
        )
      ).load();
      const {kvs, tensors} = ggufFromWeights(w);
      const parts: Uint8Array[] = [];
      await writeGGUF(kvs, tensors, (ch) => void parts.push(ch.slice()));
      packedGGUF = new Uint8Array(Buffer.concat(parts));
    }
    const g = packedGGUF.slice();
    const h = await parseGGUF(memorySource(g));
    const tern = h.tensors.filter((t) => t.type === 36);
    const t = tern[c.tensor % tern.length];
    name = t.name;
    new DataView(g.buffer).setFloat32(h.dataOffset + t.offset + t.n / 4, c.value, true);
    files = new Map([["m.gguf", memorySource(g, "m.gguf")]]);
  }
  let opened;
  try {
    opened = await openCheckpoint(mapFileSet("probe", files));
  } catch (e) {
    if (e instanceof FormatError) return "handled"; // e.g. a scale that flips the convention evidence
    throw e;
  }
  if (opened.inspection.warnings.some((w) => w.includes(name))) return "handled";
  // Not flagged: then running it must not print garbage as an answer — non-finite logits must throw.
  const s = createCpuSession(await opened.load());
  try {
    await s.append([1, 5, 9]);
    return "silent"; // an absurd scale neither flagged nor refused
  } catch (e) {
    if (e instanceof NonFiniteLogitsError) return "handled";
    throw e;
  }
}

// ---------------------------------------------------------------- issue 22: huge sparse files

type HugeCase =
  | {kind: "array"; elementType: GGUFValueType; count: number}
  | {kind: "tensor"; vocab: number}
  | {kind: "string"; length: number};
const hugeArb: fc.Arbitrary<HugeCase> = fc.oneof(
  fc.record({
    kind: fc.constant("array" as const),
    elementType: fc.constantFrom(
      GGUFValueType.U8,
      GGUFValueType.I32,
      GGUFValueType.F32,
      GGUFValueType.STRING,
      GGUFValueType.BOOL,
    ),
    count: fc.constantFrom(2 ** 22 + 1, 1e8, 3.1e9, 2 ** 31, 2 ** 40),
  }),
  fc.record({kind: fc.constant("tensor" as const), vocab: fc.constantFrom(2 ** 21, 2 ** 21 + 7, 3_000_000, 2 ** 22)}),
  fc.record({kind: fc.constant("string" as const), length: fc.constantFrom(1e8 + 1, 2 ** 31, 3e9)}),
);

async function judgeHuge(c: HugeCase, dir: string): Promise<Bucket> {
  packedFiles ??= new Map(
    ["config.json", "model.safetensors"].map((n) => [
      n,
      new Uint8Array(readFileSync(join("data/fixtures/hf-packed", n))),
    ]),
  );
  const w = await (
    await openCheckpoint(mapFileSet("hf-packed", new Map([...packedFiles].map(([n, b]) => [n, memorySource(b, n)]))))
  ).load();
  let {kvs, tensors} = ggufFromWeights(w, {embedding: "F32"});
  const key = "probe.huge";
  if (c.kind === "array") kvs = [...kvs, {key, type: GGUFValueType.ARRAY, elementType: c.elementType, value: []}];
  if (c.kind === "string") kvs = [...kvs, {key, type: GGUFValueType.STRING, value: ""}];
  if (c.kind === "tensor") {
    kvs = kvs.map((k) => (k.key === "bitnet-25.vocab_size" ? {...k, value: c.vocab} : k));
    tensors = tensors.map((t) => (t.name === "token_embd.weight" ? {...t, dims: [t.dims[0], c.vocab]} : t));
  }
  let header: Uint8Array | undefined;
  const stop = new Error("header only");
  await writeGGUF(
    kvs,
    tensors.map((t) => ({
      ...t,
      data: () => {
        throw stop;
      },
    })),
    (ch) => void (header ??= ch.slice()),
  ).catch((e) => {
    if (e !== stop) throw e;
  });
  const h = header!;
  const at = Buffer.from(h).indexOf(key) + key.length + 4; // after the key and its type
  if (c.kind === "array") new DataView(h.buffer).setBigUint64(at + 4, BigInt(c.count), true);
  if (c.kind === "string") new DataView(h.buffer).setBigUint64(at, BigInt(c.length), true);
  const path = join(dir, "huge.gguf");
  writeFileSync(path, h);
  truncateSync(path, c.kind === "tensor" ? h.length + c.vocab * 256 * 4 + (64 << 20) : 5e9);
  try {
    const r = await runCli(["logits", path, "--tokens", "1,2"]);
    if (r.code === 0) return "silent";
    if (
      r.code === 1 &&
      /^bitnet-lab logits: \S/.test(r.err.trim().split("\n").at(-1)!) &&
      !/is not a function|undefined|RangeError|TypeError/.test(r.err)
    )
      return "handled";
    throw new Error(`exit ${r.code}: ${r.err.trim().split("\n").at(-1)}`);
  } finally {
    rmSync(path, {force: true});
  }
}

// ---------------------------------------------------------------- issue 22: data safety of commands that write

type WriteTarget =
  | "input"
  | "input-link"
  | "input-dotdot"
  | "parent"
  | "child"
  | "file"
  | "folder"
  | "model"
  | "empty"
  | "fresh";
interface WriteCase {
  cmd: "convert-gguf" | "convert-hf" | "train";
  input: "folder" | "gguf";
  target: WriteTarget;
  force: boolean;
}
const writeArb: fc.Arbitrary<WriteCase> = fc.record({
  cmd: fc.constantFrom("convert-gguf" as const, "convert-hf" as const, "train" as const),
  input: fc.constantFrom("folder" as const, "gguf" as const),
  target: fc.constantFrom<WriteTarget>(
    "input",
    "input-link",
    "input-dotdot",
    "parent",
    "child",
    "file",
    "folder",
    "model",
    "empty",
    "fresh",
  ),
  force: fc.boolean(),
});

/** Every file under `p` (or the file itself) with its bytes, for before/after comparison. */
function tree(p: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (q: string, rel: string) => {
    let st;
    try {
      st = lstatSync(q);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) out.set(rel, `link:${readlinkSync(q)}`);
    else if (st.isDirectory()) for (const n of readdirSync(q)) walk(join(q, n), `${rel}/${n}`);
    else out.set(rel, readFileSync(q).toString("base64"));
  };
  walk(p, "");
  return out;
}
const same = (a: Map<string, string>, b: Map<string, string>) =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

let writeGGUFBytes: Buffer | undefined;
async function judgeWrite(c: WriteCase, root: string): Promise<Bucket> {
  const dir = mkdtempSync(join(root, "w-"));
  try {
    const model = join(dir, "model");
    cpSync("data/fixtures/hf-packed", model, {recursive: true});
    writeFileSync(join(model, "summary.json"), "{}\n");
    const gguf = join(dir, "m.gguf");
    if (c.input === "gguf" || c.cmd === "train") {
      if (!writeGGUFBytes) {
        const r = await runCli(["convert", model, "--to", "gguf", "--out", gguf]);
        if (r.code !== 0) throw new Error(`fixture: ${r.err}`);
        writeGGUFBytes = readFileSync(gguf);
      } else writeFileSync(gguf, writeGGUFBytes);
    }
    const input = c.cmd === "train" ? gguf : c.input === "gguf" ? gguf : model;
    const inputIsDir = input === model;
    const targets: Record<WriteTarget, string> = {
      input,
      "input-link": join(dir, "link"),
      "input-dotdot": join(input, "..", basename(input)),
      parent: dir,
      child: join(model, "sub"),
      file: join(dir, "notes.txt"),
      folder: join(dir, "mine"),
      model: join(dir, "other-model"),
      empty: join(dir, "empty"),
      fresh: join(dir, "fresh", "out"),
    };
    symlinkSync(input, targets["input-link"]);
    writeFileSync(targets.file, "notes\n");
    mkdirSync(targets.folder);
    writeFileSync(join(targets.folder, "thesis.tex"), "precious\n");
    mkdirSync(targets.model); // another run's folder: what must not survive beside new weights
    for (const n of ["config.json", "model.safetensors", "summary.json", "log.jsonl", "train-config.json"])
      writeFileSync(join(targets.model, n), `${n}\n`);
    mkdirSync(targets.empty);
    const out = targets[c.target];
    const argv =
      c.cmd === "train"
        ? ["train", "--config", "ci-tiny", "--out", out, "--backend", "cpu", "--data", join(dir, "no-data")] // fails after the folder checks
        : ["convert", input, "--to", c.cmd === "convert-gguf" ? "gguf" : "hf", "--out", out];
    if (c.force) argv.push("--force");
    const before = tree(dir);
    const inputBefore = tree(input);
    const r = await runCli(argv);
    const after = tree(dir);
    if (!same(inputBefore, tree(input))) return "silent"; // the input changed
    const overlaps =
      ["input", "input-link", "input-dotdot", "parent"].includes(c.target) || (c.target === "child" && inputIsDir);
    if (r.code !== 0) {
      if (!same(before, after)) return "silent"; // refused or failed, but something changed
      if (r.code === 2 || (r.code === 1 && /^bitnet-lab \w+: \S/.test(r.err.trim().split("\n").at(-1)!)))
        return "handled";
      throw new Error(`exit ${r.code}: ${r.err.trim().split("\n").at(-1)}`);
    }
    if (c.cmd === "train") return "silent"; // cannot succeed without data
    if (overlaps) return "silent";
    const existed = ["file", "folder", "model"].includes(c.target);
    if (existed && !c.force) return "silent"; // replaced without asking
    if (c.cmd === "convert-hf" && existsSync(join(out, "summary.json"))) return "silent"; // a stale file beside new weights
    return "harmless"; // written where it was allowed to write
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

// ---------------------------------------------------------------- the probe

export async function runProbe({secondsPerFamily = 8, seed = 12} = {}): Promise<FamilyResult[]> {
  const ms = secondsPerFamily * 1000;
  const dir = mkdtempSync(join(tmpdir(), "bl-probe-"));
  const model = join(dir, "model");
  mkdirSync(model, {recursive: true});
  await writeModelDir(model, randomWeights(defaultConfig("b1.58", SHAPE), 5), {
    tokenizer: Tokenizer.train(TEXT.repeat(20), 280).toJSON(),
  });
  writeFileSync(join(dir, "README"), "bitnet-lab probe scratch folder\n");
  const setup: CliSetup = {model};
  const cliShow = ([cmd, bad]: [string, BadArg[]]) => JSON.stringify(cliArgv(cmd, bad, setup).slice(0, 12));
  return [
    await family("config.json: bad field values", badConfigArb, ms, seed, judgeConfig),
    await family("config.json: random JSON", fc.jsonValue({maxDepth: 3}), ms / 2, seed, judgeRandomConfig),
    await family("model.safetensors: corrupted", corruptionArb, ms, seed, judgeSafetensors),
    await family("tokenizer.json: bad fields", badTokenizerArb, ms / 2, seed, judgeTokenizer),
    await family("tokenizer.json: random JSON", fc.jsonValue({maxDepth: 3}), ms / 2, seed, judgeRandomTokenizer),
    await family("training state metadata", badMetaArb, ms / 2, seed, judgeMeta),
    await family("CLI arguments", cliArb, ms, seed, (x) => judgeCli(x, setup), cliShow),
    await family("tokenizer.json: Split regex complexity", regexArb, ms / 2, seed, judgeRegex, (x) =>
      JSON.stringify(x),
    ),
    await family("scale ranges (weight_scale, I2_S)", scaleArb, ms / 2, seed, judgeScale),
    await family("huge sparse files (GGUF)", hugeArb, ms / 2, seed, (x) => judgeHuge(x, dir)),
    await family("data safety: commands that write", writeArb, ms, seed, (x) => judgeWrite(x, dir)),
  ];
}

export function formatProbe(results: FamilyResult[]): string {
  const zero: FamilyResult = {
    family: "total",
    tried: 0,
    distinct: 0,
    handled: 0,
    harmless: 0,
    crashed: 0,
    silent: 0,
    hung: 0,
    examples: [],
  };
  const rows = [
    ...results,
    results.reduce(
      (t, r) => ({
        ...t,
        tried: t.tried + r.tried,
        distinct: t.distinct + r.distinct,
        handled: t.handled + r.handled,
        harmless: t.harmless + r.harmless,
        crashed: t.crashed + r.crashed,
        silent: t.silent + r.silent,
        hung: t.hung + r.hung,
      }),
      zero,
    ),
  ];
  const w = Math.max(...rows.map((r) => r.family.length));
  const cols = ["tried", "distinct", "handled", "harmless", "crashed", "silent", "hung"] as const;
  const lines = [`${"family".padEnd(w)}  ${cols.map((h) => h.padStart(9)).join("")}`];
  for (const r of rows) lines.push(`${r.family.padEnd(w)}  ${cols.map((c) => String(r[c]).padStart(9)).join("")}`);
  for (const r of results) for (const e of r.examples) lines.push(`  ${r.family}: ${e}`);
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf("--seconds");
  const results = await runProbe({secondsPerFamily: i > 0 ? Number(process.argv[i + 1]) : 8});
  console.log(formatProbe(results));
  process.exit(results.some((r) => r.crashed || r.silent || r.hung) ? 1 : 0);
}
