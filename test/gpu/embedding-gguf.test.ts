import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import {embedTokens} from "../../src/lib/model.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {pathFileSet} from "../../src/node/files.js";
import {testDevice} from "./harness.js";

// BitNet-embedding's GGUF (Microsoft's converter, scripts/embedding_gguf_fixture.py) on the engine: the vector the
// GPU pools from the file's weights against the CPU reference and transformers' on the HF folder it came from.
const FX = "data/fixtures";

describe("WebGPU engine: BitNet-embedding GGUF (arch qwen3)", () => {
  it("fam-qwen3-embedding.i2_s.gguf: GPU embedding vs CPU and transformers", async () => {
    const device = await testDevice();
    const w = await (await openCheckpoint(await pathFileSet(`${FX}/fam-qwen3-embedding.i2_s.gguf`))).load();
    const ref = JSON.parse(readFileSync(`${FX}/fam-qwen3-embedding/logits.json`, "utf8")) as {
      sequences: number[][];
      embeddings: number[][];
    };
    const gpu = await createWebGPUSession(w, {device});
    let worstCpu = 0,
      worstRef = 0;
    for (const [s, seq] of ref.sequences.entries()) {
      const g = await gpu.embedding(seq);
      const cpu = embedTokens(w, seq);
      for (let i = 0; i < g.length; i++) {
        worstCpu = Math.max(worstCpu, Math.abs(g[i] - cpu[i]));
        worstRef = Math.max(worstRef, Math.abs(g[i] - ref.embeddings[s][i]));
      }
    }
    console.log(
      `fam-qwen3-embedding.i2_s.gguf on WebGPU: vs CPU max |Δ| ${worstCpu.toExponential(2)}, vs transformers ${worstRef.toExponential(2)}`,
    );
    // as test/gpu/embedding.test.ts: f32 sums leave ~1e-6; one INT8 code flipped would move a component ~1e-3
    expect(worstCpu).toBeLessThan(1e-4);
    expect(worstRef).toBeLessThan(1e-4);
    gpu.dispose();
  });
});
