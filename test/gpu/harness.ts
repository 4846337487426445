// Node-side WebGPU for tests: Dawn (npm `webgpu`) on whatever Vulkan driver VK_ICD_FILENAMES names —
// SwiftShader on machines without a GPU (set by vitest.config.ts), the real driver on a GPU host.
import {create, globals} from "webgpu";

let devicePromise: Promise<GPUDevice> | undefined;
// Dawn's instance must outlive every device made from it: if the GPU object is garbage-collected while a device
// lives, the process crashes (futex/mutex aborts, segfaults) a few submissions later. Keep it referenced.
let gpuInstance: GPU | undefined;

export function gpuInNode(): GPU {
  Object.assign(globalThis, globals);
  gpuInstance ??= create([]) as unknown as GPU;
  return gpuInstance;
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
