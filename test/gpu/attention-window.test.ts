import {describe, expect, it} from "vitest";
import {attentionWGSL, attentionWideOK} from "../../src/gpu/kernels/attention.js";
import {attnPartStride, hiLoTable, kvCacheBuffers, type KVFormat} from "../../src/gpu/kernels/kv-cache.js";
import {ropeKVWGSL} from "../../src/gpu/kernels/rope-kv.js";
import {normQuantWGSL} from "../../src/gpu/kernels/normquant.js";
import {attention, rope, ropeTables} from "../../src/lib/attention.js";
import {bindGroup, pipelineChecked, readBuffer, storageBuffer, uniformBuffer} from "../../src/gpu/gpu.js";
import {f16BitsToF32, f32ToF16Bits} from "../../src/gpu/kernels/linear.js";
import {dequantizeKV, quantizeKV} from "../../src/lib/quant.js";
import {Rng} from "../../src/lib/rng.js";
import {testDevice} from "./harness.js";

// Sliding-window layers (architecture.ts attention.window: keys q − W + 1 … q): every split-attention kernel variant
// with P.window = W, then the engine's combine, against model.ts attention over the float64-reference cache.
// The cache is written by the exact RoPE kernel, so it holds the reference's bits; the exact kernel must then give
// the reference's f32 bits, the others agree to float32 rounding.
const S = 77;
const WINDOWS = [1, 6, 70, S, 90]; // 70: a window over two 64-position steps; 90 > S: every key
const CASES = [
  {P: 0, M: S, chunk: 128}, // prefill, one chunk of two 64-position steps
  {P: 58, M: S - 58, chunk: 24}, // prefill blocks after earlier positions: chunk boundaries inside the window,
  {P: 66, M: S - 66, chunk: 11}, // chunks wholly before it
  {P: S - 1, M: 1, chunk: 64}, // decode
  {P: S - 1, M: 1, chunk: 3}, // decode, many empty chunks
];
const variants: {name: string; H: number; KV: number; d: number; f: KVFormat; exact?: boolean}[] = [
  {name: "wide (16-bit f32)", H: 4, KV: 2, d: 16, f: {bits: 16, bosBits: 16, store16: "f32"}},
  {name: "16-bit f16", H: 4, KV: 2, d: 16, f: {bits: 16, bosBits: 16, store16: "f16"}},
  {name: "generic (4-bit, BOS 16, d 10)", H: 3, KV: 1, d: 10, f: {bits: 4, bosBits: 16, store16: "f32"}},
  {name: "exact (3-bit, BOS 4)", H: 6, KV: 3, d: 6, f: {bits: 3, bosBits: 4, store16: "f32"}, exact: true},
];

