// Probe families for the readers: config.json, model.safetensors, tokenizer.json, training-state metadata.
import fc from "fast-check";
import {CheckpointError, configToJSON, parseConfig, readCheckpoint, writeCheckpoint} from "../../src/lib/checkpoint.js";
import {defaultConfig} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import {SafetensorsError} from "../../src/lib/safetensors.js";
import type {ModelWeights} from "../../src/lib/tensor.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {CONFIG_LIMITS} from "../../src/lib/variant.js";
import {StateError, parseStateMeta} from "../../src/lib/train/state.js";

import {type Bucket, refused} from "./common.js";

// ---------------------------------------------------------------- config.json

export const SHAPE = {
  vocab_size: 300,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 24,
};
export const anyBad = [true, "8", [], {}, -1, 1.5, 1e300, -1e300];
export const BAD_FIELDS: Record<string, unknown[]> = {
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

export const badConfigArb = fc
  .uniqueArray(fc.constantFrom(...Object.keys(BAD_FIELDS)), {minLength: 1, maxLength: 3})
  .chain((keys) => fc.tuple(fc.constant(keys), fc.tuple(...keys.map((k) => fc.constantFrom(...BAD_FIELDS[k])))));

export function judgeConfig([keys, values]: [string[], unknown[]]): Bucket {
  const j: Record<string, unknown> = {...configToJSON(defaultConfig("b1.58", SHAPE))};
  keys.forEach((k, i) => (j[k] = values[i]));
  return refused(() => parseConfig(JSON.parse(JSON.stringify(j))), CheckpointError) ? "handled" : "silent";
}

// Whole random JSON values: never a config (hidden_size etc. are required).
export const judgeRandomConfig = (v: unknown): Bucket =>
  refused(() => parseConfig(v), CheckpointError) ? "handled" : "silent";

// ---------------------------------------------------------------- model.safetensors

export interface Fixture {
  config: Record<string, unknown>;
  bytes: Uint8Array;
  weights: ModelWeights;
}
export let fixture: Fixture | undefined;
export function checkpointFixture(): Fixture {
  if (fixture) return fixture;
  const w = randomWeights(defaultConfig("b1.58", {...SHAPE, tie_word_embeddings: false}), 11);
  const {config, safetensors} = writeCheckpoint(w);
  fixture = {config, bytes: safetensors, weights: readCheckpoint(config, safetensors).weights};
  return fixture;
}

export function sameWeights(a: ModelWeights, b: ModelWeights): boolean {
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

export type Corruption =
  | {kind: "truncate"; at: number}
  | {kind: "byte"; at: number; value: number}
  | {kind: "length"; value: number}
  | {kind: "entry"; tensor: number; field: "dtype" | "shape" | "data_offsets"; value: unknown}
  | {kind: "drop"; tensor: number}
  | {kind: "header"; value: unknown};

export const corruptionArb: fc.Arbitrary<Corruption> = fc.oneof(
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

export function corrupt(bytes: Uint8Array, c: Corruption): Uint8Array {
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

export function judgeSafetensors(c: Corruption): Bucket {
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

export let tokJSON: Record<string, unknown> | undefined;
export const TEXT =
  "the state of the union is strong; we the people of the united states, in order to form a more perfect union ";
export const BAD_TOKENIZER: [string, unknown[]][] = [
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
export const badTokenizerArb = fc
  .constantFrom(...BAD_TOKENIZER)
  .chain(([path, values]) => fc.tuple(fc.constant(path), fc.constantFrom(...values)));

export function judgeTokenizer([path, value]: [string, unknown]): Bucket {
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

export function refusedAsTokenizerError(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    // The tokenizer's errors are plain Errors that name the file ("tokenizer.json: …").
    if (e instanceof Error && e.constructor === Error && /^tokenizer(\.json)?: /.test(e.message)) return true;
    throw e;
  }
}

export const judgeRandomTokenizer = (v: unknown): Bucket =>
  refusedAsTokenizerError(() => Tokenizer.fromJSON(v)) ? "handled" : "silent";

// ---------------------------------------------------------------- training-state metadata

export const META = {
  version: 2,
  step: 3,
  config: {name: "x"},
  log: [
    {kind: "step", step: 1, loss: 6.2},
    {kind: "eval", step: 3, loss: 6, perplexity: 403, tokens: 64},
  ],
  layout: [["w", [2, 2], 0]],
};
export const BAD_META: Record<string, unknown[]> = {
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
export const badMetaArb = fc.oneof(
  fc
    .constantFrom(...Object.keys(BAD_META))
    .chain((k) =>
      fc.tuple(fc.constant(k), fc.constantFrom(...BAD_META[k])).map(([key, v]) => JSON.stringify({...META, [key]: v})),
    ),
  fc.string().filter((s) => s.trim() !== "" && !s.trim().startsWith("{")),
  fc.jsonValue().map((v) => JSON.stringify(v)),
);
export const judgeMeta = (raw: string): Bucket =>
  refused(() => parseStateMeta(raw, "state.safetensors", 10), StateError) ? "handled" : "silent";
