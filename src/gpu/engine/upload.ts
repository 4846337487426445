// Weight upload: from any per-tensor source (in-memory ModelWeights, or a loader streaming a checkpoint from
// disk), packed for the kernels and written in bounded chunks, or generated on the GPU (synthetic
// benchmark-scale models, the same buffer layout). The embedding / LM head is split by rows over as many buffers
// as the device's maxStorageBufferBindingSize requires.
import {ternarize} from "../../lib/checkpoint.js";
import {tensorNames} from "../../lib/config.js";
import type {ModelWeights} from "../../lib/tensor.js";
import {storageBuffer, uniformBuffer} from "../gpu.js";
import {gammaPairs, packF16, packF32, packTernaryGPU, rowVec4s} from "../kernels/linear.js";
import {gpuFill} from "./gpu-fill.js";
import type {Plan} from "./plan.js";

/** Where weights come from, one tensor (or row range) at a time, so nothing needs the whole model in memory.
 *  Names are Hugging Face tensor names (config.ts tensorNames); a 1-D tensor (a norm) is one row. */
export interface WeightSource {
  /** Rows [row0, row0 + rows) of a float tensor (embedding, LM head, norms, fp projections), row-major f32. */
  floatRows(name: string, row0: number, rows: number): Float32Array | Promise<Float32Array>;
  /** Rows [row0, row0 + rows) of a ternary projection's codes (int8 in {−1, 0, 1}), row-major. */
  ternaryRows(name: string, row0: number, rows: number): Int8Array | Promise<Int8Array>;
  /** A ternary projection's scale γ (y = γ · W̃x). */
  gamma(name: string): number | Promise<number>;
}

/** A WeightSource over in-memory weights (latent projections of quantized variants are ternarized first). */
export function weightSource(weights: ModelWeights): WeightSource {
  const w = weights.config.bitnet_variant === "fp" ? weights : ternarize(weights);
  return {
    floatRows(name, row0, rows) {
      const t = w.float.get(name);
      if (!t) throw new Error(`webgpu: missing tensor ${name}`);
      const cols = t.shape.length > 1 ? t.shape[1] : t.shape[0];
      return t.data.subarray(row0 * cols, (row0 + rows) * cols);
    },
    ternaryRows(name, row0, rows) {
      const t = w.ternary.get(name);
      if (!t) throw new Error(`webgpu: ${name} is not ternary`);
      return t.codes.subarray(row0 * t.shape[1], (row0 + rows) * t.shape[1]);
    },
    gamma(name) {
      const t = w.ternary.get(name);
      if (!t) throw new Error(`webgpu: ${name} is not ternary`);
      return t.gamma;
    },
  };
}

/** Owns every buffer of a session, checking sizes against the device's limits before creating them. */
export class BufferPool {
  private all: GPUBuffer[] = [];
  constructor(readonly device: GPUDevice) {}
  buf(sizeOrData: number | ArrayBufferView, label: string): GPUBuffer {
    const maxSize = this.device.limits.maxBufferSize;
    const bytes = typeof sizeOrData === "number" ? sizeOrData : sizeOrData.byteLength;
    if (bytes > maxSize)
      throw new Error(`webgpu: ${label} needs ${bytes} bytes, more than this device's maxBufferSize ${maxSize}`);
    const b = storageBuffer(this.device, sizeOrData, label);
    this.all.push(b);
    return b;
  }
  uni(data: ArrayBuffer | ArrayBufferView, label: string): GPUBuffer {
    const b = uniformBuffer(this.device, data, label);
    this.all.push(b);
    return b;
  }
  checkBinding(bytes: number, label: string): void {
    const max = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > max)
      throw new Error(
        `webgpu: ${label} needs a ${bytes}-byte binding, more than this device's maxStorageBufferBindingSize ${max}`,
      );
  }
  free(): void {
    for (const b of this.all) b.destroy();
    this.all = [];
  }
}

export interface LinearBufs {
  W: GPUBuffer;
  scale?: GPUBuffer;
  N: number;
  K: number;
}

