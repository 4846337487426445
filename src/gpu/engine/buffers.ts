// The buffers a session computes in: activations for a block of up to maxBlock tokens, the KV cache, RoPE
// tables, Hadamard sign bits and the per-step uniforms.
import {attnPartStride, hiLoTable, kvCacheBuffers, kvLayout, type KVFormat} from "../kernels/kv-cache.js";
import {hadamardSignBits} from "../kernels/normquant.js";
import {ARGMAX_PER} from "../kernels/sample.js";
import type {BufferPool} from "./upload.js";
import {actWords, CHUNK, NC_PREFILL, type Plan} from "./plan.js";

export interface LayerKV {
  K: GPUBuffer;
  V: GPUBuffer;
  Km: GPUBuffer;
  Vm: GPUBuffer;
}

export interface Activations {
  /** [M, C] the residual stream. */
  h: GPUBuffer;
  /** The quantized (or float) input of the next linear, and its per-token (scale, …) pairs. */
  xin: GPUBuffer;
  xmeta: GPUBuffer;
  /** [M, (H + 2·KV)·d] */
  qkv: GPUBuffer;
  /** split-attention partials (max, sum, out[d]) per (token, head, chunk) */
  part: GPUBuffer;
  /** [M, F] the GLU output */
  inner: GPUBuffer;
  logits: GPUBuffer;
  logitsAll?: GPUBuffer;
  /** token ids: the prompt block, then a ring of 1024 slots for chained decoding */
  tok: GPUBuffer;
  argPartial: GPUBuffer;
  kv: LayerKV[];
  cos: GPUBuffer;
  sin: GPUBuffer;
  /** RoPE tables per θ where layers differ (Gemma's sliding layers: architecture.rope.thetaPerLayer), by θ */
  ropeByTheta?: Map<number, {cos: GPUBuffer; sin: GPUBuffer}>;
  hadO?: GPUBuffer;
  hadDown?: GPUBuffer;
  /** split H-BitLinear prologues (decode): the in-block FWHT output and the mixed row, f32 */
  hsplit?: [GPUBuffer, GPUBuffer];
  /** an RMSNorm inside each BitLinear (architecture.norms.perProjection): the block norm's float output [M, C8],
   *  and gate / up rows [M, F] before the GLU */
  xnorm?: GPUBuffer;
  gate?: GPUBuffer;
  up?: GPUBuffer;
  /** inspection scratch (the norm-quant kernels' pre/post-quantization rows) */
  dbg?: GPUBuffer;
  /** uniforms written per step: ST {M, P, nC, chunk, plainStart}, the embedding's, argmax's, sampling's */
  st: GPUBuffer;
  embedP: GPUBuffer;
  argP: GPUBuffer;
  sampleP: GPUBuffer;
}

/** Slots of the token buffer after the prompt block, for chained GPU decoding. */
export const TOKEN_RING = 1024;

