// The GGUF reader against files made by microsoft/BitNet's own converters and bitnet.cpp's own quantizer
// (data/fixtures/vendor, provenance.json), and against the owners' runtimes: transformers' logits on the same
// weights, and bitnet.cpp's own logits on each file. Nothing here was written by this project's code.
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {forwardFull} from "../../src/lib/model.js";
import {logitsAgreement as agreement} from "../../src/lib/verify.js";
import {attentionRopeCheck} from "../../src/lib/formats/golden.js";
import type {I2SLayout} from "../../src/lib/formats/i2s.js";
import {I2SLayoutUndecided} from "../../src/lib/formats/open-gguf.js";
import {openModelPath, readModelPath} from "../../src/node/files.js";

const V = "data/fixtures/vendor";
const seqs = (JSON.parse(readFileSync(`${V}/sequences.json`, "utf8")) as {sequences: number[][]}).sequences;
type Logits = (number | null)[][][];
const logitsOf = (f: string): Logits => JSON.parse(readFileSync(`${V}/logits/${f}`, "utf8")).logits;

async function ours(path: string, i2sLayout?: I2SLayout): Promise<Logits> {
  const m = await readModelPath(path, {i2sLayout});
  const Vn = m.weights.config.vocab_size;
  return seqs.map((s) => {
    const l = forwardFull(m.weights, s).logits;
    return Array.from({length: s.length}, (_, p) => Array.from(l.subarray(p * Vn, (p + 1) * Vn)));
  });
}

// file, layout, the transformers folder with the same weights, bitnet.cpp's logits on the file (null: its build is
// broken for this layout — see provenance.json: the rows build multiplies with the ACT_PARALLEL layout)
const FILES: [string, I2SLayout, "hf-bf16" | "hf-packed", string | null][] = [
  ["a-hf-bf16.i2_s", "x86", "hf-bf16", "a-hf-bf16.i2_s.bitnetcpp.json"],
  ["a-hf-packed.i2_s", "x86", "hf-packed", "a-hf-packed.i2_s.bitnetcpp.json"],
  ["b-ms.i2_s.x86", "x86", "hf-bf16", "b-ms.i2_s.x86.bitnetcpp.json"],
  ["b-ms.i2_s.arm", "arm", "hf-bf16", "b-ms.i2_s.arm.bitnetcpp.step.json"], // qemu's batched ARM decode gives NaN; one token per decode is clean
  ["b-ms.i2_s.rows", "rows", "hf-bf16", null],
];

describe("vendor-made GGUF files (microsoft/BitNet converters, bitnet.cpp llama-quantize)", () => {
  it("the HF folders: this project's logits equal transformers' (the distribution the GGUFs are held to)", async () => {
    const a = agreement(await ours(`${V}/hf-packed`), logitsOf("hf-packed.transformers.json"));
    expect(a.max).toBeLessThan(1e-4);
    expect(a.argmax).toBe(a.positions);
  });

  for (const [file, layout, hf, bcpp] of FILES) {
    it(`${file}: ${layout} layout; logits = transformers' on the same weights${bcpp ? ", and within bitnet.cpp's own distance to transformers" : ""}`, async () => {
      const path = `${V}/${file}.gguf`;
      // a random-init model carries no evidence of its layout: refused with the choices, never guessed
      await expect(readModelPath(path)).rejects.toBeInstanceOf(I2SLayoutUndecided);
      const mine = await ours(path, layout);
      const tf = logitsOf(`${hf}.transformers.json`);
      const vsTf = agreement(mine, tf);
      expect(vsTf.max, JSON.stringify(vsTf)).toBeLessThan(1e-4);
      expect(vsTf.argmax).toBe(vsTf.positions);
      if (bcpp) {
        const theirs = logitsOf(bcpp);
        const vsB = agreement(mine, theirs);
        const bVsTf = agreement(theirs, tf);
        // bitnet.cpp quantizes activations its own way: we must sit within its own distance to transformers
        expect(vsB.max, JSON.stringify({vsB, bVsTf})).toBeLessThanOrEqual(bVsTf.max * 1.05);
        expect(vsB.p50).toBeLessThanOrEqual(bVsTf.p50 * 1.05);
        expect(vsB.argmax).toBeGreaterThanOrEqual(bVsTf.argmax);
      }
      const g = await attentionRopeCheck(await openModelPath(path, {i2sLayout: layout}), seqs[0].slice(0, 4));
      expect(g.pass, g.detail).toBe(true);
    });
  }

  it("read with the wrong layout, a vendor file gives garbage — which is why the layout is never guessed", async () => {
    const wrong = agreement(await ours(`${V}/b-ms.i2_s.x86.gguf`, "arm"), logitsOf("hf-bf16.transformers.json"));
    expect(wrong.max).toBeGreaterThan(5);
  });

  it("conventions as the vendor files state them: both archs, no permutation, BOS/EOS and freq_base from the file", async () => {
    for (const [file, arch] of [
      ["a-hf-bf16.i2_s", "bitnet-b1.58"],
      ["b-ms.i2_s.x86", "bitnet-25"],
    ]) {
      const o = await openModelPath(`${V}/${file}.gguf`, {i2sLayout: "x86"});
      const ins = o.inspection;
      expect(ins.architecture.startsWith(arch)).toBe(true);
      expect(ins.rope.value).toBe("rotate-half");
      expect(ins.config.rope_theta).toBe(500000);
      expect(ins.config.bos_token_id).toBe(510);
    }
    // path (b) writes no tokenizer.ggml.pre (llama.cpp falls back to its four-regex "default"): said, not guessed
    const b = await openModelPath(`${V}/b-ms.i2_s.x86.gguf`, {i2sLayout: "x86"});
    expect(b.inspection.warnings.join(" ")).toMatch(/tokenizer\.ggml\.pre null: llama\.cpp's "default"/);
  });
});
