import {describe, expect, it} from "vitest";
import {numberVerdict} from "../../src/components/exercise.js";

describe("exercise verdicts in plain words", () => {
  it("an exact integer answer says 'exactly', and a miss says how far and which way", () => {
    const a = {
      kind: "number" as const,
      value: 5120,
      tolerance: 0,
      format: (v: number) => v.toLocaleString("en-US"),
      explain: "",
    };
    expect(numberVerdict(5120, a, true)).toBe("✓ Right: it is exactly 5,120.");
    expect(numberVerdict(5000, a, false)).toBe("✗ Not quite: it is 5,120; you guessed 5000, 120 too low.");
    expect(numberVerdict(0, {...a, value: 0}, true)).not.toMatch(/off by 0|within 0/);
  });
  it("a tolerance says whether the guess counted and by how much it missed", () => {
    const a = {kind: "number" as const, value: 31, tolerance: 5, explain: ""};
    expect(numberVerdict(34, a, true)).toBe(
      "✓ Right: the model gives 31; you guessed 34, 3 too high — within 5, which counts.",
    );
    expect(numberVerdict(31, a, true)).toMatch(/spot on/);
    expect(numberVerdict(20, a, false)).toBe(
      "✗ Not quite: the model gives 31; you guessed 20, 11 too low (within 5 would count).",
    );
  });
});