export function allocActivations(
  pool: BufferPool,
  P: Plan,
  kvF: KVFormat,
  o: {maxLen: number; maxBlock: number; inspect: boolean; attnChunk: number},
): Activations {
  const Mx = o.maxBlock;
  const hd = P.H * P.d;
  pool.checkBinding(kvLayout(kvF, P.d, P.KV).total(o.maxLen) * 4, "KV cache");
  const kv: LayerKV[] = [];
  for (let l = 0; l < P.L; l++)
    kv.push(kvCacheBuffers(kvF, P.d, P.KV, o.maxLen, (bytes, name) => pool.buf(bytes, `L${l}.${name}`)));
  const xw = Math.max(actWords(P.kind, P.C), actWords(P.kind, hd), actWords(P.kind, P.F), 8 * Math.ceil(P.C / 8));
  const partFloats =
    Math.max(Math.ceil(o.maxLen / Math.min(CHUNK, o.attnChunk)) * P.H, Mx * P.H * NC_PREFILL) *
    attnPartStride(P.d, P.exactAttention);
  pool.checkBinding(partFloats * 4, "attention partials");
  // cos/sin tables of exactly the reference's angles (pos · θ^(−2i/d)) in float64, as f32 hi values and f32
  // remainders (hiLoTable): the fast kernels read the hi half, the exact RoPE (ropeKVWGSL exact) both
  const half = P.d / 2;
  const tables = (theta: number) => {
    const cos64 = new Float64Array(o.maxLen * half);
    const sin64 = new Float64Array(o.maxLen * half);
    for (let i = 0; i < half; i++) {
      const inv = 1 / Math.pow(theta, (2 * i) / P.d);
      for (let p = 0; p < o.maxLen; p++) {
        cos64[p * half + i] = Math.cos(p * inv);
        sin64[p * half + i] = Math.sin(p * inv);
      }
    }
    return {cos: hiLoTable(cos64), sin: hiLoTable(sin64)};
  };
  const {cos, sin} = tables(P.arch.rope.theta);
  const others = [...new Set(P.arch.rope.thetaPerLayer)].filter((t) => t !== P.arch.rope.theta);
  const ropeByTheta = others.length
    ? new Map(
        others.map((t) => {
          const tb = tables(t);
          return [t, {cos: pool.buf(tb.cos, `rope.cos.${t}`), sin: pool.buf(tb.sin, `rope.sin.${t}`)}] as const;
        }),
      )
    : undefined;
  let logitsAll: GPUBuffer | undefined;
  if (Mx > 1) {
    pool.checkBinding(Mx * P.V * 4, "all-position logits");
    logitsAll = pool.buf(Mx * P.V * 4, "logits-all");
  }
  return {
    h: pool.buf(Mx * P.C * 4, "h"),
    xin: pool.buf(Mx * xw * 4, "xin"),
    xmeta: pool.buf(Mx * 8, "xmeta"),
    qkv: pool.buf(Mx * P.qkvN * 4, "qkv"),
    part: pool.buf(partFloats * 4, "attn-partials"),
    inner: pool.buf(Mx * P.F * 4, "glu"),
    ...(P.arch.norms.perProjection
      ? {
          xnorm: pool.buf(Mx * 8 * Math.ceil(P.C / 8) * 4, "xnorm"),
          gate: pool.buf(Mx * P.F * 4, "gate"),
          up: pool.buf(Mx * P.F * 4, "up"),
        }
      : {}),
    logits: pool.buf(P.V * 4, "logits"),
    logitsAll,
    tok: pool.buf((Mx + TOKEN_RING) * 4, "tokens"),
    argPartial: pool.buf(Math.ceil(P.V / (256 * ARGMAX_PER)) * Mx * 8 + 16, "argmax-partials"),
    kv,
    cos: pool.buf(cos, "rope.cos"),
    sin: pool.buf(sin, "rope.sin"),
    ropeByTheta,
    hadO: P.hadamard ? pool.buf(hadamardSignBits(hd), "hadamard.o") : undefined,
    hadDown: P.hadamard ? pool.buf(hadamardSignBits(P.F), "hadamard.down") : undefined,
    hsplit: P.hadamard
      ? [
          pool.buf(64 * Math.ceil(Math.max(hd, P.F) / 8), "hadamard.split0"),
          pool.buf(32 * Math.ceil(Math.max(hd, P.F) / 8), "hadamard.split1"),
        ]
      : undefined,
    dbg: o.inspect ? pool.buf(Mx * 2 * Math.max(P.C, hd, P.F) * 4, "inspect") : undefined,
    st: pool.uni(new Uint32Array(8), "step"),
    embedP: pool.uni(new Uint32Array(4), "embed.P"),
    argP: pool.uni(new Uint32Array(4), "argmax.P"),
    sampleP: pool.uni(new Uint32Array(8), "sample.P"),
  };
}
