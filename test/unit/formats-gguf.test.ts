import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import fc from "fast-check";
import {defaultConfig, tensorNames} from "../../src/lib/config.js";
import type {BitNetConfig} from "../../src/lib/config.js";
import {validateWeights} from "../../src/lib/checkpoint.js";
import {randomWeights} from "../../src/lib/init.js";
import {forwardFull} from "../../src/lib/model.js";
import type {ModelWeights} from "../../src/lib/tensor.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {I2S_CODE_TABLE, decodeI2S, encodeI2S} from "../../src/lib/formats/i2s.js";
import {parseGGUF} from "../../src/lib/formats/gguf.js";
import {writeGGUF} from "../../src/lib/formats/gguf-write.js";
import {ggufFromWeights, ggufName, ropePermutation} from "../../src/lib/formats/gguf-model.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import type {OpenOptions} from "../../src/lib/formats/open.js";
import {FormatError, blobSource, mapFileSet, memorySource} from "../../src/lib/formats/source.js";
import type {ByteSource} from "../../src/lib/formats/source.js";
import {bitnet25File, permuteForGGUF, quantizeI2S} from "./formats-gguf-writer.js";
import type {BitNet25Options} from "./formats-gguf-writer.js";

const shipped = JSON.parse(readFileSync("data/models/b1.58/tokenizer.json", "utf8"));
const shippedTok = Tokenizer.fromJSON(shipped);

// 2 layers, hidden 128 (one I2_S block per row), GQA 2:1, ReLU², sub-norms: a tiny 2B4T.
const config: BitNetConfig = defaultConfig("b1.58", {
  vocab_size: shippedTok.vocabSize,
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
  quantization_config: {quant_method: "bitnet", linear_class: "autobitlinear", quantization_mode: "offline"},
});

/** Random weights whose every value survives the GGUF round trip exactly (f16-exact floats, f32 γ). */
function exactWeights(seed: number): ModelWeights {
  const w = randomWeights(config, seed);
  for (const t of w.float.values())
    for (let i = 0; i < t.data.length; i++) t.data[i] = Math.round(t.data[i] * 256) / 256;
  for (const t of w.ternary.values()) t.gamma = Math.fround(t.gamma);
  return w;
}

function independentFile(w: ModelWeights, opts: BitNet25Options = {}): Uint8Array {
  return bitnet25File(w, {tokenizerJSON: shipped, ...opts});
}

const one = (src: ByteSource) => mapFileSet("test", new Map([[src.name, src]]));
// Random weights carry no evidence of their I2_S layout (layout-evidence.ts), so these files are opened with it stated.
const open = (bytes: Uint8Array, name = "ggml-model-i2_s.gguf", opts: OpenOptions = {i2sLayout: "x86"}) =>
  openCheckpoint(one(memorySource(bytes, name)), opts);

