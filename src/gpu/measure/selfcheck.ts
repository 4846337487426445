// Bit-exactness checks of the kernels against src/lib on whatever device runs them (the GPU tests do the same
// under vitest on SwiftShader; this runs inside the benchmark on real drivers, where compilers may fuse or
// reorder float arithmetic differently). Each check reports how many values differ from the reference.
import {kvCacheBuffers, kvLayout, type KVFormat} from "../kernels/kv-cache.js";
import {ropeKVWGSL} from "../kernels/rope-kv.js";
import {exactDivWGSL} from "../kernels/exact.js";
import {bindGroup, pipelineChecked, readBuffer, storageBuffer, uniformBuffer} from "../gpu.js";
import {gammaPairs, linearGrid, linearWGSL, packActI8, packTernaryGPU} from "../kernels/linear.js";
import {normQuantBindings, normQuantWGSL, type NormQuantConfig} from "../kernels/normquant.js";
import {quantizeAbsmaxInt8, quantizeAbsmeanInt4, quantizeKV, quantizeTopKInt8, type ActQuant} from "../../lib/quant.js";
import {linearConfig, subgroupSize} from "../engine/tune.js";
import {Rng} from "../../lib/rng.js";

export interface SelfCheck {
  name: string;
  checked: number;
  mismatches: number;
  /** The first few mismatches, in words. */
  examples: string[];
}

/** Uniform [0, 1) numbers from the library's seeded generator. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.uniform();
}

const f32bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];

async function run(
  device: GPUDevice,
  code: string,
  buffers: GPUBuffer[],
  grid: [number, number?, number?],
  label: string,
): Promise<void> {
  const pl = await pipelineChecked(device, code, label);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pl);
  pass.setBindGroup(0, bindGroup(device, pl, buffers));
  pass.dispatchWorkgroups(grid[0], grid[1] ?? 1, grid[2] ?? 1);
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
}

/** What every check reads: the device, its subgroup size and workgroup size, the shared seeded numbers, and the
 *  list the checks add to. */
interface CheckContext {
  device: GPUDevice;
  S: number;
  WG: number;
  r: () => number;
  out: SelfCheck[];
}

/** Float-float primitives: TwoSum / exact product errors must survive the driver's compiler. */
async function checkFloatFloat(c: CheckContext): Promise<void> {
  const {device, r, out} = c;
  {
    const n = 4096;
    const a = Float32Array.from({length: n}, () => (r() - 0.5) * 2 ** Math.floor(r() * 20 - 10));
    const b = Float32Array.from({length: n}, () => (r() - 0.5) * 2 ** Math.floor(r() * 20 - 10));
    const A = storageBuffer(device, a);
    const B = storageBuffer(device, b);
    const O = storageBuffer(device, n * 16);
    await run(
      device,
      /* wgsl */ `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> o: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> z: vec4<u32>;
fn hi12(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) & 0xfffff000u); }
${exactDivWGSL}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  OPQ = z.x; // a uniform: arrayLength(&a) >> 31 is provably 0 (bounded binding size) and would be folded away
  let i = g.x;
  if (i >= arrayLength(&a)) { return; }
  let x = a[i];
  let y = b[i];
  let se = twoSum(x, y);
  let s = se.x;
  let e = se.y;
  let p = x * y;
  let xh = hi12(x); let xl = x - xh; let yh = hi12(y); let yl = y - yh;
  let pe = (((xh * yh - p) + xh * yl) + xl * yh) + xl * yl;
  o[i] = vec4<f32>(s, e, p, pe);
}`,
      [A, B, O, uniformBuffer(device, new Uint32Array(4))],
      [Math.ceil(n / 64)],
      "selfcheck-ff",
    );
    const got = new Float32Array(await readBuffer(device, O, n * 16));
    const c: SelfCheck = {name: "float-float TwoSum / TwoProduct", checked: 2 * n, mismatches: 0, examples: []};
    for (let i = 0; i < n; i++) {
      const [s, e, p, pe] = got.subarray(4 * i, 4 * i + 4);
      const okSum = s + e === a[i] + b[i] && Math.fround(s) === s; // exact in double
      const okProd = p + pe === a[i] * b[i]; // a·b is exact in double (48 bits)
      if (!okSum || !okProd) {
        c.mismatches++;
        if (c.examples.length < 3)
          c.examples.push(`${a[i]} ${b[i]}: sum ${s}+${e} (${a[i] + b[i]}), prod ${p}+${pe} (${a[i] * b[i]})`);
      }
    }
    out.push(c);
    for (const x of [A, B, O]) x.destroy();
  }
}

