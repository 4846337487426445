import {describe, expect, it} from "vitest";
import {subgroupSize} from "../../src/gpu/engine/tune.js";
import {hadamardPlan, hadamardTransform} from "../../src/lib/hadamard.js";
import {quantizeAbsmaxInt8, quantizeAbsmeanInt4, quantizeTopKInt8, type ActQuant} from "../../src/lib/quant.js";
import {testDevice} from "./harness.js";
import {rng, type Run, runNQ, runSplit} from "./normquant-harness.js";

function expectCodes(got: Run, ref: ActQuant, label: string, checkScale = true) {
  for (let i = 0; i < ref.q.length; i++) {
    if (got.codes[i] !== ref.q[i]) throw new Error(`${label}: code ${i} is ${got.codes[i]}, reference ${ref.q[i]}`);
  }
  for (let m = 0; m < ref.tokens; m++) {
    let s = 0;
    for (let i = 0; i < ref.dim; i++) s += ref.q[m * ref.dim + i];
    expect(got.sum[m]).toBe(s);
    // K = 0 keeps nothing: every code is 0 and the scale cannot matter (the reference still takes γ of the row)
    if (checkScale) expect(got.invScale[m], `${label} token ${m} s`).toBe(ref.scale[m]);
  }
}

describe("normquant: quantizers match src/lib/quant.ts code for code", () => {
  const sizes = [5, 64, 100, 300];
  it("absmax INT8, absmean INT4 and top-K INT8 on identical inputs (no norm), both reduction paths", async () => {
    const device = await testDevice();
    const S = await subgroupSize(device);
    const r = rng(11);
    let runs = 0;
    for (const n of sizes) {
      const M = 3;
      const x = Float32Array.from({length: M * n}, () => (r() - 0.5) * 4 * (r() < 0.05 ? 20 : 1));
      x.fill(0, 0, n); // an all-zero token: ε guards the scale
      // ties: repeat magnitudes in the last token so top-K must break them by index
      for (let i = 0; i < n; i++) x[2 * n + i] = (i % 3 === 0 ? -1 : 1) * [0.5, 0.25, 0.5, 1, 0.25][i % 5];
      for (const [sub, WG] of S
        ? [
            [0, 64],
            [S, 256],
          ]
        : [
            [0, 64],
            [0, 256],
          ]) {
        {
          const base = {n, src: "plain" as const, norm: false, hadamard: false, inspect: false, sub, WG};
          expectCodes(
            await runNQ(device, {...base, quant: "int8"}, M, x, n),
            quantizeAbsmaxInt8(x, n),
            `int8 n=${n} sub=${sub} WG=${WG}`,
          );
          expectCodes(
            await runNQ(device, {...base, quant: "int4"}, M, x, n),
            quantizeAbsmeanInt4(x, n),
            `int4 n=${n} sub=${sub} WG=${WG}`,
          );
          for (const ratio of [0.5, 0.3, 0]) {
            const K = Math.min(n, Math.max(0, Math.round(ratio * n)));
            expectCodes(
              await runNQ(device, {...base, quant: "int8", topK: K}, M, x, n),
              quantizeTopKInt8(x, n, ratio),
              `top-K ${ratio} n=${n} sub=${sub} WG=${WG}`,
              K > 0,
            );
          }
          runs += 5;
        }
      }
    }
    expect(runs).toBe(sizes.length * 10);
  });

  it("RMSNorm (float64 reference) and pass-through f32 output with zeroed padding", async () => {
    const device = await testDevice();
    const r = rng(5);
    for (const n of [7, 128, 300]) {
      const M = 2;
      const stride = n + 3; // rows not packed: srcStride is honoured
      const src = Float32Array.from({length: M * stride}, () => (r() - 0.5) * 6);
      const w = Float32Array.from({length: n}, () => 1 + (r() - 0.5) * 0.2);
      const got = await runNQ(
        device,
        {n, src: "plain", norm: true, hadamard: false, quant: "none", inspect: true, sub: 0, WG: 64},
        M,
        src,
        stride,
        w,
      );
      for (let m = 0; m < M; m++) {
        let ss = 0;
        for (let i = 0; i < n; i++) ss += src[m * stride + i] ** 2;
        const rr = 1 / Math.sqrt(ss / n + 1e-5);
        for (let i = 0; i < n; i++) {
          // the reference's rmsNorm rounding: w · fround(x · r), r in float64 — reproduced bit for bit
          const want = Math.fround(w[i] * Math.fround(src[m * stride + i] * rr));
          expect(got.f32[m * n + i]).toBe(want);
          expect(got.dbg[m * 2 * n + i]).toBe(src[m * stride + i]); // pre-norm copy
          expect(got.dbg[m * 2 * n + n + i]).toBe(got.f32[m * n + i]); // post-transform copy
        }
      }
    }
  });

  it("Hadamard transform of hadamardPlan(n): Sylvester, Kronecker (Paley) and block-diagonal sizes", async () => {
    const device = await testDevice();
    const S = await subgroupSize(device);
    const r = rng(9);
    for (const n of [128, 160, 688, 12]) {
      const M = 2;
      const x = Float32Array.from({length: M * n}, () => (r() - 0.5) * 2);
      const want = Float64Array.from(x);
      hadamardTransform(want, n);
      const got = await runNQ(
        device,
        {n, src: "plain", norm: false, hadamard: true, quant: "none", inspect: false, sub: S, WG: 256},
        M,
        x,
        n,
      );
      for (let i = 0; i < M * n; i++) {
        if (!(Math.abs(got.f32[i] - want[i]) <= 2e-6 * Math.max(1, Math.abs(want[i]))))
          throw new Error(`n=${n} i=${i}: ${got.f32[i]} vs ${want[i]}`);
      }
    }
  });

  // v2-a4's W_down input (688 = 344·2, Paley I over GF(343)) flipped an INT4 code at a rounding edge when the GPU summed
  // the 344-term cross-block mix in plain f32; the rotation is now float-float and rounds once, like the reference.
  it("Hadamard rotation = the float64 reference rounded to f32, bit for bit, and its INT4 codes: single kernel and split (FWHT + mix)", async () => {
    const device = await testDevice();
    const S = await subgroupSize(device);
    const r = rng(17);
    const bits = (x: number) => (x === 0 ? 0 : new Uint32Array(new Float32Array([x]).buffer)[0]); // ±0 alike
    // 688 (m = 344, Paley I over GF(7³)), 216 (m = 108, Paley I q = 107, as 2B4T's 6912), 160 (m = 20), 12 (m = 12, block 1), a Sylvester and a block-diagonal size (92 = 23·4)
    const sizes = [688, 216, 160, 12, 256, 92];
    expect(sizes.map((n) => hadamardPlan(n).m)).toEqual([344, 108, 20, 12, 1, 23]);
    for (const n of sizes) {
      const M = 6;
      // mixed magnitudes (outliers, tiny values) so the block sums cancel and carry many bits
      const x = Float32Array.from({length: M * n}, () => (r() - 0.5) * 2 * (r() < 0.05 ? 30 : r() < 0.1 ? 1e-3 : 1));
      const want = Float32Array.from(x);
      hadamardTransform(want, n); // float64 inside, rounded once to f32
      const wantQ = quantizeAbsmeanInt4(want, n);
      const expectBits = (got: Float32Array, label: string) => {
        for (let i = 0; i < M * n; i++)
          if (bits(got[i]) !== bits(want[i]))
            throw new Error(`${label} n=${n} i=${i}: ${got[i]} vs reference ${want[i]}`);
      };
      for (const [sub, WG] of S
        ? [
            [0, 64],
            [S, 256],
          ]
        : [
            [0, 64],
            [0, 256],
          ]) {
        const base = {n, src: "plain" as const, norm: false, hadamard: true, inspect: false, sub, WG};
        expectBits((await runNQ(device, {...base, quant: "none"}, M, x, n)).f32, `single kernel sub=${sub} WG=${WG}`);
        const insp = await runNQ(device, {...base, quant: "int4", inspect: true}, M, x, n);
        expectCodes(insp, wantQ, `int4 n=${n} sub=${sub} WG=${WG}`);
        expectBits(
          Float32Array.from({length: M * n}, (_, i) => insp.dbg[Math.floor(i / n) * 2 * n + n + (i % n)]),
          `inspection copy sub=${sub} WG=${WG}`,
        );
        if (hadamardPlan(n).kind === "kronecker")
          expectBits(
            await runSplit(device, {...base, quant: "none", fwhtOnly: true}, M, x),
            `split sub=${sub} WG=${WG}`,
          );
      }
    }
  });

  it("combines split-attention partials (max, sum, Σ e^(s−max)·v) per head", async () => {
    const device = await testDevice();
    const r = rng(3);
    const H = 3;
    const d = 6;
    const nC = 4;
    const M = 2;
    const part = new Float32Array(M * H * nC * (d + 2));
    const want = new Float64Array(M * H * d);
    for (let m = 0; m < M; m++)
      for (let h = 0; h < H; h++) {
        let mx = -Infinity;
        const rows: {mx: number; sum: number; o: number[]}[] = [];
        for (let c = 0; c < nC; c++) {
          const empty = c === nC - 1 && m === 0; // a chunk past the causal edge
          const row = {
            mx: empty ? -3e38 : (r() - 0.5) * 10,
            sum: empty ? 0 : 0.5 + r() * 3,
            o: Array.from({length: d}, () => (empty ? 0 : (r() - 0.5) * 4)),
          };
          rows.push(row);
          mx = Math.max(mx, row.mx);
          const base = ((m * H + h) * nC + c) * (d + 2);
          part[base] = row.mx;
          part[base + 1] = row.sum;
          row.o.forEach((v, e) => (part[base + 2 + e] = v));
        }
        let den = 0;
        for (const row of rows) den += Math.exp(row.mx - mx) * row.sum;
        for (let e = 0; e < d; e++) {
          let a = 0;
          for (const row of rows) a += Math.exp(row.mx - mx) * row.o[e];
          want[(m * H + h) * d + e] = a / den;
        }
      }
    const got = await runNQ(
      device,
      {n: H * d, src: "attn", H, d, norm: false, hadamard: false, quant: "none", inspect: false, sub: 0, WG: 64},
      M,
      part,
      0,
      undefined,
      nC,
    );
    for (let i = 0; i < want.length; i++)
      expect(Math.abs(got.f32[i] - want[i])).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(want[i])));
  });
});
