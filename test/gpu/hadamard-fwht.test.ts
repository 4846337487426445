// The in-block FWHT of the H-BitLinear rotation with subgroup shuffles and register stages (normquant-hadamard.ts
// fwhtChunksWGSL) against the float64 CPU reference, bit for bit, and against the all-workgroup-memory kernel
// (fwhtLanes 0) where the rotation is plain f32. Lanes run over every power of two up to the device's subgroup
// size (SwiftShader: 4; a GPU host: 32 or 64), plus 1 (registers only: the no-subgroup fallback).
import {describe, expect, it} from "vitest";
import {subgroupSize} from "../../src/gpu/engine/tune.js";
import {fwhtShape} from "../../src/gpu/kernels/normquant-hadamard.js";
import {fwhtPartsFor, normQuantWGSL, type NormQuantConfig} from "../../src/gpu/kernels/normquant.js";
import {hadamardPlan, hadamardTransform} from "../../src/lib/hadamard.js";
import {quantizeAbsmaxInt8} from "../../src/lib/quant.js";
import {testDevice} from "./harness.js";
import {rng, runNQ, runSplit} from "./normquant-harness.js";

const bits = (x: number) => (x === 0 ? 0 : new Uint32Array(new Float32Array([x]).buffer)[0]); // ±0 alike

function expectSame(got: Float32Array, want: Float32Array, label: string) {
  for (let i = 0; i < want.length; i++)
    if (bits(got[i]) !== bits(want[i])) throw new Error(`${label} i=${i}: ${got[i]} vs ${want[i]}`);
}

/** M tokens of n values: outliers, tiny values and cancellations, so the block sums carry many bits. */
function rows(r: () => number, M: number, n: number): Float32Array {
  return Float32Array.from({length: M * n}, () => (r() - 0.5) * 2 * (r() < 0.05 ? 30 : r() < 0.1 ? 1e-3 : 1));
}

/** The lanes to try: 0 (every stage through workgroup memory), 1 (registers only), 2, 4 … S. */
function laneCounts(S: number): number[] {
  const out = [0, 1];
  for (let w = 2; w <= S; w *= 2) out.push(w);
  return out;
}

