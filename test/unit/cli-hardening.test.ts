// Issue 12 items 2–5, 8, 9 and issue 15 item 4, through the CLI in-process (main() with console captured):
// each case failed before its fix (noted per test).
import {existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {runCli} from "../../scripts/probe.js";
import {configToJSON} from "../../src/lib/checkpoint.js";
import {tokenizeDocuments} from "../../src/lib/corpus.js";
import {defaultConfig} from "../../src/lib/config.js";
import {GREEDY, sampleToken, samplingDistribution, validateSampling} from "../../src/lib/generate.js";
import {randomWeights} from "../../src/lib/init.js";
import {Rng} from "../../src/lib/rng.js";
import {parseSafetensorsHeader, tensorBytes, writeSafetensors, type TensorEntry} from "../../src/lib/safetensors.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {readModelDir, writeModelDir} from "../../src/node/modeldir.js";
import {savePrepared} from "../../src/node/train-data.js";

const cli = (...argv: string[]) => runCli(argv);

const WORDS =
  "the union state people nation congress law year world peace war trade work free government america men time power".split(
    " ",
  );
function text(seed: number, words: number): string {
  const r = new Rng(seed);
  return Array.from({length: words}, () => WORDS[r.int(WORDS.length)]).join(" ");
}

describe("train: run folder, progress, proportional evaluation, strict --resume", () => {
  const root = mkdtempSync(join(tmpdir(), "bl-hard-"));
  const data = join(root, "data");
  const cfgPath = join(root, "tiny.json");
  const run = join(root, "run");
  const ci = JSON.parse(readFileSync("configs/ci-tiny.json", "utf8"));
  beforeAll(() => {
    const tok = Tokenizer.train(text(1, 3000), 300);
    const train = tokenizeDocuments(tok, [text(2, 2000), text(3, 2000)]);
    const val = tokenizeDocuments(tok, [text(4, 3000)]);
    savePrepared(data, {
      tokenizer: tok,
      train,
      val,
      info: {
        vocabSize: 300,
        trainAddresses: 2,
        valAddresses: 1,
        trainTokens: train.length,
        valTokens: val.length,
        valYears: [],
        trainChars: 0,
        valChars: 0,
      },
    });
    writeFileSync(
      cfgPath,
      JSON.stringify({
        ...ci,
        name: "tiny",
        steps: 6,
        evalEvery: 3,
        checkpointEvery: 3,
        logEvery: 3,
        model: {...ci.model, vocab_size: 300},
      }),
    );
  });

  it("refuses an unknown flag instead of training the default steps (was: --max-step ran silently)", async () => {
    const r = await cli(
      "train",
      "--config",
      cfgPath,
      "--out",
      run,
      "--backend",
      "cpu",
      "--data",
      data,
      "--max-step",
      "1",
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown flag --max-step; did you mean --max-steps\?/);
    expect(existsSync(run)).toBe(false);
  });

  it("exports into the run folder after every invocation, says each phase, evaluates in proportion (was: runs/x/model, whole split)", async () => {
    const r = await cli(
      "train",
      "--config",
      cfgPath,
      "--out",
      run,
      "--backend",
      "cpu",
      "--data",
      data,
      "--max-steps",
      "2",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).not.toMatch(/Hi, looks like you are running TensorFlow\.js/);
    expect(r.out).toMatch(/tiny step 1\/6/); // the first step is reported at once
    expect(r.out).toMatch(/final evaluation: 8 validation windows \(256 tokens\)/); // max(evalBatches 2, 2 steps) × batch 4
    expect(r.err).toMatch(/final evaluation 2\/2 \(100%\)/);
    const summary = JSON.parse(readFileSync(join(run, "summary.json"), "utf8"));
    expect(summary.final.tokens).toBe(8 * 32);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "state.safetensors"])
      expect(existsSync(join(run, f)), f).toBe(true);
    const g = await cli("generate", run, "--prompt", "the union", "--max-tokens", "3");
    expect(g.code, g.err).toBe(0);
    expect((await cli("inspect", run)).code).toBe(0);
  });

  it("resumes a valid state, and refuses tampered state metadata naming the file and the field (was: exit 0 having trained nothing, bare TypeError, 'diverged')", async () => {
    const statePath = join(run, "state.safetensors");
    const bytes = new Uint8Array(readFileSync(statePath));
    const h = parseSafetensorsHeader(bytes);
    const meta = JSON.parse(h.metadata.bitnet_lab_train_state);
    const entries: TensorEntry[] = h.tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      data: tensorBytes(bytes, h, t),
    }));
    const cases: [string, RegExp][] = [
      [JSON.stringify({...meta, step: "3"}), /"step" must be a non-negative integer, got "3"/],
      [JSON.stringify({...meta, step: 1e9}), /"step" 1000000000 is beyond the run's 6 steps/],
      [JSON.stringify({...meta, step: -100}), /"step" must be a non-negative integer, got -100/],
      [JSON.stringify({...meta, step: 2.5}), /"step" must be a non-negative integer/],
      [JSON.stringify({...meta, log: 5}), /"log" must be a list of step\/eval records, got 5/],
      [JSON.stringify({...meta, log: [{kind: "step", step: 1, loss: "x"}]}), /"log"\[0\]\.loss must be a number/],
      [JSON.stringify({...meta, layout: "x"}), /"layout" must be a list/],
      [JSON.stringify({...meta, version: 1}), /version 1 is not supported/],
      ["{not json", /metadata is not valid JSON/],
    ];
    const bad = join(root, "bad");
    mkdirSync(bad, {recursive: true});
    for (const [m, msg] of cases) {
      writeFileSync(join(bad, "state.safetensors"), writeSafetensors(entries, {bitnet_lab_train_state: m}));
      const r = await cli("train", "--config", cfgPath, "--out", bad, "--backend", "cpu", "--data", data, "--resume");
      expect(r.code, m).toBe(1);
      expect(r.err, m).toContain(join(bad, "state.safetensors"));
      expect(r.err, m).toMatch(msg);
      expect(r.err, m).not.toMatch(/TypeError|diverged/);
    }
    writeFileSync(join(bad, "state.safetensors"), bytes.subarray(0, 100));
    const trunc = await cli("train", "--config", cfgPath, "--out", bad, "--backend", "cpu", "--data", data, "--resume");
    expect(trunc.code).toBe(1);
    expect(trunc.err).toContain(join(bad, "state.safetensors"));

    const ok = await cli(
      "train",
      "--config",
      cfgPath,
      "--out",
      run,
      "--backend",
      "cpu",
      "--data",
      data,
      "--resume",
      "--max-steps",
      "1",
    );
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/resumed tiny at step 2\/6/);
    expect(ok.out).toMatch(/tiny step 3\/6/);
  });

  afterAll(() => void 0);
});