describe("I2_S codes (bitnet.cpp layout)", () => {
  it("places element j of a 128-block in byte j % 32 at shift 6 − 2⌊j/32⌋ (hand-worked)", () => {
    const codes = new Int8Array(128);
    codes[0] = 1; // code 2 at byte 0, shift 6
    codes[32] = -1; // code 0 at byte 0, shift 4
    codes[127] = 1; // code 2 at byte 31, shift 0
    const b = encodeI2S(codes, 1, 128, 0.5, "x86");
    expect(b.length).toBe(32 + 32);
    expect(b[0]).toBe((2 << 6) | (0 << 4) | (1 << 2) | 1);
    expect(b[31]).toBe((1 << 6) | (1 << 4) | (1 << 2) | 2);
    expect(new DataView(b.buffer).getFloat32(32, true)).toBe(0.5);
    expect(I2S_CODE_TABLE).toEqual([-1, 0, 1, null]);
    // the independent writer agrees byte for byte
    expect(Array.from(quantizeI2S(Float32Array.from(codes, (c) => c * 0.5)))).toEqual(Array.from(b));
    const d = decodeI2S(b, 1, 128, "x86");
    expect(Array.from(d.codes)).toEqual(Array.from(codes));
    expect(d.scale).toBe(0.5);
    // the ARM layout reads the same bytes as a different arrangement (64-blocks, 16-byte groups)
    const arm = decodeI2S(b, 1, 128, "arm");
    expect(arm.codes[0]).toBe(1);
    expect(arm.codes[16]).toBe(-1); // byte 0, shift 4 is element 16 in the ARM layout
    expect(Array.from(arm.codes)).not.toEqual(Array.from(codes));
  });

  it("round-trips random tensors in both layouts and rejects code 3, bad sizes and bad scales", () => {
    fc.assert(
      fc.property(
        fc.integer({min: 1, max: 6}),
        fc.integer(),
        fc.constantFrom("x86", "arm", "rows" as const),
        (blocks, seed, layout) => {
          const rows = 4,
            cols = blocks * 32;
          const n = rows * cols;
          const codes = Int8Array.from({length: n}, (_, i) => ((Math.imul(seed ^ i, 2654435761) >>> 7) % 3) - 1);
          const d = decodeI2S(encodeI2S(codes, rows, cols, 0.25, layout), rows, cols, layout);
          expect(Array.from(d.codes)).toEqual(Array.from(codes));
        },
      ),
      {numRuns: 50},
    );
    const b = encodeI2S(new Int8Array(128), 1, 128, 1, "x86");
    b[3] |= 0b11;
    expect(() => decodeI2S(b, 1, 128, "x86")).toThrow(/invalid I2_S code 3/);
    expect(() => decodeI2S(new Uint8Array(10), 1, 128, "x86")).toThrow(/needs 64/);
    expect(() => decodeI2S(new Uint8Array(64 + 16), 1, 192, "x86")).toThrow(/not a multiple of the x86 block/);
    expect(() => decodeI2S(new Uint8Array(64 + 16), 3, 64, "rows")).toThrow(/3 rows is not a multiple of 4/);
    expect(() => decodeI2S(encodeI2S(new Int8Array(128), 1, 128, 0, "x86"), 1, 128, "x86")).toThrow(/scale 0/);
  });

  it("rows layout: 4 rows per byte, one byte per column (quantize_i2_s without ACT_PARALLEL, hand-worked)", () => {
    // rows 0..3 of column 1 hold +1, 0, −1, +1 → codes 2, 1, 0, 2 → 0b10_01_00_10 in byte 1
    const codes = new Int8Array(4 * 3);
    codes[0 * 3 + 1] = 1;
    codes[2 * 3 + 1] = -1;
    codes[3 * 3 + 1] = 1;
    const b = encodeI2S(codes, 4, 3, 2, "rows");
    expect(b[1]).toBe(0b10010010);
    expect(b[0]).toBe(0b01010101);
    expect(Array.from(decodeI2S(b, 4, 3, "rows").codes)).toEqual(Array.from(codes));
  });

  it("maps rotate-half rows to interleaved pairs like the llama converter's permute (hand-worked, d = 4)", () => {
    expect(Array.from(ropePermutation(1, 4))).toEqual([0, 2, 1, 3]);
    expect(Array.from(ropePermutation(2, 4))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
    const rows = Float32Array.from({length: 8}, (_, i) => i); // 8 rows of 1 column
    expect(Array.from(permuteForGGUF(rows, 8, 1, 2))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  });
});

describe("GGUF I2_S checkpoints from an independent writer", () => {
  const w = exactWeights(7);
  const file = independentFile(w, {tokenizer: true});

  it("reads config, conventions, codes and scales, and the logits equal the source model's exactly", async () => {
    const o = await open(file);
    const ins = o.inspection;
    expect(ins.format).toBe("gguf-i2s");
    expect(ins.architecture).toMatch(/^bitnet-25/);
    expect(ins.rope.value).toBe("rotate-half");
    expect(ins.runtime.rope).toBe("neox");
    expect(ins.i2s!.value).toBe("x86");
    expect(ins.i2s!.how).toMatch(/set by you/);
    expect(ins.config.hidden_size).toBe(128);
    expect(ins.config.num_key_value_heads).toBe(1);
    expect(ins.config.tie_word_embeddings).toBe(true);
    expect(ins.bitsPerWeight.projections).toBeGreaterThan(2);
    expect(ins.bitsPerWeight.projections).toBeLessThan(2.1);
    const loaded = await o.load();
    validateWeights(loaded);
    for (const [name, t] of w.ternary) {
      expect(Array.from(loaded.ternary.get(name)!.codes), name).toEqual(Array.from(t.codes));
      expect(loaded.ternary.get(name)!.gamma).toBe(t.gamma);
    }
    const tokens = [1, 5, 9, 300, 17, 2];
    const a = forwardFull(w, tokens).logits;
    const b = forwardFull(loaded, tokens).logits;
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  it("builds the tokenizer from tokenizer.ggml.* and encodes like the shipped tokenizer.json (BOS from add_bos_token)", async () => {
    const o = await open(file);
    expect(o.inspection.tokenizer).toMatchObject({source: "GGUF tokenizer.ggml.*", bos: 1, eos: 2, addsBos: true});
    const t = Tokenizer.fromJSON(o.tokenizerJSON);
    for (const s of ["The state of the Union is strong.", "  naïve 🎉 12345\n\nx"]) {
      expect(t.encode(s, {addSpecialTokens: true})).toEqual(shippedTok.encode(s, {addSpecialTokens: true}));
    }
  });

  it("reads through Blob slices the same as from memory", async () => {
    const o = await openCheckpoint(one(blobSource(new Blob([file as BlobPart]), "m.gguf")), {i2sLayout: "x86"});
    const loaded = await o.load();
    expect(Array.from(loaded.ternary.get(tensorNames.layer(1).down)!.codes)).toEqual(
      Array.from(w.ternary.get(tensorNames.layer(1).down)!.codes),
    );
  });

  it("the project's own writer produces the same tensor bytes as the independent writer", async () => {
    const chunks: Uint8Array[] = [];
    const {kvs, tensors} = ggufFromWeights(w, {embedding: "F16"});
    await writeGGUF(kvs, tensors, (c) => void chunks.push(c));
    const mine = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      mine.set(c, o);
      o += c.length;
    }
    const ha = await parseGGUF(memorySource(mine, "mine.gguf"));
    const hb = await parseGGUF(memorySource(file, "theirs.gguf"));
    for (const tb of hb.tensors.filter((t) => t.type === 36 || t.name === "token_embd.weight")) {
      const ta = ha.tensors.find((t) => t.name === tb.name)!;
      expect(ta, tb.name).toBeDefined();
      expect(ta.type).toBe(tb.type);
      expect(
        Array.from(mine.subarray(ha.dataOffset + ta.offset, ha.dataOffset + ta.offset + ta.bytes)),
        tb.name,
      ).toEqual(Array.from(file.subarray(hb.dataOffset + tb.offset, hb.dataOffset + tb.offset + tb.bytes)));
    }
    expect(ggufName(tensorNames.layer(3).attnSubNorm)).toBe("blk.3.attn_sub_norm.weight");
  });

  it("golden rows: the x86 and ARM readings of the same bytes differ", async () => {
    const o = await open(file);
    const g = await o.goldenRows(tensorNames.layer(0).v, 2);
    expect(g.otherLabel).toMatch(/arm/);
    expect(Array.from(g.chosen)).not.toEqual(Array.from(g.other));
    const wantRow0 = Array.from(
      w.ternary.get(tensorNames.layer(0).v)!.codes.subarray(0, 128),
      (c) => c * w.ternary.get(tensorNames.layer(0).v)!.gamma,
    );
    expect(Array.from(g.chosen.subarray(0, 128))).toEqual(wantRow0);
  });

  it("recognises the ARM layout when a tensor's size rules out x86's 128-element blocks", async () => {
    const small = defaultConfig("b1.58", {
      vocab_size: 50,
      hidden_size: 64,
      intermediate_size: 37,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      max_position_embeddings: 16,
      hidden_act: "relu2",
      bitnet_sub_norms: true,
    });
    const ws = randomWeights(small, 3);
    for (const t of ws.ternary.values()) t.gamma = Math.fround(t.gamma);
    for (const t of ws.float.values())
      for (let i = 0; i < t.data.length; i++) t.data[i] = Math.round(t.data[i] * 256) / 256;
    const chunks: Uint8Array[] = [];
    const {kvs, tensors} = ggufFromWeights(ws, {layout: "arm", embedding: "F32"});
    await writeGGUF(kvs, tensors, (c) => void chunks.push(c));
    const bytes = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
    let off = 0;
    for (const c of chunks) {
      bytes.set(c, off);
      off += c.length;
    }
    const o = await open(bytes, "x.gguf", {});
    expect(o.inspection.i2s!.value).toBe("arm");
    expect(o.inspection.i2s!.how).toMatch(/recorded in the file by its writer/);
    expect(Array.from(forwardFull(await o.load(), [1, 2, 3]).logits)).toEqual(
      Array.from(forwardFull(ws, [1, 2, 3]).logits),
    );
    await expect(open(bytes, "x.gguf", {i2sLayout: "x86"}).then((x) => x.load())).rejects.toThrow(
      /x86 I2_S layout cannot hold blk\.0\.ffn_gate\.weight: 2368 elements is not a multiple/,
    );
  });

  it("refuses what it cannot read, with specific errors", async () => {
    await expect(open(independentFile(w, {arch: "llama"}))).rejects.toThrow(
      /unexpected tensor\(s\): blk\.0\.attn_sub_norm\.weight/,
    ); // a 2B4T body under arch "llama": llama has no sub-norms
    await expect(open(independentFile(w, {projType: "f16"}))).rejects.toThrow(
      /attn_q.weight is F16; only I2_S, TQ1_0 or TQ2_0/,
    );
    const bad = file.slice();
    bad[0] = 0x48;
    await expect(open(bad, "x.gguf")).rejects.toThrow(/not a GGUF file/);
    const v1 = file.slice();
    v1[4] = 1;
    await expect(open(v1)).rejects.toThrow(/version 1 is not supported/);
    const huge = file.slice();
    new DataView(huge.buffer).setUint32(12, 0x7fffffff, true); // tensor count high word
    await expect(open(huge)).rejects.toThrow(/absurd/);
  });

  it("every truncation fails with a specific error", async () => {
    const h = await parseGGUF(memorySource(file, "f"));
    const cuts = [
      0,
      3,
      10,
      23,
      24,
      100,
      1000,
      h.dataOffset - 1,
      h.dataOffset + 5,
      Math.floor(file.length / 2),
      file.length - 1,
    ];
    for (const n of cuts) {
      let err: unknown;
      try {
        await (await open(file.subarray(0, n))).load();
      } catch (e) {
        err = e;
      }
      expect(err instanceof FormatError, `cut at ${n}: ${String(err)}`).toBe(true);
    }
  });

  it("fuzz: any corrupted byte either loads a complete model or fails with a FormatError", async () => {
    const h = await parseGGUF(memorySource(file, "f"));
    // Bias half of the corruptions into the header, where the parser's checks live.
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.integer({min: 0, max: h.dataOffset - 1}), fc.integer({min: 0, max: file.length - 1})),
        fc.integer({min: 1, max: 255}),
        async (pos, xor) => {
          const bad = file.slice();
          bad[pos] ^= xor;
          try {
            const o = await open(bad);
            validateWeights(await o.load());
          } catch (e) {
            expect(e instanceof FormatError || /tokenizer|config/.test(String(e)), String(e)).toBe(true);
          }
        },
      ),
      {numRuns: 150},
    );
  });
});
