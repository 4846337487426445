import {describe, expect, it} from "vitest";
import {describeAdapter, webgpuStatus} from "../../src/lib/webgpu-status.js";

describe("webgpuStatus", () => {
  it("reports missing WebGPU with a reason instead of throwing", async () => {
    const s = await webgpuStatus(null);
    expect(s.available).toBe(false);
    expect(s.reason).toMatch(/navigator\.gpu is missing/);
    expect(describeAdapter(s)).toBe("no WebGPU adapter");
  });
  it("reports a null adapter and a throwing requestAdapter", async () => {
    const none = await webgpuStatus({requestAdapter: async () => null} as unknown as GPU);
    expect(none).toMatchObject({available: false, reason: expect.stringMatching(/no adapter/)});
    const boom = await webgpuStatus({requestAdapter: async () => { throw new Error("blocked"); }} as unknown as GPU);
    expect(boom.reason).toMatch(/requestAdapter failed: blocked/);
  });
});
