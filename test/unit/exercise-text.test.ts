// Every number printed in an exercise question or explanation, recomputed independently (issue 24: the Hadamard
// exercise called the total "inside the blocks" and asked for an exact count no student could derive).
import {describe, expect, it} from "vitest";
import {gaussianZeroShare, hadamardOpsExercise, packedByteExplain} from "../../src/lib/chapters/exercise-text.js";
import {hadamardPlan, hadamardTransform} from "../../src/lib/hadamard.js";
import {checkGuess} from "../../src/components/exercise.js";

/** The numbers in a sentence, thousands separators removed. */
const numbers = (s: string) => [...s.matchAll(/\d[\d,]*(?:\.\d+)?/g)].map((m) => Number(m[0].replaceAll(",", "")));

describe("hadamard exercise 3", () => {
  for (const n of [256, 2560, 688, 6912, 11008, 24]) {
    it(`n = ${n}: the explanation's parts add up and the question gives what the count needs`, () => {
      const e = hadamardOpsExercise(n);
      const plan = hadamardPlan(n);
      const lb = Math.log2(plan.block);
      // independent recount: log2(block) butterfly stages over all n values, plus an m×m mix per block position
      const inBlocks = plan.m * plan.block * lb;
      const mixing = plan.kind === "kronecker" ? plan.block * plan.m * plan.m : 0;
      expect(e.inBlocks).toBe(inBlocks);
      expect(e.mixing).toBe(mixing);
      expect(e.value).toBe(inBlocks + mixing);
      expect(e.dense).toBe(n * n);
      const nums = numbers(e.explain);
      expect(nums).toContain(e.value);
      expect(nums).toContain(n * n);
      if (plan.kind === "kronecker") {
        // "Inside the blocks: … = X; mixing …: … = Y; together Z" with X + Y = Z, X the in-block count (not the total)
        const inside = /Inside the blocks: [^;]*= ([\d,]+);/.exec(e.explain)!;
        expect(Number(inside[1].replaceAll(",", ""))).toBe(inBlocks);
        const mix = /mixing the blocks: [^;]*= ([\d,]+);/.exec(e.explain)!;
        expect(Number(mix[1].replaceAll(",", ""))).toBe(mixing);
        expect(e.explain).toMatch(new RegExp(`together ${e.value.toLocaleString("en-US")}`));
        // the question names m, the block and its stages, so a student can derive it; 10% counts
        for (const v of [plan.m, plan.block, lb]) expect(numbers(e.question)).toContain(v);
        expect(e.tolerance).toBe(Math.round(0.1 * e.value));
      } else {
        expect(e.tolerance).toBe(0);
        expect(numbers(e.question)).toContain(lb);
      }
      if (plan.kind === "sylvester") {
        // count the butterfly operations of the actual loop: log2 n stages of n/2 butterflies, 2 ops each
        expect(e.value).toBe(lb * (n / 2) * 2);
        expect(e.explain).toContain(`${lb} stages of ${n / 2} butterflies`);
      }
    });
  }
  it("n = 2560 reads as the issue's case: 17,920 inside, 51,200 mixing, 69,120 together", () => {
    const e = hadamardOpsExercise(2560);
    expect(e.explain).toMatch(/= 17,920; mixing the blocks: 128 positions × 20 × 20 = 51,200; together 69,120/);
  });
  it("the transform the question describes is the library's (a sanity check that H is orthonormal at n)", () => {
    const x = Float32Array.from({length: 2560}, (_, i) => Math.sin(i));
    const y = Float32Array.from(x);
    hadamardTransform(y, 2560);
    const e = (v: Float32Array) => v.reduce((a, b) => a + b * b, 0);
    expect(e(y) / e(x)).toBeCloseTo(1, 4);
  });
});

describe("ternary exercises", () => {
  it("exercise 3: every byte's lowest two bits, minus 1", () => {
    for (let b = 0; b < 256; b++) {
      const low = b & 3;
      if (low === 3) continue; // not a valid code
      const r = packedByteExplain(b, 5);
      expect(r.value).toBe(low - 1);
      expect(r.explain).toContain(`are ${low.toString(2).padStart(2, "0")} = ${low};`);
      expect(r.explain).toContain(`0x${b.toString(16).padStart(2, "0").toUpperCase()}`);
    }
  });
  it("exercise 1: the Gaussian share |W| < γ/2 is about 31% (Monte Carlo)", () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const N = 200_000;
    const w = new Float64Array(N);
    for (let i = 0; i < N; i++) w[i] = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    const gamma = w.reduce((a, b) => a + Math.abs(b), 0) / N;
    const share = w.filter((v) => Math.abs(v) < gamma / 2).length / N;
    expect(Math.abs(share - gaussianZeroShare())).toBeLessThan(0.005);
    expect(gaussianZeroShare()).toBeCloseTo(0.31, 2);
  });
});

describe("guesses outside the question's range are refused (forward exercise 1 took 10 for layers 0–3)", () => {
  it("checkGuess", () => {
    expect(checkGuess("10", {min: 0, max: 3})).toEqual({ok: false, message: expect.stringMatching(/between 0 and 3/)});
    expect(checkGuess("3", {min: 0, max: 3})).toEqual({ok: true, value: 3});
    expect(checkGuess("-1", {min: 0, max: 3}).ok).toBe(false);
    expect(checkGuess("", {}).ok).toBe(false);
    expect(checkGuess("1e9", {}).ok).toBe(true);
  });
});