describe("Hadamard in-block FWHT through subgroup shuffles and registers", () => {
  it("chunk shapes: clipped to the block, errors for lanes the subgroup cannot shuffle", () => {
    expect(fwhtShape(128, 256, 32)).toEqual({W: 32, R: 4, C: 128, G: 8}); // 2560 = 20·128: no barrier stage left
    expect(fwhtShape(64, 256, 32)).toEqual({W: 32, R: 2, C: 64, G: 8}); // 6912 = 108·64
    expect(fwhtShape(1024, 256, 4)).toEqual({W: 4, R: 8, C: 32, G: 64}); // stages 32 … 512 stay in memory
    expect(fwhtShape(2, 256, 32)).toEqual({W: 2, R: 1, C: 2, G: 128});
    expect(fwhtShape(128, 256, 0)).toEqual({W: 1, R: 8, C: 8, G: 256});
    expect(fwhtShape(128, 256, 32, 0).C).toBe(1);
    expect(() => fwhtShape(128, 256, 0, 4)).toThrow(/fwhtLanes 4 must be a power of two dividing the subgroup size 0/);
    expect(() => fwhtShape(128, 256, 32, 3)).toThrow(/fwhtLanes 3/);
    expect(() => fwhtShape(128, 256, 32, 8, 3)).toThrow(/fwhtRegs 3/);
  });

  // 2560 = 20·128 (2B4T's W_o input), 1728 = 108·16 (6912 = 108·64's Paley-108 mix at a quarter of the block),
  // 640 = 20·32, 688 = 344·2, 184 = 23 blocks of 8 (block-diagonal: odd block count), 1024 (one Sylvester block)
  it("float-float rotation = the float64 reference rounded once, for every lane count and register count", async () => {
    const device = await testDevice();
    const S = await subgroupSize(device);
    const sizes = [2560, 1728, 640, 688, 184, 1024];
    expect(sizes.map((n) => [hadamardPlan(n).m, hadamardPlan(n).block])).toEqual([
      [20, 128],
      [108, 16],
      [20, 32],
      [344, 2],
      [23, 8],
      [1, 1024],
    ]);
    const r = rng(31);
    for (const n of sizes) {
      const big = n >= 1024; // slow on SwiftShader (the 20- and 108-term mixes, 1024's memory stages): the default shape
      const M = big ? 2 : 3;
      const x = rows(r, M, n);
      const want = Float32Array.from(x);
      hadamardTransform(want, n);
      const base = {n, src: "plain", norm: false, hadamard: true, inspect: false, quant: "none"} as const;
      // 108 blocks (the engine splits them: FWHT-only + mix below) run slowly in one SwiftShader workgroup
      const one = hadamardPlan(n).m < 32 || n < 1024;
      const cfgs: Partial<NormQuantConfig>[] = !one ? [] : big ? [{}] : laneCounts(S).map((fwhtLanes) => ({fwhtLanes}));
      if (!big)
        cfgs.push({fwhtLanes: S || 1, fwhtRegs: 1}, {fwhtLanes: S || 1, fwhtRegs: 2}, {fwhtLanes: 1, fwhtRegs: 32});
      for (const c of cfgs) {
        const WG = c.fwhtRegs === 2 ? 64 : 256;
        const cfg = {...base, sub: S, WG, ...c};
        const label = `n=${n} lanes=${c.fwhtLanes} regs=${c.fwhtRegs ?? "default"} WG=${WG}`;
        expectSame((await runNQ(device, cfg, M, x, n)).f32, want, label);
      }
      if (hadamardPlan(n).kind === "kronecker")
        expectSame(await runSplit(device, {...base, sub: S, WG: 256, fwhtOnly: true}, M, x), want, `split n=${n}`);
    }
  });

  it("plain f32 rotation (hadamardFF false) and its INT8 codes: every lane count gives the memory kernel's bits", async () => {
    const device = await testDevice();
    const S = await subgroupSize(device);
    const r = rng(37);
    for (const n of [640, 688, 184]) {
      const M = 3;
      const x = rows(r, M, n);
      const base = {
        n,
        src: "plain",
        norm: false,
        hadamard: true,
        hadamardFF: false,
        inspect: true,
        sub: S,
        WG: 256,
      } as const;
      const ref = await runNQ(device, {...base, quant: "int8", fwhtLanes: 0}, M, x, n);
      // the memory kernel is the float64 rotation to a few ulps, and its codes are its own rotation's
      const rot = Float32Array.from({length: M * n}, (_, i) => ref.dbg[Math.floor(i / n) * 2 * n + n + (i % n)]);
      const want = Float64Array.from(x);
      hadamardTransform(want, n);
      for (let i = 0; i < M * n; i++)
        if (!(Math.abs(rot[i] - want[i]) <= 1e-5 * Math.max(1, Math.abs(want[i]))))
          throw new Error(`f32 n=${n} i=${i}: ${rot[i]} vs ${want[i]}`);
      const q = quantizeAbsmaxInt8(rot, n);
      for (let i = 0; i < M * n; i++) expect(ref.codes[i]).toBe(q.q[i]);
      for (const fwhtLanes of laneCounts(S).slice(1)) {
        const got = await runNQ(device, {...base, quant: "int8", fwhtLanes}, M, x, n);
        const gotRot = Float32Array.from({length: M * n}, (_, i) => got.dbg[Math.floor(i / n) * 2 * n + n + (i % n)]);
        expectSame(gotRot, rot, `f32 n=${n} lanes=${fwhtLanes}`);
        for (let i = 0; i < M * n; i++) if (got.codes[i] !== ref.codes[i]) throw new Error(`n=${n} code ${i}`);
      }
    }
  });

  // the split decode path's FWHT-only prologue over several workgroups per token (fwhtParts), then the mix
  it("FWHT-only prologue over parts of the row (RMSNorm of the whole row in each) = the float64 rotation", async () => {
    const device = await testDevice();
    const S = await subgroupSize(device);
    expect([fwhtPartsFor(6912, 256), fwhtPartsFor(2560, 256), fwhtPartsFor(688, 256)]).toEqual([27, 10, 2]);
    const r = rng(41);
    for (const [n, parts, WG] of [
      [2560, 10, 256],
      [1728, 27, 256],
      [640, 20, 64],
      [688, 43, 64],
    ]) {
      const M = 3;
      const x = rows(r, M, n);
      const w = Float32Array.from({length: n}, () => 0.5 + r());
      // with RMSNorm: the one-workgroup kernel's bits (checked against the reference in normquant/engine tests);
      // without: the float64 rotation's
      const cfg = {n, src: "plain", norm: true, hadamard: true, inspect: false, quant: "none", sub: S, WG} as const;
      const one = await runSplit(device, {...cfg, fwhtOnly: true}, M, x, w);
      const got = await runSplit(device, {...cfg, fwhtOnly: true, fwhtParts: parts}, M, x, w);
      expectSame(got, one, `parts=${parts} n=${n}`);
      const want = Float32Array.from(x);
      hadamardTransform(want, n);
      expectSame(await runSplit(device, {...cfg, norm: false, fwhtOnly: true, fwhtParts: parts}, M, x), want, `n=${n}`);
    }
    const bad = {
      n: 640,
      src: "plain",
      norm: true,
      hadamard: true,
      inspect: false,
      quant: "none",
      sub: 0,
      WG: 64,
    } as const;
    expect(() => normQuantWGSL({...bad, fwhtOnly: true, fwhtParts: 3})).toThrow(/fwhtParts 3 .* 20 blocks/);
    expect(() => normQuantWGSL({...bad, fwhtParts: 4})).toThrow(/needs fwhtOnly/);
  });

  it("the shader uses shuffles only with lanes > 1, and no barrier loop is left when a chunk spans the block", () => {
    const cfg = {n: 2560, src: "plain", norm: false, hadamard: true, quant: "none", inspect: false, WG: 256} as const;
    const sh = normQuantWGSL({...cfg, sub: 32});
    expect(sh).toContain("subgroupShuffleXor(xh[3], 16u)");
    expect(sh).not.toContain("for (var h = ");
    const mem = normQuantWGSL({...cfg, sub: 32, fwhtLanes: 0});
    expect(mem).toContain("for (var h = 1u; h < 128u;");
    expect(mem).not.toContain("subgroupShuffleXor(xh");
    expect(normQuantWGSL({...cfg, sub: 0})).not.toContain("subgroupShuffleXor");
    expect(normQuantWGSL({...cfg, sub: 0})).toContain("for (var h = 8u; h < 128u;");
  });
});
