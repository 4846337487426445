// Issue 24: a4.8 and v2 checkpoints loaded in transformers as a different function (its BitNetForCausalLM ignores
// the bitnet_* fields). Their config.json now carries model_type "bitnet-lab-<variant>", which transformers 5.17
// refuses ("…has model type `bitnet-lab-a4.8` but Transformers does not recognize this architecture"); the lab reads it.
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {configToJSON, LAB_MODEL_TYPE_PREFIX, parseConfig, transformersComputes} from "../../src/lib/checkpoint.js";
import {defaultConfig} from "../../src/lib/config.js";

const shipped = (m: string) => JSON.parse(readFileSync(`data/models/${m}/config.json`, "utf8"));

describe("config.json that transformers refuses for variants it would compute differently", () => {
  it("the shipped a4.8 and v2 configs name a model type transformers does not know; b1.58 and fp stay loadable", () => {
    expect(shipped("a4.8").model_type).toBe("bitnet-lab-a4.8");
    for (const m of ["v2-a8", "v2-a4", "v2-a4-nohadamard"]) expect(shipped(m).model_type).toBe("bitnet-lab-v2");
    expect(shipped("b1.58").model_type).toBe("bitnet");
    expect(["bitnet", "llama"]).toContain(shipped("fp").model_type);
  });
  it("the shipped configs still parse, with their variant, and write back the same model_type", () => {
    for (const m of ["a4.8", "v2-a8", "v2-a4", "v2-a4-nohadamard", "b1.58", "fp"]) {
      const c = parseConfig(shipped(m));
      expect(c.model_type).toBe("bitnet");
      expect(configToJSON(c).model_type).toBe(shipped(m).model_type);
    }
  });
  it("configToJSON decides by what transformers computes", () => {
    expect(configToJSON(defaultConfig("a4.8")).model_type).toBe(`${LAB_MODEL_TYPE_PREFIX}a4.8`);
    expect(configToJSON(defaultConfig("v2")).model_type).toBe(`${LAB_MODEL_TYPE_PREFIX}v2`);
    expect(configToJSON(defaultConfig("b1.58")).model_type).toBe("bitnet");
    expect(transformersComputes({...defaultConfig("b1.58"), bitnet_kv_bits: 4})).toBe(false);
  });
  it("a lab model type that does not match the variant is refused", () => {
    expect(() => parseConfig({...shipped("a4.8"), model_type: "bitnet-lab-v2"})).toThrow(
      /must name the config's bitnet_variant/,
    );
    expect(() => parseConfig({...shipped("a4.8"), model_type: "gpt2"})).toThrow(/model_type must be/);
  });
});
