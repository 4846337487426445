import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {createStreamedSession, createWebGPUSession} from "../../src/gpu/engine.js";
import {argmax} from "../../src/lib/generate.js";
import {logitsAgreement} from "../../src/lib/verify.js";
import {createCpuSession} from "../../src/lib/model.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {pathFileSet} from "../../src/node/files.js";
import {testDevice} from "./harness.js";

// The WebGPU engine runs every supported family's fixture (scripts/family_fixtures.py: transformers' own
// LlamaForCausalLM + bitnet quantizer; SiLU GLU, no sub-norms, untied head, head_dim 32 ≠ hidden/heads, θ 1000042)
// and agrees with the CPU reference and with transformers' logits — including the Qwen3-body embedding model (an
// RMSNorm inside each BitLinear: separate q/k/v/gate/up linears with their own codes, a GLU step; RMSNorm on q/k heads). The architecture is data (architecture.ts):
// nothing here or in the engine is family-specific.
const FX = "data/fixtures";
// GPU vs CPU: the engine rounds integer codes as the reference does; f32 attention/softmax/SiLU sums vs float64
// leave ~1e-5, and one INT8 code flipped at a rounding edge moves a logit by ~1e-3 (test/gpu/engine.test.ts).
const TOL_CPU = 2e-3;
const TOL_REF = 2e-3;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("WebGPU engine on the ternary families' fixtures", () => {
  for (const name of [
    "fam-llama-legacy",
    "fam-llama-autobitlinear",
    "fam-llama-online",
    "fam-1bitllm",
    "fam-trilm-unpacked",
    "fam-gguf-tq2_0.gguf",
    "fam-gguf-tq1_0.gguf",
    "fam-qwen3-embedding",
  ]) {
    it(`${name}: prefill logits vs CPU and transformers, greedy decode equal to the CPU's`, async () => {
      const device = await testDevice();
      const opened = await openCheckpoint(await pathFileSet(`${FX}/${name}`));
      const w = await opened.load();
      // a GGUF fixture's reference is its HF source's (the same weights: scripts/family_gguf_fixtures.py)
      const ref = JSON.parse(
        readFileSync(`${FX}/${name.endsWith(".gguf") ? "fam-gguf-src" : name}/logits.json`, "utf8"),
      ) as {sequences: number[][]; logits: number[][][]};
      // streamed from the files, as the Open page does, for the legacy folder and the GGUFs; from memory for the others
      const gpu =
        name === "fam-llama-legacy" || name.endsWith(".gguf")
          ? await createStreamedSession(w.config, opened.rowSource(), {device})
          : await createWebGPUSession(w, {device});
      const cpu = createCpuSession(w);
      const V = w.config.vocab_size;
      const seq = ref.sequences[0];
      const a = await cpu.append(seq, {allLogits: true});
      const b = await gpu.append(seq, {allLogits: true});
      const dCpu = maxAbsDiff(a, b);
      const dRef = maxAbsDiff(ref.logits[0].flat(), b);
      let agree = 0;
      for (let p = 0; p < seq.length; p++)
        if (argmax(b.subarray(p * V, (p + 1) * V)) === argmax(Float32Array.from(ref.logits[0][p]))) agree++;
      console.log(
        `${name}: GPU vs CPU max |Δ| ${dCpu.toExponential(2)}, GPU vs transformers ${dRef.toExponential(2)}, argmax ${agree}/${seq.length}`,
      );
      expect(dCpu).toBeLessThanOrEqual(TOL_CPU);
      expect(dRef).toBeLessThanOrEqual(TOL_REF);
      expect(agree).toBe(seq.length);
      let tok = argmax(a.subarray((seq.length - 1) * V));
      for (let s = 0; s < 6; s++) {
        const la = await cpu.append([tok]);
        const lb = await gpu.append([tok]);
        expect(maxAbsDiff(la, lb)).toBeLessThanOrEqual(TOL_CPU);
        const next = argmax(la);
        expect(argmax(lb)).toBe(next);
        tok = next;
      }
      gpu.dispose();
    });
  }

  // the vendor's own llama-architecture I2_S file (scripts/vendor_llama_i2s.sh: microsoft/BitNet's converter
  // permutes W_q/W_k for adjacent-pair RoPE, bitnet.cpp's llama-quantize packs the x86 layout), streamed from the file
  it("c-llama.i2_s.x86.gguf (vendor-made llama I2_S): GPU vs CPU, and within bitnet.cpp's own distance to transformers", async () => {
    const device = await testDevice();
    const V = "data/fixtures/vendor";
    const opened = await openCheckpoint(await pathFileSet(`${V}/c-llama.i2_s.x86.gguf`), {i2sLayout: "x86"});
    const w = await opened.load();
    const gpu = await createStreamedSession(w.config, opened.rowSource(), {device});
    const cpu = createCpuSession(w);
    const seqs = (JSON.parse(readFileSync(`${V}/sequences.json`, "utf8")) as {sequences: number[][]}).sequences;
    const ref = (f: string) => JSON.parse(readFileSync(`${V}/logits/${f}`, "utf8")).logits as number[][][];
    const Vn = w.config.vocab_size;
    const mine: number[][][] = [];
    let dCpu = 0;
    for (const seq of seqs) {
      gpu.reset();
      cpu.reset();
      const a = await cpu.append(seq, {allLogits: true});
      const b = await gpu.append(seq, {allLogits: true});
      dCpu = Math.max(dCpu, maxAbsDiff(a, b));
      for (let p = 0; p < seq.length; p++)
        expect(argmax(b.subarray(p * Vn, (p + 1) * Vn))).toBe(argmax(a.subarray(p * Vn, (p + 1) * Vn)));
      mine.push(Array.from({length: seq.length}, (_, p) => Array.from(b.subarray(p * Vn, (p + 1) * Vn))));
    }
    const theirs = ref("c-llama.i2_s.x86.bitnetcpp.json");
    const vsB = logitsAgreement(mine, theirs);
    const bVsTf = logitsAgreement(theirs, ref("llama.transformers.json"));
    console.log(
      `c-llama.i2_s.x86: GPU vs CPU max |Δ| ${dCpu.toExponential(2)}; GPU vs bitnet.cpp max ${vsB.max.toFixed(3)} p50 ${vsB.p50.toFixed(3)} argmax ${vsB.argmax}/${vsB.positions} (bitnet.cpp vs transformers ${bVsTf.max.toFixed(3)}, ${bVsTf.p50.toFixed(3)}, ${bVsTf.argmax})`,
    );
    expect(dCpu).toBeLessThanOrEqual(TOL_CPU);
    expect(vsB.max).toBeLessThanOrEqual(bVsTf.max * 1.05);
    expect(vsB.p50).toBeLessThanOrEqual(bVsTf.p50 * 1.05);
    expect(vsB.argmax).toBeGreaterThanOrEqual(bVsTf.argmax);
    gpu.dispose();
  });
});
