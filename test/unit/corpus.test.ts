import {describe, expect, it} from "vitest";
import {
  isValidationYear,
  normalizeText,
  splitAddresses,
  splitDocuments,
  tokenizeDocuments,
  DOC_SEPARATOR,
} from "../../src/lib/corpus.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {loadAddresses} from "../../src/node/corpus.js";

describe("corpus", () => {
  it("normalizes quotes, dashes, transcriber notes and whitespace", () => {
    expect(
      normalizeText("Madam Vice President\u2014(applause)\u2014no  one\u2019s \u201Cfree\u201D [Laughter] now.\u0007 "),
    ).toBe(`Madam Vice President----no one's "free" now.`);
    expect(normalizeText("e\u0301")).toBe("\u00e9"); // NFC
  });

  it("holds out whole years ending in 7, deterministically", () => {
    const all = loadAddresses();
    expect(all.length).toBe(233);
    const {train, val} = splitAddresses(all);
    expect(val.map((a) => a.year)).toEqual(all.filter((a) => a.year % 10 === 7).map((a) => a.year));
    expect(val.length).toBe(23);
    expect(train.length + val.length).toBe(all.length);
    expect(train.some((a) => isValidationYear(a.year))).toBe(false);
    expect(all.every((a) => !/[\u2019\u201C\u201D]|\(Applause\.\)/.test(a.text))).toBe(true);
  });

  it("frames documents with BOS/EOS in the token stream", () => {
    const tok = Tokenizer.train("the union is strong. the state of the union", 300);
    const s = tokenizeDocuments(tok, ["the union", "is strong"]);
    expect(s[0]).toBe(tok.bosId);
    const eos = [...s].indexOf(tok.eosId);
    expect(tok.decode([...s.slice(1, eos)])).toBe("the union");
    expect(s[eos + 1]).toBe(tok.bosId);
    expect(s[s.length - 1]).toBe(tok.eosId);
    expect(splitDocuments(["a b", "c"].join(DOC_SEPARATOR))).toEqual(["a b", "c"]);
  });
});
