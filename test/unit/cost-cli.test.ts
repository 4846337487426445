// `bitnet-lab cost`: JSON output for a catalog model and for a config.json, the reproduction table, and specific
// errors with exit code 2 (usage) or 1 (a malformed file).
import {mkdtempSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterEach, describe, expect, it, vi} from "vitest";
import {main} from "../../src/cli/main.js";
import {defaultConfig} from "../../src/lib/config.js";
import {paramCounts, getShape} from "../../src/lib/cost.js";

async function run(argv: string[]): Promise<{code: number; out: string; err: string}> {
  const out: string[] = [],
    err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => {
    out.push(a.join(" "));
  });
  const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => {
    err.push(a.join(" "));
  });
  try {
    const code = await main(argv);
    return {code, out: out.join("\n"), err: err.join("\n")};
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("bitnet-lab cost", () => {
  it("--model 70B --json: one report per precision, with the numbers the library computes", async () => {
    const r = await run([
      "cost",
      "--model",
      "70B",
      "--json",
      "--context",
      "512",
      "--batch",
      "4",
      "--bandwidth",
      "1000",
      "--precision",
      "fp16,b1.58",
    ]);
    expect(r.code).toBe(0);
    const reports = JSON.parse(r.out);
    expect(reports.map((x: {precision: {label: string}}) => x.precision.label)).toEqual([
      "FP16 LLaMA",
      "BitNet b1.58 (W1.58A8, 2-bit packed)",
    ]);
    expect(reports[0].params.total).toBe(paramCounts(getShape("70B")).total);
    expect(reports[0].memory.kvCache).toBe(4 * 512 * 327_680);
    expect(reports[0].decode.memoryMs).toBeCloseTo(reports[0].decode.bytes.total / 1e9, 9);
    expect(reports[1].memory.weights).toBeLessThan(reports[0].memory.weights / 7);
  });

  it("reads a config.json (and a folder holding one)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cost-cli-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify(defaultConfig("b1.58")));
    for (const spec of [dir, join(dir, "config.json")]) {
      const r = await run(["cost", "--model", spec, "--json", "--precision", "b1.58"]);
      expect(r.code, r.err).toBe(0);
      const [rep] = JSON.parse(r.out);
      expect(rep.shape.hidden).toBe(256);
      expect(rep.options.context).toBe(256); // the config's max_position_embeddings
    }
    const human = await run(["cost", "--model", dir]);
    expect(human.out).toMatch(/BitNet b1\.58/);
    expect(human.out).toMatch(/tokens\/s/);
  });

  it("--reproduce prints the paper-vs-model table with the reasons for misses", async () => {
    const r = await run(["cost", "--reproduce"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/within tolerance/);
    expect(r.out).toMatch(/Why the others miss/);
    const j = await run(["cost", "--reproduce", "--group", "energy", "--json"]);
    const rows = JSON.parse(j.out);
    expect(rows.every((x: {group: string}) => x.group === "energy")).toBe(true);
    expect(rows.find((x: {id: string}) => x.id === "energy-71x").model).toBeCloseTo(71.43, 2);
  });

  it("bad input: specific messages, exit 2 for usage and 1 for a malformed file", async () => {
    const cases: [string[], RegExp][] = [
      [["cost"], /--model is required/],
      [["cost", "--model", "9B"], /unknown model "9B"/],
      [["cost", "--model", "7B", "--context=-5"], /--context must be an integer/],
      [
        ["cost", "--model", "7B", "--context", "-5"],
        /--context needs a value \(a value starting with "-" is written --context=-…\)/,
      ],
      [["cost", "--model", "7B", "--batch", "0"], /--batch must be an integer/],
      [["cost", "--model", "7B", "--precision", "fp8"], /--precision: unknown "fp8"/],
      [["cost", "--model", "7B", "--hardware", "tpu"], /--hardware must be one of/],
      [["cost", "--model", "7B", "--hardware", "h100", "--bandwidth", "100"], /not both/],
      [["cost", "--model", "7B", "--node", "3nm"], /--node must be 7nm or 45nm/],
      [["cost", "--reproduce", "--group", "speed"], /--group must be one of/],
      [["cost", "--model", "7B", "--contxt", "5"], /unknown flag --contxt; did you mean --context\?/],
      [["cost", "--model", "./no/such/config.json"], /does not exist/],
    ];
    for (const [argv, msg] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err, argv.join(" ")).toMatch(msg);
    }
    const dir = mkdtempSync(join(tmpdir(), "cost-cli-bad-"));
    writeFileSync(join(dir, "broken.json"), "{ not json");
    writeFileSync(join(dir, "gqa.json"), JSON.stringify({...defaultConfig("b1.58"), num_key_value_heads: 3}));
    const broken = await run(["cost", "--model", join(dir, "broken.json")]);
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/not valid JSON/);
    const gqa = await run(["cost", "--model", join(dir, "gqa.json")]);
    expect(gqa.code).toBe(1);
    expect(gqa.err).toMatch(/num_key_value_heads \(3\)/);
  });
});
