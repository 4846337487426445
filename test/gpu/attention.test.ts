import {describe, expect, it} from "vitest";
import {attentionWGSL} from "../../src/gpu/kernels/attention.js";
import {attnPartStride, hiLoTable, kvCacheBuffers, kvLayout, type KVFormat} from "../../src/gpu/kernels/kv-cache.js";
import {ropeKVWGSL} from "../../src/gpu/kernels/rope-kv.js";
import {normQuantWGSL} from "../../src/gpu/kernels/normquant.js";
import {attention, rope, ropeTables} from "../../src/lib/attention.js";
import {bindGroup, pipelineChecked, readBuffer, storageBuffer, uniformBuffer} from "../../src/gpu/gpu.js";
import {f16BitsToF32, f32ToF16Bits} from "../../src/gpu/kernels/linear.js";
import {dequantizeKV, quantizeKV} from "../../src/lib/quant.js";
import {testDevice} from "./harness.js";
import {Rng} from "../../src/lib/rng.js";

/** Uniform [0, 1) numbers from the library's seeded generator. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform();
}

const H = 4;
const KV = 2;
const d = 16;
const G = H / KV;
const qkvN = (H + 2 * KV) * d;
const theta = 10000;

/** Reads back vector (j, g) of a cache buffer as the kernel stores it, dequantized. */
function readVector(words: Uint32Array, meta: Float32Array, f: KVFormat, j: number, g: number): Float64Array {
  const lay = kvLayout(f, d, KV);
  const bits = j === 0 ? f.bosBits : f.bits;
  const base = lay.offset(j, g);
  const out = new Float64Array(d);
  for (let e = 0; e < d; e++) {
    if (bits >= 16)
      out[e] =
        f.store16 === "f32"
          ? new Float32Array(words.buffer, (base + e) * 4, 1)[0]
          : f16BitsToF32((words[base + (e >> 1)] >>> (16 * (e & 1))) & 0xffff);
    else {
      const bit = e * bits;
      let c = words[base + (bit >> 5)] >>> (bit & 31);
      if ((bit & 31) + bits > 32) c |= words[base + (bit >> 5) + 1] << (32 - (bit & 31));
      c &= (1 << bits) - 1;
      out[e] = Math.fround(meta[2 * (j * KV + g)] + Math.fround(c * meta[2 * (j * KV + g) + 1]));
    }
  }
  return out;
}

