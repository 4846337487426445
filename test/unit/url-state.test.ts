import {describe, expect, it} from "vitest";
import fc from "fast-check";
import {bool, int, num, oneOf, parseState, parseValue, refine, serializeState, text} from "../../src/lib/url-state.js";

const schema = {
  model: oneOf(["b1.58", "a4.8", "v2-a4"], "b1.58"),
  layer: int(0, 0, 3),
  ratio: num(0.5, 0.05, 1),
  prompt: text("Hello", 20),
  animate: bool(true),
};

describe("parseState", () => {
  it("reads valid values with their types", () => {
    const s = parseState(schema, "?model=a4.8&layer=3&ratio=0.25&prompt=The%20nation&animate=false");
    expect(s.values).toEqual({model: "a4.8", layer: 3, ratio: 0.25, prompt: "The nation", animate: false});
    expect(s.issues).toEqual([]);
    expect(s.hidden.size).toBe(0);
  });

  it("uses defaults for an empty query", () => {
    expect(parseState(schema, "").values).toEqual({
      model: "b1.58",
      layer: 0,
      ratio: 0.5,
      prompt: "Hello",
      animate: true,
    });
  });

  it("ignores out-of-range and malformed values and names the parameter", () => {
    const s = parseState(schema, "layer=4&ratio=1.5&model=fp&animate=maybe");
    expect(s.values).toEqual({model: "b1.58", layer: 0, ratio: 0.5, prompt: "Hello", animate: true});
    expect(s.issues.map((i) => i.param).sort()).toEqual(["animate", "layer", "model", "ratio"]);
    const layer = s.issues.find((i) => i.param === "layer")!;
    expect(layer.value).toBe("4");
    expect(layer.message).toMatch(/^layer: "4" is not an integer from 0 to 3; using the default \(0\)/);
    expect(s.issues.find((i) => i.param === "model")!.message).toMatch(/one of b1\.58, a4\.8, v2-a4/);
  });

  it("rejects numbers that JavaScript would coerce (empty, hex, Infinity, fractions for ints, NaN)", () => {
    for (const raw of ["", " ", "0x2", "Infinity", "1.5", "NaN", "1e400", "2abc", "--1"]) {
      const s = parseState(schema, `layer=${encodeURIComponent(raw)}`);
      expect(s.values.layer, raw).toBe(0);
      expect(s.issues, raw).toHaveLength(1);
    }
    expect(parseValue(schema.ratio, "1e-1")).toBeCloseTo(0.1);
    expect(parseValue(schema.ratio, ".5")).toBe(0.5);
    expect(parseValue(int(0, -5, 5), "\u22123")).toBe(-3); // a pasted real minus sign
  });

  it("rejects text longer than its limit", () => {
    const s = parseState(schema, `prompt=${"x".repeat(21)}`);
    expect(s.values.prompt).toBe("Hello");
    expect(s.issues[0].message).toMatch(/at most 20 characters/);
  });

  it("reports unknown parameters (a typo in a lesson link) unless allowed", () => {
    const s = parseState(schema, "layr=2");
    expect(s.issues).toEqual([
      {param: "layr", value: "2", message: "layr: this page has no parameter of that name; ignored"},
    ]);
    expect(parseState(schema, "utm=x", {allowUnknown: ["utm"]}).issues).toEqual([]);
  });

  it("keeps the first of duplicated parameters and says so", () => {
    const s = parseState(schema, "layer=1&layer=2");
    expect(s.values.layer).toBe(1);
    expect(s.issues).toHaveLength(1);
    expect(s.issues[0].param).toBe("layer");
  });

  it("reads hide lists, and reports names that are not controls", () => {
    const s = parseState(schema, "hide=layer,model,,bogus&hide=ratio");
    expect([...s.hidden].sort()).toEqual(["layer", "model", "ratio"]);
    expect(s.issues).toHaveLength(1);
    expect(s.issues[0]).toMatchObject({param: "hide", value: "bogus"});
  });

  it("treats a bare boolean flag as true", () => {
    expect(parseState({a: bool(false)}, "a").values.a).toBe(true);
    expect(parseState({a: bool(true)}, "a=0").values.a).toBe(false);
  });
});

describe("serializeState", () => {
  it("writes only non-defaults in schema order, plus a readable hide list", () => {
    const q = serializeState(schema, {layer: 2, model: "b1.58", prompt: "a b&c"}, ["prompt", "layer"]);
    expect(q).toBe("layer=2&prompt=a+b%26c&hide=layer,prompt");
  });

  it("refuses to write an invalid value (a page bug, not reader input)", () => {
    expect(() => serializeState(schema, {layer: 7})).toThrow(/layer/);
    expect(() => serializeState(schema, {model: "fp" as never})).toThrow(/model/);
  });

  it("round-trips any valid state", () => {
    const arb = fc.record({
      model: fc.constantFrom("b1.58", "a4.8", "v2-a4"),
      layer: fc.integer({min: 0, max: 3}),
      ratio: fc.double({min: 0.05, max: 1, noNaN: true}),
      prompt: fc.string({maxLength: 20}),
      animate: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, fc.subarray(["model", "layer", "ratio", "prompt", "animate"]), (v, hide) => {
        const back = parseState(schema, serializeState(schema, v, hide));
        expect(back.issues).toEqual([]);
        expect(back.values).toEqual(v);
        expect([...back.hidden].sort()).toEqual([...hide].sort());
      }),
      {numRuns: 300},
    );
  });
});

describe("schema builders and refine", () => {
  it("reject inconsistent defaults", () => {
    expect(() => int(5, 0, 3)).toThrow();
    expect(() => int(0.5, 0, 3)).toThrow();
    expect(() => num(2, 0, 1)).toThrow();
    expect(() => oneOf(["a", "b"], "c" as "a")).toThrow();
    expect(() => text("toolong", 3)).toThrow();
  });

  it("refine falls back with an issue when a loaded model cannot honour a value", () => {
    expect(refine("layer", 3, 3 < 4, 0, "the model has 4 layers")).toEqual({value: 3});
    const r = refine("layer", 5, 5 < 4, 0, "the model has 4 layers (0–3)");
    expect(r.value).toBe(0);
    expect(r.issue).toEqual({param: "layer", value: "5", message: "layer: the model has 4 layers (0–3); using 0"});
  });
});

describe("hide= names sections by their visible heading (issue 24)", () => {
  it("keeps non-control names as sections when the page asks, matches headings by their first words", async () => {
    const {parseState: p, sectionMatches, serializeState: ser} = await import("../../src/lib/url-state.js");
    const s = p({layer: {type: "int", default: 0, min: 0, max: 9}} as never, "hide=layer,Exercises,the-bit-ledger", {
      sections: true,
    });
    expect([...s.hidden]).toEqual(["layer"]);
    expect(s.hiddenSections).toEqual(["Exercises", "the-bit-ledger"]);
    expect(s.issues).toEqual([]);
    expect(sectionMatches("the-bit-ledger", "The bit ledger: four weights per byte")).toBe(true);
    expect(sectionMatches("exercises", "Exercises")).toBe(true);
    expect(sectionMatches("bit", "The bit ledger")).toBe(false);
    expect(
      ser(
        {layer: {type: "int", default: 0, min: 0, max: 9}} as never,
        {layer: 0} as never,
        ["layer"],
        ["The bit ledger"],
      ),
    ).toBe("hide=layer,the-bit-ledger");
  });
});
