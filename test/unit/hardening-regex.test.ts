// Issue 22.1: a tokenizer.json Split pattern is code from a file. Only the known patterns (Llama-3's,
// GPT-2's) run; anything else — e.g. one that backtracks exponentially — is refused when the file loads,
// before any prompt is encoded.
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {BYTE_LEVEL_REGEX, LLAMA3_REGEX, Tokenizer, compileSplitRegex} from "../../src/lib/tokenizer.js";

const FX = "data/fixtures/hf-tokenizers/llama3-style-tokenizer.json";
function withPattern(pattern: string): unknown {
  const j = JSON.parse(readFileSync(FX, "utf8"));
  j.pre_tokenizer.pretokenizers[0].pattern.Regex = pattern;
  return j;
}

describe("tokenizer Split patterns (issue 22.1)", () => {
  it("refuses a catastrophically backtracking pattern at load, naming why", () => {
    const evil = "(?:[^0]|[^1]|.)*0|\\s+|.";
    const t0 = performance.now();
    expect(() => Tokenizer.fromJSON(withPattern(evil))).toThrow(
      /Split pattern .* not one of the supported ones .*exponential/,
    );
    expect(() => compileSplitRegex(evil)).toThrow(/not one of the supported/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("refuses a near miss of a known pattern (one alternative changed)", () => {
    expect(() => Tokenizer.fromJSON(withPattern(LLAMA3_REGEX.replace("\\p{N}{1,3}", "\\p{N}+")))).toThrow(
      /not one of the supported/,
    );
  });

  it("accepts Llama-3's pattern as released and spelled out without (?i:), and GPT-2's", () => {
    const llama = Tokenizer.fromJSON(withPattern(LLAMA3_REGEX));
    expect(llama.preTokenizer).toBe("llama3");
    const spelled = LLAMA3_REGEX.replace(
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)",
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])",
    );
    expect(Tokenizer.fromJSON(withPattern(spelled)).encode("I'LL go 12345")).toEqual(llama.encode("I'LL go 12345"));
    expect(Tokenizer.fromJSON(withPattern(BYTE_LEVEL_REGEX)).preTokenizer).toBe("gpt2");
  });

  it("the known patterns stay fast on adversarial text (long runs of spaces, newlines, marks, digits)", () => {
    const tok = Tokenizer.fromJSON(withPattern(LLAMA3_REGEX));
    for (const s of [
      " ".repeat(20_000) + "x",
      "\r\n ".repeat(7_000),
      "'".repeat(20_000),
      "9".repeat(20_000),
      "!a".repeat(10_000),
      " \t".repeat(10_000) + "!",
    ]) {
      const t0 = performance.now();
      tok.encode(s);
      expect(performance.now() - t0, JSON.stringify(s.slice(0, 6))).toBeLessThan(2000);
    }
  });
});