describe("RoPE + KV cache + split attention vs float64", () => {
  const formats: KVFormat[] = [
    {bits: 16, bosBits: 16, store16: "f32"},
    {bits: 16, bosBits: 16, store16: "f16"},
    {bits: 8, bosBits: 8, store16: "f32"},
    {bits: 4, bosBits: 16, store16: "f32"},
    {bits: 3, bosBits: 4, store16: "f32"},
  ];
  for (const f of formats) {
    it(`KV ${f.bits}-bit (BOS ${f.bosBits}, ${f.store16}): codes equal quantizeKV, attention equals softmax(qKᵀ/√d)V`, async () => {
      const device = await testDevice();
      const r = rng(f.bits * 10 + f.bosBits);
      const S = 70; // > 64: two 64-position steps inside a chunk, and several chunks
      const qkv = Float32Array.from({length: S * qkvN}, () => (r() - 0.5) * 3);
      const half = d / 2;
      const cos = new Float32Array(S * half);
      const sin = new Float32Array(S * half);
      for (let p = 0; p < S; p++)
        for (let i = 0; i < half; i++) {
          const a = p / Math.pow(theta, (2 * i) / d);
          cos[p * half + i] = Math.cos(a);
          sin[p * half + i] = Math.sin(a);
        }
      const lay = kvLayout(f, d, KV);
      const qkvB = storageBuffer(device, qkv);
      const {K, V, Km, Vm} = kvCacheBuffers(f, d, KV, S, (bytes) => storageBuffer(device, bytes));
      const st = uniformBuffer(device, new Uint32Array([S, 0, 1, 64, 0, 0, 0, 0]));
      const rope = await pipelineChecked(device, ropeKVWGSL({H, KV, d, kv: f, WG: 128}), "rope");
      const attn = await pipelineChecked(device, attentionWGSL({H, KV, d, kv: f}), "attn");
      let enc = device.createCommandEncoder();
      let pass = enc.beginComputePass();
      pass.setPipeline(rope);
      pass.setBindGroup(
        0,
        bindGroup(device, rope, [
          uniformBuffer(device, new Uint32Array([qkvN, 0, 0, 0])),
          qkvB,
          storageBuffer(device, cos),
          storageBuffer(device, sin),
          K,
          V,
          Km,
          Vm,
          st,
        ]),
      );
      pass.dispatchWorkgroups(S);
      pass.end();
      device.queue.submit([enc.finish()]);
      const rot = new Float32Array(await readBuffer(device, qkvB, S * qkvN * 4));
      // RoPE against float64 (rotate_half pairs (i, i + d/2))
      for (let p = 0; p < S; p++)
        for (let h = 0; h < H + KV; h++)
          for (let i = 0; i < half; i++) {
            const o = p * qkvN + h * d + i;
            const a = p / Math.pow(theta, (2 * i) / d);
            const want1 = qkv[o] * Math.cos(a) - qkv[o + half] * Math.sin(a);
            const want2 = qkv[o + half] * Math.cos(a) + qkv[o] * Math.sin(a);
            expect(Math.abs(rot[o] - want1)).toBeLessThanOrEqual(2e-6);
            expect(Math.abs(rot[o + half] - want2)).toBeLessThanOrEqual(2e-6);
          }
      const Kw = new Uint32Array(await readBuffer(device, K, lay.total(S) * 4));
      const Vw = new Uint32Array(await readBuffer(device, V, lay.total(S) * 4));
      const Kmf = new Float32Array(await readBuffer(device, Km, S * KV * 8));
      const Vmf = new Float32Array(await readBuffer(device, Vm, S * KV * 8));
      // the cache holds exactly what quantizeKV makes of the rotated vectors (codes and scales)
      const cacheK: Float64Array[][] = [];
      const cacheV: Float64Array[][] = [];
      for (let j = 0; j < S; j++) {
        cacheK.push([]);
        cacheV.push([]);
        const bits = j === 0 ? f.bosBits : f.bits;
        for (let g = 0; g < KV; g++) {
          for (const [isV, words, meta, cache] of [
            [false, Kw, Kmf, cacheK],
            [true, Vw, Vmf, cacheV],
          ] as const) {
            const src = rot.subarray(
              j * qkvN + (H + (isV ? KV : 0) + g) * d,
              j * qkvN + (H + (isV ? KV : 0) + g + 1) * d,
            );
            const got = readVector(words, meta, f, j, g);
            let want: ArrayLike<number>;
            if (bits >= 16) want = f.store16 === "f32" ? src : Array.from(src, (x) => f16BitsToF32(f32ToF16Bits(x)));
            else {
              const q = quantizeKV(src, d, bits);
              expect(meta[2 * (j * KV + g)]).toBe(q.min[0]);
              expect(meta[2 * (j * KV + g) + 1]).toBe(q.step[0]);
              want = dequantizeKV(q);
            }
            for (let e = 0; e < d; e++)
              if (Math.abs(got[e] - want[e]) > 1e-6 * Math.max(1, Math.abs(want[e])))
                throw new Error(`${isV ? "V" : "K"} j=${j} g=${g} e=${e}: ${got[e]} vs ${want[e]}`);
            cache[j].push(got);
          }
        }
      }
      // attention: prefill (all S tokens, several chunk sizes) and a decode step (last token alone)
      const cases = [
        {P: 0, M: S, nC: 1, chunk: 128},
        {P: 0, M: S, nC: 2, chunk: 64},
        {P: S - 1, M: 1, nC: 2, chunk: 64},
      ];
      for (const cs of cases) {
        const part = storageBuffer(device, cs.M * H * cs.nC * (d + 2) * 4);
        const qIn = cs.M === S ? qkvB : storageBuffer(device, rot.subarray((S - 1) * qkvN, S * qkvN));
        enc = device.createCommandEncoder();
        pass = enc.beginComputePass();
        pass.setPipeline(attn);
        const stc = uniformBuffer(device, new Uint32Array([cs.M, cs.P, cs.nC, cs.chunk, 0, 0, 0, 0]));
        pass.setBindGroup(
          0,
          bindGroup(device, attn, [
            uniformBuffer(
              device,
              new Uint32Array([qkvN, new Uint32Array(new Float32Array([1 / Math.sqrt(d)]).buffer)[0]]),
            ),
            qIn,
            K,
            V,
            Km,
            Vm,
            part,
            stc,
          ]),
        );
        pass.dispatchWorkgroups(cs.nC, KV, cs.M);
        pass.end();
        device.queue.submit([enc.finish()]);
        const pr = new Float32Array(await readBuffer(device, part, cs.M * H * cs.nC * (d + 2) * 4));
        for (let m = 0; m < cs.M; m++) {
          const pos = cs.P + m;
          for (let h = 0; h < H; h++) {
            const g = Math.floor(h / G);
            const q = rot.subarray(pos * qkvN + h * d, pos * qkvN + (h + 1) * d);
            const s = Array.from({length: pos + 1}, (_, j) => {
              let a = 0;
              for (let e = 0; e < d; e++) a += q[e] * cacheK[j][g][e];
              return a / Math.sqrt(d);
            });
            const mx = Math.max(...s);
            const w = s.map((x) => Math.exp(x - mx));
            const z = w.reduce((a, b) => a + b, 0);
            // combine the GPU's chunk partials
            let gm = -Infinity;
            for (let c = 0; c < cs.nC; c++) gm = Math.max(gm, pr[((m * H + h) * cs.nC + c) * (d + 2)]);
            let den = 0;
            for (let c = 0; c < cs.nC; c++) {
              const b = ((m * H + h) * cs.nC + c) * (d + 2);
              den += Math.exp(pr[b] - gm) * pr[b + 1];
            }
            for (let e = 0; e < d; e++) {
              let want = 0;
              for (let j = 0; j <= pos; j++) want += (w[j] / z) * cacheV[j][g][e];
              let got = 0;
              for (let c = 0; c < cs.nC; c++) {
                const b = ((m * H + h) * cs.nC + c) * (d + 2);
                got += Math.exp(pr[b] - gm) * pr[b + 2 + e];
              }
              got /= den;
              if (Math.abs(got - want) > 1e-5)
                throw new Error(`case ${JSON.stringify(cs)} m=${m} h=${h} e=${e}: ${got} vs ${want}`);
            }
          }
        }
      }
    });
  }
});

