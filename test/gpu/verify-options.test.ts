// `bitnet-lab verify --options …`: one reference run, one WebGPU session per engine option set, each compared;
// the sets' kernels keep the reference's logits (the engine's own tests check them bit for bit).
import {describe, expect, it} from "vitest";
import {runCli as run} from "./cli-harness.js";

describe("bitnet-lab verify --options", () => {
  it("checks an option set against the reference, flags on top of the set (several sets: bench/results/verify-issue25-swiftshader.txt)", async () => {
    const argv = ["verify", "data/fixtures/tiny-b158", "--steps", "3", "--json"];
    const r = await run([...argv, "--options", "bench-h100-kernels", "--attn-chunk", "3"]);
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out) as {
      results: {
        options: string;
        engine: Record<string, unknown>;
        pass: boolean;
        greedyAgree: number;
        decodeMaxAbsDiff: number;
      }[];
    };
    expect(rep.results.map((x) => x.options)).toEqual(['bench-h100-kernels+{"attnChunk":3}']);
    expect(rep.results[0].engine).toMatchObject({fuse: ["o", "down"], fuseCombine: true, attnChunk: 3});
    for (const x of rep.results) {
      expect(x.pass).toBe(true);
      expect(x.greedyAgree).toBe(3);
      expect(x.decodeMaxAbsDiff).toBeLessThan(1e-4);
    }
  }, 120_000);

  it("refuses an unknown set or a bad flag value with exit 2", async () => {
    expect((await run(["verify", "data/fixtures/tiny-b158", "--options", "fastest"])).code).toBe(2);
    expect((await run(["verify", "data/fixtures/tiny-b158", "--fuse", "o,ffn"])).code).toBe(2);
    expect((await run(["verify", "data/fixtures/tiny-b158", "--kv16", "bf16"])).code).toBe(2);
  });
});
