// verify's engine options (src/cli/verify-options.ts): named sets, the single flags on top, bad values refused by name.
import {describe, expect, it} from "vitest";
import {UsageError, parseArgs} from "../../src/cli/command.js";
import {
  ENGINE_FLAGS,
  EXACT_SETS,
  OPTION_SETS,
  flagOptions,
  optionSets,
  parseFuse,
} from "../../src/cli/verify-options.js";
import {prefillGemm} from "../../src/gpu/engine/tune.js";
import {verify} from "../../src/cli/verify.js";

const args = (...a: string[]) => parseArgs(a, ENGINE_FLAGS);

describe("verify engine options", () => {
  it("--fuse takes all, none or a list of sites", () => {
    expect(parseFuse("all")).toBe(true);
    expect(parseFuse("none")).toBe(false);
    expect(parseFuse("o,down")).toEqual(["o", "down"]);
    expect(() => parseFuse("o,wat")).toThrow(/"wat" is not a site/);
    expect(() => parseFuse("o,o")).toThrow(/named twice/);
    expect(() => parseFuse("")).toThrow(UsageError);
  });

  it("the single flags become WebGPUSessionOptions", () => {
    expect(
      flagOptions(
        args("--fuse", "o,down", "--fuse-combine", "off", "--kv16", "f16", "--lm-head", "f16", "--attn-chunk", "32"),
      ),
    ).toEqual({fuse: ["o", "down"], fuseCombine: false, kv16: "f16", lmHead: "f16", attnChunk: 32});
    expect(flagOptions(args("--decode-shape", "4,32,256,1", "--norm-stats"))).toEqual({
      tuning: {decode: {R: 4, T: 32, WG: 256, U: 1}},
      normStats: true,
    });
    expect(flagOptions(args("--decode-shape", "2,8,64,0"))).toEqual({tuning: {decode: {R: 2, T: 8, WG: 64}}});
    expect(flagOptions(args())).toEqual({});
    expect(() => flagOptions(args("--kv16", "f8"))).toThrow(/--kv16 must be one of f32, f16/);
    expect(() => flagOptions(args("--fuse-combine", "yes"))).toThrow(/on, off/);
    expect(() => flagOptions(args("--decode-shape", "4,32,256"))).toThrow(/four integers/);
    expect(() => flagOptions(args("--decode-shape", "4,32,x,1"))).toThrow(/--decode-shape W/);
    expect(() => flagOptions(args("--attn-chunk", "0"))).toThrow(/--attn-chunk/);
  });

  it("--options names sets (all: every set); the flags apply on top of each", () => {
    expect(optionSets(args())).toEqual([{name: "default", opts: {}}]);
    expect(optionSets(args("--options", "all")).map((s) => s.name)).toEqual(Object.keys(OPTION_SETS));
    const bench = optionSets(args("--options", "bench-h100,unfused", "--attn-chunk", "16"));
    expect(bench.map((s) => s.opts.attnChunk)).toEqual([16, 16]);
    expect(bench[0].opts).toMatchObject({fuse: ["o", "down"], fuseCombine: true, kv16: "f16", lmHead: "f16"});
    expect(bench[0].name).toBe('bench-h100+{"attnChunk":16}');
    expect(bench[1].opts.fuse).toBe(false);
    // the kernels the bench chose, on the reference's f32 storage
    expect(OPTION_SETS["bench-h100-kernels"].opts).toEqual({
      ...OPTION_SETS["bench-h100"].opts,
      kv16: undefined,
      lmHead: undefined,
    });
    expect(() => optionSets(args("--options", "fast"))).toThrow(/"fast" is not an option set; known: default/);
  });

  it("the exact sets verify both prefill kernels: the tiled GEMM (the default) and linearWGSL's (prefill-rows)", () => {
    const limits = {maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256};
    const kernel = (n: string) => {
      const g = prefillGemm(OPTION_SETS[n].opts.tuning ?? {}, "ternary", "store", 16, limits, "qkv");
      return g ? `GEMM ${g.BN}×${g.BM}${g.unpack ? "u" : ""}` : "rows";
    };
    expect(kernel("default")).toBe("GEMM 64×64");
    expect(kernel("prefill-rows")).toBe("rows");
    expect(kernel("prefill-gemm")).toBe("GEMM 64×64u");
    expect(new Set(EXACT_SETS.map(kernel))).toEqual(new Set(["GEMM 64×64", "GEMM 64×64u", "rows"]));
  });

  it("verify accepts the engine flags", () => {
    for (const f of Object.keys(ENGINE_FLAGS)) expect(verify.options[f], f).toBeDefined();
    expect(verify.usage).toMatch(/--options all\|default/);
  });
});
