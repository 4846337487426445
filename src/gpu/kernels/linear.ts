import {
  type LinearConfig,
  type LinearKind,
  type LinearParts,
  linearDeclsWGSL,
  linearEpilogueWGSL,
  linearMainLoopWGSL,
  linearReduceWGSL,
  type NormStatsIn,
} from "./linear-stages.js";
import type {NormQuantConfig} from "./normquant.js";

// Linear layers on the GPU: ternary weights × INT8/INT4 activations (BitLinear) and dense f32/f16 weights × f32
// activations (the fp baseline, the LM head). One WGSL generator covers decode (M = 1, a GEMV) and prefill
// (M tokens, each weight tile reused for MT tokens).
//
// Ternary GPU layout (converted from the checkpoint's row-major int8 codes at load):
//   row-major, each row padded to Kp = 64·ceil(K/64) weights = Kv vec4<u32>; one u32 holds 16 weights as
//   2-bit codes c = w + 1 ∈ {0, 1, 2}, weight e (0..15) of the u32 at byte e % 4, bits 2·⌊e/4⌋ of that byte.
//   So (u >> 2s) & 0x03030303 is 4 weights in the 4 i8 lanes that match activation word s (4 i8 per u32),
//   and one dot4I8Packed does 4 multiply-adds with no unpacking beyond a shift and a mask.
//   Codes are offset by +1 (so they stay non-negative i8 lanes); the offset is removed once per row:
//   Σ w·x = Σ c·x − Σ x, and Σ x (an exact i32) comes with the quantized activations.
// Activations: per token, the quantized values as i8 lanes (INT4 values −8…7 ride in i8 lanes too: at decode the
// activation vector is a few KB against MBs of weights, so packing it tighter buys nothing), padded with zeros to Kp,
// and a meta pair (s, Σx): y = (Σ c·x − Σx) · γ / s, γ per row given as a float-float pair [γ_hi × N, γ_lo × N].
// A thread owns R rows × MT tokens, T threads split K; partial sums meet through subgroup shuffles when T lanes
// lie inside one subgroup (checked at device setup), otherwise through workgroup memory.

export type {Epilogue, LinearConfig, LinearKind, NormStatsIn} from "./linear-stages.js";
export {fusedPrologueBindings} from "./linear-stages.js";

/** Weights (ternary: 64, f32: 4, f16: 8) per vec4 of the GPU layout. */
export const perVec4 = (kind: LinearKind) => (kind === "ternary" ? 64 : kind === "f32" ? 4 : 8);
/** vec4 units per row. */
export const rowVec4s = (kind: LinearKind, K: number) => Math.ceil(K / perVec4(kind));
/** vec4 units per token of the activation buffer the kernel reads (i8 lanes for ternary, f32 otherwise). */
export const actVec4s = (kind: LinearKind, K: number) =>
  kind === "ternary" ? 4 * Math.ceil(K / 64) : kind === "f32" ? Math.ceil(K / 4) : 2 * Math.ceil(K / 8);

/** Packs ternary codes (w ∈ {−1, 0, 1}) of `rows` rows into the GPU layout. `row(i)` returns row i (length K). */
export function packTernaryGPU(rows: number, K: number, row: (i: number) => ArrayLike<number>): Uint32Array {
  const Kv = Math.ceil(K / 64);
  const out = new Uint32Array(rows * Kv * 4);
  // padding weights get code 1 (zero): harmless either way since padded activations are 0
  out.fill(0x55555555);
  for (let r = 0; r < rows; r++) {
    const src = row(r);
    const base = r * Kv * 4;
    for (let w = 0; w < Kv * 4; w++) {
      let u = 0;
      for (let e = 0; e < 16; e++) {
        const k = w * 16 + e;
        const c = k < K ? src[k] + 1 : 1;
        u |= c << (8 * (e & 3) + 2 * (e >> 2));
      }
      out[base + w] = u >>> 0;
    }
  }
  return out;
}

/** Per-row scales γ (float64) as the float-float pairs the ternary kernel reads: [γ_hi × N, γ_lo × N]. */
export function gammaPairs(gamma: ArrayLike<number>): Float32Array {
  const N = gamma.length;
  const out = new Float32Array(2 * N);
  for (let i = 0; i < N; i++) {
    out[i] = gamma[i];
    out[N + i] = gamma[i] - out[i];
  }
  return out;
}

/** Inverse of packTernaryGPU (for tests and inspection). */
export function unpackTernaryGPU(packed: Uint32Array, rows: number, K: number): Int8Array {
  const Kv = Math.ceil(K / 64);
  const out = new Int8Array(rows * K);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < K; k++) {
      const u = packed[r * Kv * 4 + (k >> 4)];
      const e = k & 15;
      out[r * K + k] = ((u >>> (8 * (e & 3) + 2 * (e >> 2))) & 3) - 1;
    }
  return out;
}

/** Packs f32 rows into the dense layout (rows padded to 4 floats). */
export function packF32(rows: number, K: number, row: (i: number) => ArrayLike<number>): Float32Array {
  const Kp = Math.ceil(K / 4) * 4;
  const out = new Float32Array(rows * Kp);
  for (let r = 0; r < rows; r++) {
    const src = row(r);
    for (let k = 0; k < K; k++) out[r * Kp + k] = src[k];
  }
  return out;
}

// IEEE half conversion lives in the library (one copy for the engine, the readers and the writers).
export {f16BitsToF32, f32ToF16Bits} from "../../lib/half.js";
import {f32ToF16Bits} from "../../lib/half.js";

