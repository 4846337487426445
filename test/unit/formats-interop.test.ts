// GGUF conventions as bitnet.cpp's owners define them (src/lib/formats/gguf-arch.ts): no W_q/W_k permutation
// for the BitNet archs, llama.cpp's pre-tokenizer names and defaults, BOS/EOS typed NORMAL, the three I2_S
// layouts decided from evidence or refused, and golden checks whose truth is not the reader's own.
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {defaultConfig, tensorNames} from "../../src/lib/config.js";
import type {BitNetConfig} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import {forwardFull} from "../../src/lib/model.js";
import type {ModelWeights} from "../../src/lib/tensor.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {GGUF_ARCHS, llamaRope} from "../../src/lib/formats/gguf-arch.js";
import {parseGGUF} from "../../src/lib/formats/gguf.js";
import {writeGGUF} from "../../src/lib/formats/gguf-write.js";
import {ggufFromWeights} from "../../src/lib/formats/gguf-model.js";
import {ggufPreName, ggufTokenizerKVs} from "../../src/lib/formats/gguf-tokenizer.js";
import {attentionRopeCheck, finiteLogitsCheck} from "../../src/lib/formats/golden.js";
import {I2S_LAYOUT_NAMES, encodeI2S} from "../../src/lib/formats/i2s.js";
import {evidenceLayers, layoutEvidence} from "../../src/lib/formats/layout-evidence.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import type {OpenOptions, OpenedCheckpoint} from "../../src/lib/formats/open.js";
import {I2SLayoutUndecided} from "../../src/lib/formats/open-gguf.js";
import {mapFileSet, memorySource} from "../../src/lib/formats/source.js";
import {readModelPath} from "../../src/node/files.js";
import {bitnet25File, permuteForGGUF} from "./formats-gguf-writer.js";

type KVRow = [string, "u32" | "f32" | "str" | "bool" | "strs" | "i32s", unknown];
const shipped = JSON.parse(readFileSync("data/models/b1.58/tokenizer.json", "utf8"));

/** A bitnet-25 file as bitnet.cpp's converters write it (rows as HF stores them unless permuteQK, which builds
 *  the wrongly permuted files this project's old writer made), every float F32 so random weights stay exact. */
function vendorStyleFile(
  w: ModelWeights,
  o: {permuteQK?: boolean; kvs?: KVRow[]; noFreqBase?: boolean; tokenizer?: {pre?: string; bosType?: number}} = {},
): Uint8Array {
  return bitnet25File(w, {
    allF32: true,
    permuteQK: o.permuteQK,
    extra: o.kvs,
    noFreqBase: o.noFreqBase,
    tokenizer: !!o.tokenizer,
    tokenizerJSON: shipped,
    pre: o.tokenizer?.pre,
    bosType: o.tokenizer?.bosType,
  });
}

const open = (bytes: Uint8Array, opts: OpenOptions = {}) =>
  openCheckpoint(mapFileSet("t", new Map([["m.gguf", memorySource(bytes, "m.gguf")]])), opts);

const small: BitNetConfig = defaultConfig("b1.58", {
  vocab_size: 4096,
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 64,
  hidden_act: "relu2",
  rope_theta: 500000,
  bitnet_sub_norms: true,
  tie_word_embeddings: true,
});
function exact(w: ModelWeights): ModelWeights {
  for (const t of w.ternary.values()) t.gamma = Math.fround(t.gamma);
  return w;
}

async function writeOurs(w: ModelWeights, opts: Parameters<typeof ggufFromWeights>[1] = {}): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const {kvs, tensors} = ggufFromWeights(w, opts);
  await writeGGUF(kvs, tensors, (c) => void chunks.push(c));
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

describe("conventions from bitnet.cpp's sources", () => {
  it("the BitNet archs run rotate-half RoPE on unpermuted rows; llama runs adjacent pairs on permuted rows", () => {
    for (const a of ["bitnet-25", "bitnet-b1.58", "bitnet"])
      expect([GGUF_ARCHS[a].rope, GGUF_ARCHS[a].permutedQK]).toEqual(["neox", false]);
    expect([GGUF_ARCHS.llama.rope, GGUF_ARCHS.llama.permutedQK]).toEqual(["norm", true]);
    for (const a of Object.values(GGUF_ARCHS)) expect(a.defaults.ropeFreqBase).toBe(10000);
  });

  it("llamaRope: NEOX pairs (i, i + d/2), NORM pairs (2i, 2i + 1); a permuted vector under NORM equals NEOX on the original", () => {
    const x = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const neox = Float64Array.from(x);
    llamaRope(neox, 3, 10000, "neox");
    // permute like LlamaModel.permute (rows of one head, one column each)
    const p = Float64Array.from(permuteForGGUF(Float32Array.from(x), 8, 1, 1));
    llamaRope(p, 3, 10000, "norm");
    expect(Array.from(permuteForGGUF(Float32Array.from(neox), 8, 1, 1)).map((v) => +v.toFixed(5))).toEqual(
      Array.from(p).map((v) => +v.toFixed(5)),
    );
    // hand-worked: pos 1, d = 2, θ irrelevant (i = 0 → angle 1 rad): (1, 0) → (cos 1, sin 1)
    const y = Float64Array.from([1, 0]);
    llamaRope(y, 1, 10000, "neox");
    expect([y[0], y[1]]).toEqual([Math.cos(1), Math.sin(1)]);
  });
});

