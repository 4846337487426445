// WebGPU adapter/device acquisition for the browser (navigator.gpu) and Node (npm `webgpu`, Dawn).
// The Node binding is imported dynamically through a variable specifier so that no browser bundle
// (Framework/Rollup, esbuild) ever tries to resolve it.

export class WebGPUUnavailableError extends Error {
  override name = "WebGPUUnavailableError";
}

/** Thrown by engine calls after the device was lost (driver reset, OOM, tab backgrounded, destroy()). */
export class DeviceLostError extends Error {
  override name = "DeviceLostError";
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface GpuCaps {
  subgroups: boolean;
  f16: boolean;
  timestamps: boolean;
  /** Subgroup sizes the adapter may use (1 when subgroups are unavailable). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  caps: GpuCaps;
  /** Human-readable adapter description (vendor, architecture, driver). */
  description: string;
  /** True when running in Node through Dawn. */
  node: boolean;
  /** Resolves when the device is lost; `lostInfo` is set then. */
  lost: Promise<GPUDeviceLostInfo>;
  lostInfo?: GPUDeviceLostInfo;
  /** Throws DeviceLostError if the device is gone. */
  check(): void;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Node only: Dawn toggles passed to create(), e.g. "disable-dawn-features=timestamp_quantization". */
  dawnFlags?: string[];
  /** Ask for these optional features when the adapter has them (default: subgroups, shader-f16, timestamp-query). */
  features?: GPUFeatureName[];
  /** Called once when the device is lost (not when destroyed on purpose). */
  onLost?: (info: GPUDeviceLostInfo) => void;
  /** Node only: when Vulkan offers no device and no ICD is configured, use Chromium's SwiftShader (a CPU Vulkan)
   *  if it is installed. Default true; the adapter description then says "SwiftShader". */
  swiftShaderFallback?: boolean;
}

const SWIFTSHADER_ICD = "/usr/lib/chromium/vk_swiftshader_icd.json";

async function swiftShaderAdapter(opts: AcquireOptions): Promise<GPUAdapter | null> {
  const env = (globalThis as {process?: {env: Record<string, string | undefined>}}).process?.env;
  if (!env || env.VK_ICD_FILENAMES || env.VK_DRIVER_FILES) return null;
  const fsSpec = "node:fs";
  const fs = (await import(/* @vite-ignore */ fsSpec)) as {existsSync(p: string): boolean};
  if (!fs.existsSync(SWIFTSHADER_ICD)) return null;
  env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // read by the Vulkan loader when the next Dawn instance starts
  const gpu = await nodeGpu(opts.dawnFlags ?? [], true);
  return gpu.requestAdapter({powerPreference: opts.powerPreference ?? "high-performance"});
}

const WANTED: GPUFeatureName[] = ["subgroups", "shader-f16", "timestamp-query"];
const nodeGpus = new Map<string, GPU>();
const keepAlive: GPU[] = [];

async function nodeGpu(flags: string[], fresh = false): Promise<GPU> {
  const key = flags.join("\n");
  let gpu = fresh ? undefined : nodeGpus.get(key);
  if (!gpu) {
    const spec = "webgpu"; // variable specifier: bundlers leave it alone
    let mod: {create(flags: string[]): unknown; globals: object};
    try {
      mod = (await import(/* @vite-ignore */ spec)) as typeof mod;
    } catch (e) {
      throw new WebGPUUnavailableError(
        `WebGPU in Node needs the npm package "webgpu" (Dawn): ${e instanceof Error ? e.message : e}`,
      );
    }
    Object.assign(globalThis, mod.globals);
    gpu = mod.create(flags) as GPU;
    // Dawn's instance must stay referenced while any device made from it lives (its GC crashes the process)
    nodeGpus.set(key, gpu);
    keepAlive.push(gpu);
  }
  return gpu;
}

function isBrowserGpu(): GPU | undefined {
  const nav = (globalThis as {navigator?: {gpu?: GPU}}).navigator;
  return nav?.gpu;
}

/** Finds an adapter and opens a device with the adapter's largest buffer/workgroup limits and the optional
 *  features it has. Throws WebGPUUnavailableError with a specific reason when it cannot. */
export async function acquireGpu(opts: AcquireOptions = {}): Promise<GpuContext> {
  const browserGpu = isBrowserGpu();
  const node = !browserGpu;
  const gpu = browserGpu ?? (await nodeGpu(opts.dawnFlags ?? []));
  let adapter = await gpu.requestAdapter({powerPreference: opts.powerPreference ?? "high-performance"});
  if (!adapter && node && opts.swiftShaderFallback !== false) adapter = await swiftShaderAdapter(opts);
  if (!adapter) {
    throw new WebGPUUnavailableError(
      node
        ? "no WebGPU adapter: Dawn found no Vulkan device (on a machine without a GPU set VK_ICD_FILENAMES to SwiftShader's ICD, e.g. /usr/lib/chromium/vk_swiftshader_icd.json)"
        : "no WebGPU adapter: this browser exposes navigator.gpu but returned no adapter (GPU blocklisted or disabled)",
    );
  }
  const wanted = opts.features ?? WANTED;
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const L = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
      maxBufferSize: L.maxBufferSize,
      maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
      maxStorageBuffersPerShaderStage: L.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupsPerDimension: L.maxComputeWorkgroupsPerDimension,
    },
  });
  const info = adapter.info as GPUAdapterInfo & {subgroupMinSize?: number; subgroupMaxSize?: number};
  const subgroups = device.features.has("subgroups");
  const caps: GpuCaps = {
    subgroups,
    f16: device.features.has("shader-f16"),
    timestamps: device.features.has("timestamp-query"),
    subgroupMinSize: subgroups ? info.subgroupMinSize || 4 : 1,
    subgroupMaxSize: subgroups ? info.subgroupMaxSize || 128 : 1,
  };
  const description =
    [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(" / ") || "unknown adapter";
  let destroyedOnPurpose = false;
  const origDestroy = device.destroy.bind(device);
  device.destroy = () => {
    destroyedOnPurpose = true;
    origDestroy();
  };
  const ctx: GpuContext = {
    device,
    adapter,
    caps,
    description,
    node,
    lost: device.lost,
    check() {
      if (ctx.lostInfo) {
        throw new DeviceLostError(
          ctx.lostInfo.reason,
          `WebGPU device lost (${ctx.lostInfo.reason}): ${ctx.lostInfo.message || "no message"}; rebuild the session`,
        );
      }
    },
  };
  void device.lost.then((li) => {
    ctx.lostInfo = li;
    if (!destroyedOnPurpose && li.reason !== "destroyed") opts.onLost?.(li);
  });
  return ctx;
}

