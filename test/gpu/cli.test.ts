import {describe, expect, it} from "vitest";
import {runCli as run} from "./cli-harness.js";
import {microbench} from "../../src/gpu/measure/microbench.js";
import {testDevice} from "./harness.js";

describe("bitnet-lab embed --backend webgpu", () => {
  it("the engine's embedding and cosine equal the CPU reference's", async () => {
    const args = [
      "embed",
      "data/fixtures/fam-qwen3-embedding",
      "--tokens",
      "1,5,77,200",
      "--compare-tokens",
      "1,511,3",
    ];
    const g = await run([...args, "--backend", "webgpu", "--json"]);
    const c = await run([...args, "--json"]);
    expect(g.code, g.err).toBe(0);
    const gj = JSON.parse(g.out) as {backend: string; embedding: number[]; cosine: number};
    const cj = JSON.parse(c.out) as {backend: string; embedding: number[]; cosine: number};
    expect([gj.backend, cj.backend]).toEqual(["webgpu", "cpu"]);
    expect(Math.max(...gj.embedding.map((v, i) => Math.abs(v - cj.embedding[i])))).toBeLessThan(1e-4);
    expect(Math.abs(gj.cosine - cj.cosine)).toBeLessThan(1e-5);
  });
});

describe("bitnet-lab verify / bench", () => {
  it("verify runs the engine against the CPU reference on a checkpoint; exit 1 when the tolerance is not met", async () => {
    // tolerance 0: float32 summation-order differences in the logits must fail it, while greedy tokens agree
    const r = await run(["verify", "data/fixtures/tiny-b158", "--steps", "3", "--tolerance", "0", "--json"]);
    expect(r.code, r.err).toBe(1);
    const rep = JSON.parse(r.out) as {
      results: {
        pass: boolean;
        greedyAgree: number;
        steps: number;
        prefillMaxAbsDiff: number;
        positions: number;
        prefillArgmaxAgree: number;
      }[];
    };
    expect(rep.results).toHaveLength(1);
    const x = rep.results[0];
    expect(x.pass).toBe(false);
    expect(x.greedyAgree).toBe(3);
    expect(x.prefillArgmaxAgree).toBe(x.positions);
    expect(x.prefillMaxAbsDiff).toBeGreaterThan(0);
    expect(x.prefillMaxAbsDiff).toBeLessThan(1e-3);
  });

  it("verify and bench reject bad input with exit 2 (1 for a missing folder)", async () => {
    expect((await run(["verify"])).code).toBe(2);
    expect((await run(["verify", "data/fixtures/tiny-b158", "--steps", "x"])).code).toBe(2);
    expect((await run(["verify", "data/fixtures/tiny-b158", "--wat"])).code).toBe(2);
    const missing = await run(["verify", "data/fixtures/does-not-exist"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/does not exist/);
    expect((await run(["bench", "--wat"])).code).toBe(2);
    expect((await run(["bench", "extra"])).code).toBe(2);
  });

  it("microbench (the cost page's probe) measures a copy, a ternary and a dense GEMV", async () => {
    const device = await testDevice();
    const r = await microbench(device, {rows: 64, cols: 128, reps: 2, copyBytes: 1 << 16});
    expect(r.rows).toBe(64);
    expect(r.cols).toBe(128);
    for (const k of ["copyGBps", "ternaryGemvMs", "ternaryGBps", "denseGemvMs", "denseGBps"] as const) {
      expect(Number.isFinite(r[k]) && r[k] > 0, `${k} = ${r[k]}`).toBe(true);
    }
  });
});
