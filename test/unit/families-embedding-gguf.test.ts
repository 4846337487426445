import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {embedTokens} from "../../src/lib/model.js";
import {GGUFValueType} from "../../src/lib/formats/gguf.js";
import {writeGGUF} from "../../src/lib/formats/gguf-write.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {mapFileSet, memorySource} from "../../src/lib/formats/source.js";
import type {ByteSource} from "../../src/lib/formats/source.js";
import {pathFileSet} from "../../src/node/files.js";
import {forwardFull} from "../../src/lib/model.js";

// BitNet-embedding-0.6B's GGUF as Microsoft's own converter writes it (utils/convert-bitnet-embedding-to-gguf.py run
// on fam-qwen3-embedding by scripts/embedding_gguf_fixture.py; provenance in fam-embedding-gguf-provenance.json):
// arch "qwen3", blk.N.<proj>_norm_in, attn_q_norm/attn_k_norm, I2_S projections with one scale mean|W|, F16 norms
// and embedding. The HF folder is online-quantized with the same absmean rule, so the file holds the same codes.
const FX = "data/fixtures";
const GGUF = "fam-qwen3-embedding.i2_s.gguf";
const one = (bytes: Uint8Array, name = GGUF) =>
  openCheckpoint(mapFileSet("t", new Map([[name, memorySource(bytes, name) as ByteSource]])));

describe("BitNet-embedding GGUF (Qwen3 body, Microsoft's converter)", () => {
  it("opens as bitnet-embedding; codes, norms, logits and embeddings equal the HF folder's", async () => {
    const o = await one(new Uint8Array(readFileSync(`${FX}/${GGUF}`)));
    const ins = o.inspection;
    expect(ins.family.value).toBe("bitnet-embedding");
    expect(ins.family.how).toMatch(/general.architecture "qwen3" with blk.N.\*_norm_in/);
    expect(ins.format).toBe("gguf-i2s");
    expect(ins.rope.value).toBe("rotate-half");
    expect(ins.i2s).toMatchObject({value: "x86", how: /quantize_to_i2_s, lines 464-481/});
    expect(ins.pooling).toMatchObject({value: "last-token-l2", how: /qwen3.pooling_type = 3/});
    expect(ins.arch).toMatchObject({norms: {perProjection: true, qk: true, subNorms: false}, headDim: 32});
    // tokenizer.ggml.pre "qwen2" (single-digit split) is not one this tokenizer reproduces: refused by name
    expect(ins.tokenizer).toBeUndefined();
    expect(ins.warnings.join("\n")).toMatch(/tokenizer.ggml.pre "qwen2": .* takes digits one at a time/);
    const g = await o.load();
    const hf = await (await openCheckpoint(await pathFileSet(`${FX}/fam-qwen3-embedding`))).load();
    // ε is an f32 in the file (1e-6 → 9.99999997e-7): llama.cpp runs that value
    expect(g.config.rms_norm_eps).toBeCloseTo(1e-6, 12);
    expect(g.config.bitnet_linear_norm_eps).toBe(g.config.rms_norm_eps);
    expect(g.config).toMatchObject({
      model_type: hf.config.model_type,
      head_dim: 32,
      rope_theta: 1e6,
      bitnet_linear_norms: true,
      bitnet_qk_norm: true,
      bitnet_pooling: "last-token-l2",
      tie_word_embeddings: true,
    });
    expect([...g.ternary.keys()].sort()).toEqual([...hf.ternary.keys()].sort());
    expect([...g.float.keys()].sort()).toEqual([...hf.float.keys()].sort());
    let worstGamma = 0;
    for (const [name, t] of g.ternary) {
      const h = hf.ternary.get(name)!;
      expect(t.shape, name).toEqual(h.shape);
      expect(Buffer.from(t.codes.buffer).equals(Buffer.from(h.codes.buffer)), `${name} codes`).toBe(true);
      worstGamma = Math.max(worstGamma, Math.abs(t.gamma / h.gamma - 1));
    }
    // f16 source: F16 norms and embedding are exact; γ = mean|W| summed in float32 by numpy vs here
    for (const [name, f] of g.float) expect(Array.from(f.data), name).toEqual(Array.from(hf.float.get(name)!.data));
    expect(worstGamma).toBeLessThan(1e-6);
    const ref = JSON.parse(readFileSync(`${FX}/fam-qwen3-embedding/logits.json`, "utf8")) as {
      sequences: number[][];
      logits: number[][][];
      embeddings: number[][];
    };
    let worst = 0,
      worstE = 0;
    ref.sequences.forEach((seq, s) => {
      const got = forwardFull(g, seq).logits;
      ref.logits[s].flat().forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got[i]))));
      const e = embedTokens(g, seq);
      for (let i = 0; i < e.length; i++) worstE = Math.max(worstE, Math.abs(e[i] - ref.embeddings[s][i]));
    });
    console.log(
      `${GGUF} vs transformers on the HF folder: logits max |Δ| ${worst.toExponential(2)}, embedding max |Δ| ${worstE.toExponential(2)}; γ rel ${worstGamma.toExponential(2)}`,
    );
    expect(worst).toBeLessThan(1e-4); // as families.test.ts: float32 order; one flipped code is ≥ 1e-3
    expect(worstE).toBeLessThan(1e-5);
  });

  it("a pooling type other than last-token is refused by name", async () => {
    const bytes = new Uint8Array(readFileSync(`${FX}/${GGUF}`));
    const key = new TextEncoder().encode("qwen3.pooling_type");
    const at = Buffer.from(bytes).indexOf(Buffer.from(key));
    expect(at).toBeGreaterThan(0);
    new DataView(bytes.buffer).setUint32(at + key.length + 4, 1, true); // after the u32 value type: MEAN
    await expect(one(bytes)).rejects.toThrow(/qwen3.pooling_type 1 \(mean\): only last-token pooling \(3\)/);
  });

  it("a file without qwen3.rope.freq_base (the converter on a transformers-5 config) runs llama.cpp's default θ, saying so", async () => {
    const bytes = new Uint8Array(readFileSync(`${FX}/${GGUF}`));
    const key = Buffer.from("qwen3.rope.freq_base");
    const at = Buffer.from(bytes).indexOf(key);
    bytes[at + key.length - 1] = "x".charCodeAt(0); // an unknown key instead: llama.cpp ignores it
    const o = await one(bytes);
    expect(o.inspection.config.rope_theta).toBe(10000);
    expect(o.inspection.warnings.join("\n")).toMatch(/no qwen3.rope.freq_base .* trained with 1000000 .* line 361/);
  });

  it("the 270M's Gemma3 GGUF is named and refused with the reason", async () => {
    const chunks: Uint8Array[] = [];
    await writeGGUF([{key: "general.architecture", type: GGUFValueType.STRING, value: "gemma3"}], [], (c) => {
      chunks.push(c);
    });
    const bytes = new Uint8Array(Buffer.concat(chunks));
    await expect(one(bytes, "bitnet-embedding-270m.gguf")).rejects.toThrow(
      /architecture "gemma3": BitNet-embedding-270M's Gemma3 body .* no sliding-window size nor which layers slide, nor query_pre_attn_scalar .* SentencePiece/,
    );
  });

  it("the HF folder and the GGUF open from the same path set", async () => {
    const o = await openCheckpoint(await pathFileSet(`${FX}/${GGUF}`));
    expect(o.inspection.architecture).toMatch(/^qwen3 \(GGUF v3\)/);
  });
});