export interface LayerWeights {
  qkv: LinearBufs;
  o: LinearBufs;
  gu: LinearBufs;
  down: LinearBufs;
  inNorm: GPUBuffer;
  postNorm: GPUBuffer;
  attnSub?: GPUBuffer;
  ffnSub?: GPUBuffer;
  /** an RMSNorm inside each BitLinear: the projections as separate linears (each reads its own quantized input) and
   *  the norms' weights, by projection; qkv/gu are then empty placeholders */
  proj?: Record<"q" | "k" | "v" | "gate" | "up", LinearBufs>;
  linNorm?: Record<"q" | "k" | "v" | "o" | "gate" | "up" | "down", GPUBuffer>;
  /** RMSNorm on q/k heads: [q_norm | k_norm], 2·d floats */
  qkNorm?: GPUBuffer;
  /** Gemma's sandwich norms on the attention and FFN outputs (postNorm is then pre_feedforward_layernorm) */
  sandwich?: {attn: GPUBuffer; ffn: GPUBuffer};
}

export interface WeightBufs {
  layers: LayerWeights[];
  finalNorm: GPUBuffer;
  /** Embedding rows over buffers of `rowsPerChunk` rows each; the LM head (the same buffers when tied). */
  emb: GPUBuffer[];
  head: GPUBuffer[];
  rowsPerChunk: number;
  rowWords: number;
}

/** Bytes packed and written per queue.writeBuffer: bounds the staging memory of a streamed upload. */
const UPLOAD_BYTES = 16 << 20;

export interface UploadOptions {
  lmHead: "f32" | "f16";
  /** Generate the weights on the GPU from this seed instead of reading `source`. */
  synthetic?: {seed: number};
}

