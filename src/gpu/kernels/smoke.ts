// The smallest useful kernel: y = a·x + y. It proves the WebGPU harness (Node/Dawn and the browser) end to end.
export const saxpyWGSL = /* wgsl */ `
struct Params { n: u32, a: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < p.n) { y[i] = p.a * x[i] + y[i]; }
}`;

/** Runs saxpy on the GPU and reads the result back. */
export async function saxpy(
  device: GPUDevice,
  a: number,
  x: Float32Array<ArrayBuffer>,
  y: Float32Array<ArrayBuffer>,
): Promise<Float32Array> {
  const n = x.length;
  const params = device.createBuffer({size: 8, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST});
  const pdata = new ArrayBuffer(8);
  new Uint32Array(pdata, 0, 1)[0] = n;
  new Float32Array(pdata, 4, 1)[0] = a;
  device.queue.writeBuffer(params, 0, pdata);
  const xb = device.createBuffer({size: Math.max(4, n * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST});
  const yb = device.createBuffer({
    size: Math.max(4, n * 4),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  const rb = device.createBuffer({size: Math.max(4, n * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
  device.queue.writeBuffer(xb, 0, x);
  device.queue.writeBuffer(yb, 0, y);
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: {module: device.createShaderModule({code: saxpyWGSL}), entryPoint: "main"},
  });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      {binding: 0, resource: {buffer: params}},
      {binding: 1, resource: {buffer: xb}},
      {binding: 2, resource: {buffer: yb}},
    ],
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(Math.ceil(n / 64));
  pass.end();
  enc.copyBufferToBuffer(yb, 0, rb, 0, n * 4);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(rb.getMappedRange().slice(0));
  rb.unmap();
  for (const b of [params, xb, yb, rb]) b.destroy();
  return out;
}
