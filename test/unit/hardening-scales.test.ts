// Issue 22.5: finite but absurd scales. Non-finite logits are an error on every path that reads logits (the
// CPU session, the engine's readback — generate/logits/verify and the pages go through one of them), naming
// the position; the inspector flags, by tensor name, a scale far from the projections' median.
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {runCli} from "../../scripts/probe.js";
import {NonFiniteLogitsError, checkLogits} from "../../src/lib/backend.js";
import {defaultConfig} from "../../src/lib/config.js";
import {parseGGUF} from "../../src/lib/formats/gguf.js";
import {scaleOutliers} from "../../src/lib/formats/scale-range.js";
import {memorySource} from "../../src/lib/formats/source.js";
import {generate} from "../../src/lib/generate.js";
import {randomWeights} from "../../src/lib/init.js";
import {createCpuSession} from "../../src/lib/model.js";
import {parseSafetensorsHeader} from "../../src/lib/safetensors.js";

const tmp = mkdtempSync(join(tmpdir(), "bl-scales-"));
afterAll(() => rmSync(tmp, {recursive: true, force: true}));

/** Rewrites 4 (or 2) bytes of a safetensors tensor's data at element `i`. */
function patchSafetensors(file: string, tensor: string, set: (dv: DataView, at: number) => void): void {
  const bytes = new Uint8Array(readFileSync(file));
  const h = parseSafetensorsHeader(bytes);
  const t = h.tensors.find((x) => x.name === tensor)!;
  set(new DataView(bytes.buffer), h.dataOffset + t.begin);
  writeFileSync(file, bytes);
}

describe("absurd scales and non-finite logits (issue 22.5)", () => {
  it("an I2_S scale of 3e38: inspect names the tensor; logits and generate fail naming the position", async () => {
    const gguf = join(tmp, "m.gguf");
    expect((await runCli(["convert", "data/fixtures/hf-packed", "--to", "gguf", "--out", gguf])).code).toBe(0);
    const bytes = new Uint8Array(readFileSync(gguf));
    const h = await parseGGUF(memorySource(bytes));
    const t = h.tensors.find((x) => x.name === "blk.0.ffn_down.weight")!;
    new DataView(bytes.buffer).setFloat32(h.dataOffset + t.offset + t.n / 4, 3e38, true);
    writeFileSync(gguf, bytes);
    const ins = await runCli(["inspect", gguf]);
    expect(ins.code, ins.err).toBe(0);
    expect(ins.out + ins.err).toMatch(/blk\.0\.ffn_down\.weight = 3\.00e\+38 .*the median/);
    const r = await runCli(["logits", gguf, "--tokens", "1,5,9"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/logits at position 0 are not finite .* on the CPU reference/);
  });

  it("a weight_scale of 1e30 (or 1e-30) among normal ones is flagged by name", async () => {
    for (const v of [1e30, 1e-30]) {
      const dir = join(tmp, `ws-${v}`);
      cpSync("data/fixtures/hf-packed", dir, {recursive: true});
      const name = "model.layers.1.self_attn.o_proj.weight_scale";
      const h = parseSafetensorsHeader(new Uint8Array(readFileSync(join(dir, "model.safetensors"))));
      const dt = h.tensors.find((x) => x.name === name)!.dtype;
      patchSafetensors(join(dir, "model.safetensors"), name, (dv, at) =>
        dt === "F32"
          ? dv.setFloat32(at, v, true)
          : dv.setUint16(at, new Uint16Array(new Float32Array([v]).buffer)[1], true),
      );
      const r = await runCli(["inspect", dir]);
      expect(r.out + r.err).toMatch(
        /model\.layers\.1\.self_attn\.o_proj\.weight = \d\.\d\de[+-]\d+ \(\S+× (above|below) the median\)/,
      );
    }
  });

  it("a bf16 projection of 3.4e38: the logits fail (exit 1), never <pad> with exit 0; part of one is flagged", async () => {
    const name = "model.layers.0.mlp.down_proj.weight";
    for (const [n, tag] of [
      [256 * 512, "all"],
      [64, "part"],
    ] as const) {
      const dir = join(tmp, `bf16-${tag}`);
      cpSync("data/fixtures/hf-bf16", dir, {recursive: true});
      patchSafetensors(join(dir, "model.safetensors"), name, (dv, at) => {
        for (let i = 0; i < n; i++) dv.setUint16(at + 2 * i, 0x7f7f, true); // ≈ 3.39e38
      });
      const r = await runCli(["generate", dir, "--prompt", "hi", "--max-tokens", "3"]);
      if (tag === "all") {
        expect(r.code).toBe(1);
        expect(r.err).toMatch(/logits at position \d+ are not finite/);
      } else expect(r.err).toMatch(/model\.layers\.0\.mlp\.down_proj\.weight = \S+ \(\S+× above the median\)/);
    }
  });

  it("generate() on a session whose logits are NaN throws NonFiniteLogitsError at the first position", async () => {
    const w = randomWeights(
      defaultConfig("b1.58", {
        vocab_size: 64,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        max_position_embeddings: 16,
      }),
      1,
    );
    w.float.get("model.norm.weight")!.data[3] = NaN;
    await expect(generate(createCpuSession(w), [1, 2, 3], {maxTokens: 4})).rejects.toThrow(NonFiniteLogitsError);
    await expect(generate(createCpuSession(w), [1, 2, 3], {maxTokens: 4})).rejects.toThrow(/position 2 /);
    expect(() => checkLogits(new Float32Array([0, 1, 2, Infinity]), 2, 7, "x")).toThrow(
      /position 8 .*token id 1: Infinity/,
    );
  });

  it("scaleOutliers: quiet on a normal spread, names outliers and absurd ones", () => {
    const normal: [string, number][] = Array.from({length: 14}, (_, i) => [`p${i}`, 0.5 + i * 0.3]);
    expect(scaleOutliers(normal)).toEqual([]);
    expect(scaleOutliers([...normal, ["bad", 3e38]]).join()).toMatch(/bad = 3\.00e\+38/);
    expect(
      scaleOutliers([
        ["a", 1e9],
        ["b", 1e9],
      ]).join(),
    ).toMatch(/a scale 1\.00e\+9 is outside/);
  });
});