describe("model folders: config bounds, padded vocabularies, the context limit", () => {
  const root = mkdtempSync(join(tmpdir(), "bl-hard-model-"));
  const shape = {
    vocab_size: 300,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    max_position_embeddings: 24,
  };
  const padded = join(root, "padded");
  beforeAll(async () => {
    const w = randomWeights(defaultConfig("b1.58", shape), 3);
    // A tokenizer of 260 tokens under a 300-row embedding: ids 260–299 are padding, as in real checkpoints.
    await writeModelDir(padded, w, {tokenizer: Tokenizer.train(text(5, 800), 260).toJSON()});
  });

  it("fails at once on a config that cannot be built (was: heap exhausted after 30 s on num_hidden_layers 1e9)", async () => {
    for (const [field, value] of [
      ["num_hidden_layers", 1e9],
      ["vocab_size", 1e12],
      ["hidden_size", 2 ** 40],
      ["max_position_embeddings", 1e300],
      ["intermediate_size", 1e9],
      ["head_dim", 1e6],
    ] as const) {
      const dir = join(root, `huge-${field}`);
      mkdirSync(dir, {recursive: true});
      writeFileSync(
        join(dir, "config.json"),
        JSON.stringify({...configToJSON(defaultConfig("b1.58", shape)), [field]: value}),
      );
      writeFileSync(join(dir, "model.safetensors"), readFileSync(join(padded, "model.safetensors")));
      const t0 = performance.now();
      // Bounded by variant.ts's validateModelConfig (CONFIG_LIMITS) inside parseConfig, before any tensor list exists.
      const msg = new RegExp(
        `config\\.json: "?${field}"? (must be a positive integer|\\d+ is larger than this implementation supports)`,
      );
      await expect(readModelDir(dir)).rejects.toThrow(msg);
      const r = await cli("inspect", dir);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(msg);
      expect(performance.now() - t0).toBeLessThan(2000);
    }
  });

  it("never samples padded ids; inspect checks the tokenizer as generate does (was: 'id … is outside the vocabulary' mid-way)", async () => {
    const g = await cli(
      "generate",
      padded,
      "--prompt",
      "the union",
      "--max-tokens",
      "20",
      "--temperature",
      "3",
      "--seed",
      "7",
      "--json",
    );
    expect(g.code, g.err).toBe(0);
    expect(g.err).toMatch(/ids 260–299 are never sampled/);
    const j = JSON.parse(g.out);
    expect(j.tokens.length).toBeGreaterThan(0);
    expect(Math.max(...j.tokens)).toBeLessThan(260);
    const i = await cli("inspect", padded, "--json");
    expect(JSON.parse(i.out).tokenizer).toMatchObject({tokens: 260, paddedIds: 40});
    expect((await cli("inspect", padded)).out).toMatch(
      /tokenizer: tokenizer\.json, 260 tokens.*ids 260–299 are never sampled/,
    );
    // A tokenizer larger than the model fails the same way in both commands.
    const big = join(root, "big-tok");
    await writeModelDir(big, randomWeights(defaultConfig("b1.58", {...shape, vocab_size: 259 + 3}), 1), {
      tokenizer: Tokenizer.train(text(5, 800), 270).toJSON(),
    });
    for (const cmd of ["inspect", "generate"]) {
      const r = await cli(cmd, big, ...(cmd === "generate" ? ["--prompt", "x"] : []));
      expect(r.code, cmd).toBe(1);
      expect(r.err, cmd).toMatch(/tokenizer\.json has 270 tokens but the model's vocab_size is 262/);
    }
  });

  it("the sampler: padded ids get probability 0 at any temperature; tiny temperatures are refused, never overflow (was: 5e-324 → last id forever)", () => {
    const logits = Float32Array.from({length: 10}, (_, i) => (i >= 8 ? 50 : i));
    for (const temperature of [0, 1e-6, 0.5, 1, 100]) {
      const p = samplingDistribution(logits, {...GREEDY, temperature, vocabLimit: 8});
      expect(p[8] + p[9]).toBe(0);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(sampleToken(logits, {...GREEDY, temperature, vocabLimit: 8}, new Rng(1))).toBeLessThan(8);
    }
    // 1e-6 over logits 1e4 apart: (x − max)/T stays finite-or-−∞, the draw is the argmax.
    const p = samplingDistribution(Float32Array.from([1e4, -1e4, 9999.5]), {...GREEDY, temperature: 1e-6});
    expect(Array.from(p)).toEqual([1, 0, 0]);
    expect(() => validateSampling({...GREEDY, temperature: 5e-324})).toThrow(
      /temperature must be 0 \(greedy\) or ≥ 1e-6/,
    );
    // Non-finite logits: greedy on the largest, not a stream of the last id.
    expect(sampleToken(Float32Array.from([Infinity, 1, 2]), {...GREEDY, temperature: 1}, new Rng(1))).toBe(0);
  });

  it("CLI numbers: empty, hex and denormal values are refused; --max-tokens beyond the context names the limit", async () => {
    for (const [args, msg] of [
      [["--max-tokens="], /--max-tokens must be an integer in \[1, 1000000\] in decimal notation, got ""/],
      [["--temperature="], /--temperature must be a number/],
      [["--max-tokens", "0x10"], /got "0x10"/],
      [["--temperature", "5e-324"], /denormal/],
      [["--temperature", "1e-9"], /--temperature must be 0 \(greedy\) or in \[1e-6, 100\]/],
    ] as [string[], RegExp][]) {
      const r = await cli("generate", padded, "--prompt", "x", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(msg);
    }
    const r = await cli("generate", padded, "--prompt", "the", "--max-tokens", "500", "--json");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(
      /--max-tokens 500 exceeds the model's context of 24 positions \(prompt \d+ tokens\): at most \d+ new tokens/,
    );
    const j = JSON.parse(r.out);
    if (!j.tokens.includes(2)) expect(j.stop).toBe("context-full"); // unless EOS came first
    expect(j.context).toBe(24);
  });
});