/** Quantizers (identical inputs, no norm): codes, scale and Σq exactly as quant.ts. */
async function checkQuantizers(c: CheckContext): Promise<void> {
  const {device, S, WG, r, out} = c;
  const quantCase = async (
    name: string,
    quant: "int8" | "int4",
    topK: number | undefined,
    ref: (x: Float32Array, n: number) => ActQuant,
    norm = false,
  ) => {
    const n = 2560;
    const M = 4;
    const x = Float32Array.from({length: M * n}, () => (r() - 0.5) * 4 * (r() < 0.02 ? 30 : 1));
    const words = 16 * Math.ceil(n / 64);
    const cfg: NormQuantConfig = {n, src: "plain", norm, hadamard: false, topK, quant, inspect: false, sub: S, WG};
    const map: Record<string, GPUBuffer> = {
      P: uniformBuffer(device, new Uint32Array([n, words, f32bits(1e-5), f32bits(1e-5 - Math.fround(1e-5))])),
      src: storageBuffer(device, x),
      normW: storageBuffer(device, new Float32Array(n).fill(1)),
      out: storageBuffer(device, M * words * 4),
      xmeta: storageBuffer(device, M * 8),
    };
    await run(
      device,
      normQuantWGSL(cfg),
      normQuantBindings(cfg).map((k) => map[k]),
      [M],
      "selfcheck-quant",
    );
    const q = new Int8Array(await readBuffer(device, map.out, M * words * 4));
    const meta = new Float32Array(await readBuffer(device, map.xmeta, M * 8));
    const want = ref(x, n);
    const c: SelfCheck = {name, checked: M * n + M, mismatches: 0, examples: []};
    for (let m = 0; m < M; m++) {
      if (meta[2 * m] !== want.scale[m]) {
        c.mismatches++;
        if (c.examples.length < 3)
          c.examples.push(`token ${m}: scale ${meta[2 * m]} vs ${want.scale[m]} (γ ${want.gamma[m]})`);
      }
      for (let i = 0; i < n; i++)
        if (q[m * words * 4 + i] !== want.q[m * n + i]) {
          c.mismatches++;
          if (c.examples.length < 3)
            c.examples.push(
              `token ${m} i ${i}: code ${q[m * words * 4 + i]} vs ${want.q[m * n + i]} (x ${x[m * n + i]})`,
            );
        }
    }
    out.push(c);
    for (const b of Object.values(map)) b.destroy();
  };
  await quantCase("absmax INT8 codes + scale", "int8", undefined, (x, n) => quantizeAbsmaxInt8(x, n));
  await quantCase("absmean INT4 codes + scale", "int4", undefined, (x, n) => quantizeAbsmeanInt4(x, n));
  await quantCase("top-K 50% + INT8 codes", "int8", 1280, (x, n) => quantizeTopKInt8(x, n, 0.5));
}