describe("reading vendor-convention files", () => {
  const w = exact(randomWeights(small, 11));
  const tokens = [1, 5, 9, 300, 17, 2];

  it("rows are read as stored: logits equal the source model's; the golden attention check passes", async () => {
    const o = await open(vendorStyleFile(w, {tokenizer: {}}), {i2sLayout: "x86"});
    expect(o.inspection.rope.value).toBe("rotate-half");
    expect(Array.from(forwardFull(await o.load(), tokens).logits)).toEqual(Array.from(forwardFull(w, tokens).logits));
    const g = await attentionRopeCheck(o, [1, 5, 9, 300]);
    expect(g.pass, g.detail).toBe(true);
  });

  it("a reader that un-permutes (the bug that shipped) is caught by the golden check, not by CPU-vs-GPU", async () => {
    const o = await open(vendorStyleFile(w), {i2sLayout: "x86"});
    const d = small.hidden_size / small.num_attention_heads;
    // the old reader: rows un-permuted as if the converter had permuted them
    const buggy: OpenedCheckpoint = {
      ...o,
      async tensor(name) {
        const t = await o.tensor(name);
        const heads =
          name === tensorNames.layer(0).q
            ? small.num_attention_heads
            : name === tensorNames.layer(0).k
              ? small.num_key_value_heads
              : 0;
        if (!heads || !t.ternary) return t;
        const [rows, cols] = t.ternary.shape;
        const codes = new Int8Array(t.ternary.codes.length);
        for (let h = 0; h < heads; h++)
          for (let j = 0; j < d / 2; j++)
            for (let i = 0; i < 2; i++)
              codes.set(
                t.ternary.codes.subarray((h * d + 2 * j + i) * cols, (h * d + 2 * j + i + 1) * cols),
                (h * d + i * (d / 2) + j) * cols,
              );
        return {name, ternary: {...t.ternary, codes, shape: [rows, cols]}};
      },
    };
    const g = await attentionRopeCheck(buggy, [1, 5, 9, 300]);
    expect(g.pass).toBe(false);
    expect(g.detail).toMatch(/differ/);
  });

  it("a file from this project's old writer (permuted rows, its metadata signature) is recognised and flagged", async () => {
    const bytes = vendorStyleFile(w, {permuteQK: true, kvs: [["general.name", "str", "b1.58"]]});
    const o = await open(bytes, {i2sLayout: "x86"});
    expect(o.inspection.rope.value).toBe("interleaved-pairs");
    expect(o.inspection.warnings.join(" ")).toMatch(/before 2026-12.*reconvert/);
    expect(Array.from(forwardFull(await o.load(), tokens).logits)).toEqual(Array.from(forwardFull(w, tokens).logits));
    const g = await attentionRopeCheck(o, [1, 5, 9]);
    expect(g.pass).toBe(false); // bitnet.cpp would run these rows differently: the check says so
  });

  it("a missing rope.freq_base is llama.cpp's 10000, said in a warning", async () => {
    const o = await open(vendorStyleFile(w, {noFreqBase: true}), {i2sLayout: "x86"});
    expect(o.inspection.config.rope_theta).toBe(10000);
    expect(o.inspection.warnings.join(" ")).toMatch(/rope\.freq_base.*10000/);
  });

  it("BOS/EOS typed NORMAL (as convert-ms-to-gguf-bitnet.py writes in-vocabulary tokens) are accepted", async () => {
    const o = await open(vendorStyleFile(w, {tokenizer: {bosType: 1}}), {i2sLayout: "x86"});
    const t = Tokenizer.fromJSON(o.tokenizerJSON);
    expect(t.bosId).toBe(1);
    expect(t.eosId).toBe(2);
    expect(t.encode("The Union", {addSpecialTokens: true})[0]).toBe(1);
  });

  it("pre-tokenizer names: llama.cpp's gpt-2 and the old writer's gpt2 read; default refused with the reason", async () => {
    for (const pre of ["gpt-2", "gpt2"])
      expect((await open(vendorStyleFile(w, {tokenizer: {pre}}), {i2sLayout: "x86"})).tokenizerJSON, pre).toBeDefined();
    const o = await open(vendorStyleFile(w, {tokenizer: {pre: "default"}}), {i2sLayout: "x86"});
    expect(o.tokenizerJSON).toBeUndefined();
    expect(o.inspection.warnings.join(" ")).toMatch(/"default".*four regexes/);
  });
});