/** Wraps an already-open device (e.g. the test harness's) in a GpuContext. */
export function wrapDevice(
  device: GPUDevice,
  adapterInfo?: {subgroupMinSize?: number; subgroupMaxSize?: number; description?: string},
): GpuContext {
  const subgroups = device.features.has("subgroups");
  const ctx: GpuContext = {
    device,
    adapter: undefined as unknown as GPUAdapter,
    caps: {
      subgroups,
      f16: device.features.has("shader-f16"),
      timestamps: device.features.has("timestamp-query"),
      subgroupMinSize: subgroups ? adapterInfo?.subgroupMinSize || 4 : 1,
      subgroupMaxSize: subgroups ? adapterInfo?.subgroupMaxSize || 128 : 1,
    },
    description: adapterInfo?.description ?? "device",
    node: !isBrowserGpu(),
    lost: device.lost,
    check() {
      if (ctx.lostInfo)
        throw new DeviceLostError(
          ctx.lostInfo.reason,
          `WebGPU device lost (${ctx.lostInfo.reason}): ${ctx.lostInfo.message}`,
        );
    },
  };
  void device.lost.then((li) => (ctx.lostInfo = li));
  return ctx;
}

/** Runs `fn` inside out-of-memory and validation error scopes and turns a captured error into a thrown one. */
export async function withErrorScopes<T>(device: GPUDevice, what: string, fn: () => T | Promise<T>): Promise<T> {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  // The scopes are popped whatever fn did; a GPU error explains a failure better than what fn threw.
  let result: T | undefined;
  let failure: {error: unknown} | undefined;
  try {
    result = await fn();
  } catch (error) {
    failure = {error};
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (oom) throw new Error(`${what}: out of GPU memory (${oom.message})`);
  if (validation) throw new Error(`${what}: WebGPU validation error: ${validation.message}`);
  if (failure) throw failure.error;
  return result as T;
}
