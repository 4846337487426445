import {describe, expect, it} from "vitest";
import fc from "fast-check";
import {Tokenizer, preTokenize} from "../../src/lib/tokenizer.js";

const corpus = "the cat sat on the mat. the cat ate the rat! ".repeat(20) + "Élan 🎉 naïve café 12345.";
const tok = Tokenizer.train(corpus, 3 + 256 + 40);

describe("Tokenizer", () => {
  it("learns the expected first merges on a hand-made corpus", () => {
    // "aaab aab ab": pre-tokens "aaab", " aab", " ab" — (a,a) occurs 2+1=3 times, (a,b) 3 times,
    // (Ġ,a) 2 times; ties go to the lower ids, so (a,a) before (a,b); after "aa", (a,b) still counts 3.
    const t = Tokenizer.train("aaab aab ab", 3 + 256 + 3, {minFrequency: 1});
    const j = t.toJSON() as {model: {merges: string[]}};
    expect(j.model.merges.slice(0, 2)).toEqual(["a a", "a b"]);
    // Encoding applies merges by rank, so "aab" takes "aa" (rank 0) before "ab" could form.
    expect(t.encode("aab").map((id) => t.tokenToString(id))).toEqual(["aa", "b"]);
    expect(t.encode(" ab").map((id) => t.tokenToString(id))).toEqual([" ", "ab"]);
  });

  it("merges the most frequent pair first on a real phrase", () => {
    const j = tok.toJSON() as {model: {merges: string[]}};
    // Per repetition: (a,t) 6× (cat sat mat ate rat cat), (t,h) and (h,e) 4× each ("the", 3× " the"),
    // tie broken towards the lower ids (h < t); then "t"+"he" 4×, then "Ġ"+"the" 3×.
    expect(j.model.merges.slice(0, 4)).toEqual(["a t", "h e", "t he", "Ġ the"]);
    expect(tok.encode(" the").length).toBe(1);
    expect(tok.tokenToString(tok.encode(" the")[0])).toBe(" the");
  });

  it("round-trips arbitrary Unicode text exactly, including unseen characters", () => {
    fc.assert(
      fc.property(fc.string({unit: "binary", maxLength: 80}), (s) => tok.decode(tok.encode(s)) === s),
      {numRuns: 300},
    );
    fc.assert(
      fc.property(fc.string({unit: "grapheme", maxLength: 40}), (s) => tok.decode(tok.encode(s)) === s),
      {numRuns: 200},
    );
    for (const s of [
      "\u0301",
      "a\u0301\u0301",
      "👩‍👩‍👧",
      "\u0000\r\n\t  ",
      "<s></s><pad>",
      "  leading",
      "trailing   ",
    ]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it("pre-tokenizes like GPT-2 and never drops characters", () => {
    expect(preTokenize("Hello, world's  end")).toEqual(["Hello", ",", " world", "'s", " ", " end"]);
    fc.assert(fc.property(fc.string({unit: "binary"}), (s) => preTokenize(s).join("") === s));
  });

  it("treats special-token text as plain text and adds specials only when asked", () => {
    const ids = tok.encode("<s>", {bos: true, eos: true});
    expect(ids[0]).toBe(tok.bosId);
    expect(ids[ids.length - 1]).toBe(tok.eosId);
    expect(ids.slice(1, -1)).not.toContain(tok.bosId);
    expect(tok.decode(ids)).toBe("<s>");
    expect(tok.tokenToString(tok.bosId)).toBe("<s>");
    expect(() => tok.decode([tok.vocabSize])).toThrow(/outside the vocabulary/);
  });

  it("saves and loads a Hugging Face tokenizer.json that encodes identically", () => {
    const json = JSON.parse(JSON.stringify(tok.toJSON()));
    expect(json.model.type).toBe("BPE");
    expect(json.pre_tokenizer.type).toBe("ByteLevel");
    expect(json.decoder.type).toBe("ByteLevel");
    const t2 = Tokenizer.fromJSON(json);
    expect(t2.vocabSize).toBe(tok.vocabSize);
    const s = "the cat ate a naïve rat 🎉";
    expect(t2.encode(s)).toEqual(tok.encode(s));
    // The newer tuple form of merges is accepted too.
    json.model.merges = json.model.merges.map((m: string) => m.split(" "));
    expect(Tokenizer.fromJSON(json).encode(s)).toEqual(tok.encode(s));
  });

  it("rejects malformed tokenizer.json with specific errors", () => {
    const good = () => JSON.parse(JSON.stringify(tok.toJSON()));
    expect(() => Tokenizer.fromJSON("{oops")).toThrow(/not valid JSON/);
    expect(() => Tokenizer.fromJSON([])).toThrow(/object at the top level/);
    let j = good();
    j.model.type = "WordPiece";
    expect(() => Tokenizer.fromJSON(j)).toThrow(/model.type must be "BPE"/);
    j = good();
    j.pre_tokenizer = {type: "Whitespace"};
    expect(() => Tokenizer.fromJSON(j)).toThrow(/pre_tokenizer.type/);
    j = good();
    j.model.vocab["Ġthe"] = 5;
    expect(() => Tokenizer.fromJSON(j)).toThrow(/id 5 is used by both/);
    j = good();
    j.model.vocab["zzz"] = 1e6;
    expect(() => Tokenizer.fromJSON(j)).toThrow(/ids must be integers/);
    j = good();
    j.model.merges.push("Ġt nonexistent");
    expect(() => Tokenizer.fromJSON(j)).toThrow(/not in vocab/);
    j = good();
    j.model.merges.push("bad");
    expect(() => Tokenizer.fromJSON(j)).toThrow(/expected "left right"/);
    j = good();
    j.added_tokens = j.added_tokens.filter((t: {content: string}) => t.content !== "<s>");
    expect(() => Tokenizer.fromJSON(j)).toThrow(/lacks the bos token/);
    j = good();
    delete j.model.vocab["Ā"]; // byte 0x00
    expect(() => Tokenizer.fromJSON(j)).toThrow();
  });

  it("trains the validation-sized case quickly and deterministically", () => {
    const a = Tokenizer.train(corpus, 300);
    const b = Tokenizer.train(corpus, 300);
    expect(JSON.stringify(a.toJSON())).toBe(JSON.stringify(b.toJSON()));
    expect(() => Tokenizer.train(corpus, 10)).toThrow(/vocabSize/);
  });
});
