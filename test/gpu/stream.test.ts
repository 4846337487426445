// The streaming loader in Node: a checkpoint written to disk by the random-checkpoint helper (sharded HF packed,
// one tensor at a time) is read back through file handles tensor by tensor. Memory stays bounded by the largest
// tensor, not the file: measured as RSS growth while streaming without keeping tensors. CI runs a small shape;
// BITNET_FULL_2B4T=1 runs the full 2B4T shape (1.1 GB on disk; the device run's numbers are in the report).
import {mkdtempSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {defaultConfig, tensorNames} from "../../src/lib/config.js";
import {validateWeights} from "../../src/lib/checkpoint.js";
import {openModelPath} from "../../src/node/files.js";
import {writeRandomCheckpoint} from "./stream-checkpoint.js";

const full = process.env.BITNET_FULL_2B4T === "1";
const shape = full
  ? {
      vocab_size: 128256,
      hidden_size: 2560,
      intermediate_size: 6912,
      num_hidden_layers: 30,
      num_attention_heads: 20,
      num_key_value_heads: 5,
      head_dim: 128,
    }
  : {
      vocab_size: 32000,
      hidden_size: 512,
      intermediate_size: 1408,
      num_hidden_layers: 4,
      num_attention_heads: 8,
      num_key_value_heads: 2,
      head_dim: 64,
    };
const config = defaultConfig("b1.58", {
  ...shape,
  max_position_embeddings: 4096,
  rope_theta: 500000,
  hidden_act: "relu2",
  tie_word_embeddings: true,
});
const dir = mkdtempSync(join(tmpdir(), "bitnet-stream-"));
afterAll(() => rmSync(dir, {recursive: true, force: true}));

describe(`streaming a ${full ? "full-size 2B4T" : "small"} random checkpoint from disk`, () => {
  it("writes, opens and streams it with memory bounded by the largest tensor", async () => {
    const bytes = writeRandomCheckpoint(dir, config, {seed: 3, shards: 3});
    const opened = await openModelPath(dir);
    expect(opened.inspection.format).toBe("hf-packed");
    expect(opened.inspection.scale!.value).toBe("multiply");
    expect(opened.inspection.files.filter((f) => f.name.endsWith(".safetensors"))).toHaveLength(3);
    const largest = config.vocab_size * config.hidden_size * 4 + config.vocab_size * config.hidden_size * 2; // f32 embedding + its bf16 bytes
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = 0;
    let n = 0;
    for await (const t of opened.tensors()) {
      n++;
      if (t.ternary) expect(t.ternary.gamma).toBeGreaterThan(0);
      peak = Math.max(peak, process.memoryUsage().rss - rss0);
    }
    expect(n).toBe(2 + config.num_hidden_layers * 11);
    // Streaming never holds much more than one tensor (plus allocator slack): far below the file.
    expect(peak).toBeLessThan(Math.max(3 * largest, 64 << 20));
    if (full) {
      expect(bytes).toBeGreaterThan(1.1e9);
      console.log(
        `stream: file ${(bytes / 2 ** 30).toFixed(2)} GiB, RSS growth while streaming ≤ ${(peak / 2 ** 30).toFixed(2)} GiB, largest tensor ${(largest / 2 ** 30).toFixed(2)} GiB (f32 + bf16)`,
      );
    } else {
      const w = await opened.load();
      validateWeights(w);
      expect(w.ternary.get(tensorNames.layer(3).down)!.shape).toEqual([512, 1408]);
    }
  });
});

describe("the engine uploads straight from the files (createStreamedSession over OpenedCheckpoint.rowSource)", () => {
  it("transformers' packed fixture: GPU logits match the CPU reference on the loaded weights", async () => {
    const {createStreamedSession} = await import("../../src/gpu/engine.js");
    const {testDevice} = await import("./harness.js");
    const {createCpuSession} = await import("../../src/lib/model.js");
    const {pathFileSet} = await import("../../src/node/files.js");
    const {openCheckpoint} = await import("../../src/lib/formats/open.js");
    const device = await testDevice();
    const opened = await openCheckpoint(await pathFileSet("data/fixtures/hf-packed"));
    const w = await opened.load();
    const prompt = [1, 5, 77, 200, 299];
    const cpu = await createCpuSession(w).append(prompt, {allLogits: true});
    const gpu = await createStreamedSession(w.config, opened.rowSource(), {device, maxLength: 16});
    const got = await gpu.append(prompt, {allLogits: true});
    let worst = 0;
    for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(cpu[i] - got[i]));
    gpu.dispose();
    expect(worst).toBeLessThan(2e-3); // the engine's float32 summation order (test/gpu/engine.test.ts's bound)
  });
});

describe("vendor-made GGUF on the engine (data/fixtures/vendor, made by microsoft/BitNet's tools)", () => {
  it("b-ms.i2_s.arm (bitnet.cpp's aarch64 quantizer): streamed from the file, the GPU's logits match transformers' on the same weights", async () => {
    const {createStreamedSession} = await import("../../src/gpu/engine.js");
    const {testDevice} = await import("./harness.js");
    const {readFileSync} = await import("node:fs");
    const device = await testDevice();
    const opened = await openModelPath("data/fixtures/vendor/b-ms.i2_s.arm.gguf", {i2sLayout: "arm"});
    const seq = (JSON.parse(readFileSync("data/fixtures/vendor/sequences.json", "utf8")) as {sequences: number[][]})
      .sequences[0];
    const tf = (
      JSON.parse(readFileSync("data/fixtures/vendor/logits/hf-bf16.transformers.json", "utf8")) as {
        logits: number[][][];
      }
    ).logits[0];
    const gpu = await createStreamedSession(opened.inspection.config, opened.rowSource(), {device, maxLength: 16});
    const got = await gpu.append(seq, {allLogits: true});
    gpu.dispose();
    const V = opened.inspection.config.vocab_size;
    let worst = 0;
    for (let p = 0; p < seq.length; p++)
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(got[p * V + v] - tf[p][v]));
    expect(worst).toBeLessThan(2e-3);
  });
});
