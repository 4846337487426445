// What WebGPU the reader's browser (or Node, given Dawn's GPU object) offers. DOM-free: pages render it with
// components/webgpu-banner.ts and use `available` to choose between the engine and the CPU reference.

export interface WebGPUStatus {
  available: boolean;
  /** Why WebGPU is unavailable, in words a reader can act on. */
  reason?: string;
  adapter?: {vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean};
  features: string[];
  limits: Record<string, number>;
}

const KEY_LIMITS = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
] as const;

const KEY_FEATURES = ["subgroups", "shader-f16", "timestamp-query", "subgroup-size-control"];

let cached: Promise<WebGPUStatus> | undefined;

/** Requests an adapter once per page load; `gpu` defaults to navigator.gpu. Never throws. */
export function webgpuStatus(gpu?: GPU | null): Promise<WebGPUStatus> {
  if (gpu === undefined && cached) return cached;
  const p = probe(gpu === undefined ? (globalThis.navigator as Navigator | undefined)?.gpu : gpu);
  if (gpu === undefined) cached = p;
  return p;
}

async function probe(gpu: GPU | null | undefined): Promise<WebGPUStatus> {
  const none = (reason: string): WebGPUStatus => ({available: false, reason, features: [], limits: {}});
  if (!gpu) return none("this browser does not expose WebGPU (navigator.gpu is missing)");
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({powerPreference: "high-performance"});
  } catch (e) {
    return none(`requestAdapter failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!adapter) return none("WebGPU is present but no adapter was found (blocked GPU or driver)");
  const info = adapter.info;
  return {
    available: true,
    adapter: {
      vendor: info?.vendor ?? "",
      architecture: info?.architecture ?? "",
      device: info?.device ?? "",
      description: info?.description ?? "",
      isFallbackAdapter: Boolean((info as {isFallbackAdapter?: boolean} | undefined)?.isFallbackAdapter),
    },
    features: KEY_FEATURES.filter((f) => adapter.features.has(f)),
    limits: Object.fromEntries(KEY_LIMITS.map((k) => [k, Number(adapter.limits[k])])),
  };
}

export function describeAdapter(s: WebGPUStatus): string {
  if (!s.available || !s.adapter) return "no WebGPU adapter";
  const a = s.adapter;
  const name = [a.vendor, a.architecture, a.device || a.description].filter(Boolean).join(" · ");
  return name || "an unnamed adapter";
}
