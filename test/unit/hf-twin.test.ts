// The independent twin: our CPU forward against Hugging Face transformers' BitNetForCausalLM on the same
// checkpoints. The logits in data/fixtures/*/hf_logits.json came from scripts/hf_twin.py (transformers
// 5.17.0, torch 2.11.0, CPU float32, eager attention), run once on the accelerator machine.
//
// Tolerance: 1e-4 absolute on logits of magnitude up to ~18. Both sides compute in float32 storage;
// we accumulate dot products, norms and softmax in float64 and transformers in float32, and RoPE angles
// differ by ~1e-7 relative, so the expected gap is a few float32 ulps per op compounded over two layers
// (measured: 4.8e-6 for b1.58, 1.1e-5 for fp). The INT8 activation codes themselves agree exactly
// (same round-half-to-even on the same float32 products): a single code flipping would move a logit by
// ~1e-3 and fail this test, as would any semantic difference (packing order, weight_scale inversion,
// sub-norm placement, RoPE convention, GQA mapping, ReLU²).
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

for (const [name, linearClass] of [["tiny-b158", "BitLinear"], ["tiny-fp", "Linear"]] as const) {
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
