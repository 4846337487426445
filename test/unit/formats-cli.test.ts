// bitnet-lab convert / inspect / logits on the formats users bring: transformers' packed fixture → GGUF I2_S →
// HF packed again, with the same codes and logits at every step; inspect prints the decided conventions.
import {mkdtempSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, afterEach, describe, expect, it, vi} from "vitest";
import {main} from "../../src/cli/main.js";
import {forwardFull} from "../../src/lib/model.js";
import {loadModelPath} from "../../src/node/files.js";

const tmp = mkdtempSync(join(tmpdir(), "bitnet-formats-cli-"));
afterAll(() => rmSync(tmp, {recursive: true, force: true}));
afterEach(() => vi.restoreAllMocks());

async function cli(...args: string[]): Promise<{status: number; stdout: string; stderr: string}> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void (stdout += a.join(" ") + "\n"));
  vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void (stderr += a.join(" ") + "\n"));
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  try {
    return {status: await main(args), stdout, stderr};
  } finally {
    vi.restoreAllMocks();
  }
}

describe("bitnet-lab convert", () => {
  it("HF packed (autobitlinear) → GGUF I2_S → HF packed (bitlinear): identical codes and logits", async () => {
    const src = "data/fixtures/hf-packed";
    const gguf = join(tmp, "m.gguf");
    const back = join(tmp, "back");
    expect((await cli("convert", src, "--to", "gguf", "--out", gguf)).status).toBe(0);
    const r = await cli("convert", gguf, "--to", "hf", "--out", back);
    expect(r.status, r.stderr).toBe(0);
    const a = await loadModelPath(src);
    const b = await loadModelPath(gguf);
    const c = await loadModelPath(back);
    expect(b.opened.inspection.format).toBe("gguf-i2s");
    expect(c.opened.inspection.scale!.value).toBe("divide");
    for (const [n, t] of a.weights.ternary) {
      expect(Array.from(b.weights.ternary.get(n)!.codes), n).toEqual(Array.from(t.codes));
      expect(Array.from(c.weights.ternary.get(n)!.codes), n).toEqual(Array.from(t.codes));
    }
    const seq = [1, 5, 77, 200];
    const la = forwardFull(a.weights, seq).logits;
    const lb = forwardFull(b.weights, seq).logits;
    const lc = forwardFull(c.weights, seq).logits;
    let db = 0,
      dc = 0;
    for (let i = 0; i < la.length; i++) {
      db = Math.max(db, Math.abs(la[i] - lb[i]));
      dc = Math.max(dc, Math.abs(la[i] - lc[i]));
    }
    // GGUF stores the bf16 embedding as F16 and the scale as f32; HF keeps BF16: only rounding of the embedding differs
    expect(db).toBeLessThan(0.05);
    expect(dc).toBeLessThan(1e-4);
  });

  it("inspect prints the conventions and how they were decided, for GGUF and HF alike", async () => {
    const gguf = join(tmp, "i.gguf");
    expect(
      (await cli("convert", "data/fixtures/hf-bitlinear", "--to", "gguf", "--out", gguf, "--to-i2s-layout", "arm"))
        .status,
    ).toBe(0);
    const r = await cli("inspect", gguf, "--json");
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.conventions.rope.convention).toBe("rotate-half");
    expect(j.conventions.i2s.layout).toBe("arm"); // recorded by the writer (bitnet_lab.i2s_layout)
    expect(j.conventions.i2s.decidedBy).toMatch(/recorded in the file/);
    const bad = await cli("inspect", gguf, "--i2s-layout", "sideways");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--i2s-layout must be x86, arm, rows/);
    const arm = JSON.parse(
      (await cli("convert", gguf, "--to", "hf", "--out", join(tmp, "x"), "--i2s-layout", "arm")).status === 0
        ? (await cli("inspect", join(tmp, "x"), "--json")).stdout
        : "{}",
    );
    expect(arm.conventions.scale.convention).toBe("divide");
    const t = await cli("inspect", "data/fixtures/hf-packed");
    expect(t.stdout).toMatch(/weight_scale MULTIPLIES: config.json quantization_config.linear_class = "autobitlinear"/);
    expect(t.stdout).toMatch(/RoPE rotate-half/);
  });

  it("refuses what it cannot do with usage errors", async () => {
    expect((await cli("convert", "data/fixtures/hf-packed", "--to", "onnx", "--out", join(tmp, "z"))).stderr).toMatch(
      /--to must be gguf or hf/,
    );
    expect((await cli("convert", "data/fixtures/hf-packed", "--to", "gguf")).stderr).toMatch(/--out PATH is required/);
    expect((await cli("convert", "data/models/b1.58", "--to", "gguf", "--out", join(tmp, "y.gguf"))).stderr).toMatch(
      /needs sub-norms and a ReLU² FFN/,
    );
  });
});
