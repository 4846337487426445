// The independent twin: our CPU forward against Hugging Face transformers' BitNetForCausalLM on the same
// checkpoints. The logits in data/fixtures/*/hf_logits.json came from scripts/hf_twin.py (transformers
// 5.17.0, torch 2.11.0, CPU float32, eager attention), run once on the accelerator machine.
//
// Tolerance: 1e-4 absolute on logits, as long as no INT8 activation code differs between the two sides.
// Both compute in float32 storage; we accumulate dot products, norms and softmax in float64 and transformers
// in float32, so the inputs of every quantizer agree to float32 rounding (≤ 3e-5 over 200 windows, below).
// Given the same input, both quantizers give the same codes (same round-half-to-even on the same float32
// products; checked: 0 of 1M codes differ on the b1.58 embedding table). The tiny fixtures (15 positions)
// never meet a rounding edge: measured 4.8e-6 (b1.58) and 1.1e-5 (fp).
//
// Beyond a few positions they do (data/fixtures/hf-agreement/*.json, scripts/hf_twin.py agree: 200
// validation windows × 256 positions of the shipped b1.58, every BitLinear input compared per layer and
// site). A product x·s that lands within float32 noise (≤ 8e-6) of k + ½ rounds one way on one side and the
// other way on the other — a rounding-edge flip, not a bug: the RMSNorm alone, float64 vs float32, flips a
// code for 67 of the 4096 embedding rows at layer 0. Every window meets one (median first position 18; the
// site where it happens has inputs equal to 3.5e-6); until then the logits agree to 2.1e-5, and from there
// one INT8 step moves K/V for every later position, codes cascade (7.2% of all codes differ by the end) and
// logits part: per-position max |Δ| median 0.087, 99th percentile 0.18, max 0.37; argmax agrees at 99.1% of
// the 51,200 positions. The model measured in issue 11 (2200 steps) showed the same: 0.125 / 0.27 / 0.43 and
// 99.0%. The test below holds the committed measurement to exactly that shape: agreement to TOLERANCE before
// the first flip in every window, a first flip only where the inputs agree to rounding, and the distribution
// after it within the measured bounds. fp has no quantizer: exported as LLaMA it agrees to 6.1e-5 at every
// one of 25,600 positions with identical argmax.
import {createHash} from "node:crypto";
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {forwardFull} from "../../src/lib/model.js";
import {readModelDir} from "../../src/node/modeldir.js";

const TOLERANCE = 1e-4;

interface TwinFile {
  transformers: string;
  linear_class: string;
  sequences: number[][];
  logits: number[][][];
}

for (const [name, linearClass] of [
  ["tiny-b158", "BitLinear"],
  ["tiny-fp", "Linear"],
] as const) {
  describe(`transformers twin: ${name}`, () => {
    it(`matches BitNetForCausalLM's logits within ${TOLERANCE}`, async () => {
      const dir = `data/fixtures/${name}`;
      const twin = JSON.parse(readFileSync(`${dir}/hf_logits.json`, "utf8")) as TwinFile;
      // The twin really ran transformers' quantized layer (or plain Linear for fp).
      expect(twin.linear_class).toBe(linearClass);
      const m = await readModelDir(dir);
      const V = m.weights.config.vocab_size;
      let worst = 0;
      let positions = 0;
      twin.sequences.forEach((seq, s) => {
        const {logits} = forwardFull(m.weights, seq);
        expect(twin.logits[s].length).toBe(seq.length);
        for (let t = 0; t < seq.length; t++) {
          positions++;
          const want = twin.logits[s][t];
          expect(want.length).toBe(V);
          for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(logits[t * V + j] - want[j]));
        }
      });
      expect(positions).toBe(15);
      expect(worst).toBeLessThan(TOLERANCE);
    });
  });
}

// The agreement study over many windows (measured on the GPU host; see the header).
interface Agreement {
  class: string;
  windows: number;
  seqLen: number;
  positions: number;
  perPositionMaxAbs: {p50: number; p90: number; p99: number; max: number};
  argmaxAgreement: number;
  beforeFirstFlip: {positions: number; maxAbs: number | null};
  codes: {compared: number; flipped: number; windowsWithFlip: number; maxInputDiffBeforeFirstFlip: number};
  windowRecords: {
    start: number;
    maxAbs: number;
    maxAbsBeforeFirstFlip: number;
    firstFlip: {layer: number; site: string; position: number; inputDiffAtSite: number} | null;
  }[];
}
const provenance = JSON.parse(readFileSync("data/fixtures/hf-agreement/provenance.json", "utf8")) as Record<
  string,
  {model: string; sha256?: string}
>;
const study = (f: string) => JSON.parse(readFileSync(`data/fixtures/hf-agreement/${f}`, "utf8")) as Agreement;

describe("transformers agreement over 200 validation windows × 256 positions", () => {
  for (const f of ["b1.58.json", "fp.json"]) {
    it(`${f}: measured on the checkpoint shipped now`, () => {
      const sha = createHash("sha256").update(readFileSync(provenance[f].model)).digest("hex");
      expect(
        sha,
        `${provenance[f].model} changed since the agreement study: re-run scripts/hf_twin.py agree on it`,
      ).toBe(provenance[f].sha256);
    });
  }

  it("b1.58: logits agree to the tolerance until the first INT8 code flips, and that flip is at a rounding edge", () => {
    const a = study("b1.58.json");
    expect(a.class).toBe("BitNetForCausalLM");
    expect(a.windows).toBe(200);
    expect(a.positions).toBe(200 * 256);
    expect(a.windowRecords).toHaveLength(200);
    for (const w of a.windowRecords) {
      expect(w.maxAbsBeforeFirstFlip, `window at ${w.start}`).toBeLessThan(TOLERANCE);
      // where the sides first quantize differently, their inputs are equal to float32 rounding
      if (w.firstFlip) expect(w.firstFlip.inputDiffAtSite, `window at ${w.start}`).toBeLessThan(1e-5);
      else expect(w.maxAbs).toBeLessThan(TOLERANCE);
    }
    expect(a.codes.maxInputDiffBeforeFirstFlip).toBeLessThan(1e-4);
    // After a flip: the measured distribution (header), not a single prompt.
    expect(a.perPositionMaxAbs.p50).toBeLessThan(0.15);
    expect(a.perPositionMaxAbs.p99).toBeLessThan(0.3);
    expect(a.perPositionMaxAbs.max).toBeLessThan(0.5);
    expect(a.argmaxAgreement).toBeGreaterThan(0.98);
  });

  it("fp exported as LLaMA: LlamaForCausalLM agrees at every position", () => {
    const a = study("fp.json");
    expect(a.class).toBe("LlamaForCausalLM");
    expect(a.positions).toBe(100 * 256);
    expect(a.perPositionMaxAbs.max).toBeLessThan(TOLERANCE);
    expect(a.argmaxAgreement).toBe(1);
    expect(a.codes.compared).toBe(0);
  });
});
