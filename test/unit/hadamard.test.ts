import {describe, expect, it} from "vitest";
import {explicitHadamard, hadamardMatrix, hadamardPlan, hadamardTransform, primePower} from "../../src/lib/hadamard.js";
import {Rng} from "../../src/lib/rng.js";

const SMALL = [1, 2, 4, 8, 16, 32, 64, 12, 20, 24, 28, 36, 40, 44, 48, 56, 60, 6, 10, 14, 18, 22];

function randomVec(n: number, seed: number): Float64Array {
  return new Rng(seed).fillNormal(new Float64Array(n)) as Float64Array;
}

function matVec(M: Float64Array, x: Float64Array, transpose = false): Float64Array {
  const n = x.length;
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += (transpose ? M[j * n + i] : M[i * n + j]) * x[j];
    y[i] = s;
  }
  return y;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("Hadamard plans", () => {
  it("covers the BitNet 2B4T sizes with Paley constructions", () => {
    expect(hadamardPlan(2560)).toMatchObject({kind: "kronecker", m: 20, block: 128, construction: "paley1", q: 19});
    expect(hadamardPlan(6912)).toMatchObject({kind: "kronecker", m: 108, block: 64, construction: "paley1", q: 107});
    expect(hadamardPlan(256)).toMatchObject({kind: "sylvester", block: 256, m: 1, symmetric: true});
    expect(hadamardPlan(36)).toMatchObject({kind: "kronecker", m: 36, construction: "paley2", q: 17, symmetric: true});
    expect(hadamardPlan(28)).toMatchObject({kind: "kronecker", m: 28, construction: "paley2", q: 13});
    expect(hadamardPlan(160)).toMatchObject({kind: "kronecker", m: 20, block: 8});
  });

  it("builds full Paley matrices over prime-power fields GF(p^k): 688 and 11008 via q = 343 = 7³", () => {
    expect(primePower(343)).toEqual({p: 7, k: 3});
    expect(primePower(49)).toEqual({p: 7, k: 2});
    expect(primePower(2)).toEqual({p: 2, k: 1});
    expect(primePower(171)).toBeUndefined(); // 9·19
    expect(primePower(1)).toBeUndefined();
    expect(hadamardPlan(688)).toMatchObject({
      kind: "kronecker",
      m: 344,
      block: 2,
      construction: "paley1",
      q: 343,
      symmetric: false,
    });
    expect(hadamardPlan(11008)).toMatchObject({kind: "kronecker", m: 344, block: 32, construction: "paley1", q: 343});
    expect(hadamardPlan(100)).toMatchObject({
      kind: "kronecker",
      m: 100,
      block: 1,
      construction: "paley2",
      q: 49,
      symmetric: true,
    });
    expect(hadamardPlan(244)).toMatchObject({kind: "kronecker", m: 244, construction: "paley1", q: 243});
  });

  it("falls back to block-diagonal for even sizes without a Paley order, and rejects odd sizes", () => {
    expect(hadamardPlan(92)).toMatchObject({kind: "block-diagonal", block: 4, m: 23, construction: "identity"});
    expect(hadamardPlan(6)).toMatchObject({kind: "block-diagonal", block: 2, m: 3});
    expect(() => hadamardPlan(3)).toThrow(/odd length 3/);
    expect(() => hadamardPlan(0)).toThrow(/positive integer/);
    expect(() => hadamardPlan(2.5)).toThrow(/positive integer/);
  });

  it("builds ±1 matrices with H·Hᵀ = m·I", () => {
    for (const m of [2, 4, 8, 12, 20, 28, 36, 44, 60, 108, 100, 244, 344]) {
      const H = hadamardMatrix(m);
      expect(H.every((v) => v === 1 || v === -1)).toBe(true);
      let bad = 0;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          let s = 0;
          for (let k = 0; k < m; k++) s += H[i * m + k] * H[j * m + k];
          if (s !== (i === j ? m : 0)) bad++;
        }
      }
      expect(bad, `order ${m}`).toBe(0);
    }
  });
});

describe("Hadamard transform", () => {
  it("equals the explicit orthogonal matrix for every small supported size", () => {
    for (const n of SMALL) {
      const E = explicitHadamard(n);
      // Orthogonal: E·Eᵀ = I.
      let worst = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += E[i * n + k] * E[j * n + k];
          worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
        }
      }
      expect(worst, `n = ${n}`).toBeLessThan(1e-12);
      const x = randomVec(2 * n, n); // two rows
      const y = x.slice();
      hadamardTransform(y, n);
      for (let r = 0; r < 2; r++) {
        const want = matVec(E, x.subarray(r * n, (r + 1) * n));
        expect(maxDiff(y.subarray(r * n, (r + 1) * n), want)).toBeLessThan(1e-12);
      }
      // The transpose inverts it.
      hadamardTransform(y, n, {transpose: true});
      expect(maxDiff(y, x)).toBeLessThan(1e-12);
      const plan = hadamardPlan(n);
      if (plan.kind !== "block-diagonal")
        expect(E.every((v) => Math.abs(Math.abs(v) - 1 / Math.sqrt(n)) < 1e-15)).toBe(true);
    }
  });

  it("is an involution exactly for the symmetric constructions", () => {
    for (const n of [1, 2, 16, 64, 36, 72, 100, 200]) {
      expect(hadamardPlan(n).symmetric).toBe(true);
      const x = randomVec(n, 7);
      const y = x.slice();
      hadamardTransform(y, n);
      hadamardTransform(y, n);
      expect(maxDiff(y, x)).toBeLessThan(1e-12);
    }
    // Paley I is not symmetric: applying H twice is not the identity.
    const x = randomVec(20, 3);
    const y = x.slice();
    hadamardTransform(y, 20);
    hadamardTransform(y, 20);
    expect(maxDiff(y, x)).toBeGreaterThan(0.1);
  });

  it("preserves norms and inverts (Hᵀ·H = I) at the 2B4T sizes, 688 and 11008, spreading a one-hot over every output", () => {
    for (const n of [2560, 6912, 688, 11008]) {
      const x = randomVec(n, n);
      const y = new Float32Array(x);
      hadamardTransform(y, n);
      let nx = 0;
      let ny = 0;
      for (let i = 0; i < n; i++) {
        nx += x[i] * x[i];
        ny += y[i] * y[i];
      }
      expect(Math.abs(Math.sqrt(ny) / Math.sqrt(nx) - 1)).toBeLessThan(1e-6);
      hadamardTransform(y, n, {transpose: true});
      expect(maxDiff(y, x)).toBeLessThan(1e-5);
      const e = new Float64Array(n);
      e[n - 1] = 1;
      hadamardTransform(e, n);
      expect(e.every((v) => Math.abs(Math.abs(v) * Math.sqrt(n) - 1) < 1e-12)).toBe(true);
    }
  });

  it("rejects data that is not whole rows", () => {
    expect(() => hadamardTransform(new Float32Array(10), 4)).toThrow(/whole number of rows/);
  });
});
