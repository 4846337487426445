// The Open page's prompt box (issue 24): text always works — through the tokenizer, or as UTF-8 bytes after BOS like
// the CLI when there is none — and "ids:" gives token ids, checked against the vocabulary.
import {describe, expect, it} from "vitest";
import {parseIds, promptCodec} from "../../src/lib/prompt.js";

const cfg = {vocab_size: 1024, bos_token_id: 1, eos_token_id: 2};

describe("promptCodec", () => {
  it("encodes text as BOS + UTF-8 bytes without a tokenizer (the fixtures' case that gave 'token id NaN')", () => {
    const c = promptCodec(null, cfg);
    const ids = c.encode("The capital of France is");
    expect(ids[0]).toBe(1);
    expect(ids.slice(1)).toEqual([...new TextEncoder().encode("The capital of France is")]);
    expect(ids.every(Number.isInteger)).toBe(true);
    expect(c.decode(ids)).toBe("The capital of France is");
    expect(c.encode("é")).toEqual([1, 0xc3, 0xa9]);
  });
  it("takes ids after 'ids:' and refuses bad ones in words", () => {
    const c = promptCodec(null, cfg);
    expect(c.encode("ids: 1, 72 101")).toEqual([1, 72, 101]);
    expect(() => c.encode("ids: 1, x")).toThrow(/"x" is not a token id/);
    expect(() => c.encode("ids: 5000")).toThrow(/outside this model's vocabulary \(0–1023\)/);
    expect(() => c.encode("ids:")).toThrow(/at least one/);
    expect(parseIds("IDS: 3 4", 10)).toEqual([3, 4]);
  });
  it("uses the tokenizer when there is one", () => {
    const tok = {
      encode: (t: string) => [9, ...[...t].map((ch) => ch.charCodeAt(0) % 50)],
      decode: (x: readonly number[]) => x.join("|"),
    };
    const c = promptCodec(tok, cfg);
    expect(c.kind).toBe("tokenizer");
    expect(c.encode("ab")).toEqual([9, 97 % 50, 98 % 50]);
    expect(c.encode("ids: 7")).toEqual([7]);
  });
  it("asks for ids when the vocabulary is too small for bytes", () => {
    const c = promptCodec(null, {vocab_size: 100, bos_token_id: 1, eos_token_id: 2});
    expect(() => c.encode("hi")).toThrow(/too few for UTF-8 bytes/);
    expect(c.encode("ids: 5 6")).toEqual([5, 6]);
  });
});
