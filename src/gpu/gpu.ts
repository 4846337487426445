// Small WebGPU helpers shared by the kernels, the engine, the tests and the benchmarks.

export const STORAGE = 0x80; // GPUBufferUsage.STORAGE (constants so this module loads before Dawn's globals exist)
export const COPY_SRC = 0x04;
export const COPY_DST = 0x08;
export const UNIFORM = 0x40;
export const MAP_READ = 0x01;
export const QUERY_RESOLVE = 0x200;

/** A storage buffer (4-byte aligned, at least 16 bytes) optionally filled with `data`. */
export function storageBuffer(
  device: GPUDevice,
  sizeOrData: number | ArrayBufferView,
  label?: string,
  extraUsage = 0,
): GPUBuffer {
  const bytes = typeof sizeOrData === "number" ? sizeOrData : sizeOrData.byteLength;
  const size = Math.max(16, Math.ceil(bytes / 16) * 16);
  const buf = device.createBuffer({
    size,
    usage: STORAGE | COPY_DST | COPY_SRC | extraUsage,
    label,
    mappedAtCreation: typeof sizeOrData !== "number",
  });
  if (typeof sizeOrData !== "number") {
    const src = new Uint8Array(sizeOrData.buffer, sizeOrData.byteOffset, sizeOrData.byteLength);
    new Uint8Array(buf.getMappedRange()).set(src);
    buf.unmap();
  }
  return buf;
}

/** A uniform buffer holding `words` (u32/i32/f32 words, written as raw 32-bit values). */
export function uniformBuffer(device: GPUDevice, words: ArrayBuffer | ArrayBufferView, label?: string): GPUBuffer {
  const bytes = words.byteLength;
  const buf = device.createBuffer({
    size: Math.max(16, Math.ceil(bytes / 16) * 16),
    usage: UNIFORM | COPY_DST,
    label,
    mappedAtCreation: true,
  });
  const src =
    words instanceof ArrayBuffer
      ? new Uint8Array(words)
      : new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  new Uint8Array(buf.getMappedRange()).set(src);
  buf.unmap();
  return buf;
}

/** Packs a list of numbers as 32-bit words: integers as u32/i32, non-integers (or values tagged f) as f32. */
export function words(values: ReadonlyArray<number | {f: number}>): ArrayBuffer {
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((values.length * 4) / 16) * 16));
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  const i = new Int32Array(buf);
  values.forEach((v, k) => {
    if (typeof v === "object") f[k] = v.f;
    else if (Number.isInteger(v)) {
      if (v < 0) i[k] = v;
      else u[k] = v;
    } else f[k] = v;
  });
  return buf;
}

/** Copies a buffer range back to the CPU. */
export async function readBuffer(
  device: GPUDevice,
  buf: GPUBuffer,
  bytes = buf.size,
  offset = 0,
): Promise<ArrayBuffer> {
  const staging = device.createBuffer({size: Math.ceil(bytes / 4) * 4, usage: MAP_READ | COPY_DST});
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(buf, offset, staging, 0, Math.ceil(bytes / 4) * 4);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(1 /* GPUMapMode.READ */);
  const out = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return out;
}

export async function readF32(device: GPUDevice, buf: GPUBuffer, count: number, offset = 0): Promise<Float32Array> {
  return new Float32Array(await readBuffer(device, buf, count * 4, offset * 4));
}

/** Pipelines compiled once per device and WGSL source. */
const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

export function pipeline(device: GPUDevice, code: string, label?: string, entryPoint = "main"): GPUComputePipeline {
  let cache = pipelineCache.get(device);
  if (!cache) pipelineCache.set(device, (cache = new Map()));
  const key = entryPoint + "\n" + code;
  let p = cache.get(key);
  if (!p) {
    const module = device.createShaderModule({code, label});
    p = device.createComputePipeline({layout: "auto", compute: {module, entryPoint}, label});
    cache.set(key, p);
  }
  return p;
}

/** Compiles asynchronously and reports WGSL errors with the source line (createComputePipeline alone only
 *  yields an invalid pipeline and a validation error later). */
export async function pipelineChecked(
  device: GPUDevice,
  code: string,
  label?: string,
  entryPoint = "main",
): Promise<GPUComputePipeline> {
  let cache = pipelineCache.get(device);
  if (!cache) pipelineCache.set(device, (cache = new Map()));
  const key = entryPoint + "\n" + code;
  const hit = cache.get(key);
  if (hit) return hit;
  const module = device.createShaderModule({code, label});
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === "error");
  if (errors.length) {
    const lines = code.split("\n");
    const msg = errors
      .map((m) => `${label ?? "shader"}:${m.lineNum}:${m.linePos}: ${m.message}\n    ${lines[m.lineNum - 1] ?? ""}`)
      .join("\n");
    throw new Error(`WGSL compilation failed:\n${msg}`);
  }
  // createComputePipelineAsync crashes Dawn on SwiftShader (std::system_error in its worker pool); sync is safe
  // a pipeline the device rejects (workgroup storage over the limit, too many bindings) is otherwise only an
  // uncaptured error, and dispatching it does nothing: a benchmark timed such a no-op at 0 ms
  device.pushErrorScope("validation");
  const p = device.createComputePipeline({layout: "auto", compute: {module, entryPoint}, label});
  const invalid = await device.popErrorScope();
  if (invalid) throw new Error(`${label ?? "pipeline"}: the device rejected it: ${invalid.message}`);
  cache.set(key, p);
  return p;
}

export function bindGroup(
  device: GPUDevice,
  p: GPUComputePipeline,
  buffers: ReadonlyArray<GPUBuffer | GPUBufferBinding>,
  label?: string,
): GPUBindGroup {
  return device.createBindGroup({
    layout: p.getBindGroupLayout(0),
    label,
    entries: buffers.map((b, i) => ({binding: i, resource: "buffer" in b ? b : {buffer: b}})),
  });
}

/** One recorded dispatch: pipeline, bind group, grid. */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  bind: GPUBindGroup;
  grid: [number, number?, number?];
  label?: string;
}

export function encodeDispatches(pass: GPUComputePassEncoder, list: readonly Dispatch[]): void {
  for (const d of list) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bind);
    pass.dispatchWorkgroups(d.grid[0], d.grid[1] ?? 1, d.grid[2] ?? 1);
  }
}

/** Splits a 1-D workgroup count that may exceed the per-dimension limit into (x, y). Kernels recover the
 *  flat id as wid.x + wid.y * nwg.x. */
export function grid2(n: number, max = 65535): [number, number] {
  if (n <= max) return [Math.max(1, n), 1];
  const y = Math.ceil(n / max);
  return [Math.ceil(n / y), y];
}

export const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** Milliseconds on the monotonic clock (the wall-clock side of every GPU timing). */
export const now = (): number => performance.now();
