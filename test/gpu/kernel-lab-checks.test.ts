// The kernel lab's checks of issue 25's kernels (src/app/kernel-lab-checks.ts): every entry passes on this device,
// and every check sees a deliberately broken candidate — one ulp on one divisor, a 1e-6 nudge on a quarter of the
// rows, a Σ off by two ulps on one head — so no check silently compares a kernel with itself.
import {describe, expect, it} from "vitest";
import {ISSUE25_CHECKS, div127Inputs, runKernelChecks} from "../../src/app/kernel-lab-checks.js";
import {testDevice} from "./harness.js";

/** Replaces `from` in the candidate's WGSL, failing loudly if the text is not there (the perturbation must bite). */
const rewrite = (from: string | RegExp, to: string) => (code: string) => {
  const out = code.replace(from, to);
  if (out === code) throw new Error(`perturbation: ${String(from)} not found in the kernel`);
  return out;
};

const PERTURB: Record<string, (code: string) => string> = {
  "div127: ": rewrite(
    "o[i] = div127(d[i]);",
    "o[i] = bitcast<f32>(bitcast<u32>(div127(d[i])) + select(0u, 1u, i == 7u));",
  ),
  "W_o with the attention combine": rewrite(/Y\[yb \+ r0 \+ 1u\] \+= /g, "Y[yb + r0 + 1u] += 1e-6 + "),
  "GEMV with its RMSNorm": rewrite(/Y\[yb \+ r0 \+ 1u\] \+= /g, "Y[yb + r0 + 1u] += 1e-6 + "),
  "wide decode attention: G heads": rewrite(
    "part[base + 1u] = den[r];",
    "part[base + 1u] = select(den[r], den[r] * 1.0000002, h == 1u);",
  ),
  "wide decode attention: the output": rewrite("= t0[0];", "= t0[0] * 1.001;"),
  // RoPE's sign on the cache's K only: the partials stay, the written K differs
  "wide decode attention with RoPE": rewrite("kv4[e] = x1 * cs - x2 * sn;", "kv4[e] = x1 * cs + x2 * sn;"),
  // the first register of every shuffle/register chunk stored one ulp high
  "H-BitLinear in-block FWHT": rewrite("hs[fb] = xh[0];", "hs[fb] = xh[0] * 1.0000002;"),
  "tiled prefill GEMM": rewrite(/Y\[yb \+ r0 \+ 1u\] \+= /g, "Y[yb + r0 + 1u] += 1e-6 + "),
};

describe("kernel lab: issue 25's kernel checks", () => {
  it("every entry passes on this device, with outputs checked at several shapes", async () => {
    const device = await testDevice();
    // normStats' entry wraps checkNormStats, which test/gpu/kernel-lab.test.ts runs; the page runs all (e2e)
    const entries = ISSUE25_CHECKS.filter((e) => !e.kernel.includes("normStats"));
    expect(entries.length).toBe(ISSUE25_CHECKS.length - 1);
    const rows = await runKernelChecks(device, entries);
    expect(rows.map((r) => r.kernel)).toEqual(entries.map((e) => e.kernel));
    for (const r of rows) {
      expect(r.error, r.kernel).toBeUndefined();
      expect(r.checked, r.kernel).toBeGreaterThan(20);
      expect(r.mismatches, JSON.stringify(r)).toBe(0);
      expect(r.pass).toBe(true);
      expect(r.ms).toBeGreaterThan(0);
    }
    // the fused GEMV checks ran their 2B4T-width shape too (K = 2560 fits the device's workgroup memory)
    expect(rows[1].shape).toMatch(/H20·d128/);
    expect(rows[2].shape).toMatch(/K2560/);
    // the later kernels: the FWHT at a Kronecker size and a power of two, a named GEMM tile
    const at = (p: string) => rows.find((r) => r.kernel.startsWith(p))!.shape;
    expect(at("H-BitLinear in-block FWHT")).toMatch(/640 \(20·32\).*256.*split over 10 workgroups/);
    expect(at("tiled prefill GEMM")).toMatch(/n64m64u residual.*glu-silu/);
  }, 240_000);

  it("each check reports mismatches for a perturbed candidate kernel", async () => {
    const device = await testDevice();
    const broken = Object.keys(PERTURB);
    expect(broken.length).toBe(ISSUE25_CHECKS.length - 1); // all but normStats (a whole-session check)
    for (const [prefix, perturb] of Object.entries(PERTURB)) {
      const entry = ISSUE25_CHECKS.find((e) => e.kernel.startsWith(prefix));
      expect(entry, prefix).toBeDefined();
      const r = await entry!.check(device, {perturb, firstShapeOnly: true});
      expect(r.mismatches, `${prefix}: ${JSON.stringify(r)}`).toBeGreaterThan(0);
      if (prefix === "div127: ") expect(r.mismatches).toBe(1); // one ulp on one value is seen
    }
  }, 240_000);

  it("the divisors cover the ε clamp, f32's top and quotients next to rounding midpoints", () => {
    const d = div127Inputs(25);
    expect(d[0]).toBe(Math.fround(1e-5));
    expect(Math.max(...d)).toBeGreaterThan(1e38);
    expect(d.length).toBeGreaterThan(7000);
    expect(d.every((x) => x >= Math.fround(1e-5) && Number.isFinite(x))).toBe(true);
  });
});