/** RMSNorm: w · fround(x · r), r in float64, bit for bit. */
async function checkRmsNorm(c: CheckContext): Promise<void> {
  const {device, S, WG, r, out} = c;
  {
    const n = 2560;
    const M = 4;
    const x = Float32Array.from({length: M * n}, () => (r() - 0.5) * 6);
    const w = Float32Array.from({length: n}, () => 1 + (r() - 0.5) * 0.2);
    const stride = 8 * Math.ceil(n / 8);
    const cfg: NormQuantConfig = {
      n,
      src: "plain",
      norm: true,
      hadamard: false,
      quant: "none",
      inspect: false,
      sub: S,
      WG,
    };
    const map: Record<string, GPUBuffer> = {
      P: uniformBuffer(device, new Uint32Array([n, stride, f32bits(1e-5), f32bits(1e-5 - Math.fround(1e-5))])),
      src: storageBuffer(device, x),
      normW: storageBuffer(device, w),
      out: storageBuffer(device, M * stride * 4),
    };
    await run(
      device,
      normQuantWGSL(cfg),
      normQuantBindings(cfg).map((k) => map[k]),
      [M],
      "selfcheck-rms",
    );
    const y = new Float32Array(await readBuffer(device, map.out, M * stride * 4));
    const c: SelfCheck = {name: "RMSNorm bits", checked: M * n, mismatches: 0, examples: []};
    for (let m = 0; m < M; m++) {
      let ss = 0;
      for (let i = 0; i < n; i++) ss += x[m * n + i] * x[m * n + i];
      const rr = 1 / Math.sqrt(ss / n + 1e-5);
      for (let i = 0; i < n; i++) {
        const want = Math.fround(w[i] * Math.fround(x[m * n + i] * rr));
        if (y[m * stride + i] !== want) {
          c.mismatches++;
          if (c.examples.length < 3) c.examples.push(`token ${m} i ${i}: ${y[m * stride + i]} vs ${want}`);
        }
      }
    }
    out.push(c);
    for (const b of Object.values(map)) b.destroy();
  }
}

/** Ternary linear: fround(acc · (γ/s)) bit for bit. */
async function checkTernaryLinear(c: CheckContext): Promise<void> {
  const {device, S, r, out} = c;
  {
    const N = 300;
    const K = 2560;
    const codes = Int8Array.from({length: N * K}, () => Math.floor(r() * 3) - 1);
    const xq = Int8Array.from({length: K}, () => Math.floor(r() * 255) - 127);
    const gamma = Float64Array.from({length: N}, () => 0.01 + r() * 0.05);
    const s = Math.fround(127 / (1 + r()));
    let sx = 0;
    for (const v of xq) sx += v;
    const cfg = linearConfig(S, "ternary", "store", 1);
    const meta = new Uint32Array([f32bits(s), sx >>> 0, 0, 0]);
    const Y = storageBuffer(device, N * 4);
    await run(
      device,
      linearWGSL(cfg),
      [
        uniformBuffer(device, new Uint32Array([N, Math.ceil(K / 64), 1, 4 * Math.ceil(K / 64), N, 0, 0, 0])),
        storageBuffer(
          device,
          packTernaryGPU(N, K, (i) => codes.subarray(i * K, (i + 1) * K)),
        ),
        storageBuffer(device, packActI8(xq, 1, K)),
        storageBuffer(device, meta),
        storageBuffer(device, gammaPairs(gamma)),
        Y,
      ],
      linearGrid(cfg, N, 1),
      "selfcheck-linear",
    );
    const y = new Float32Array(await readBuffer(device, Y, N * 4));
    const c: SelfCheck = {name: "ternary GEMV output bits", checked: N, mismatches: 0, examples: []};
    for (let o = 0; o < N; o++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += codes[o * K + k] * xq[k];
      const want = Math.fround(acc * (gamma[o] / s));
      if (y[o] !== want) {
        c.mismatches++;
        if (c.examples.length < 3) c.examples.push(`row ${o}: ${y[o]} vs ${want} (acc ${acc})`);
      }
    }
    out.push(c);
  }
}

