import {mkdtempSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {describe, expect, it} from "vitest";
import {main} from "../../src/cli/main.js";

describe("bitnet-lab train (argument and config errors; no training)", () => {
  const dir = mkdtempSync(join(tmpdir(), "bl-train-"));
  it("exits 2 naming the bad config field", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({name: "x", model: {bitnet_variant: "b1.58", hidden_size: 30}, batchSize: 2}));
    const err: string[] = [];
    const orig = console.error;
    console.error = (m: string) => err.push(m);
    try {
      expect(await main(["train", "--config", bad, "--out", dir, "--backend", "cpu"])).toBe(2);
      expect(err.join("\n")).toMatch(/model.hidden_size/);
      expect(await main(["train", "--config", "no-such-config", "--out", dir])).toBe(2);
      expect(await main(["train", "--config", "ci-tiny", "--out", dir, "--backend", "tpu"])).toBe(2);
      expect(err.join("\n")).toMatch(/--backend must be one of auto, webgpu, cpu, wasm/);
      expect(await main(["train", "--config", "ci-tiny"])).toBe(2);
      expect(err.join("\n")).toMatch(/--out is required/);
    } finally {
      console.error = orig;
    }
  });

  it("--plan --json prints the resolved recipe the PyTorch mirror trains from (no --out needed)", async () => {
    const chunks: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((c: string | Uint8Array, cb?: unknown) => {
      chunks.push(String(c));
      if (typeof cb === "function") (cb as () => void)();
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(await main(["train", "--config", "v2-a4", "--plan", "--json", "--steps", "100"])).toBe(0);
    } finally {
      process.stdout.write = orig;
    }
    const plan = JSON.parse(chunks.join(""));
    expect(plan.format).toBe("bitnet-lab-train-plan");
    expect(plan.schedule.lr).toHaveLength(100);
    expect(plan.stages.map((s: {fromStep: number}) => s.fromStep)).toEqual([0, 95]); // the papers' 95%
    expect(plan.stages[1].sites.down).toMatchObject({quantizer: "absmean-int4", hadamard: true, dim: 688});
    expect(plan.hadamard["688"].plan).toMatchObject({kind: "kronecker", m: 344, q: 343});
    expect(plan.batching.starts).toBeUndefined(); // only with --data
  });
});
