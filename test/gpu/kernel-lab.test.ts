// The kernel lab's per-variant correctness check (src/app/kernel-lab.ts checkGemv): every GEMV shape it times
// passes against the float64 CPU reference on fresh inputs (odd row counts, K not a multiple of the tile), and the
// roofline keeps each kernel's bytes, time and verdict.
import {describe, expect, it} from "vitest";
import {checkGemv, checkNormStats, rooflinePoints} from "../../src/app/kernel-lab.js";
import type {BenchReport} from "../../src/gpu/measure/bench-report.js";
import {testDevice} from "./harness.js";

describe("kernel lab checks", () => {
  it("ternary variants match bit for bit; dense f32/f16 within float32 summation error", async () => {
    const device = await testDevice();
    for (const [i, sh] of [
      {R: 4, T: 8, WG: 256, U: 0},
      {R: 2, T: 8, WG: 64, U: 1},
      {R: 8, T: 16, WG: 128, U: 0},
    ].entries()) {
      const c = await checkGemv(device, "ternary", sh, 1 + i, 37, 200);
      expect(c.checked).toBe(37);
      expect(c.mismatches, JSON.stringify(c)).toBe(0);
      expect(c.pass).toBe(true);
    }
    for (const kind of ["f32", "f16"] as const) {
      const c = await checkGemv(device, kind, {R: 4, T: 8, WG: 256, U: 1}, 9, 37, 200);
      expect(c.mismatches, JSON.stringify(c)).toBe(0);
      expect(c.maxRelErr).toBeLessThan(1e-3);
    }
  });

  it("the decode step with prologues from norm statistics equals the unfused step bit for bit (issue 25)", async () => {
    const c = await checkNormStats(await testDevice());
    expect(c.checked).toBe(4 * 300);
    expect(c.mismatches, JSON.stringify(c)).toBe(0);
    expect(c.pass).toBe(true);
  });

  it("places every kernel on the roofline with its verdict", () => {
    const lin = {config: {R: 4, T: 8, WG: 256, sub: 0, U: 0}, msPerToken: 2, GBps: 0.5, ofCopy: 0.25};
    const b = {
      device: {description: "x", subgroupSize: 0, features: [], clock: "wall"},
      shape: {name: "s", hidden: 256, ffn: 704, layers: 2, heads: 4, kvHeads: 2, headDim: 64, vocab: 1000},
      copy: {bytes: 1e6, ms: 1, GBps: 2},
      linear: {bytesPerToken: 1e6, sweep: [lin], best: lin, passPerDispatch: lin, independent: lin},
      dense: {f32: {msPerToken: 8, GBps: 1}, f16: {msPerToken: 4, GBps: 1}, speedupVsF32: 4, speedupVsF16: 2},
      hadamard: [],
      check: [],
      selfcheck: [],
      dispatch: {chainedUs: 1, independentUs: 1, chainedPassPerDispatchUs: 1},
      seconds: 1,
    } as unknown as BenchReport;
    const pts = rooflinePoints(b, [
      {
        kernel: "ternary (2-bit × INT8) GEMV",
        config: "R=4 T=8 WG=256 U=auto",
        checked: 1,
        mismatches: 1,
        maxRelErr: 1,
        tolerance: 0,
        pass: false,
      },
    ]);
    expect(pts[0]).toMatchObject({group: "ceiling", bytes: 2e6, GBps: 2, ofCeiling: 1});
    const t = pts.find((p) => p.label.startsWith("ternary stack R=4"))!;
    expect(t.check).toBe("FAIL"); // a failed variant check shows on its roofline row
    expect(t.ofCeiling).toBeCloseTo(0.25, 9);
    expect(pts.find((p) => p.label.startsWith("dense f16"))!.bytes).toBeCloseTo(4e6, 0);
  });
});