/** Creates and fills every weight buffer of the plan. */
export async function uploadWeights(
  pool: BufferPool,
  P: Plan,
  source: WeightSource | undefined,
  opts: UploadOptions,
): Promise<WeightBufs> {
  const device = pool.device;
  const synth = opts.synthetic;
  if (!synth && !source) throw new Error("webgpu: no weights to upload");
  let seed = synth?.seed ?? 0;
  const write = (buf: GPUBuffer, byteOffset: number, data: ArrayBufferView) =>
    device.queue.writeBuffer(buf, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  const normBuf = async (name: string, n: number) =>
    pool.buf(synth ? new Float32Array(n).fill(1) : Float32Array.from(await source!.floatRows(name, 0, 1)), name);
  // Gemma's block norms compute x̂ · (1 + w) (architecture.norms.unitOffset): the 1 is added here, in f32 as the
  // reference does; the BitLinears' own norms are plain
  const blockNorm = async (name: string, n: number) =>
    P.arch.norms.unitOffset && !synth
      ? pool.buf(
          Float32Array.from(await source!.floatRows(name, 0, 1), (v) => Math.fround(1 + v)),
          name,
        )
      : normBuf(name, n);

  // A linear of N GPU rows made of parts side by side (q|k|v) or row-interleaved (gate/up: GPU row 2i+p is
  // row i of part p, so the GLU epilogue finds both in one workgroup).
  const linear = async (
    parts: {name: string; rows: number}[],
    K: number,
    interleave: boolean,
    label: string,
    mul = 1, // MiniCPM's scale_depth / √layers on W_o and W_down (architecture.residualScale), folded into the weights
  ): Promise<LinearBufs> => {
    const N = parts.reduce((a, p) => a + p.rows, 0);
    const kind = P.kind;
    const rowBytes = rowVec4s(kind, K) * 16;
    pool.checkBinding(N * rowBytes, label);
    const W = pool.buf(N * rowBytes, label);
    if (synth) {
      if (kind === "ternary") await gpuFill(device, W, (N * rowBytes) / 4, 0, ++seed * 7919, 0);
      else await gpuFill(device, W, (N * rowBytes) / 4, kind === "f32" ? 1 : 2, ++seed * 7919, 1 / Math.sqrt(K));
      const scale =
        kind === "ternary"
          ? pool.buf(gammaPairs(new Float64Array(N).fill(1.2 / Math.sqrt(K))), label + ".scale")
          : undefined;
      return {W, scale, N, K};
    }
    const pack = (rows: number, row: (r: number) => ArrayLike<number>) =>
      kind === "ternary"
        ? packTernaryGPU(rows, K, row)
        : kind === "f32"
          ? packF32(rows, K, row)
          : packF16(rows, K, row);
    const read = async (name: string, r0: number, n: number) =>
      kind === "ternary"
        ? source!.ternaryRows(name, r0, n)
        : mul === 1
          ? source!.floatRows(name, r0, n)
          : (await source!.floatRows(name, r0, n)).map((v) => v * mul);
    const R = Math.max(2, Math.floor(UPLOAD_BYTES / rowBytes / 2) * 2);
    if (interleave) {
      const rows = parts[0].rows;
      for (let i0 = 0; i0 < rows; i0 += R / 2) {
        const n = Math.min(R / 2, rows - i0);
        const src = await Promise.all(parts.map((p) => read(p.name, i0, n)));
        write(
          W,
          2 * i0 * rowBytes,
          pack(2 * n, (r) => src[r % 2].subarray((r >> 1) * K, ((r >> 1) + 1) * K)),
        );
      }
    } else {
      let g0 = 0;
      for (const p of parts) {
        for (let i0 = 0; i0 < p.rows; i0 += R) {
          const n = Math.min(R, p.rows - i0);
          const src = await read(p.name, i0, n);
          write(
            W,
            (g0 + i0) * rowBytes,
            pack(n, (r) => src.subarray(r * K, (r + 1) * K)),
          );
        }
        g0 += p.rows;
      }
    }
    if (kind !== "ternary") return {W, N, K};
    const scales = new Float64Array(N);
    let r = 0;
    for (let i = 0; i < parts.length; i++) {
      const g = await source!.gamma(parts[i].name);
      for (let j = 0; j < parts[i].rows; j++) scales[interleave ? 2 * j + i : r + j] = g * mul;
      r += parts[i].rows;
    }
    return {W, scale: pool.buf(gammaPairs(scales), label + ".scale"), N, K};
  };

  const layers = await uploadLayers({P, pool, source, synth, linear, normBuf, blockNorm});
  // MiniCPM's LM head reads the final norm's output ÷ (hidden / dim_model_base): folded into the norm's weights
  const hdiv = P.arch.headDivisor;
  const finalNorm =
    hdiv !== 1 && !synth
      ? pool.buf(
          Float32Array.from(await source!.floatRows(tensorNames.finalNorm, 0, 1), (v) => v / hdiv),
          tensorNames.finalNorm,
        )
      : await blockNorm(tensorNames.finalNorm, P.C);

  const {emb, head, rowsPerChunk, rowWords} = await uploadRows(
    {device, pool, P, source, synth, write, nextSeed: () => ++seed},
    opts,
  );
  return {layers, finalNorm, emb, head, rowsPerChunk, rowWords};
}

/** What the parts of uploadWeights share: the plan, the pool, where the weights come from (or the synthetic seed). */
interface UploadParts {
  P: Plan;
  pool: BufferPool;
  source: WeightSource | undefined;
  synth: {seed: number} | undefined;
}

/** Every layer's buffers: its linears (fused q|k|v and gate|up, or one per projection), norms and sub-norms. */
async function uploadLayers(
  u: UploadParts & {
    linear: (
      parts: {name: string; rows: number}[],
      K: number,
      interleave: boolean,
      label: string,
      mul?: number,
    ) => Promise<LinearBufs>;
    normBuf: (name: string, n: number) => Promise<GPUBuffer>;
    blockNorm: (name: string, n: number) => Promise<GPUBuffer>;
  },
): Promise<LayerWeights[]> {
  const {P, pool, source, synth, linear, normBuf, blockNorm} = u;
  const hd = P.H * P.d;
  const kvd = P.KV * P.d;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < P.L; l++) {
    const n = tensorNames.layer(l);
    const perProj = P.arch.norms.perProjection;
    const proj = perProj
      ? {
          q: await linear([{name: n.q, rows: hd}], P.C, false, `L${l}.q`),
          k: await linear([{name: n.k, rows: kvd}], P.C, false, `L${l}.k`),
          v: await linear([{name: n.v, rows: kvd}], P.C, false, `L${l}.v`),
          gate: await linear([{name: n.gate, rows: P.F}], P.C, false, `L${l}.gate`),
          up: await linear([{name: n.up, rows: P.F}], P.C, false, `L${l}.up`),
        }
      : undefined;
    const lnorm = (x: string, k: number) => normBuf(tensorNames.linearNorm(x), k);
    const linNorm = perProj
      ? {
          q: await lnorm(n.q, P.C),
          k: await lnorm(n.k, P.C),
          v: await lnorm(n.v, P.C),
          o: await lnorm(n.o, hd),
          gate: await lnorm(n.gate, P.C),
          up: await lnorm(n.up, P.C),
          down: await lnorm(n.down, P.F),
        }
      : undefined;
    let qkNorm: GPUBuffer | undefined;
    if (P.arch.norms.qk) {
      const both = new Float32Array(2 * P.d);
      if (synth) both.fill(1);
      else {
        both.set(await source!.floatRows(n.qNorm, 0, 1), 0);
        both.set(await source!.floatRows(n.kNorm, 0, 1), P.d);
        if (P.arch.norms.unitOffset) for (let i = 0; i < both.length; i++) both[i] = Math.fround(1 + both[i]);
      }
      qkNorm = pool.buf(both, `L${l}.qk_norm`);
    }
    layers.push({
      proj,
      linNorm,
      qkNorm,
      qkv: proj
        ? proj.q
        : await linear(
            [
              {name: n.q, rows: hd},
              {name: n.k, rows: kvd},
              {name: n.v, rows: kvd},
            ],
            P.C,
            false,
            `L${l}.qkv`,
          ),
      o: await linear([{name: n.o, rows: P.C}], hd, false, `L${l}.o`, P.arch.residualScale),
      gu: proj
        ? proj.gate
        : await linear(
            [
              {name: n.gate, rows: P.F},
              {name: n.up, rows: P.F},
            ],
            P.C,
            true,
            `L${l}.gate_up`,
          ),
      down: await linear([{name: n.down, rows: P.C}], P.F, false, `L${l}.down`, P.arch.residualScale),
      inNorm: await blockNorm(n.inputNorm, P.C),
      postNorm: await blockNorm(P.arch.norms.sandwich ? n.preFfnNorm : n.postAttnNorm, P.C),
      sandwich: P.arch.norms.sandwich
        ? {attn: await blockNorm(n.postAttnNorm, P.C), ffn: await blockNorm(n.postFfnNorm, P.C)}
        : undefined,
      attnSub: P.sites.o.subNorm ? await normBuf(n.attnSubNorm, hd) : undefined,
      ffnSub: P.sites.down.subNorm ? await normBuf(n.ffnSubNorm, P.F) : undefined,
    });
  }
  return layers;
}

