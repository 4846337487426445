import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import {bindGroup, pipelineChecked, readBuffer, storageBuffer, uniformBuffer, words} from "../../src/gpu/gpu.js";
import {gluWGSL} from "../../src/gpu/kernels/headnorm.js";
import {normAddWGSL} from "../../src/gpu/kernels/sandwich.js";
import {argmax} from "../../src/lib/generate.js";
import {createCpuSession, embedTokens} from "../../src/lib/model.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {Rng} from "../../src/lib/rng.js";
import {pathFileSet} from "../../src/node/files.js";
import {testDevice} from "./harness.js";

// Gemma3's body on the engine (architecture.ts): the two kernels it adds against float64, then the fixture written by
// transformers' Gemma3ForCausalLM (scripts/family_body_fixtures.py) against the CPU reference and transformers.
async function dispatch(device: GPUDevice, code: string, bufs: GPUBuffer[], grid: [number, number]): Promise<void> {
  const pl = await pipelineChecked(device, code, "t");
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pl);
  pass.setBindGroup(0, bindGroup(device, pl, bufs));
  pass.dispatchWorkgroups(...grid);
  pass.end();
  device.queue.submit([enc.finish()]);
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe("Gemma3 kernels vs float64", () => {
  it("normAdd: h += w ⊙ x / √(mean x² + ε) per token, strided x, odd widths", async () => {
    const device = await testDevice();
    const r = new Rng(31);
    for (const [C, M] of [
      [1, 1],
      [7, 3],
      [97, 2],
      [300, 5],
    ]) {
      const S = 8 * Math.ceil(C / 8) + 3; // a row stride wider than C
      const x = Float32Array.from({length: M * S}, () => 3 * r.normal());
      const w = Float32Array.from({length: C}, () => 1 + 0.2 * r.normal());
      const h = Float32Array.from({length: M * C}, () => r.normal());
      const eps = 1e-6;
      const hb = storageBuffer(device, h);
      await dispatch(
        device,
        normAddWGSL(),
        [uniformBuffer(device, words([C, S, {f: eps}, 0])), storageBuffer(device, x), storageBuffer(device, w), hb],
        [M, 1],
      );
      const got = new Float32Array(await readBuffer(device, hb, M * C * 4));
      const want = new Float64Array(M * C);
      for (let m = 0; m < M; m++) {
        let ss = 0;
        for (let i = 0; i < C; i++) ss += x[m * S + i] ** 2;
        const rr = 1 / Math.sqrt(ss / C + eps);
        for (let i = 0; i < C; i++) want[m * C + i] = h[m * C + i] + w[i] * x[m * S + i] * rr;
      }
      expect(maxAbs(got, want)).toBeLessThan(1e-5 * Math.max(1, ...want.map(Math.abs)));
    }
  });

  it("GELU-tanh GLU: ½g(1 + tanh(√(2/π)(g + 0.044715g³))) · u, finite at large |g|", async () => {
    const device = await testDevice();
    const r = new Rng(32);
    for (const [F, M] of [
      [1, 1],
      [257, 2],
      [160, 3],
    ]) {
      const g = Float32Array.from({length: M * F}, (_, i) => (i % 17 === 0 ? (i % 2 ? 60 : -60) : 4 * r.normal()));
      const u = Float32Array.from({length: M * F}, () => r.normal());
      const ob = storageBuffer(device, M * F * 4);
      await dispatch(
        device,
        gluWGSL("gelu_tanh"),
        [uniformBuffer(device, new Uint32Array([F, 0, 0, 0])), storageBuffer(device, g), storageBuffer(device, u), ob],
        [Math.ceil(F / 256), M],
      );
      const got = new Float32Array(await readBuffer(device, ob, M * F * 4));
      const k = Math.sqrt(2 / Math.PI);
      const want = Array.from(g, (x, i) => 0.5 * x * (1 + Math.tanh(k * (x + 0.044715 * x ** 3))) * u[i]);
      for (let i = 0; i < got.length; i++)
        expect(Math.abs(got[i] - want[i])).toBeLessThan(2e-6 * (1 + Math.abs(want[i])));
    }
  });
});

