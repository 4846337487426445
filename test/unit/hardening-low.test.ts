// Issue 22, the Low items: errors that name the wrong file or leak JavaScript's own texts, a GGUF whose
// tokenizer is unsupported printing bytes as text, flags and arguments that did nothing with exit 0.
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {runCli} from "../../scripts/probe.js";
import {defaultConfig} from "../../src/lib/config.js";
import {ggufFromWeights} from "../../src/lib/formats/gguf-model.js";
import {ggufTokenizerKVs} from "../../src/lib/formats/gguf-tokenizer.js";
import {GGUFValueType} from "../../src/lib/formats/gguf.js";
import {writeGGUF} from "../../src/lib/formats/gguf-write.js";
import type {GGUFKV} from "../../src/lib/formats/gguf-write.js";
import {randomWeights} from "../../src/lib/init.js";
import {parseSafetensorsHeader} from "../../src/lib/safetensors.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {writeModelDir} from "../../src/node/modeldir.js";

const tmp = mkdtempSync(join(tmpdir(), "bl-low-"));
afterAll(() => rmSync(tmp, {recursive: true, force: true}));

const TEXT = "the state of the union is strong; we the people of the united states ".repeat(20);
const tok = Tokenizer.train(TEXT, 300);
const weights = randomWeights(
  defaultConfig("b1.58", {
    vocab_size: 300,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    max_position_embeddings: 32,
    hidden_act: "relu2",
    bitnet_sub_norms: true,
  }),
  4,
);

/** A tiny bitnet-25 GGUF with the trained tokenizer; `edit` changes its key/values first. */
async function gguf(name: string, edit: (kvs: GGUFKV[]) => GGUFKV[]): Promise<string> {
  const {kvs, tensors} = ggufFromWeights(weights, {
    tokenizer: ggufTokenizerKVs(tok.toJSON(), {bos: tok.bosId, eos: tok.eosId}),
  });
  const parts: Uint8Array[] = [];
  await writeGGUF(edit(kvs), tensors, (c) => void parts.push(c.slice()));
  const path = join(tmp, name);
  writeFileSync(path, Buffer.concat(parts));
  return path;
}
const setKV = (key: string, value: GGUFKV["value"], type?: GGUFValueType) => (kvs: GGUFKV[]) =>
  kvs.map((k) => (k.key === key ? {...k, value, ...(type === undefined ? {} : {type})} : k));

describe("Low items (issue 22)", () => {
  it("a GGUF with an unsupported tokenizer: generate refuses instead of printing UTF-8 bytes as text", async () => {
    const path = await gguf("llama-tok.gguf", setKV("tokenizer.ggml.model", "llama"));
    const r = await runCli(["generate", path, "--prompt", "the union", "--max-tokens", "4"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /no usable tokenizer \(GGUF tokenizer model "llama" is not supported.*token ids are not UTF-8 bytes/,
    );
    expect(r.out).toBe("");
    expect((await runCli(["inspect", path])).code).toBe(0); // inspecting it is fine, and says why
    const ok = await runCli([
      "generate",
      await gguf("ok.gguf", (k) => k),
      "--prompt",
      "the union",
      "--max-tokens",
      "2",
    ]);
    expect(ok.code, ok.err).toBe(0);
  });

  it("GGUF tokenizer errors name the GGUF vocabulary, not tokenizer.json", async () => {
    const merges = (tok.toJSON() as {model: {merges: string[]}}).model.merges;
    const path = await gguf(
      "bad-merge.gguf",
      setKV("tokenizer.ggml.merges", [...merges.slice(0, 3), "zz qq", ...merges.slice(4)]),
    );
    const r = await runCli(["generate", path, "--prompt", "x"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/GGUF tokenizer\.ggml\.\*: merge 3 "zz qq"/);
    expect(r.err).not.toMatch(/tokenizer\.json/);
  });

  it("a malformed tokenizer.json part is named by the tokenizer's check (was: 'added.map is not a function')", async () => {
    for (const [edit, msg] of [
      [(j: any) => (j.added_tokens = {x: 1}), /tokenizer\.json: added_tokens must be an array/],
      [(j: any) => (j.post_processor = {type: "Sequence", processors: "x"}), /tokenizer\.json: post_processor/],
    ] as const) {
      const j = JSON.parse(JSON.stringify(tok.toJSON()));
      edit(j);
      const dir = join(tmp, `tok-${Math.random().toString(36).slice(2)}`);
      await writeModelDir(dir, weights, {tokenizer: j});
      const r = await runCli(["generate", dir, "--prompt", "the"]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/is not a function/);
    }
  });

  it("a NaN numeric GGUF key says so (was: 'must be a number, got number')", async () => {
    const path = await gguf("nan.gguf", setKV("bitnet-25.rope.freq_base", NaN));
    const r = await runCli(["inspect", path]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/"bitnet-25\.rope\.freq_base" must be a finite number, got NaN/);
  });

  it("a safetensors entry without dtype says so (was: 'unknown dtype undefined')", () => {
    const json = new TextEncoder().encode(JSON.stringify({a: {shape: [1], data_offsets: [0, 4]}}));
    const bytes = new Uint8Array(8 + json.length + 4);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    expect(() => parseSafetensorsHeader(bytes)).toThrow(/tensor "a" has no dtype/);
  });

  it('generate --prompt "", --max-tokens 0 and verify --steps 0 are usage errors, not silent exit 0', async () => {
    for (const argv of [
      ["generate", "data/models/b1.58", "--prompt", ""],
      ["generate", "data/models/b1.58", "--prompt", "x", "--max-tokens", "0"],
      ["verify", "data/models/b1.58", "--steps", "0"],
    ]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err).toMatch(new RegExp(`usage: bitnet-lab ${argv[0]}`));
    }
  });

  it("cost --model file.gguf: not a cost-model config, and how to get one", async () => {
    const path = await gguf("cost.gguf", (k) => k);
    const r = await runCli(["cost", "--model", path]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /is not a cost-model config \(it is a weights file\).*bitnet-lab convert .* --to hf --out DIR/,
    );
    expect(r.err).not.toMatch(/not valid JSON/);
  });

  it("--scale multiply against scales that say divide is obeyed with a warning (off by ≈ scale²)", async () => {
    const r = await runCli([
      "convert",
      "data/fixtures/hf-bitlinear",
      "--to",
      "hf",
      "--out",
      join(tmp, "scaled"),
      "--scale",
      "multiply",
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      /warning: the scale convention "multiply" was set by you against the evidence .* off by ≈ \S+×/,
    );
  });

  it("write failures name the target, not a temporary file (was: bare ENOENT on '/x/.y.tmp-…')", async () => {
    const r = await runCli(["convert", "data/fixtures/hf-packed", "--to", "hf", "--out", "/proc/bl-never"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot write \/proc\/bl-never: .*nothing was changed/);
    expect(r.err).not.toMatch(/\.tmp-/);
  });
});