describe("I2_S layout: decided from evidence, or refused", () => {
  it("trained FFNs (the shipped b1.58 and a4.8) reveal the layout they were written in, all three", async () => {
    for (const dir of ["data/models/b1.58", "data/models/a4.8"]) {
      const m = await readModelPath(dir);
      const c = m.weights.config;
      for (const truth of I2S_LAYOUT_NAMES) {
        const ffns = evidenceLayers(c.num_hidden_layers).map((l) => {
          const enc = (n: string) => {
            const t = m.weights.ternary.get(`model.layers.${l}.mlp.${n}.weight`)!;
            return encodeI2S(t.codes, t.shape[0], t.shape[1], t.gamma, truth);
          };
          return {
            layer: l,
            F: c.intermediate_size,
            C: c.hidden_size,
            up: enc("up_proj"),
            gate: enc("gate_proj"),
            down: enc("down_proj"),
          };
        });
        const ev = layoutEvidence(ffns, I2S_LAYOUT_NAMES);
        expect(ev.layout, `${dir} written as ${truth}: ${ev.how}`).toBe(truth);
      }
    }
  });

  it("random weights carry no evidence: the file is refused with the choices and the flag", async () => {
    const w = exact(randomWeights(small, 5));
    const err = await open(vendorStyleFile(w)).catch((e) => e);
    expect(err).toBeInstanceOf(I2SLayoutUndecided);
    expect(String(err)).toMatch(/--i2s-layout x86\|arm\|rows/);
    expect(String(err)).toMatch(/selector on the Open page/);
  });

  it("a trained model in a vendor-style file: x86 decided from the weights, and its logits are the model's", async () => {
    const m = await readModelPath("data/models/b1.58");
    const w = exact({...m.weights, config: {...m.weights.config, hidden_act: "relu2"}});
    const o = await open(vendorStyleFile(w));
    expect(o.inspection.i2s!.value).toBe("x86");
    expect(o.inspection.i2s!.how).toMatch(/decided from the weights/);
    expect(o.inspection.i2s!.evidence!.z.x86!).toBeGreaterThan(6);
    expect(Array.from(forwardFull(await o.load(), [1, 40, 7]).logits)).toEqual(
      Array.from(forwardFull(w, [1, 40, 7]).logits),
    );
  });

  it("files this project writes record their layout; all three round-trip", async () => {
    const w = exact(randomWeights(small, 9));
    for (const layout of I2S_LAYOUT_NAMES) {
      const o = await open(await writeOurs(w, {layout, embedding: "F32"}));
      expect(o.inspection.i2s!.value).toBe(layout);
      expect(Array.from(forwardFull(await o.load(), [1, 2, 3]).logits)).toEqual(
        Array.from(forwardFull(w, [1, 2, 3]).logits),
      );
    }
  });
});

describe("the writer speaks llama.cpp's language", () => {
  const w = exact(randomWeights(small, 3));

  it("always writes rope.freq_base, the quantization version and the layout; never permutes W_q/W_k", async () => {
    const bytes = await writeOurs(w, {layout: "x86"});
    const h = await parseGGUF(memorySource(bytes, "x"));
    expect(h.metadata.get("bitnet-25.rope.freq_base")).toBe(500000);
    expect(h.metadata.get("general.quantization_version")).toBe(2);
    expect(h.metadata.get("bitnet_lab.i2s_layout")).toBe("x86");
    const theirs = await parseGGUF(memorySource(vendorStyleFile(w), "y"));
    const vb = vendorStyleFile(w);
    for (const name of ["blk.0.attn_q.weight", "blk.1.attn_k.weight"]) {
      const a = h.tensors.find((t) => t.name === name)!,
        b = theirs.tensors.find((t) => t.name === name)!;
      expect(Array.from(bytes.subarray(h.dataOffset + a.offset, h.dataOffset + a.offset + a.bytes)), name).toEqual(
        Array.from(vb.subarray(theirs.dataOffset + b.offset, theirs.dataOffset + b.offset + b.bytes)),
      );
    }
  });

  it("names the pre-tokenizer as llama.cpp does, and refuses one it cannot name", () => {
    expect(ggufPreName(shipped.pre_tokenizer)).toBe("gpt-2");
    const llama3 = JSON.parse(readFileSync("data/fixtures/hf-tokenizers/llama3-style-tokenizer.json", "utf8"));
    expect(ggufPreName(llama3.pre_tokenizer)).toBe("llama-bpe");
    const kvs = ggufTokenizerKVs(shipped, {bos: 1, eos: 2});
    expect(kvs.find((k) => k.key === "tokenizer.ggml.pre")!.value).toBe("gpt-2");
    const custom = {
      type: "Sequence",
      pretokenizers: [
        {type: "Split", pattern: {Regex: "\\s+"}, behavior: "Isolated"},
        {type: "ByteLevel", use_regex: false},
      ],
    };
    expect(() => ggufPreName(custom)).toThrow(/no llama\.cpp tokenizer\.ggml\.pre name/);
  });

  it("non-finite logits fail the finiteness check, naming the position", () => {
    expect(finiteLogitsCheck(Float32Array.from([1, 2, 3, 4]), 2).pass).toBe(true);
    const bad = finiteLogitsCheck(Float32Array.from([1, 2, NaN, 4]), 2);
    expect(bad.pass).toBe(false);
    expect(bad.detail).toMatch(/position 1/);
  });
});