/** Packs rows as f16 pairs in u32 (rows padded to 8 halves). */
export function packF16(rows: number, K: number, row: (i: number) => ArrayLike<number>): Uint32Array {
  const Kp = Math.ceil(K / 8) * 8;
  const out = new Uint32Array((rows * Kp) / 2);
  for (let r = 0; r < rows; r++) {
    const src = row(r);
    for (let k = 0; k < K; k += 2) {
      const lo = f32ToF16Bits(src[k]);
      const hi = k + 1 < K ? f32ToF16Bits(src[k + 1]) : 0;
      out[(r * Kp + k) / 2] = (lo | (hi << 16)) >>> 0;
    }
  }
  return out;
}

/** Packs quantized activations (integers in i8 range, [M, K]) as i8 lanes, each token padded to 64·⌈K/64⌉. */
export function packActI8(q: ArrayLike<number>, M: number, K: number): Uint32Array {
  const stride = 16 * Math.ceil(K / 64);
  const out = new Uint32Array(M * stride);
  for (let m = 0; m < M; m++)
    for (let k = 0; k < K; k++) out[m * stride + (k >> 2)] |= (q[m * K + k] & 0xff) << (8 * (k & 3));
  return out;
}

const id = (s: string) => s;

/** WGSL for one linear kernel. Bindings: ternary [P, W, X, xmeta, wscale (2N: γ_hi then γ_lo), Y]; dense [P, W, X, Y].
 *  P = {N, Kv, M, xStride (vec4 per token), yStride (f32 per token), yOffset (f32), xOffset (vec4)}. Rows of
 *  tokens ≥ M inside the last MT block are clamped on read and skipped on write, so M may exceed the tokens a
 *  dispatch covers (the grid decides which tokens run). */
export function linearWGSL(
  c: LinearConfig,
  fused?: {prologue: NormQuantConfig; statsIn?: NormStatsIn},
  statsOut?: boolean,
): string {
  const {kind, R, T, MT, WG, sub, epilogue} = c;
  if (statsOut && (kind !== "ternary" || MT !== 1 || epilogue === "store"))
    throw new Error("linearWGSL: norm statistics come from a ternary decode kernel with a residual or GLU epilogue");
  if (
    fused?.statsIn &&
    (fused.prologue.quant !== "int8" ||
      !fused.prologue.norm ||
      fused.prologue.hadamard ||
      fused.prologue.topK !== undefined)
  )
    throw new Error("linearWGSL: a prologue from norm statistics is RMSNorm → INT8 absmax only");
  if (fused && (kind !== "ternary" || MT !== 1 || fused.prologue.WG !== WG))
    throw new Error(
      "linearWGSL: a fused prologue needs a ternary decode kernel (MT = 1) of the prologue's workgroup size",
    );
  if (WG % T) throw new Error(`linearWGSL: WG ${WG} not a multiple of T ${T}`);
  if ((T & (T - 1)) !== 0) throw new Error(`linearWGSL: T ${T} must be a power of two`);
  if (epilogue.startsWith("glu") && R % 2) throw new Error("linearWGSL: GLU epilogues need an even R");
  if (sub && (sub % T !== 0 || WG % sub !== 0))
    throw new Error(`linearWGSL: subgroup reduction needs T | S and S | WG`);
  const G = WG / T;
  const ternary = kind === "ternary";
  const accT = ternary ? "i32" : "f32";
  const zero = ternary ? "0i" : "0.0";
  const rs = [...Array(R).keys()];
  const ms = [...Array(MT).keys()];
  const Xn = fused ? "xw" : "X";
  const x: LinearParts = {c, fused, statsOut, G, ternary, accT, zero, rs, ms, Xn};
  const L = [...linearDeclsWGSL(x), ...linearMainLoopWGSL(x), ...linearReduceWGSL(x), ...linearEpilogueWGSL(x)];
  return L.map(id).join("\n");
}

// Norm statistics (issue 25): linear-stages.ts normStatsOutWGSL writes them, normquant.ts reads them.
export {STATS_BINDINGS, statsLayout, statsStride} from "./norm-stats.js";

/** Bytes of workgroup memory a fused decode kernel needs (to check against the device limit). */
export function fusedWorkgroupBytes(lin: LinearConfig, nq: NormQuantConfig): number {
  const NS = nq.sub ? Math.max(1, nq.WG / nq.sub) : nq.WG;
  let b = 16 * Math.ceil(nq.n / 64) * 4 + 8 + NS * 8 + 16 + nq.WG * 8;
  if (nq.hadamard) b += nq.n * (nq.hadamardFF === false ? 4 : 8); // hs (+ hl: the float-float rotation)
  if (nq.src === "attn") b += (nq.H ?? 0) * (nq.attnFF ? 16 : 8); // headMD (+ headDen)
  if (!lin.sub && lin.T > 1) b += lin.WG * 4;
  return b;
}

/** Workgroup grid for N rows and M tokens. */
export function linearGrid(c: LinearConfig, N: number, M: number): [number, number] {
  const rowsPerWG = (c.WG / c.T) * c.R;
  return [Math.ceil(N / rowsPerWG), Math.ceil(M / c.MT)];
}

/** The uniform block of a linear kernel. */
export function linearParams(
  kind: LinearKind,
  N: number,
  K: number,
  M: number,
  yStride: number,
  yOffset = 0,
  xStride = actVec4s(kind, K),
  xOffset = 0,
): Uint32Array {
  return new Uint32Array([N, rowVec4s(kind, K), M, xStride, yStride, yOffset, xOffset, 0]);
}