// The exact path (Plan.exactAttention, a4.8): RoPE, scores, softmax · V and the split combine in float-float give the
// float64 reference's f32 bits (src/lib/model.ts rope + attention over the dequantized cache), whatever the chunking.
describe("exact attention (float-float) equals the float64 reference's f32 bits", () => {
  const shapes: {H: number; KV: number; d: number; f: KVFormat; S: number}[] = [
    {H: 4, KV: 2, d: 16, f: {bits: 3, bosBits: 4, store16: "f32"}, S: 70},
    {H: 3, KV: 1, d: 10, f: {bits: 4, bosBits: 16, store16: "f32"}, S: 41},
    {H: 6, KV: 3, d: 6, f: {bits: 8, bosBits: 8, store16: "f32"}, S: 67},
    {H: 2, KV: 2, d: 32, f: {bits: 16, bosBits: 16, store16: "f32"}, S: 33},
  ];
  for (const sh of shapes) {
    const {H, KV, d, f, S} = sh;
    it(`H=${H} KV=${KV} d=${d}, KV ${f.bits}-bit (BOS ${f.bosBits}), S=${S}: RoPE, cache and the combined output bit for bit, several chunkings`, async () => {
      const device = await testDevice();
      const r = rng(1000 + H * 100 + d);
      const qkvN = (H + 2 * KV) * d;
      const half = d / 2;
      // queries and keys with a wide spread (peaked and flat softmax rows), values with outliers
      const qkv = Float32Array.from({length: S * qkvN}, (_, i) => {
        const c = i % qkvN;
        const x = r() - 0.5;
        return c < (H + KV) * d ? x * 8 : r() < 0.03 ? x * 40 : x * 2;
      });
      const invFreq = Float64Array.from({length: half}, (_, i) => 1 / Math.pow(theta, (2 * i) / d));
      const tab = ropeTables(invFreq, 0, S);
      // reference: rope in float64 → f32, quantizeKV per vector (BOS bits at position 0), attention in float64
      const q = new Float32Array(S * H * d);
      const k = new Float32Array(S * KV * d);
      const v = new Float32Array(S * KV * d);
      for (let p = 0; p < S; p++) {
        q.set(qkv.subarray(p * qkvN, p * qkvN + H * d), p * H * d);
        k.set(qkv.subarray(p * qkvN + H * d, p * qkvN + (H + KV) * d), p * KV * d);
        v.set(qkv.subarray(p * qkvN + (H + KV) * d, (p + 1) * qkvN), p * KV * d);
      }
      rope(q, S, H, d, tab.cos, tab.sin);
      rope(k, S, KV, d, tab.cos, tab.sin);
      for (const arr of [k, v])
        for (let p = 0; p < S; p++) {
          const bits = p === 0 ? f.bosBits : f.bits;
          if (bits >= 16) continue;
          for (let g = 0; g < KV; g++) {
            const row = arr.subarray((p * KV + g) * d, (p * KV + g + 1) * d);
            row.set(dequantizeKV(quantizeKV(row, d, bits)));
          }
        }
      const want = attention(q, k, v, S, 0, H, KV, d, false).out;

      const qkvB = storageBuffer(device, qkv);
      const {K, V, Km, Vm} = kvCacheBuffers(f, d, KV, S, (bytes) => storageBuffer(device, bytes));
      const ropeP = await pipelineChecked(device, ropeKVWGSL({H, KV, d, kv: f, WG: 128, exact: true}), "rope-exact");
      const attn = await pipelineChecked(device, attentionWGSL({H, KV, d, kv: f, exact: true}), "attn-exact");
      const n = H * d;
      const comb = await pipelineChecked(
        device,
        normQuantWGSL({
          n,
          src: "attn",
          H,
          d,
          attnFF: true,
          norm: false,
          hadamard: false,
          quant: "none",
          inspect: false,
          sub: 0,
          WG: 64,
        }),
        "combine-exact",
      );
      let enc = device.createCommandEncoder();
      let pass = enc.beginComputePass();
      pass.setPipeline(ropeP);
      pass.setBindGroup(
        0,
        bindGroup(device, ropeP, [
          uniformBuffer(device, new Uint32Array([qkvN, 0, 0, 0])),
          qkvB,
          storageBuffer(device, hiLoTable(tab.cos)),
          storageBuffer(device, hiLoTable(tab.sin)),
          K,
          V,
          Km,
          Vm,
          uniformBuffer(device, new Uint32Array([S, 0, 1, 64, 0, 0, 0, 0])),
        ]),
      );
      pass.dispatchWorkgroups(S);
      pass.end();
      device.queue.submit([enc.finish()]);
      const rot = new Float32Array(await readBuffer(device, qkvB, S * qkvN * 4));
      let bad = 0;
      for (let p = 0; p < S; p++)
        for (let i = 0; i < H * d; i++)
          if (rot[p * qkvN + i] !== q[p * H * d + i] && bad++ < 3)
            console.error(`q p=${p} i=${i}: ${rot[p * qkvN + i]} vs ${q[p * H * d + i]}`);
      expect(bad, "rotated queries equal the reference's f32 bits").toBe(0);

      // prefill (all S tokens) and a decode step (the last token alone), chunks of 64 (as the engine), and odd ones
      const cases = [
        {P: 0, M: S, chunk: 64},
        {P: 0, M: S, chunk: 7},
        {P: 0, M: S, chunk: 24},
        {P: S - 1, M: 1, chunk: 64},
        {P: S - 1, M: 1, chunk: 5},
      ];
      const stride = attnPartStride(d, true);
      for (const cs of cases) {
        const nC = Math.ceil(S / cs.chunk);
        const part = storageBuffer(device, cs.M * H * nC * stride * 4);
        const out = storageBuffer(device, cs.M * n * 4);
        const qIn = cs.M === S ? qkvB : storageBuffer(device, rot.subarray((S - 1) * qkvN, S * qkvN));
        const stc = uniformBuffer(device, new Uint32Array([cs.M, cs.P, nC, cs.chunk, 0, 0, 0, 0]));
        enc = device.createCommandEncoder();
        pass = enc.beginComputePass();
        pass.setPipeline(attn);
        pass.setBindGroup(
          0,
          bindGroup(device, attn, [
            uniformBuffer(
              device,
              new Uint32Array([qkvN, new Uint32Array(new Float32Array([1 / Math.sqrt(d)]).buffer)[0], 0, 0]),
            ),
            qIn,
            K,
            V,
            Km,
            Vm,
            part,
            stc,
          ]),
        );
        pass.dispatchWorkgroups(nC, KV, cs.M);
        pass.setPipeline(comb);
        pass.setBindGroup(
          0,
          bindGroup(device, comb, [
            uniformBuffer(device, new Uint32Array([0, n, 0, 0])),
            part,
            storageBuffer(device, new Float32Array(n).fill(1)),
            out,
            stc,
          ]),
        );
        pass.dispatchWorkgroups(cs.M);
        pass.end();
        device.queue.submit([enc.finish()]);
        const got = new Float32Array(await readBuffer(device, out, cs.M * n * 4));
        let diff = 0;
        let worst = 0;
        for (let m = 0; m < cs.M; m++)
          for (let i = 0; i < n; i++) {
            const w = want[(cs.P + m) * n + i];
            const g = got[m * n + i];
            if (g !== w) {
              worst = Math.max(worst, Math.abs(g - w));
              if (diff++ < 3) console.error(`case ${JSON.stringify(cs)} m=${m} i=${i}: ${g} vs ${w}`);
            }
          }
        expect({case: cs, differ: diff, maxAbs: worst}).toEqual({case: cs, differ: 0, maxAbs: 0});
      }
    });
  }
});
