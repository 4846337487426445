import {readFileSync} from "node:fs";
import {afterEach, describe, expect, it, vi} from "vitest";
import {main} from "../../src/cli/main.js";

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

const FX = "data/fixtures";

describe("the families on the command line", () => {
  it("inspect names the family, how it was decided, what runs, and decodes one stored word (text and --json)", async () => {
    const t = await cli("inspect", `${FX}/fam-llama-legacy`);
    expect(t.status).toBe(0);
    expect(t.stdout).toMatch(/family: Llama-architecture BitNet .*no linear_class: a legacy config/);
    expect(t.stdout).toMatch(/runs as: SiLU GLU, no sub-norms, untied float LM head, head_dim 32/);
    expect(t.stdout).toMatch(
      /one stored word: model\.layers\.0\.self_attn\.q_proj\.weight byte 0 = 0x[0-9a-f]{2} = [01]{8}/,
    );
    const j = await cli("inspect", `${FX}/fam-trilm-unpacked`, "--json");
    const r = JSON.parse(j.stdout) as {
      conventions: {family: {id: string}; pseudo: {axis: string; groups: number}; storedWord: {fields: unknown[]}};
    };
    expect(r.conventions.family.id).toBe("llama-float");
    expect(r.conventions.pseudo).toMatchObject({axis: "rows", groups: 2});
    expect(r.conventions.storedWord.fields).toHaveLength(3); // sign, exponent, mantissa of an F16
    const g = await cli("inspect", `${FX}/fam-gguf-tq2_0.gguf`);
    expect(g.stdout).toMatch(/family: .* GGUF general\.architecture "llama" .* TQ2_0/);
    expect(g.stdout).toMatch(/RoPE interleaved-pairs/);
  });

  it("embed: last-token pooling + L2 and the cosine of two inputs equal transformers'", async () => {
    const ref = JSON.parse(readFileSync(`${FX}/fam-qwen3-embedding/logits.json`, "utf8")) as {
      sequences: number[][];
      embeddings: number[][];
    };
    const r = await cli(
      "embed",
      `${FX}/fam-qwen3-embedding`,
      "--tokens",
      ref.sequences[0].join(","),
      "--compare-tokens",
      ref.sequences[1].join(","),
      "--json",
    );
    expect(r.status).toBe(0);
    const o = JSON.parse(r.stdout) as {embedding: number[]; cosine: number};
    const want = ref.embeddings[0].reduce((s, v, i) => s + v * ref.embeddings[1][i], 0);
    expect(Math.abs(o.cosine - want)).toBeLessThan(1e-6);
    expect(Math.max(...o.embedding.map((v, i) => Math.abs(v - ref.embeddings[0][i])))).toBeLessThan(1e-5);
    const lm = await cli("embed", `${FX}/fam-llama-legacy`, "--tokens", "1,2");
    expect(lm.status).toBe(2);
    expect(lm.stderr).toMatch(/is a causal LM .* embed needs an embedding model/);
  });
});
