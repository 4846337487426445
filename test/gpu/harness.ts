// Node-side WebGPU for tests: Dawn (npm `webgpu`) on whatever Vulkan driver VK_ICD_FILENAMES names —
// SwiftShader on machines without a GPU (set by vitest.config.ts), the real driver on a GPU host.
import {create, globals} from "webgpu";

let devicePromise: Promise<GPUDevice> | undefined;

export function gpuInNode(): GPU {
  Object.assign(globalThis, globals);
  return create([]) as unknown as GPU;
}

/** One shared device per test file, with the adapter's largest buffer limits and its optional features. */
export function testDevice(): Promise<GPUDevice> {
  devicePromise ??= (async () => {
    const gpu = gpuInNode();
    const adapter = await gpu.requestAdapter({powerPreference: "high-performance"});
    if (!adapter) throw new Error("no WebGPU adapter: is VK_ICD_FILENAMES set to SwiftShader's ICD?");
    const wanted: GPUFeatureName[] = ["subgroups", "timestamp-query", "shader-f16"];
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    return adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
        maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
        maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
      },
    });
  })();
  return devicePromise;
}
