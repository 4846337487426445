// The cost chapter's DOM-free parts: its URL state (bad values ignored with an issue naming the parameter), the
// precision the controls pick, and the curves the charts draw, checked against the library they come from.
import {describe, expect, it} from "vitest";
import {parseState, serializeState} from "../../src/lib/url-state.js";
import {
  COST_PAGE_SCHEMA,
  batchCurves,
  chosenPrecision,
  energyCurves,
  ladder,
  memoryCurves,
  selectedShape,
  speedCurves,
} from "../../src/lib/cost/page.js";
import {
  customPrecision,
  decodeStep,
  decodeTokenEnergy,
  energy,
  getShape,
  maxBatch,
  memory,
  paramCounts,
} from "../../src/lib/cost.js";

describe("URL state", () => {
  it("reads valid values and ignores bad ones with a visible issue", () => {
    const ok = parseState(COST_PAGE_SCHEMA, "?model=70B&wbits=1.58&kvbits=3&context=4096&bw=3350");
    expect(ok.issues).toEqual([]);
    expect(ok.values).toMatchObject({model: "70B", wbits: "1.58", kvbits: "3", context: 4096, bw: 3350, batch: 1});
    const bad = parseState(COST_PAGE_SCHEMA, "?model=9B&wbits=3&context=-1&batch=2.5&bw=abc&node=5nm&extra=1");
    expect(bad.values).toMatchObject({model: "7B", wbits: "2", context: 2048, batch: 1, bw: 2039, node: "7nm"});
    expect(bad.issues.map((i) => i.param).sort()).toEqual([
      "batch",
      "bw",
      "context",
      "extra",
      "model",
      "node",
      "wbits",
    ]);
    expect(bad.issues.find((i) => i.param === "model")!.message).toMatch(/"9B" is not one of/);
  });

  it("round-trips through serializeState", () => {
    const v = {...parseState(COST_PAGE_SCHEMA, "").values, model: "2B4T", abits: "4" as const, batch: 64};
    const q = serializeState(COST_PAGE_SCHEMA, v);
    expect(q).toBe("model=2B4T&abits=4&batch=64");
    expect(parseState(COST_PAGE_SCHEMA, q).values).toEqual(v);
  });
});

describe("the shape the controls pick", () => {
  it("a custom shape from the URL; an inconsistent one falls back with a message naming the fields", () => {
    const st = parseState(
      COST_PAGE_SCHEMA,
      "?model=custom&hidden=64&ffn=160&layers=2&heads=4&kvheads=2&vocab=300",
    ).values;
    const {shape, issue} = selectedShape(st);
    expect(issue).toBeUndefined();
    expect(paramCounts(shape).linear).toBe(2 * (64 * 64 * 2 + 64 * 32 * 2 + 3 * 64 * 160)); // the tiny-b158 fixture's shape
    expect(ladder(shape).map((s) => s.id)[0]).toBe("custom");
    const bad = selectedShape({...st, heads: 5, kvheads: 3});
    expect(bad.shape.id).toBe("2B4T");
    expect(bad.issue).toMatch(/heads \(5\) must divide hidden \(64\); kvheads \(3\) must divide heads \(5\)/);
    expect(selectedShape(parseState(COST_PAGE_SCHEMA, "").values).shape.id).toBe("7B");
  });
});

describe("the precision the controls pick", () => {
  it("maps bit-widths to storage and arithmetic", () => {
    expect(chosenPrecision({wbits: "1.58", abits: "8", kvbits: "16"})).toMatchObject({
      weightBits: Math.log2(3),
      arithmetic: "ternary",
      label: "W1.58A8, 16-bit KV",
    });
    expect(customPrecision(8, 8, 16).arithmetic).toBe("int8"); // W8A8
    expect(customPrecision(4, 16, 16).arithmetic).toBe("fp16"); // weight-only quantization dequantizes
    expect(customPrecision(16, 16, 16).arithmetic).toBe("fp16");
    expect(() => customPrecision(0, 8, 16)).toThrow(/weightBits/);
  });

  it("ternary additions run at INT8 for ≤ 8-bit activations and at FP16 for 16-bit ones", () => {
    const s = getShape("700M");
    const a8 = energy(s, "ternary", {tokens: 1, node: "7nm", attention: "none", activationBits: 8});
    const a16 = energy(s, "ternary", {tokens: 1, node: "7nm", attention: "none", activationBits: 16});
    expect(a16.linear.addJ / a8.linear.addJ).toBeCloseTo(0.16 / 0.007, 9);
    const w8 = energy(s, "int8", {tokens: 1, node: "7nm", attention: "none"});
    expect(w8.linear.mulJ).toBeCloseTo(w8.linear.muls * 0.07e-12, 18);
  });
});

describe("chart data", () => {
  const st = {...parseState(COST_PAGE_SCHEMA, "").values, model: "2B4T", context: 1024, batch: 2, kvbits: "8" as const};

  it("the ladder is sorted by size and includes the selected model", () => {
    const l = ladder("2B4T");
    expect(l.map((s) => s.id)).toContain("2B4T");
    const sizes = l.map((s) => paramCounts(s).total);
    expect([...sizes].sort((a, b) => a - b)).toEqual(sizes);
  });

  it("memory curves equal memory() per weight format", () => {
    const pts = memoryCurves(st);
    const s = getShape("70B");
    const p = pts.find((d) => d.series === "4" && d.x === paramCounts(s).total)!;
    expect(p.y).toBeCloseTo(memory(s, customPrecision(4, 8, 8), {context: 1024, batch: 2}).total / 1e9, 9);
    expect(pts.length).toBe(ladder("2B4T").length * 5);
  });

  it("speed and energy curves come from decodeStep and decodeTokenEnergy", () => {
    const s = getShape("13B");
    const sp = speedCurves(st, [{key: "measured", bandwidthGBps: 100}]);
    const chosen = chosenPrecision(st);
    expect(sp.find((d) => d.series === "chosen" && d.x === paramCounts(s).total)!.y).toBeCloseTo(
      decodeStep(s, chosen, {bandwidthGBps: 2039, batch: 2, context: 1024}).tokensPerSecond,
      9,
    );
    expect(sp.find((d) => d.series === "measured" && d.x === paramCounts(s).total)!.y).toBeCloseTo(
      decodeStep(s, chosen, {bandwidthGBps: 100, batch: 2, context: 1024}).tokensPerSecond,
      9,
    );
    const en = energyCurves(st);
    expect(en.find((d) => d.series === "fp16" && d.x === paramCounts(s).total)!.y).toBeCloseTo(
      decodeTokenEnergy(s, "fp16", 1024, "7nm").totalJ,
      15,
    );
  });

  it("batch curves stop at each precision's memory limit", () => {
    const {points, limits} = batchCurves({...st, model: "7B", mem: 40});
    const s = getShape("7B");
    expect(limits.find((l) => l.series === "fp16")!.batch).toBe(
      maxBatch(s, customPrecision(16, 16, 16), {memoryGB: 40, context: 1024}),
    );
    for (const l of limits) {
      const xs = points.filter((p) => p.series === l.series).map((p) => p.x);
      expect(Math.max(...xs)).toBe(Math.min(l.batch, 4096));
    }
    // Throughput rises with batch (weights are read once per step for all sequences).
    const fp = points.filter((p) => p.series === "fp16");
    for (let i = 1; i < fp.length; i++) expect(fp[i].y).toBeGreaterThan(fp[i - 1].y);
  });
});