/** KV cache: codes, min and step as quantizeKV makes them of the GPU's own rotated vectors. */
async function checkKVCache(c: CheckContext): Promise<void> {
  const {device, r, out} = c;
  for (const bits of [8, 4, 3]) {
    const H = 4;
    const KVh = 2;
    const d = 128;
    const Sx = 40;
    const qkvN = (H + 2 * KVh) * d;
    const f: KVFormat = {bits, bosBits: bits, store16: "f32"};
    // lattice-valued inputs, like real projection outputs (exact ties happen there)
    const step = 0.0137;
    const qkv = Float32Array.from({length: Sx * qkvN}, () => Math.fround(Math.round((r() - 0.5) * 300) * step));
    const half = d / 2;
    const cos = new Float32Array(Sx * half);
    const sin = new Float32Array(Sx * half);
    for (let p = 0; p < Sx; p++)
      for (let i = 0; i < half; i++) {
        cos[p * half + i] = Math.cos(p / Math.pow(500000, (2 * i) / d));
        sin[p * half + i] = Math.sin(p / Math.pow(500000, (2 * i) / d));
      }
    const lay = kvLayout(f, d, KVh);
    const qb = storageBuffer(device, qkv);
    const {K: Kb, V: Vb, Km, Vm} = kvCacheBuffers(f, d, KVh, Sx, (bytes) => storageBuffer(device, bytes));
    await run(
      device,
      ropeKVWGSL({H, KV: KVh, d, kv: f, WG: 128}),
      [
        uniformBuffer(device, new Uint32Array([qkvN, 0, 0, 0])),
        qb,
        storageBuffer(device, cos),
        storageBuffer(device, sin),
        Kb,
        Vb,
        Km,
        Vm,
        uniformBuffer(device, new Uint32Array([Sx, 0, 1, 64, 0, 0, 0, 0])),
      ],
      [Sx],
      "selfcheck-kv",
    );
    const rot = new Float32Array(await readBuffer(device, qb, Sx * qkvN * 4));
    const c: SelfCheck = {name: `KV ${bits}-bit codes + min/step`, checked: 0, mismatches: 0, examples: []};
    for (const [isV, buf, mb] of [
      [false, Kb, Km],
      [true, Vb, Vm],
    ] as const) {
      const words = new Uint32Array(await readBuffer(device, buf, lay.total(Sx) * 4));
      const meta = new Float32Array(await readBuffer(device, mb, Sx * KVh * 8));
      for (let j = 0; j < Sx; j++)
        for (let g = 0; g < KVh; g++) {
          const src = rot.subarray(
            j * qkvN + (H + (isV ? KVh : 0) + g) * d,
            j * qkvN + (H + (isV ? KVh : 0) + g + 1) * d,
          );
          const q = quantizeKV(src, d, bits);
          const base = lay.offset(j, g);
          c.checked += d + 2;
          if (meta[2 * (j * KVh + g)] !== q.min[0] || meta[2 * (j * KVh + g) + 1] !== q.step[0]) {
            c.mismatches++;
            if (c.examples.length < 3)
              c.examples.push(
                `${isV ? "V" : "K"} ${j},${g}: min/step ${meta[2 * (j * KVh + g)]}/${meta[2 * (j * KVh + g) + 1]} vs ${q.min[0]}/${q.step[0]}`,
              );
          }
          for (let e = 0; e < d; e++) {
            const bit = e * bits;
            let code = words[base + (bit >> 5)] >>> (bit & 31);
            if ((bit & 31) + bits > 32) code |= words[base + (bit >> 5) + 1] << (32 - (bit & 31));
            code &= (1 << bits) - 1;
            if (code !== q.q[e]) {
              c.mismatches++;
              if (c.examples.length < 3)
                c.examples.push(
                  `${isV ? "V" : "K"} ${j},${g},${e}: code ${code} vs ${q.q[e]} ((x−min)/step = ${(src[e] - q.min[0]) / q.step[0]})`,
                );
            }
          }
        }
    }
    out.push(c);
  }
}

export async function runSelfChecks(device: GPUDevice): Promise<SelfCheck[]> {
  const S = await subgroupSize(device);
  const WG = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup);
  const out: SelfCheck[] = [];
  const r = rng(2024);
  const c: CheckContext = {device, S, WG, r, out};
  await checkFloatFloat(c);
  await checkQuantizers(c);
  await checkRmsNorm(c);
  await checkTernaryLinear(c);
  await checkKVCache(c);
  return out;
}