describe("sliding-window attention vs float64", () => {
  for (const {name, H, KV, d, f, exact} of variants) {
    it(`${name}: H=${H} KV=${KV} d=${d}, S=${S}, windows ${WINDOWS.join("/")}, prefill and decode, odd chunks`, async () => {
      expect(attentionWideOK({H, KV, d, kv: f})).toBe(name.startsWith("wide"));
      const device = await testDevice();
      const r = new Rng(7000 + H * 100 + d);
      const qkvN = (H + 2 * KV) * d;
      const n = H * d;
      const qkv = Float32Array.from({length: S * qkvN}, () => (r.uniform() - 0.5) * 4);
      const tab = ropeTables(
        Float64Array.from({length: d / 2}, (_, i) => 1 / 10000 ** ((2 * i) / d)),
        0,
        S,
      );
      // reference cache: RoPE in float64 → f32, then what the cache stores (f16, or quantizeKV with BOS bits)
      const q = new Float32Array(S * n);
      const k = new Float32Array(S * KV * d);
      const v = new Float32Array(S * KV * d);
      for (let p = 0; p < S; p++) {
        q.set(qkv.subarray(p * qkvN, p * qkvN + n), p * n);
        k.set(qkv.subarray(p * qkvN + n, p * qkvN + n + KV * d), p * KV * d);
        v.set(qkv.subarray(p * qkvN + n + KV * d, (p + 1) * qkvN), p * KV * d);
      }
      rope(q, S, H, d, tab.cos, tab.sin);
      rope(k, S, KV, d, tab.cos, tab.sin);
      for (const arr of [k, v])
        for (let i = 0; i < S * KV; i++) {
          const row = arr.subarray(i * d, (i + 1) * d);
          const bits = i < KV ? f.bosBits : f.bits;
          if (bits < 16) row.set(dequantizeKV(quantizeKV(row, d, bits)));
          else if (f.store16 === "f16") row.set(Array.from(row, (x) => f16BitsToF32(f32ToF16Bits(x))));
        }

      const qkvB = storageBuffer(device, qkv);
      const {K, V, Km, Vm} = kvCacheBuffers(f, d, KV, S, (bytes) => storageBuffer(device, bytes));
      const ropeP = await pipelineChecked(device, ropeKVWGSL({H, KV, d, kv: f, WG: 64, exact: true}), "rope");
      const attn = await pipelineChecked(device, attentionWGSL({H, KV, d, kv: f, exact}), "attn");
      const comb = await pipelineChecked(
        device,
        normQuantWGSL({
          n,
          src: "attn",
          H,
          d,
          attnFF: exact,
          norm: false,
          hadamard: false,
          quant: "none",
          inspect: false,
          sub: 0,
          WG: 64,
        }),
        "combine",
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
          ...[K, V, Km, Vm],
          uniformBuffer(device, new Uint32Array([S, 0, 1, 64, 0, 0, 0, 0])),
        ]),
      );
      pass.dispatchWorkgroups(S);
      pass.end();
      device.queue.submit([enc.finish()]);
      const rot = new Float32Array(await readBuffer(device, qkvB, S * qkvN * 4));
      const scale = new Uint32Array(new Float32Array([1 / Math.sqrt(d)]).buffer)[0];
      const stride = attnPartStride(d, exact);

      for (const cs of CASES) {
        const nC = Math.ceil(S / cs.chunk);
        const stc = uniformBuffer(device, new Uint32Array([cs.M, cs.P, nC, cs.chunk, 0, 0, 0, 0]));
        const qIn = storageBuffer(device, rot.subarray(cs.P * qkvN));
        const run = async (W: number) => {
          const part = storageBuffer(device, cs.M * H * nC * stride * 4);
          const out = storageBuffer(device, cs.M * n * 4);
          enc = device.createCommandEncoder();
          pass = enc.beginComputePass();
          pass.setPipeline(attn);
          const Pu = uniformBuffer(device, new Uint32Array([qkvN, scale, W, 0]));
          pass.setBindGroup(0, bindGroup(device, attn, [Pu, qIn, K, V, Km, Vm, part, stc]));
          pass.dispatchWorkgroups(nC, KV, cs.M);
          pass.setPipeline(comb);
          const ones = storageBuffer(device, new Float32Array(n).fill(1));
          pass.setBindGroup(
            0,
            bindGroup(device, comb, [uniformBuffer(device, new Uint32Array([0, n, 0, 0])), part, ones, out, stc]),
          );
          pass.dispatchWorkgroups(cs.M);
          pass.end();
          device.queue.submit([enc.finish()]);
          return new Float32Array(await readBuffer(device, out, cs.M * n * 4));
        };
        const none = await run(0);
        for (const W of WINDOWS) {
          const got = await run(W);
          const want = attention(q, k, v, S, 0, H, KV, d, false, 1 / Math.sqrt(d), W).out.subarray(cs.P * n);
          let worst = 0;
          let differ = 0;
          for (let i = 0; i < got.length; i++) {
            worst = Math.max(worst, Math.abs(got[i] - want[i]));
            if (got[i] !== want[i]) differ++;
          }
          const at = {W, ...cs};
          if (exact) expect({at, differ}).toEqual({at, differ: 0});
          else expect(worst, JSON.stringify(at)).toBeLessThan(2e-6);
          // a window holding every key (W ≥ pos + 1 for every query) is keyStart 0: the unwindowed kernel's bits
          if (W >= S) expect(got).toEqual(none);
          else expect(got).not.toEqual(none);
        }
      }
    });
  }
});
