import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {tensorNames} from "../../src/lib/config.js";
import {forwardFull} from "../../src/lib/model.js";
import {attentionRopeCheck} from "../../src/lib/formats/golden.js";
import {parseGGUF} from "../../src/lib/formats/gguf.js";
import {writeGGUF} from "../../src/lib/formats/gguf-write.js";
import type {GGUFKV, GGUFTensorOut} from "../../src/lib/formats/gguf-write.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {GGML_TQ1_0, GGML_TQ2_0, TQ_BYTES, decodeTQ} from "../../src/lib/formats/tq.js";
import {mapFileSet, memorySource} from "../../src/lib/formats/source.js";
import type {ByteSource} from "../../src/lib/formats/source.js";
import {pathFileSet} from "../../src/node/files.js";

// GGUF files written by llama.cpp's gguf-py 0.19 (scripts/family_gguf_fixtures.py): arch "llama", TQ1_0 / TQ2_0
// projections quantized by gguf.quants, W_q/W_k permuted as llama.cpp's converters do, head_dim 128 ≠ 256/4 via
// llama.attention.key_length. Their source is fam-gguf-src (HF, packed by transformers' pack_weights) and the
// reference logits are transformers' for that folder: the TQ block scale is the same f16 γ, so the weights agree exactly.
const FX = "data/fixtures";
const TOLERANCE = 1e-4; // as families.test.ts: float32 summation order; one flipped code would be ≥ 1e-3
const prov = JSON.parse(readFileSync(`${FX}/fam-gguf-provenance.json`, "utf8")) as {
  files: Record<string, Record<string, unknown>>;
};
const ref = JSON.parse(readFileSync(`${FX}/fam-gguf-src/logits.json`, "utf8")) as {
  ok: boolean;
  sequences: number[][];
  logits: number[][][];
};

async function openFile(name: string) {
  return openCheckpoint(await pathFileSet(`${FX}/${name}`));
}

