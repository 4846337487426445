// bitnet-lab inspect / logits / generate, end to end on the committed fixture. Runs main() in-process
// (capturing the console) except for one real process start of bin/bitnet-lab.js.
import {spawnSync} from "node:child_process";
import {existsSync, mkdtempSync, readFileSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterEach, describe, expect, it, vi} from "vitest";
import {main} from "../../src/cli/main.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {readModelDir, writeModelDir} from "../../src/node/modeldir.js";

const dir = "data/fixtures/tiny-b158";

async function cli(...args: string[]): Promise<{status: number; stdout: string; stderr: string}> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void (stdout += a.join(" ") + "\n"));
  vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void (stderr += a.join(" ") + "\n"));
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  try {
    const status = await main(args);
    return {status, stdout, stderr};
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("bitnet-lab inspect / logits / generate", () => {
  it("inspects a packed checkpoint (as a real process)", () => {
    const r = spawnSync("node", ["bin/bitnet-lab.js", "inspect", dir, "--json"], {encoding: "utf8"});
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.format).toBe("packed");
    expect(j.parameters).toEqual({embedding: 19200, linear: 86016, norm: 768, head: 0, total: 105984});
    expect(j.ternary.minus + j.ternary.zero + j.ternary.plus).toBe(86016);
    // 2 bits per weight plus one F32 scale per tensor: 86016/4 + 14·4 bytes.
    expect(j.bitsPerWeight.linear).toBeCloseTo(((86016 / 4 + 14 * 4) * 8) / 86016, 10);
    const q = j.tensors.find((t: {name: string}) => t.name === "model.layers.0.self_attn.q_proj.weight");
    expect(q).toMatchObject({dtype: "U8", shape: [64, 64], bytes: 1024 + 4});
  });

  it("prints the logits transformers gives for the same tokens", async () => {
    const r = await cli("logits", dir, "--tokens", "1,5,77,200", "--json");
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const twin = JSON.parse(readFileSync(`${dir}/hf_logits.json`, "utf8"));
    expect(twin.sequences[0].slice(0, 4)).toEqual([1, 5, 77, 200]);
    let worst = 0;
    for (let t = 0; t < 4; t++)
      for (let v = 0; v < 300; v++) worst = Math.max(worst, Math.abs(j.logits[t][v] - twin.logits[0][t][v]));
    expect(worst).toBeLessThan(1e-4);
    const text = await cli("logits", dir, "--tokens", "1,5", "--top", "3");
    expect(text.stdout.trim().split("\n")).toHaveLength(2);
  });

  it("generates reproducibly, falls back to bytes without tokenizer.json, and reports bad input", async () => {
    const args = [
      "generate",
      dir,
      "--prompt",
      "hi",
      "--max-tokens",
      "4",
      "--temperature",
      "0.9",
      "--top-k",
      "50",
      "--seed",
      "5",
      "--json",
    ];
    const a = await cli(...args);
    expect(a.status, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/no tokenizer.json.*UTF-8 bytes/);
    const j = JSON.parse(a.stdout);
    expect(j.promptTokens).toEqual([1, 104, 105]);
    expect(j.tokens).toHaveLength(4);
    expect(JSON.parse((await cli(...args)).stdout).tokens).toEqual(j.tokens);
    const usage = await cli("generate", dir, "--max-tokens", "2");
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--prompt TEXT is required/);
    expect((await cli("generate", dir, "--prompt", "x", "--top-p", "2")).status).toBe(2);
    expect((await cli("generate", dir, "--prompt", "x", "--nope", "1")).stderr).toMatch(/unknown flag --nope/);
    expect((await cli("logits", dir, "--tokens", "1,300")).stderr).toMatch(
      /--tokens must be comma-separated integers in \[0, 300\)/,
    );
    const missing = await cli("inspect", "data/fixtures/no-such-model");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/does not exist/);
    if (!existsSync("src/gpu/engine.ts")) {
      const gpu = await cli("generate", dir, "--prompt", "x", "--backend", "webgpu");
      expect(gpu.status).toBe(1);
      expect(gpu.stderr).toMatch(/webgpu backend is not available yet/);
    }
  });

  it("uses the folder's tokenizer.json, passed through unchanged by writeModelDir/readModelDir", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "bitnet-lab-"));
    try {
      const m = await readModelDir(dir);
      const tok = Tokenizer.train("the cat sat on the mat. the cat ate the rat. ".repeat(8), 300);
      expect(tok.vocabSize).toBeLessThanOrEqual(300);
      const json = tok.toJSON();
      await writeModelDir(tmp, m.weights, {tokenizer: json});
      expect((await readModelDir(tmp)).tokenizer).toEqual(JSON.parse(JSON.stringify(json)));
      const r = await cli("generate", tmp, "--prompt", "the cat", "--max-tokens", "3", "--json");
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/no tokenizer.json/);
      const j = JSON.parse(r.stdout);
      expect(j.tokenizer).toBe("tokenizer.json");
      expect(j.promptTokens).toEqual(tok.encode("the cat", {bos: true}));
      expect(j.text).toBe(tok.decode(j.tokens));
    } finally {
      rmSync(tmp, {recursive: true, force: true});
    }
  });
});