describe("WebGPU engine on fam-gemma3-embedding (Gemma3 body)", () => {
  it("logits vs the CPU reference and transformers beyond the sliding window (prefill and decode), embedding of the whole sequence", async () => {
    const device = await testDevice();
    const dir = "data/fixtures/fam-gemma3-embedding";
    const w = await (await openCheckpoint(await pathFileSet(dir))).load();
    const ref = JSON.parse(readFileSync(`${dir}/logits.json`, "utf8")) as {sequences: number[][]; logits: number[][][]};
    const W = w.config.bitnet_gemma!.sliding_window; // 4: layers 0 and 1 see keys q − 3 … q, layer 2 all
    const V = w.config.vocab_size;
    const rowsOf = (x: Float32Array) => [...Array(x.length / V).keys()].map((p) => x.subarray(p * V, (p + 1) * V));
    let dCpu = 0,
      dEmb = 0,
      dRef = 0,
      agree = 0,
      n = 0;
    for (const [s, seq] of ref.sequences.entries()) {
      expect(seq.length).toBeGreaterThan(W + 1);
      // a prefill block that crosses the window, then decode steps past it: default chunks, and 3-position chunks
      // (decode chunks wholly before the window, chunk boundaries inside it)
      for (const attnChunk of [undefined, 3]) {
        const gpu = await createWebGPUSession(w, {device, maxLength: 16, attnChunk});
        expect(gpu.maxPositions).toBe(16);
        const cpu = createCpuSession(w);
        const k = W + 1;
        const a = await cpu.append(seq.slice(0, k), {allLogits: true});
        const b = await gpu.append(seq.slice(0, k), {allLogits: true});
        dCpu = Math.max(dCpu, maxAbs(a, b));
        const rows = rowsOf(b);
        for (const t of seq.slice(k)) {
          const lb = await gpu.append([t]);
          dCpu = Math.max(dCpu, maxAbs(await cpu.append([t]), lb));
          rows.push(lb);
        }
        rows.forEach((row, p) => {
          dRef = Math.max(dRef, maxAbs(row, ref.logits[s][p]));
          if (argmax(row) === argmax(Float32Array.from(ref.logits[s][p]))) agree++;
          n++;
        });
        gpu.dispose();
      }
      // the whole sequence in one prefill block, and its embedding (pooling + L2 on the GPU)
      const gpu = await createWebGPUSession(w, {device, maxLength: 16});
      rowsOf(await gpu.append(seq, {allLogits: true})).forEach((row, p) => {
        dRef = Math.max(dRef, maxAbs(row, ref.logits[s][p]));
      });
      dEmb = Math.max(dEmb, maxAbs(await gpu.embedding(seq), embedTokens(w, seq)));
      gpu.dispose();
      // …and in blocks of 3 (prefill blocks that start inside or past the window)
      const ge = await createWebGPUSession(w, {device, maxLength: 16, maxBlock: 3});
      dEmb = Math.max(dEmb, maxAbs(await ge.embedding(seq), embedTokens(w, seq)));
      ge.dispose();
    }
    console.log(
      `fam-gemma3-embedding: GPU vs CPU max |Δ| ${dCpu.toExponential(2)}, GPU vs transformers ${dRef.toExponential(2)}, argmax ${agree}/${n}; embedding GPU vs CPU ${dEmb.toExponential(2)}`,
    );
    expect(dEmb).toBeLessThan(1e-6);
    expect(dCpu).toBeLessThanOrEqual(2e-3);
    expect(dRef).toBeLessThanOrEqual(2e-3);
    expect(agree).toBe(n);
  });
});

describe("WebGPU engine on fam-minicpm-bitcpm (MiniCPM body, BitCPM4's fake-quantized floats)", () => {
  it("prefill logits vs the CPU reference and OpenBMB's modeling_minicpm.py; greedy decode equal to the CPU's", async () => {
    const device = await testDevice();
    const dir = "data/fixtures/fam-minicpm-bitcpm";
    const w = await (await openCheckpoint(await pathFileSet(dir))).load();
    const ref = JSON.parse(readFileSync(`${dir}/logits.json`, "utf8")) as {sequences: number[][]; logits: number[][][]};
    const gpu = await createWebGPUSession(w, {device});
    const cpu = createCpuSession(w);
    const V = w.config.vocab_size;
    const seq = ref.sequences[0];
    const a = await cpu.append(seq, {allLogits: true});
    const b = await gpu.append(seq, {allLogits: true});
    const dCpu = maxAbs(a, b);
    const dRef = maxAbs(b, ref.logits[0].flat());
    let agree = 0;
    for (let p = 0; p < seq.length; p++)
      if (argmax(b.subarray(p * V, (p + 1) * V)) === argmax(Float32Array.from(ref.logits[0][p]))) agree++;
    console.log(
      `fam-minicpm-bitcpm: GPU vs CPU max |Δ| ${dCpu.toExponential(2)}, GPU vs OpenBMB's code ${dRef.toExponential(2)}, argmax ${agree}/${seq.length}`,
    );
    // logits here are ≤ 1.5 (÷ 3 before the head); float weights, no activation codes to flip: f32 sums only
    expect(dCpu).toBeLessThanOrEqual(1e-4);
    expect(dRef).toBeLessThanOrEqual(1e-4);
    expect(agree).toBe(seq.length);
    let tok = argmax(a.subarray((seq.length - 1) * V));
    for (let s = 0; s < 4; s++) {
      const la = await cpu.append([tok]);
      const lb = await gpu.append([tok]);
      expect(maxAbs(la, lb)).toBeLessThanOrEqual(1e-4);
      expect(argmax(lb)).toBe(argmax(la));
      tok = argmax(la);
    }
    gpu.dispose();
  });
});
