// The model diagram's parts come from the variant table: every BitLinear, quantizer, norm, top-K, Hadamard and KV
// quantizer where the variant has it (issue 24), and hover values from a live pass.
import {describe, expect, it} from "vitest";
import {blockParts, partValues} from "../../src/lib/chapters/diagram.js";
import {defaultConfig} from "../../src/lib/config.js";
import {forwardFull} from "../../src/lib/model.js";
import {randomWeights} from "../../src/lib/init.js";

const kinds = (v: Parameters<typeof defaultConfig>[0]) => blockParts(defaultConfig(v)).map((p) => p.id);

describe("blockParts", () => {
  it("b1.58: four BitLinear sites with INT8 quantizers and the two sub-norms, no Hadamard, no top-K", () => {
    const ids = kinds("b1.58");
    for (const s of ["qkv", "o", "gate_up", "down"]) {
      expect(ids).toContain(`${s}-linear`);
      expect(ids).toContain(`${s}-quant`);
    }
    expect(ids).toContain("o-subnorm");
    expect(ids.some((i) => /hadamard|topk/.test(i))).toBe(false);
  });
  it("a4.8: top-K before W_o; v2: Hadamard before W_o and W_down; fp: no quantizer", () => {
    expect(kinds("a4.8")).toContain("o-topk");
    const v2 = defaultConfig("v2");
    const ids = blockParts({...v2, bitnet_hadamard: true}).map((p) => p.id);
    expect(ids).toContain("o-hadamard");
    expect(ids).toContain("down-hadamard");
    expect(kinds("fp").some((i) => /quant/.test(i))).toBe(false);
  });
  it("the KV quantizer appears only when the cache is quantized", () => {
    expect(blockParts({...defaultConfig("a4.8"), bitnet_kv_bits: 3}).map((p) => p.id)).toContain("kv");
    expect(blockParts({...defaultConfig("b1.58"), bitnet_kv_bits: 16}).map((p) => p.id)).not.toContain("kv");
  });
  it("every part links to a chapter that exists", () => {
    for (const v of ["fp", "b1.58", "a4.8", "v2"] as const)
      for (const p of blockParts(defaultConfig(v)))
        expect(["forward", "ternary", "activations", "hadamard", "sparsity"]).toContain(p.chapter);
  });
});

describe("partValues", () => {
  it("hover values come from the trace", () => {
    const w = randomWeights(
      {
        ...defaultConfig("a4.8"),
        vocab_size: 64,
        hidden_size: 32,
        intermediate_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        max_position_embeddings: 16,
      },
      1,
    );
    const tr = forwardFull(w, [1, 5, 9, 3], {trace: true}).trace;
    const v = partValues(w.config, tr);
    expect(v["down-linear"]).toMatch(/% of its inputs are 0/);
    expect(v["o-topk"]).toMatch(/%/);
  });
});
