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

// ---------------------------------------------------------------- where a page's model runs

/** Adapter strings that mean the "GPU" is emulated on the CPU (Chromium's SwiftShader, Mesa's llvmpipe/softpipe/lavapipe,
 *  Windows' WARP / Basic Render Driver). Such an adapter runs the WebGPU engine several times slower than the plain
 *  CPU reference (on a 2-core machine, SwiftShader took 14–16 s to the overview's first token; the CPU path < 1 s). */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|softpipe|lavapipe|software|basic render|microsoft basic|\bwarp\b/i;

/** Whether the adapter is a fallback (software) one: the browser says so, or its name gives it away. */
export function isSoftwareAdapter(s: WebGPUStatus): boolean {
  if (!s.available || !s.adapter) return false;
  const a = s.adapter;
  return a.isFallbackAdapter || SOFTWARE_ADAPTER.test([a.vendor, a.architecture, a.device, a.description].join(" "));
}

export type BackendPreference = "auto" | "webgpu" | "cpu";

/** A measured comparison (ms for the same small piece of work) when the page took one. */
export interface BackendMeasurement {
  webgpuMs: number;
  cpuMs: number;
}

export interface EngineChoice {
  backend: "webgpu" | "cpu";
  /** Why, in words for the reader ("your GPU", "WebGPU runs in software here: …"). */
  reason: string;
  /** The adapter is emulated on the CPU. */
  software: boolean;
}

/** Where a page's model runs: a forced backend wins (WebGPU forced without WebGPU is the caller's error to report);
 *  "auto" takes a hardware WebGPU adapter, and a software adapter only when a measurement shows it faster than the
 *  CPU reference. Pure, so every page and the tests share one rule. */
export function chooseBackend(
  pref: BackendPreference,
  status: WebGPUStatus,
  measurement?: BackendMeasurement,
): EngineChoice {
  const software = isSoftwareAdapter(status);
  if (pref === "cpu") return {backend: "cpu", reason: "the CPU reference was chosen (backend=cpu)", software};
  if (pref === "webgpu")
    return {
      backend: "webgpu",
      reason: `WebGPU was chosen (backend=webgpu)${software ? " — a software adapter, slower than the CPU here" : ""}`,
      software,
    };
  if (!status.available)
    return {backend: "cpu", reason: `no WebGPU here (${status.reason ?? "unavailable"})`, software};
  if (!software) return {backend: "webgpu", reason: `your GPU (${describeAdapter(status)})`, software};
  if (measurement && measurement.webgpuMs < measurement.cpuMs) {
    return {
      backend: "webgpu",
      reason: `WebGPU runs in software here (${describeAdapter(status)}) but measured faster than the CPU reference`,
      software,
    };
  }
  return {
    backend: "cpu",
    reason: `WebGPU runs in software here (${describeAdapter(status)}), slower than the CPU reference${measurement ? ` (measured ${Math.round(measurement.webgpuMs)} ms against ${Math.round(measurement.cpuMs)} ms)` : ""}, so the page uses the CPU; add backend=webgpu to the link to force it`,
    software,
  };
}
