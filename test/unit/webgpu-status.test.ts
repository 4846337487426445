import {describe, expect, it} from "vitest";
import {
  chooseBackend,
  describeAdapter,
  isSoftwareAdapter,
  webgpuStatus,
  type WebGPUStatus,
} from "../../src/lib/webgpu-status.js";

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
    const boom = await webgpuStatus({
      requestAdapter: async () => {
        throw new Error("blocked");
      },
    } as unknown as GPU);
    expect(boom.reason).toMatch(/requestAdapter failed: blocked/);
  });
});

describe("chooseBackend", () => {
  const gpu = (adapter: Partial<NonNullable<WebGPUStatus["adapter"]>>): WebGPUStatus => ({
    available: true,
    features: [],
    limits: {},
    adapter: {vendor: "", architecture: "", device: "", description: "", isFallbackAdapter: false, ...adapter},
  });
  // What headless Chromium reports for SwiftShader (adapter.info) on this machine.
  const swiftshader = gpu({vendor: "google", architecture: "swiftshader", description: "SwiftShader Device (Subzero)"});
  const nvidia = gpu({vendor: "nvidia", architecture: "ampere"});
  const none: WebGPUStatus = {available: false, reason: "navigator.gpu is missing", features: [], limits: {}};

  it("auto does not pick an emulated adapter (SwiftShader, llvmpipe, isFallbackAdapter) over the CPU", () => {
    expect(chooseBackend("auto", swiftshader)).toMatchObject({backend: "cpu", software: true});
    expect(chooseBackend("auto", swiftshader).reason).toMatch(/software.*backend=webgpu/);
    expect(chooseBackend("auto", gpu({vendor: "mesa", device: "llvmpipe (LLVM 15.0.6, 256 bits)"})).backend).toBe(
      "cpu",
    );
    expect(chooseBackend("auto", gpu({vendor: "intel", isFallbackAdapter: true})).backend).toBe("cpu");
    expect(isSoftwareAdapter(nvidia)).toBe(false);
  });
  it("auto takes a hardware adapter, and a software one only when measured faster", () => {
    expect(chooseBackend("auto", nvidia)).toMatchObject({backend: "webgpu", software: false});
    expect(chooseBackend("auto", swiftshader, {webgpuMs: 5, cpuMs: 50}).backend).toBe("webgpu");
    expect(chooseBackend("auto", swiftshader, {webgpuMs: 500, cpuMs: 50}).reason).toMatch(/500 ms against 50 ms/);
    expect(chooseBackend("auto", none)).toMatchObject({backend: "cpu", reason: expect.stringMatching(/no WebGPU/)});
  });
  it("a forced backend wins", () => {
    expect(chooseBackend("webgpu", swiftshader).backend).toBe("webgpu");
    expect(chooseBackend("cpu", nvidia).backend).toBe("cpu");
  });
});
