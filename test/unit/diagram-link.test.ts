// Linked views (issue 24): which page control a click on a diagram part sets, and which parts the diagram marks for
// the control's current value — on the real parts of each variant's block.
import {describe, expect, it} from "vitest";
import {type DiagramLinks, pickFor, selectedParts} from "../../src/app/diagram-link.js";
import {blockParts} from "../../src/lib/chapters/diagram.js";
import {defaultConfig} from "../../src/lib/config.js";

// the Activations page: its site control's values per BitLinear site, and its layer control
const activations: DiagramLinks = {
  site: {key: "site", values: {qkv: "attn", o: "o", gate_up: "ffn", down: "down"}},
  layer: {key: "layer", count: 4},
};
const hadamard: DiagramLinks = {site: {key: "site", values: {o: "o", down: "down"}}};
const part = (variant: Parameters<typeof defaultConfig>[0], id: string) => {
  const p = blockParts(defaultConfig(variant)).find((q) => q.id === id);
  if (!p) throw new Error(`no part ${id} in ${variant}`);
  return p;
};

describe("pickFor", () => {
  it("every part at a BitLinear site selects that site on the Activations page", () => {
    expect(pickFor(part("b1.58", "down-linear"), activations)).toEqual({key: "site", value: "down"});
    expect(pickFor(part("b1.58", "down-quant"), activations)).toEqual({key: "site", value: "down"});
    expect(pickFor(part("b1.58", "qkv-linear"), activations)).toEqual({key: "site", value: "attn"});
    expect(pickFor(part("a4.8", "o-topk"), activations)).toEqual({key: "site", value: "o"});
    expect(pickFor(part("b1.58", "gate_up-linear"), activations)).toEqual({key: "site", value: "ffn"});
  });
  it("a site the page has no value for, and parts off any site, keep their chapter link (null)", () => {
    expect(pickFor(part("b1.58", "qkv-linear"), hadamard)).toBeNull();
    expect(pickFor(part("b1.58", "attention"), activations)).toBeNull();
    expect(pickFor(part("b1.58", "attn-norm"), activations)).toBeNull();
    expect(pickFor({id: "lm-head"}, activations)).toBeNull();
    expect(pickFor(part("b1.58", "down-linear"), {})).toBeNull();
  });
  it("the decoder block steps the layer control, wrapping after the last layer", () => {
    expect(pickFor({id: "blocks"}, activations, {layer: 0})).toEqual({key: "layer", value: "1"});
    expect(pickFor({id: "blocks"}, activations, {layer: 3})).toEqual({key: "layer", value: "0"});
    expect(pickFor({id: "blocks"}, hadamard, {layer: 0})).toBeNull();
    expect(pickFor({id: "blocks"}, {layer: {key: "layer", count: 1}}, {layer: 0})).toBeNull();
  });
});

describe("selectedParts", () => {
  it("marks every part at the selected site and nothing else", () => {
    const parts = blockParts(defaultConfig("a4.8"));
    const ids = selectedParts(parts, activations, "o");
    expect(ids).toContain("o-linear");
    expect(ids).toContain("o-topk");
    expect(ids.every((i) => i.startsWith("o-"))).toBe(true);
    expect(selectedParts(parts, activations, "down")).toContain("down-linear");
    expect(selectedParts(parts, activations, "nope")).toEqual([]);
    expect(selectedParts(parts, {}, "o")).toEqual([]);
  });
});
