// The PyTorch twin: the shipped models (trained by scripts/train_torch.py on an H100 and written by
// scripts/import-torch.ts) run through our CPU reference forward must give the logits torch computed for
// them. data/fixtures/torch-logits/<model>.json holds, for two 24-token validation sequences, torch's logits
// at every 16th vocabulary id, the full-vocabulary logsumexp and the top-5 entries per position (rounded to
// 1e-5), from two torch forwards of the exported model (ternary codes, BF16 floats, KV cache unquantized):
//
// - `exact`: train_torch.py's forward_exact, float32 storage with float64 accumulation in the reference's
//   operation order (exact integer BitLinear sums, round-half-even, top-K ties to the lower index).
//   Tolerance 1e-4: the fixture's rounding is 5e-6 and both sides then differ only by float64 summation
//   order; the stored weights are the ones torch used (BF16 values are exact, so there is no
//   embedding rounding gap). A single activation code flipping moves logits by ≳1e-3, and any semantic
//   difference (RoPE convention, GQA mapping, sub-norm placement, Hadamard construction, top-K, INT4 scale,
//   weight_scale inversion, packing order) by far more.
// - `train`: the training forward itself (float32 on CUDA, TF32 off). It differs from the reference by
//   float32 rounding and at exact ties, which these models have: at the first position attention returns
//   V exactly, an integer BitLinear sum times a common factor, so |x| can tie exactly at the top-K
//   threshold and 127·x/max|x| can land exactly on k + ½ (the reference breaks top-K ties by index; the
//   trainers, tfjs included, keep every entry ≥ the threshold). One INT8 code or top-K entry that flips
//   then moves every later position through attention (measured on the models of 2026-11-30: up to 0.69 for
//   a4.8, 0.075 for v2-a8; b1.58 met no tie on these sequences, 8e-6). Models without INT8 quantizers (fp,
//   v2-a4, v2-a4-nohadamard) match it at every position (≤ 1.4e-5).
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {forwardFull} from "../../src/lib/model.js";
import type {ModelWeights} from "../../src/lib/tensor.js";
import {readModelDir} from "../../src/node/modeldir.js";

const EXACT_TOLERANCE = 1e-4;

interface Row {
  subset: number[][];
  logsumexp: number[];
  top: [number, number][][];
}
interface Fixture {
  model: string;
  torch: string;
  sequences: number[][];
  vocabStride: number;
  exact: Row[];
  train: Row[];
}

/** max |Δ| per position between reference logits [T, V] and a fixture row. */
function positionDiffs(logits: Float32Array, V: number, row: Row, stride: number): number[] {
  return row.logsumexp.map((lse, t) => {
    const r = logits.subarray(t * V, (t + 1) * V);
    let worst = 0;
    row.subset[t].forEach((v, k) => (worst = Math.max(worst, Math.abs(r[k * stride] - v))));
    let m = -Infinity;
    for (const v of r) m = Math.max(m, v);
    let z = 0;
    for (const v of r) z += Math.exp(v - m);
    worst = Math.max(worst, Math.abs(m + Math.log(z) - lse));
    for (const [id, v] of row.top[t]) worst = Math.max(worst, Math.abs(r[id] - v));
    return worst;
  });
}

const MODELS: {name: string; int8: boolean}[] = [
  {name: "fp", int8: false},
  {name: "b1.58", int8: true},
  {name: "a4.8", int8: true},
  {name: "v2-a8", int8: true},
  {name: "v2-a4", int8: false},
  {name: "v2-a4-nohadamard", int8: false},
];

for (const {name, int8} of MODELS) {
  describe(`torch twin: data/models/${name}`, () => {
    const load = async () => {
      const fx = JSON.parse(readFileSync(`data/fixtures/torch-logits/${name}.json`, "utf8")) as Fixture;
      const m = await readModelDir(`data/models/${name}`);
      // The fixture ran with the KV cache unquantized (a4.8 ships a 3-bit cache).
      const w: ModelWeights = {...m.weights, config: {...m.weights.config, bitnet_kv_bits: 16}};
      const V = w.config.vocab_size;
      const logits = fx.sequences.map((seq) => forwardFull(w, seq).logits);
      return {fx, V, logits};
    };
    let cached: ReturnType<typeof load> | undefined;
    const loaded = () => (cached ??= load());

    it(`matches torch's exact-numerics forward within ${EXACT_TOLERANCE} at every position`, async () => {
      const {fx, V, logits} = await loaded();
      expect(fx.model).toBe(name);
      expect(fx.sequences.map((s) => s.length)).toEqual([24, 24]);
      let worst = 0;
      let positions = 0;
      fx.sequences.forEach((_, s) => {
        expect(fx.exact[s].subset[0].length).toBe(Math.ceil(V / fx.vocabStride));
        for (const d of positionDiffs(logits[s], V, fx.exact[s], fx.vocabStride)) {
          worst = Math.max(worst, d);
          positions++;
        }
      });
      expect(positions).toBe(48);
      expect(worst).toBeLessThan(EXACT_TOLERANCE);
    });

    it(
      int8
        ? "matches the float32 training forward except downstream of rare INT8/top-K flips"
        : "matches the float32 training forward at every position",
      async () => {
        const {fx, V, logits} = await loaded();
        const d = fx.sequences.flatMap((_, s) => positionDiffs(logits[s], V, fx.train[s], fx.vocabStride));
        const close = d.filter((x) => x < EXACT_TOLERANCE).length;
        if (!int8) expect(close).toBe(48);
        else {
          // At least one whole sequence agrees, and flips move logits (≈ 10–20 in size) by at most 2.
          expect(close).toBeGreaterThanOrEqual(24);
          expect(Math.max(...d)).toBeLessThan(2);
        }
      },
    );
  });
}
