// The bench's wall-clock split (issue 25): its line says how far wall is over GPU time and where the rest went, and
// reports stored before the split still format.
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {formatBenchReport, type BenchReport} from "../../src/gpu/measure/bench-report.js";
import {formatDecodeWall, type DecodeWall} from "../../src/gpu/measure/decode-wall.js";

const wall: DecodeWall = {
  steps: 64,
  wallMs: 2.61,
  encodeMs: 0.9,
  submitMs: 0.25,
  waitMs: 1.45,
  gpuMs: 2.4,
  gapMs: 0.16,
  gpuMinMs: 2.3,
  gpuMaxMs: 2.9,
  msPerToken: 2.56,
  trials: [2.56, 2.62],
  ahead: 8,
};

describe("decode wall-clock split", () => {
  it("prints the excess over GPU time, the trials and the split", () => {
    const s = formatDecodeWall(wall, 2.204);
    expect(s).toContain("wall 2.560 ms/token (+16.2% over GPU; trials 2.560 / 2.620)");
    expect(s).toContain("profiled 2.610 = encode 0.900 + submit 0.250 + wait 1.450");
    expect(s).toContain("in the chain GPU 2.400 ms/step (2.300–2.900), idle gap 0.160 ms");
    expect(formatDecodeWall({...wall, msPerToken: 2.1, gpuMs: undefined, gapMs: undefined}, 2.2)).toMatch(
      /\(-4\.5% over GPU; .*wait 1\.450$/,
    );
    expect(formatDecodeWall({...wall, encodeOnlyMs: 0.456}, 2.204)).toMatch(
      /idle gap 0\.160 ms; encoding alone 0\.456 ms\/step$/,
    );
  });

  it("formats a stored H100 report without the split, and one with it per context", () => {
    const r = JSON.parse(readFileSync("bench/results/h100-issue25b-bench.json", "utf8")) as BenchReport;
    const before = formatBenchReport(r);
    expect(before).toContain("end-to-end decode");
    expect(before).not.toContain("over GPU");
    r.e2e!.decode[1].wall = wall;
    r.e2e!.decodeWarmupMs = 5.229;
    const after = formatBenchReport(r);
    expect(after).toContain("@512: wall 2.560 ms/token (+16.1% over GPU"); // GPU 2.2040512 ms
    expect(after).toContain("first decode timing (warm-up, discarded): 5.229 ms/token");
  });
});