describe("GGUF beyond I2_S: llama.cpp's TQ1_0 and TQ2_0 in a Llama-architecture file", () => {
  for (const [file, type] of [
    ["fam-gguf-tq2_0.gguf", GGML_TQ2_0],
    ["fam-gguf-tq1_0.gguf", GGML_TQ1_0],
  ] as const) {
    it(`${file}: decoder equals gguf-py's dequantization; conventions named; codes and logits equal the HF source's`, async () => {
      // the decoder against gguf-py on block 0 of blk.0.attn_q (bytes and values recorded by the writer)
      const p = prov.files[file];
      const bytes = Uint8Array.from(Buffer.from(p["blk.0.attn_q.weight raw bytes of block 0 (hex)"] as string, "hex"));
      expect(bytes.length).toBe(TQ_BYTES[type]);
      const {codes, scales} = decodeTQ(bytes, 1, 256, type);
      const deq = Array.from(codes, (c) => c * scales[0]);
      expect(deq).toEqual(
        (p["blk.0.attn_q.weight[0,:256] dequantized by gguf-py"] as number[]).map((v) => Math.fround(v)),
      );

      const o = await openFile(file);
      const ins = o.inspection;
      expect(ins.format).toBe(type === GGML_TQ2_0 ? "gguf-tq2_0" : "gguf-tq1_0");
      expect(ins.family.value).toBe("llama-bitnet");
      expect(ins.family.how).toMatch(/general\.architecture "llama" .* with TQ[12]_0 projections/);
      expect(ins.rope.value).toBe("interleaved-pairs");
      expect(ins.runtime.rope).toBe("norm");
      expect(ins.i2s).toBeUndefined();
      expect(ins.arch).toMatchObject({
        activation: "silu",
        norms: {subNorms: false},
        head: {tied: false},
        headDim: 128,
        headDimFrom: "config.head_dim",
      });
      expect(ins.warnings.join(" ")).toMatch(/activations: the file does not say/);
      expect(ins.word!.fields.length).toBe(type === GGML_TQ2_0 ? 4 : 5);
      expect(ins.codeTable).toMatch(type === GGML_TQ2_0 ? /TQ2_0: 256-weight blocks/ : /TQ1_0: 256-weight blocks/);
      // the golden check: layer-0 attention from the rows as stored with llama.cpp's NORM RoPE = the reader's
      const g = await attentionRopeCheck(o, [1, 5, 77, 200]);
      expect(g.pass, g.detail).toBe(true);

      const w = await o.load();
      const hf = await (await openFile("fam-gguf-src")).load();
      for (const [name, t] of hf.ternary) {
        const got = w.ternary.get(name)!;
        expect(got.gamma, name).toBe(t.gamma);
        expect(Buffer.from(got.codes.buffer).equals(Buffer.from(t.codes.buffer)), name).toBe(true);
      }
      let worst = 0,
        agree = 0,
        positions = 0;
      ref.sequences.forEach((seq, s) => {
        const got = forwardFull(w, seq).logits;
        const V = w.config.vocab_size;
        ref.logits[s].forEach((row, q) => {
          let a = 0,
            b = 0;
          for (let v = 0; v < V; v++) {
            worst = Math.max(worst, Math.abs(row[v] - got[q * V + v]));
            if (row[v] > row[a]) a = v;
            if (got[q * V + v] > got[q * V + b]) b = v;
          }
          positions++;
          if (a === b) agree++;
        });
      });
      console.log(`${file}: max |Δ| vs transformers ${worst.toExponential(2)}, argmax ${agree}/${positions}`);
      expect(agree).toBe(positions);
      expect(worst).toBeLessThan(TOLERANCE);
    });
  }

  it("a TQ tensor whose blocks carry different scales is refused by name; PrismML's PQ2_0 / PTQ1_0 are named and refused", async () => {
    const h = await parseGGUF(memorySource(new Uint8Array(readFileSync(`${FX}/fam-gguf-tq2_0.gguf`)), "x.gguf"));
    const bytes = new Uint8Array(readFileSync(`${FX}/fam-gguf-tq2_0.gguf`));
    const rewrite = async (f: (t: GGUFTensorOut, data: Uint8Array) => GGUFTensorOut) => {
      const kvs = [...h.metadata].map(([key, value]) => ({key, type: h.types.get(key)!, value}) as GGUFKV);
      const tensors = h.tensors.map((t) => {
        const data = bytes.slice(h.dataOffset + t.offset, h.dataOffset + t.offset + t.bytes);
        return f({name: t.name, dims: t.dims, type: t.type, data: () => data}, data);
      });
      const chunks: Uint8Array[] = [];
      await writeGGUF(kvs, tensors, (c) => void chunks.push(c));
      const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      return mapFileSet("t", new Map([["x.gguf", memorySource(out, "x.gguf") as ByteSource]]));
    };
    // block 1 of blk.0.ffn_up gets another scale (the f16 at its end)
    const twoScales = await rewrite((t, data) => {
      if (t.name !== "blk.0.ffn_up.weight") return t;
      const d = data.slice();
      d[66 + 64] ^= 0x01;
      return {...t, data: () => d};
    });
    const o = await openCheckpoint(twoScales);
    await expect(o.tensor(tensorNames.layer(0).up)).rejects.toThrow(
      /blk\.0\.ffn_up\.weight: its \d+ blocks carry 2 different scales/,
    );
    for (const [id, name, why] of [
      [142, "PQ2_0", /not ternary: its four 2-bit codes mean −1, 0, \+1 and \+2/],
      [143, "PTQ1_0", /one f16 scale per 128 weights/],
    ] as const) {
      const f = await rewrite((t) =>
        t.name === "blk.0.attn_q.weight"
          ? {...t, type: id, data: () => new Uint8Array(((t.dims[0] * t.dims[1]) / 128) * (id === 142 ? 34 : 28))}
          : t,
      );
      await expect(openCheckpoint(f)).rejects.toThrow(new RegExp(`attn_q.weight is ${name}: .*${why.source}`));
    }
  });
});

describe("formats that are named and refused", () => {
  it("an ONNX Runtime export with MatMulNBits says what it is and why it is not read", async () => {
    const fake = new TextEncoder().encode("\x08\x07\x12\x07pytorch:\x0bMatMulNBits\x12\x10com.microsoft");
    const set = mapFileSet(
      "folder",
      new Map([
        ["model.onnx", memorySource(fake, "model.onnx") as ByteSource],
        ["config.json", memorySource(new TextEncoder().encode("{}"), "config.json") as ByteSource],
      ]),
    );
    await expect(openCheckpoint(set)).rejects.toThrow(
      /model\.onnx is an ONNX Runtime model whose projections are MatMulNBits nodes: not read\. .*zero point per block/,
    );
  });
});

