import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {createWebGPUSession, makePlan} from "../../src/gpu/engine.js";
import {createPooler} from "../../src/gpu/engine/pooling.js";
import {BufferPool} from "../../src/gpu/engine/upload.js";
import {embedTokens} from "../../src/lib/model.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {pathFileSet} from "../../src/node/files.js";
import {embedPair} from "../../src/app/embed-pair.js";
import {wrapDevice} from "../../src/gpu/device.js";
import {testDevice} from "./harness.js";

// The engine's embedding (WebGPUSession.embedding: every layer, the final norm, then pooling + L2 on the GPU,
// engine/pooling.ts) against the CPU reference's embedTokens and transformers' normalize(last_hidden_state[:, -1])
// on the Qwen3-body embedding fixture (scripts/family_fixtures.py), in one block and split over several blocks.
const FX = "data/fixtures/fam-qwen3-embedding";

function compare(a: Float32Array, b: ArrayLike<number>): {max: number; cos: number} {
  expect(a.length).toBe(b.length);
  let max = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    max = Math.max(max, Math.abs(a[i] - b[i]));
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return {max, cos: dot / Math.sqrt(na * nb)};
}

describe("WebGPU engine: an embedding model's vector", () => {
  it("fam-qwen3-embedding: GPU embedding vs the CPU reference and transformers (unit length, max |Δ|, cosine)", async () => {
    const device = await testDevice();
    const w = await (await openCheckpoint(await pathFileSet(FX))).load();
    const ref = JSON.parse(readFileSync(`${FX}/logits.json`, "utf8")) as {
      sequences: number[][];
      embeddings: number[][];
    };
    const gpu = await createWebGPUSession(w, {device});
    // maxBlock 4: the 10-token prompt runs in three blocks, only the last one is pooled
    const blocks = await createWebGPUSession(w, {device, maxBlock: 4});
    const seqs = [...ref.sequences, [1, 9, 400, 17]];
    for (const [s, seq] of seqs.entries()) {
      const cpu = embedTokens(w, seq);
      const g = await gpu.embedding(seq);
      const gb = await blocks.embedding(seq);
      const vsCpu = compare(g, cpu);
      const vsBlocks = compare(gb, cpu);
      let n = 0;
      for (const v of g) n += v * v;
      console.log(
        `fam-qwen3-embedding seq ${s} (${seq.length} tokens): GPU vs CPU max |Δ| ${vsCpu.max.toExponential(2)}, cos ${vsCpu.cos.toFixed(9)}; in blocks of 4 max |Δ| ${vsBlocks.max.toExponential(2)}; ‖v‖ ${Math.sqrt(n).toFixed(7)}`,
      );
      // as the logits (test/gpu/families.test.ts): f32 sums vs float64 leave ~1e-6; an INT8 code flipped at a
      // rounding edge would move a component by ~1e-3
      expect(vsCpu.max).toBeLessThan(1e-4);
      expect(vsCpu.cos).toBeGreaterThan(1 - 1e-7);
      expect(vsBlocks.max).toBeLessThan(1e-4);
      expect(Math.abs(Math.sqrt(n) - 1)).toBeLessThan(1e-5);
      if (s < ref.embeddings.length) expect(compare(g, ref.embeddings[s]).max).toBeLessThan(1e-4);
    }
    // the vector is the session's whole sequence: a second call starts again (same tokens, same vector)
    expect(compare(await gpu.embedding(seqs[0]), await gpu.embedding(seqs[0])).max).toBe(0);
    gpu.dispose();
    blocks.dispose();
  });

  it("embedPair (the Open page): WebGPU with the float-weight comparison; the CPU reference when told or when the GPU fails, saying why", async () => {
    const device = await testDevice();
    const opened = await openCheckpoint(await pathFileSet(FX));
    const ref = JSON.parse(readFileSync(`${FX}/logits.json`, "utf8")) as {sequences: number[][]};
    const ids: [number[], number[]] = [ref.sequences[0], ref.sequences[1]];
    const w = await opened.load();
    const f = await opened.loadFloat!();
    expect(f.config.bitnet_variant).toBe("fp");
    const r = await embedPair(opened, ids, {gpu: async () => wrapDevice(device)});
    expect(r.backend).toBe("WebGPU");
    if (!("vectors" in r.float)) throw new Error(r.float.unavailable);
    expect(r.float.backend).toBe("WebGPU");
    for (const k of [0, 1]) {
      expect(compare(r.vectors[k], embedTokens(w, ids[k])).max).toBeLessThan(1e-4);
      // the engine's dense f32 path with per-projection and QK norms, against the CPU reference's fp variant
      expect(compare(r.float.vectors[k], embedTokens(f, ids[k])).max).toBeLessThan(1e-4);
      // and the float model is a different model: what ternary costs is visible
      expect(compare(r.vectors[k], r.float.vectors[k]).cos).toBeLessThan(0.99);
    }
    const told = await embedPair(opened, ids, {gpu: {unavailable: "no WebGPU on this page"}});
    expect(told.backend).toBe("the CPU reference (no WebGPU on this page)");
    expect(compare(told.vectors[1], embedTokens(w, ids[1])).max).toBe(0);
    const failed = await embedPair(opened, ids, {gpu: () => Promise.reject(new Error("adapter gone"))});
    expect(failed.backend).toBe("the CPU reference (the WebGPU pass failed: adapter gone)");
    expect(compare(failed.vectors[0], r.vectors[0]).max).toBeLessThan(1e-4);
  });

  it("a causal LM has no embedding: refused by name", async () => {
    const device = await testDevice();
    const opened = await openCheckpoint(await pathFileSet("data/fixtures/fam-llama-autobitlinear"));
    // packed codes: no float weights to compare with (only latent files offer them)
    expect(opened.loadFloat).toBeUndefined();
    const w = await opened.load();
    const xin = device.createBuffer({size: 16, usage: GPUBufferUsage.STORAGE});
    await expect(createPooler(device, new BufferPool(device), makePlan(w.config, "f32"), xin)).rejects.toThrow(
      /no pooling .*causal LM, use append\(\) for logits/,
    );
    xin.destroy();
  });
});
