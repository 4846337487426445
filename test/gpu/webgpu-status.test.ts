import {describe, expect, it} from "vitest";
import {webgpuStatus} from "../../src/lib/webgpu-status.js";
import {gpuInNode} from "./harness.js";

describe("webgpuStatus on Dawn", () => {
  it("finds the adapter, its features and its limits", async () => {
    const s = await webgpuStatus(gpuInNode());
    expect(s.available).toBe(true);
    expect(s.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(s.features).toContain("subgroups"); // SwiftShader and NVIDIA both offer it
  });
});