describe("I2_S in a Llama-architecture GGUF (arch llama)", () => {
  it("a file from the independent test writer (bitnet.cpp's C facts: x86 I2_S, W_q/W_k permuted as LlamaModel.permute) reads to the HF source's codes and transformers' logits", async () => {
    const {permuteForGGUF, writeGGUFIndependently} = await import("./formats-gguf-writer.js");
    const {forwardFull: fwd} = await import("../../src/lib/model.js");
    const src = await (await openFile("fam-gguf-src")).load();
    const c = src.config;
    const A = "llama";
    const kvs: [string, "u32" | "f32" | "str", unknown][] = [
      ["general.architecture", "str", A],
      [`${A}.context_length`, "u32", c.max_position_embeddings],
      [`${A}.embedding_length`, "u32", c.hidden_size],
      [`${A}.block_count`, "u32", c.num_hidden_layers],
      [`${A}.feed_forward_length`, "u32", c.intermediate_size],
      [`${A}.attention.head_count`, "u32", c.num_attention_heads],
      [`${A}.attention.head_count_kv`, "u32", c.num_key_value_heads],
      [`${A}.attention.key_length`, "u32", c.head_dim],
      [`${A}.attention.value_length`, "u32", c.head_dim],
      [`${A}.rope.dimension_count`, "u32", c.head_dim],
      [`${A}.rope.freq_base`, "f32", c.rope_theta],
      [`${A}.attention.layer_norm_rms_epsilon`, "f32", c.rms_norm_eps],
    ];
    type T = {name: string; shape: number[]; data: Float32Array; kind: "i2s" | "f32" | "f16"};
    const ts: T[] = [];
    const float = (hf: string, g: string, kind: "f32" | "f16") =>
      ts.push({name: g, shape: src.float.get(hf)!.shape, data: src.float.get(hf)!.data, kind});
    const proj = (hf: string, g: string, heads?: number) => {
      const t = src.ternary.get(hf)!;
      let data: Float32Array = Float32Array.from(t.codes, (x) => x * t.gamma);
      if (heads) data = permuteForGGUF(data, t.shape[0], t.shape[1], heads);
      ts.push({name: g, shape: t.shape, data, kind: "i2s"});
    };
    float(tensorNames.embed, "token_embd.weight", "f16");
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const n = tensorNames.layer(l);
      float(n.inputNorm, `blk.${l}.attn_norm.weight`, "f32");
      proj(n.q, `blk.${l}.attn_q.weight`, c.num_attention_heads);
      proj(n.k, `blk.${l}.attn_k.weight`, c.num_key_value_heads);
      proj(n.v, `blk.${l}.attn_v.weight`);
      proj(n.o, `blk.${l}.attn_output.weight`);
      float(n.postAttnNorm, `blk.${l}.ffn_norm.weight`, "f32");
      proj(n.gate, `blk.${l}.ffn_gate.weight`);
      proj(n.up, `blk.${l}.ffn_up.weight`);
      proj(n.down, `blk.${l}.ffn_down.weight`);
    }
    float(tensorNames.finalNorm, "output_norm.weight", "f32");
    float(tensorNames.lmHead, "output.weight", "f16");
    const bytes = writeGGUFIndependently(kvs, ts);
    const set = mapFileSet("t", new Map([["llama-i2s.gguf", memorySource(bytes, "llama-i2s.gguf") as ByteSource]]));
    // random (untrained) weights give the layout evidence nothing to go on: refused with the choices, then chosen
    await expect(openCheckpoint(set)).rejects.toThrow(/cannot tell which I2_S byte layout/);
    const o = await openCheckpoint(set, {i2sLayout: "x86"});
    expect(o.inspection).toMatchObject({
      format: "gguf-i2s",
      family: {value: "llama-bitnet"},
      rope: {value: "interleaved-pairs"},
      runtime: {rope: "norm"},
    });
    const g = await attentionRopeCheck(o, [1, 5, 77, 200]);
    expect(g.pass, g.detail).toBe(true);
    const w = await o.load();
    for (const [name, t] of src.ternary) {
      expect(Buffer.from(w.ternary.get(name)!.codes.buffer).equals(Buffer.from(t.codes.buffer)), name).toBe(true);
      expect(w.ternary.get(name)!.gamma, name).toBe(t.gamma);
    }
    let worst = 0,
      agree = 0,
      n = 0;
    ref.sequences.forEach((seq, s) => {
      const got = fwd(w, seq).logits;
      ref.logits[s].forEach((row, q) => {
        let a = 0,
          b = 0;
        for (let v = 0; v < row.length; v++) {
          worst = Math.max(worst, Math.abs(row[v] - got[q * row.length + v]));
          if (row[v] > row[a]) a = v;
          if (got[q * row.length + v] > got[q * row.length + b]) b = v;
        }
        n++;
        if (a === b) agree++;
      });
    });
    console.log(
      `llama I2_S (independent writer): max |Δ| vs transformers ${worst.toExponential(2)}, argmax ${agree}/${n}`,
    );
    expect(agree).toBe(n);
    expect(worst).toBeLessThan(TOLERANCE);
  });
});