/** The embedding and LM head rows (f32 or f16), split by rows over buffers to respect the binding limit. */
async function uploadRows(
  u: UploadParts & {
    device: GPUDevice;
    write: (buf: GPUBuffer, byteOffset: number, data: ArrayBufferView) => void;
    nextSeed: () => number;
  },
  opts: UploadOptions,
): Promise<{emb: GPUBuffer[]; head: GPUBuffer[]; rowsPerChunk: number; rowWords: number}> {
  const {device, pool, P, source, synth, write, nextSeed} = u;
  // embedding and LM head rows (f32 or f16), split by rows over buffers to respect the binding limit
  const f16 = opts.lmHead === "f16";
  const rowWords = f16 ? Math.ceil(P.C / 8) * 4 : Math.ceil(P.C / 4) * 4;
  const maxBind = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const rowsPerChunk = Math.min(P.V, Math.floor(maxBind / (rowWords * 4)));
  if (rowsPerChunk < 1) throw new Error("webgpu: one embedding row exceeds the binding limit");
  const chunks = Math.ceil(P.V / rowsPerChunk);
  const maxChunks = device.limits.maxStorageBuffersPerShaderStage - 2;
  if (chunks > maxChunks)
    throw new Error(
      `webgpu: the ${P.V}×${P.C} embedding needs ${chunks} buffers of ≤ ${maxBind} bytes; this device binds at most ${maxChunks}`,
    );
  const rowsEach = Math.max(1, Math.floor(UPLOAD_BYTES / (rowWords * 4)));
  const makeRows = async (name: string, label: string): Promise<GPUBuffer[]> => {
    const out: GPUBuffer[] = [];
    for (let i = 0; i < chunks; i++) {
      const rows = Math.min(rowsPerChunk, P.V - i * rowsPerChunk);
      const b = pool.buf(rows * rowWords * 4, `${label}${i}`);
      if (synth) await gpuFill(device, b, rows * rowWords, f16 ? 2 : 1, nextSeed() * 104729, 0.5);
      else {
        for (let r0 = 0; r0 < rows; r0 += rowsEach) {
          const n = Math.min(rowsEach, rows - r0);
          const data = await source!.floatRows(name, i * rowsPerChunk + r0, n);
          const row = (r: number) => data.subarray(r * P.C, (r + 1) * P.C);
          write(b, r0 * rowWords * 4, f16 ? packF16(n, P.C, row) : packF32(n, P.C, row));
        }
      }
      out.push(b);
    }
    return out;
  };
  const emb = await makeRows(tensorNames.embed, "embed");
  const head = P.arch.head.tied ? emb : await makeRows(tensorNames.lmHead, "lm_head");
  return {emb, head, rowsPerChunk, rowWords};
}
