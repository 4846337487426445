// The per-token prologue of every BitLinear, fused into one workgroup per token:
//   [combine split-attention partials] → [RMSNorm] → [Hadamard (v2 H-BitLinear)] → [top-K (a4.8 W_o)]
//   → quantize (absmax INT8 / absmean INT4) or pass through as f32 (fp, the LM head's input).
// It writes the i8 lanes and the (s, Σq) pair the ternary linear kernel reads (see linear.ts).
//
// Numerics follow src/lib/quant.ts exactly where it decides integer codes: s = 127 / max(γ, ε) and
// s = √7 / max(β, ε) are computed correctly rounded (an integer long division — WGSL's f32 division may be
// off by 2.5 ulp, and s moves every code of the token), products s·x are f32 and rounded half to even
// (WGSL round() is half-to-even, like torch.round). γ = max|x| is exact; β = mean|x| and the RMS are f32
// tree sums (the CPU sums in f64), so a code can differ where s·x lands within an ulp of a rounding edge.
// Hadamard: hadamardPlan(n) of src/lib/hadamard.ts — FWHT inside contiguous blocks of `block`, then the ±1
// order-m matrix across blocks at stride `block` (kronecker) or nothing (block-diagonal), times `norm`.
// Top-K: radix select of the K-th largest |x| (4 passes of 8 bits over the f32 bit patterns), ties at the
// threshold kept lowest index first, as quant.ts topKMask does.
import {hadamardMatrix, hadamardPlan} from "../../lib/hadamard.js";
import {attnPartStride} from "./attention.js";
import {STATS_BINDINGS, statsLayout, statsStride} from "./norm-stats.js";

export type QuantKind = "int8" | "int4" | "none";

export interface NormQuantConfig {
  /** Row length. */
  n: number;
  /** "plain": the row is src[m·srcStride …]; "attn": combine split-attention partials (attention.ts layout). */
  src: "plain" | "attn";
  /** For src "attn": heads and head dim (n = H·d). */
  H?: number;
  d?: number;
  /** For src "attn": the partials are float-float (attentionWGSL with exact; layout attnPartStride(d, true)) and
   *  are combined in float-float and rounded once, giving the float64 reference's f32 attention output. */
  attnFF?: boolean;
  /** Apply RMSNorm with a weight vector. */
  norm: boolean;
  /** Rotate with the normalized Hadamard transform of length n (hadamardPlan(n)). */
  hadamard: boolean;
  /** With hadamard: stop after the in-block FWHTs and write the raw block sums (f32, quant "none"); the cross-block
   *  mix and the normalization are then done by hadamardMixWGSL over many workgroups (split decode path). */
  fwhtOnly?: boolean;
  /** Carry the rotation as float-float (hi, lo) pairs and round to f32 once, giving the float64 reference's bits
   *  (default true). It doubles the Hadamard workgroup array (8n bytes instead of 4n): a caller whose device limit
   *  cannot hold that sets false and gets the plain f32 rotation, which can be a few ulps off (see normQuantWorkgroupBytes). */
  hadamardFF?: boolean;
  /** Keep only the K largest magnitudes (undefined = off). */
  topK?: number;
  /** Read K from the step uniform (st.topK) instead of compiling it in, so one pipeline serves every K (the
   *  sparsity chapter's sweep); src "attn" only (the prologue that binds st). `topK` must be set; K ≥ n keeps all. */
  topKRuntime?: boolean;
  quant: QuantKind;
  /** Write the pre-norm row and the transformed (pre-quantization) row to a debug buffer [M, 2n]. */
  inspect: boolean;
  /** Subgroup size for reductions (0 = workgroup memory only). */
  sub: number;
  /** Threads per workgroup (power of two). */
  WG: number;
}

/** Binding order (see the list it returns): P, src, norm weight, out (u32 i8 lanes or f32), then xmeta (quant
 *  only), Hadamard signs (kronecker only), dbg (inspect only), ST (src "attn" only: the step's nC).
 *  P = {srcStride, dstStride (words per token), eps (f32), epsLo (eps − f32(eps))}. */
export function normQuantBindings(c: NormQuantConfig): string[] {
  const b = ["P", "src", "normW", "out"];
  if (c.quant !== "none") b.push("xmeta");
  if (c.hadamard && !c.fwhtOnly && hadamardPlan(c.n).kind === "kronecker") b.push("had");
  if (c.inspect) b.push("dbg");
  if (c.src === "attn") b.push("st");
  return b;
}

/** The ±1 order-m matrix of hadamardPlan(n) as packed sign bits (bit set = −1), row-major, padded rows of ⌈m/32⌉ words. */
export function hadamardSignBits(n: number): Uint32Array {
  const plan = hadamardPlan(n);
  if (plan.kind !== "kronecker") return new Uint32Array(4); // no cross-block matrix to upload
  const m = plan.m;
  const M = hadamardMatrix(m);
  const wpr = Math.ceil(m / 32);
  const out = new Uint32Array(Math.max(4, m * wpr));
  for (let a = 0; a < m; a++)
    for (let b = 0; b < m; b++) if (M[a * m + b] < 0) out[a * wpr + (b >> 5)] |= 1 << (b & 31);
  return out;
}

export {f32Pair} from "./exact.js";

/** Bytes of workgroup memory normQuantWGSL(c) declares (unfused), to check against maxComputeWorkgroupStorageSize. */
export function normQuantWorkgroupBytes(c: NormQuantConfig): number {
  const NS = c.sub ? Math.max(1, c.WG / c.sub) : c.WG;
  let b = NS * 8 + 16 + c.WG * 8;
  if (c.hadamard) b += c.n * (c.hadamardFF === false ? 4 : 8);
  if (topKOn(c)) b += 1024 + c.WG * 4;
  if (c.src === "attn") b += (c.H ?? 0) * (c.attnFF ? 16 : 8);
  return b;
}

/** The config as it fits a device: the float-float rotation doubles the Hadamard workgroup array, so where
 *  `maxBytes` cannot hold it the plain f32 rotation (a few ulps off the reference: codes can flip at rounding
 *  edges). The one rule the engine and the benchmark both apply. */
export function fitNormQuant(c: NormQuantConfig, maxBytes: number): NormQuantConfig {
  return c.hadamard && c.hadamardFF !== false && normQuantWorkgroupBytes(c) > maxBytes ? {...c, hadamardFF: false} : c;
}

/** Whether the top-K step is compiled: a compile-time K that drops something, or a runtime K. */
function topKOn(c: NormQuantConfig): boolean {
  return c.topK !== undefined && (c.topK < c.n || !!c.topKRuntime);
}

/** The f64 mantissa/exponent of √7 for the exact division (√7 = M · 2^e, M < 2^53). */
function f64Parts(x: number): {hi: number; lo: number; e: number} {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  const hi = dv.getUint32(0);
  const lo = dv.getUint32(4);
  const exp = ((hi >>> 20) & 0x7ff) - 1075;
  return {hi: (hi & 0xfffff) | 0x100000, lo, e: exp};
}

export {exactDivWGSL} from "./exact.js";
import {exactDivWGSL, f32Lit, f32Pair, floatFloatMathWGSL, floatFloatWGSL} from "./exact.js";

/** Fused mode (see linear.ts fusedLinearWGSL): the prologue becomes `fn prologue(lid)` for token 0 that leaves
 *  the i8 lanes in `xw` (workgroup array<vec4<u32>>) and (s, Σq) in `xwm`, its uniform is `np: NP`, its bindings
 *  come from `bindings`, and `enable subgroups` is left to the caller. */
export interface NormQuantFused {
  bindings: Record<string, number>;
  /** RMSNorm → INT8 from the producer's per-workgroup statistics (linear.ts normStats*) instead of whole-vector
   *  reductions: binding STATS_BINDINGS.in holds `parts` records. */
  statsIn?: {parts: number};
}

export function normQuantWGSL(c: NormQuantConfig, fused?: NormQuantFused): string {
  if (fused?.statsIn) return statsPrologueWGSL(c, fused.bindings, fused.statsIn.parts);
  const {n, WG, sub} = c;
  if (fused && (c.quant === "none" || c.inspect || (c.src === "attn" && (c.topK !== undefined || c.hadamard))))
    throw new Error(
      "normQuantWGSL: the fused prologue quantizes a plain row or an attention combine (no top-K, no rotation), without inspection",
    );
  const pv = fused ? "np" : "p";
  const KW = 16 * Math.ceil(n / 64); // i8-lane words of a fused prologue's output
  if (WG & (WG - 1)) throw new Error("normQuantWGSL: WG must be a power of two");
  // each thread owns PER contiguous elements (a multiple of 4: whole i8 words)
  const PER = Math.max(4, Math.ceil(n / WG / 4) * 4);
  const plan = c.hadamard ? hadamardPlan(n) : undefined;
  if (c.fwhtOnly && (c.quant !== "none" || !c.hadamard || c.topK !== undefined || fused))
    throw new Error("normQuantWGSL: fwhtOnly writes the raw FWHT output (quant none, no top-K, not fused)");
  if (c.topKRuntime && (c.src !== "attn" || c.topK === undefined))
    throw new Error(
      "normQuantWGSL: a runtime top-K reads the step uniform, which only the attention-combine prologue binds",
    );
  const kron = plan?.kind === "kronecker" && !c.fwhtOnly;
  const binds = normQuantBindings(c);
  const bi = (name: string) => (fused ? fused.bindings[name] : binds.indexOf(name));
  const L: string[] = [];
  if (sub && !fused) L.push("enable subgroups;");
  if (fused) {
    L.push(`struct NP { srcStride: u32, dstStride: u32, eps: f32, epsLo: f32 }
@group(0) @binding(${bi("P")}) var<uniform> np: NP;
@group(0) @binding(${bi("src")}) var<storage, read> src: array<f32>;
@group(0) @binding(${bi("normW")}) var<storage, read> normW: array<f32>;
var<workgroup> xw: array<vec4<u32>, ${KW / 4}>;
var<workgroup> xwm: vec2<u32>;`);
    if (c.src === "attn") L.push(`struct ST { M: u32, P: u32, nC: u32, chunk: u32 }`); // W_o's decode: the combine
  } else {
    L.push(`struct P { srcStride: u32, dstStride: u32, eps: f32, epsLo: f32 }
struct ST { M: u32, P: u32, nC: u32, chunk: u32${c.topKRuntime ? ", plainStart: u32, topK: u32, r0: u32, r1: u32" : ""} }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> normW: array<f32>;
@group(0) @binding(3) var<storage, read_write> outv: array<${c.quant === "none" ? "f32" : "u32"}>;`);
  }
  if (c.quant !== "none" && !fused)
    L.push(`@group(0) @binding(${bi("xmeta")}) var<storage, read_write> xmeta: array<vec2<u32>>;`);
  if (kron) L.push(`@group(0) @binding(${bi("had")}) var<storage, read> had: array<u32>;`);
  if (c.inspect) L.push(`@group(0) @binding(${bi("dbg")}) var<storage, read_write> dbg: array<f32>;`);
  if (c.src === "attn") L.push(`@group(0) @binding(${bi("st")}) var<uniform> st: ST;`);
  const NS = sub ? Math.max(1, WG / sub) : WG;
  L.push(`var<workgroup> redF: array<f32, ${NS}>;
var<workgroup> redU: array<u32, ${NS}>;
var<workgroup> bcast: vec4<u32>;`);
  const ff = plan !== undefined && c.hadamardFF !== false;
  if (plan) L.push(`var<workgroup> hs: array<f32, ${n}>;`);
  if (ff) L.push(`var<workgroup> hl: array<f32, ${n}>;`);
  if (topKOn(c)) L.push(`var<workgroup> hist: array<atomic<u32>, 256>;\nvar<workgroup> scanU: array<u32, ${WG}>;`);
  if (c.src === "attn") L.push(`var<workgroup> headMD: array<vec2<f32>, ${c.H}>;`);
  if (c.src === "attn" && c.attnFF) L.push(`var<workgroup> headDen: array<vec2<f32>, ${c.H}>;`);
  L.push(exactDivWGSL);
  L.push(`var<workgroup> redFF: array<vec2<f32>, ${WG}>;
${floatFloatWGSL}
${c.src === "attn" && c.attnFF ? floatFloatMathWGSL : ""}
${
  sub
    ? `fn sumFF(x: vec2<f32>, lid: u32) -> vec2<f32> {
  var v = x;
  for (var o = ${sub / 2}u; o > 0u; o = o >> 1u) { v = addFF(v, vec2<f32>(subgroupShuffleXor(v.x, o), subgroupShuffleXor(v.y, o))); }
  workgroupBarrier();
  if (lid % ${sub}u == 0u) { redFF[lid / ${sub}u] = v; }
  workgroupBarrier();
  var t = redFF[0];
  for (var i = 1u; i < ${Math.max(1, WG / sub)}u; i++) { t = addFF(t, redFF[i]); }
  return t;
}`
    : `fn sumFF(x: vec2<f32>, lid: u32) -> vec2<f32> {
  workgroupBarrier();
  redFF[lid] = x;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { redFF[lid] = addFF(redFF[lid], redFF[lid + s]); }
    workgroupBarrier();
  }
  return redFF[0];
}`
}`);
  // reductions (called in uniform control flow by every invocation)
  if (sub) {
    L.push(`fn sumF(x: f32, lid: u32) -> f32 {
  let s = subgroupAdd(x);
  workgroupBarrier();
  if (lid % ${sub}u == 0u) { redF[lid / ${sub}u] = s; }
  workgroupBarrier();
  var t = 0.0;
  for (var i = 0u; i < ${NS}u; i++) { t += redF[i]; }
  return t;
}
fn maxF(x: f32, lid: u32) -> f32 {
  let s = subgroupMax(x);
  workgroupBarrier();
  if (lid % ${sub}u == 0u) { redF[lid / ${sub}u] = s; }
  workgroupBarrier();
  var t = redF[0];
  for (var i = 1u; i < ${NS}u; i++) { t = max(t, redF[i]); }
  return t;
}
fn sumU(x: u32, lid: u32) -> u32 {
  let s = subgroupAdd(x);
  workgroupBarrier();
  if (lid % ${sub}u == 0u) { redU[lid / ${sub}u] = s; }
  workgroupBarrier();
  var t = 0u;
  for (var i = 0u; i < ${NS}u; i++) { t += redU[i]; }
  return t;
}`);
  } else {
    const tree = (ty: string, arr: string, op: (a: string, b: string) => string) => `
  workgroupBarrier();
  ${arr}[lid] = x;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { ${arr}[lid] = ${op(`${arr}[lid]`, `${arr}[lid + s]`)}; }
    workgroupBarrier();
  }
  return ${arr}[0];`;
    L.push(`fn sumF(x: f32, lid: u32) -> f32 {${tree("f32", "redF", (a, b) => `${a} + ${b}`)}\n}`);
    L.push(`fn maxF(x: f32, lid: u32) -> f32 {${tree("f32", "redF", (a, b) => `max(${a}, ${b})`)}\n}`);
    L.push(`fn sumU(x: u32, lid: u32) -> u32 {${tree("u32", "redU", (a, b) => `${a} + ${b}`)}\n}`);
  }
  const sq7 = f64Parts(Math.sqrt(7));
  L.push(
    fused
      ? `fn prologue(lid: u32) {
  let m = 0u;
  OPQ = np.srcStride >> 31u;`
      : `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m = wid.x;
  OPQ = p.srcStride >> 31u;`,
  );
  L.push(`  _ = normW[0];
  let i0 = lid * ${PER}u;
  var v: array<f32, ${PER}>;`);
  // ---- load
  if (c.src === "plain") {
    L.push(
      `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; v[k] = select(0.0, src[m * ${pv}.srcStride + min(i, ${n - 1}u)], i < ${n}u); }`,
    );
  } else if (c.attnFF) {
    const d = c.d!;
    const H = c.H!;
    const S = attnPartStride(d, true);
    // float-float partials (max, den hi, den lo, out hi[d], out lo[d]): every chunk's weight exp(max_c − max) and
    // the sums in float-float, one rounding at the division — the reference's float64 softmax · V, rounded once
    L.push(`  // combine the nC float-float split-softmax partials of each head
  if (lid < ${H}u) {
    let base = (m * ${H}u + lid) * st.nC * ${S}u;
    var mx = -3.0e38;
    for (var cc = 0u; cc < st.nC; cc++) { mx = max(mx, src[base + cc * ${S}u]); }
    var den = vec2<f32>(0.0, 0.0);
    for (var cc = 0u; cc < st.nC; cc++) {
      let o = base + cc * ${S}u;
      let w = expFF(twoSum(src[o], -mx));
      den = addFF(den, mulFF(w, vec2<f32>(src[o + 1u], src[o + 2u])));
    }
    headMD[lid] = vec2<f32>(mx, 0.0);
    headDen[lid] = den;
  }
  workgroupBarrier();
  var vff: array<vec2<f32>, ${PER}>;
  for (var k = 0u; k < ${PER}u; k++) { vff[k] = vec2<f32>(0.0, 0.0); }
  for (var cc = 0u; cc < st.nC; cc++) {
    for (var k = 0u; k < ${PER}u; k++) {
      let i = min(i0 + k, ${n - 1}u);
      let h = i / ${d}u;
      let o = ((m * ${H}u + h) * st.nC + cc) * ${S}u;
      let w = expFF(twoSum(src[o], -headMD[h].x));
      vff[k] = addFF(vff[k], mulFF(w, vec2<f32>(src[o + 3u + i % ${d}u], src[o + ${3 + d}u + i % ${d}u])));
    }
  }
  for (var k = 0u; k < ${PER}u; k++) {
    let i = i0 + k;
    v[k] = select(0.0, divFFRound(vff[k], headDen[min(i, ${n - 1}u) / ${d}u]), i < ${n}u);
  }`);
  } else {
    const d = c.d!;
    const H = c.H!;
    // Phase A: per head, the overall max and 1/denominator. Thread t < H reads its head's (max, sum) pairs four
    // chunks at a time so the loads overlap. Phase B: chunk-major, so each iteration issues the PER loads of this
    // thread's elements together (a chunk-inner loop would wait for one load per element per chunk).
    L.push(`  // combine the nC split-softmax partials of each head: (max, sum, out[d]) per (token, head, chunk)
  if (lid < ${H}u) {
    let base = (m * ${H}u + lid) * st.nC * ${d + 2}u;
    var mx = -3.0e38;
    var cc = 0u;
    for (; cc + 4u <= st.nC; cc += 4u) {
      let a0 = src[base + cc * ${d + 2}u];
      let a1 = src[base + (cc + 1u) * ${d + 2}u];
      let a2 = src[base + (cc + 2u) * ${d + 2}u];
      let a3 = src[base + (cc + 3u) * ${d + 2}u];
      mx = max(mx, max(max(a0, a1), max(a2, a3)));
    }
    for (; cc < st.nC; cc++) { mx = max(mx, src[base + cc * ${d + 2}u]); }
    var den = 0.0;
    cc = 0u;
    for (; cc + 4u <= st.nC; cc += 4u) {
      let o0 = base + cc * ${d + 2}u;
      let o1 = o0 + ${d + 2}u;
      let o2 = o1 + ${d + 2}u;
      let o3 = o2 + ${d + 2}u;
      den += exp(src[o0] - mx) * src[o0 + 1u] + exp(src[o1] - mx) * src[o1 + 1u] + exp(src[o2] - mx) * src[o2 + 1u] + exp(src[o3] - mx) * src[o3 + 1u];
    }
    for (; cc < st.nC; cc++) { den += exp(src[base + cc * ${d + 2}u] - mx) * src[base + cc * ${d + 2}u + 1u]; }
    headMD[lid] = vec2<f32>(mx, 1.0 / den);
  }
  workgroupBarrier();
  for (var k = 0u; k < ${PER}u; k++) { v[k] = 0.0; }
  for (var cc = 0u; cc < st.nC; cc++) {
    for (var k = 0u; k < ${PER}u; k++) {
      let i = min(i0 + k, ${n - 1}u);
      let h = i / ${d}u;
      let o = ((m * ${H}u + h) * st.nC + cc) * ${d + 2}u;
      v[k] += exp(src[o] - headMD[h].x) * src[o + 2u + i % ${d}u];
    }
  }
  for (var k = 0u; k < ${PER}u; k++) {
    let i = i0 + k;
    v[k] = select(0.0, v[k] * headMD[min(i, ${n - 1}u) / ${d}u].y, i < ${n}u);  }`);
  }
  if (c.inspect)
    L.push(
      `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < ${n}u) { dbg[m * ${2 * n}u + i] = v[k]; } }`,
    );
  // ---- RMSNorm
  if (c.norm) {
    // y = w · fround(x · r), r = 1/√(Σx²/n + ε) carried as a float-float pair (the reference computes it in
    // float64): exact squares, compensated sums, one Newton step on an f32 inverseSqrt, exact products.
    L.push(`  var ss = vec2<f32>(0.0, 0.0);
  for (var k = 0u; k < ${PER}u; k++) { let q = v[k] * v[k]; ss = addFF(ss, vec2<f32>(q, twoProdErr(v[k], v[k], q))); }
  ss = sumFF(ss, lid);
  let vh0 = opq(ss.x / ${n}.0);
  let tq = opq(vh0 * ${n}.0);
  let vl0 = (((ss.x - tq) - twoProdErr(vh0, ${n}.0, tq)) + ss.y) / ${n}.0;
  let vv = addFF(vec2<f32>(vh0, vl0), vec2<f32>(${pv}.eps, ${pv}.epsLo));
  let r0 = opq(inverseSqrt(vv.x));
  let pr = opq(r0 * r0);
  let pre = twoProdErr(r0, r0, pr);
  let qv = opq(vv.x * pr);
  let qe = twoProdErr(vv.x, pr, qv);
  let dr = ((1.0 - qv) - qe) - (vv.x * pre + vv.y * pr);
  let rl = r0 * dr * 0.5;
  for (var k = 0u; k < ${PER}u; k++) {
    let i = i0 + k;
    if (i < ${n}u) {
      let u = opq(v[k] * r0);
      let y = u + (twoProdErr(v[k], r0, u) + v[k] * rl);
      v[k] = normW[i] * y;
    }
  }`);
  }
  // ---- Hadamard
  if (plan && ff) {
    // Float-float (hi in hs, lo in hl): TwoSum butterflies, a float-float cross-block sum, a float-float product
    // with norm (split from its float64 value), one rounding to f32 — the reference's float64 result, rounded once.
    const {block, m: mm, norm} = plan;
    const [nh, nl] = f32Pair(norm);
    L.push(`  workgroupBarrier();
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < ${n}u) { hs[i] = v[k]; hl[i] = 0.0; } }
  workgroupBarrier();`);
    if (block > 1)
      L.push(`  for (var h = 1u; h < ${block}u; h = h << 1u) {
    for (var q = lid; q < ${n / 2}u; q += ${WG}u) {
      let blk = q / ${block / 2}u;
      let w = q % ${block / 2}u;
      let i = blk * ${block}u + (w / h) * 2u * h + (w % h);
      let a = vec2<f32>(hs[i], hl[i]);
      let b = vec2<f32>(hs[i + h], hl[i + h]);
      let s = addFF(a, b);
      let d = addFF(a, -b);
      hs[i] = s.x;
      hl[i] = s.y;
      hs[i + h] = d.x;
      hl[i + h] = d.y;
    }
    workgroupBarrier();
  }`);
    const mulNorm = (x: string) => `mulNormFF(${x}, ${f32Lit(nh)}, ${f32Lit(nl)})`;
    if (kron) {
      const wpr = Math.ceil(mm / 32);
      L.push(`  for (var k = 0u; k < ${PER}u; k++) {
    let i = i0 + k;
    var acc = vec2<f32>(0.0, 0.0);
    if (i < ${n}u) {
      let a = i / ${block}u;
      let cidx = i % ${block}u;
      for (var b = 0u; b < ${mm}u; b++) {
        let neg = (had[a * ${wpr}u + (b >> 5u)] >> (b & 31u)) & 1u;
        let x = vec2<f32>(hs[b * ${block}u + cidx], hl[b * ${block}u + cidx]);
        acc = addFF(acc, select(x, -x, neg == 1u));
      }
    }
    v[k] = ${mulNorm("acc")};
  }`);
    } else if (c.fwhtOnly) {
      // the raw block sums as two f32 rows: hi in v (written at [token·2·stride …]), lo at [token·2·stride + stride …]
      L.push(`  var vlo: array<f32, ${PER}>;
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; let j = min(i, ${n - 1}u); v[k] = select(0.0, hs[j], i < ${n}u); vlo[k] = select(0.0, hl[j], i < ${n}u); }`);
    } else {
      L.push(
        `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; let j = min(i, ${n - 1}u); v[k] = select(0.0, ${mulNorm("vec2<f32>(hs[j], hl[j])")}, i < ${n}u); }`,
      );
    }
  } else if (plan) {
    const {block, m: mm, norm} = plan;
    L.push(`  workgroupBarrier();
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < ${n}u) { hs[i] = v[k]; } }
  workgroupBarrier();`);
    if (block > 1)
      L.push(`  for (var h = 1u; h < ${block}u; h = h << 1u) {
    for (var q = lid; q < ${n / 2}u; q += ${WG}u) {
      let blk = q / ${block / 2}u;
      let w = q % ${block / 2}u;
      let i = blk * ${block}u + (w / h) * 2u * h + (w % h);
      let a = hs[i];
      let b = hs[i + h];
      hs[i] = a + b;
      hs[i + h] = a - b;
    }
    workgroupBarrier();
  }`);
    if (kron) {
      const wpr = Math.ceil(mm / 32);
      L.push(`  for (var k = 0u; k < ${PER}u; k++) {
    let i = i0 + k;
    var acc = 0.0;
    if (i < ${n}u) {
      let a = i / ${block}u;
      let cidx = i % ${block}u;
      for (var b = 0u; b < ${mm}u; b++) {
        let neg = (had[a * ${wpr}u + (b >> 5u)] >> (b & 31u)) & 1u;
        let x = hs[b * ${block}u + cidx];
        acc += select(x, -x, neg == 1u);
      }
    }
    v[k] = acc * ${norm};
  }`);
    } else if (c.fwhtOnly) {
      L.push(`  var vlo: array<f32, ${PER}>; // zeros: the lo row the mix reads
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; v[k] = select(0.0, hs[min(i, ${n - 1}u)], i < ${n}u); }`);
    } else {
      L.push(
        `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; v[k] = select(0.0, hs[min(i, ${n - 1}u)] * ${norm}, i < ${n}u); }`,
      );
    }
  }
  if (c.inspect)
    L.push(
      `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < ${n}u) { dbg[m * ${2 * n}u + ${n}u + i] = v[k]; } }`,
    );
  // ---- top-K mask (computed before quantization; γ is the max over the whole row, which the top-K keeps)
  if (topKOn(c)) {
    L.push(`  // radix select: the K-th largest |v| as f32 bits, 8 bits per pass, most significant first
  var prefix = 0u;
  var pmask = 0u;
  var need = ${c.topKRuntime ? `min(st.topK, ${n}u)` : `${c.topK}u`};
  for (var rp = 0u; rp < 4u; rp++) {
    let shift = 24u - 8u * rp;
    atomicStore(&hist[lid % 256u], 0u);
    if (${WG}u < 256u) { for (var z = lid + ${WG}u; z < 256u; z += ${WG}u) { atomicStore(&hist[z], 0u); } }
    workgroupBarrier();
    for (var k = 0u; k < ${PER}u; k++) {
      let i = i0 + k;
      let bits = bitcast<u32>(abs(v[k]));
      if (i < ${n}u && (bits & pmask) == prefix) { atomicAdd(&hist[(bits >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var cum = 0u;
      var b = 255i;
      loop {
        let hb = atomicLoad(&hist[u32(b)]);
        if (cum + hb >= need || b == 0i) { bcast = vec4<u32>(u32(b), need - cum, 0u, 0u); break; }
        cum += hb;
        b--;
      }
    }
    workgroupBarrier();
    let sel = bcast;
    prefix = prefix | (sel.x << shift);
    pmask = pmask | (255u << shift);
    need = sel.y;
    workgroupBarrier();
  }
  // 'need' = how many entries equal to the threshold survive; keep the lowest indices (thread-contiguous ranges)
  var eqc = 0u;
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < ${n}u && bitcast<u32>(abs(v[k])) == prefix) { eqc++; } }
  scanU[lid] = eqc;
  workgroupBarrier();
  for (var s = 1u; s < ${WG}u; s = s << 1u) {
    var add = 0u;
    if (lid >= s) { add = scanU[lid - s]; }
    workgroupBarrier();
    scanU[lid] += add;
    workgroupBarrier();
  }
  var before = scanU[lid] - eqc;
  for (var k = 0u; k < ${PER}u; k++) {
    let i = i0 + k;
    let bits = bitcast<u32>(abs(v[k]));
    var keep = bits > prefix;
    if (i < ${n}u && bits == prefix) { keep = before < need; before++; }
    if (!keep) { v[k] = 0.0; }
  }`);
  }
  // ---- quantize and write
  if (c.fwhtOnly) {
    L.push(`  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < p.dstStride) { outv[m * 2u * p.dstStride + i] = v[k]; outv[(m * 2u + 1u) * p.dstStride + i] = vlo[k]; } }
  for (var i = ${WG * PER}u + lid; i < p.dstStride; i += ${WG}u) { outv[m * 2u * p.dstStride + i] = 0.0; outv[(m * 2u + 1u) * p.dstStride + i] = 0.0; }
}`);
  } else if (c.quant === "none") {
    L.push(`  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < p.dstStride) { outv[m * p.dstStride + i] = v[k]; } }
  for (var i = ${WG * PER}u + lid; i < p.dstStride; i += ${WG}u) { outv[m * p.dstStride + i] = 0.0; }
}`);
  } else {
    const int8 = c.quant === "int8";
    if (int8) {
      L.push(`  var g = 0.0;
  for (var k = 0u; k < ${PER}u; k++) { g = max(g, abs(v[k])); }
  g = maxF(g, lid);
  let s = div127(max(g, 1e-5));`);
    } else {
      // β = fround(Σ|x| / n) with the sum carried as a float-float pair and divided exactly (the reference sums in float64)
      L.push(`  var sa = vec2<f32>(0.0, 0.0);
  for (var k = 0u; k < ${PER}u; k++) { sa = addFF(sa, vec2<f32>(abs(v[k]), 0.0)); }
  sa = sumFF(sa, lid);
  var beta = 0.0;
  if (sa.x > 0.0) { beta = exactDivSum(sa.x, sa.y, ${n}.0); }
  let s = exactDiv(${sq7.hi}u, ${sq7.lo}u, ${sq7.e}, max(beta, 1e-5));`);
    }
    const lo = int8 ? -128 : -8;
    const hi = int8 ? 127 : 7;
    L.push(`  var qs = 0i;
  for (var k = 0u; k < ${PER / 4}u; k++) {
    var word = 0u;
    for (var e = 0u; e < 4u; e++) {
      let q = i32(clamp(round(v[4u * k + e] * s), ${lo}.0, ${hi}.0));
      qs += q;
      word = word | ((u32(q) & 0xffu) << (8u * e));
    }
    let w = lid * ${PER / 4}u + k;
    ${fused ? `if (w < ${KW}u) { xw[w >> 2u][w & 3u] = word; }` : `if (w < p.dstStride) { outv[m * p.dstStride + w] = word; }`}
  }
  ${fused ? `for (var w = ${(WG * PER) / 4}u + lid; w < ${KW}u; w += ${WG}u) { xw[w >> 2u][w & 3u] = 0u; }` : `for (var w = ${(WG * PER) / 4}u + lid; w < p.dstStride; w += ${WG}u) { outv[m * p.dstStride + w] = 0u; }`}
  let total = sumU(bitcast<u32>(qs), lid);
  ${
    fused
      ? `if (lid == 0u) { xwm = vec2<u32>(bitcast<u32>(s), total); }
  workgroupBarrier();`
      : `if (lid == 0u) { xmeta[m] = vec2<u32>(bitcast<u32>(s), total); }`
  }
}`);
  }
  return L.join("\n");
}

/** The cross-block step of a Kronecker Hadamard plan (n = m·block), spread over m workgroups per token instead of
 *  one: y[a·block + c] = norm · Σ_b M[a, b] · x[b·block + c], x being the in-block FWHT output of a fwhtOnly
 *  norm-quant as float-float rows (hi at [token·2·stride …], lo at [token·2·stride + stride …]). The sum runs over b
 *  in the same order, with the same float-float operations, as the single-kernel path, so both give the same bits
 *  (the reference's float64 rotation rounded once to f32). Grid (m, M); workgroup of `block` invocations (≤ 256,
 *  else looped). Bindings: 0 x [M, 2·stride] f32, 1 sign bits (hadamardSignBits), 2 y [M, stride] f32;
 *  stride = 8·⌈n/8⌉. */
export function hadamardMixWGSL(n: number): string {
  const plan = hadamardPlan(n);
  if (plan.kind !== "kronecker") throw new Error(`hadamardMixWGSL: ${n} has no cross-block step (${plan.kind})`);
  const {block, m, norm} = plan;
  const [nh, nl] = f32Pair(norm);
  const wpr = Math.ceil(m / 32);
  const stride = 8 * Math.ceil(n / 8);
  const WG = Math.min(256, block);
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> had: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${exactDivWGSL}
${floatFloatWGSL}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  OPQ = arrayLength(&had) >> 31u; // 0, but not a compile-time constant (see opq)
  let a = wid.x;
  let base = wid.y * ${2 * stride}u;
  for (var cidx = lid; cidx < ${block}u; cidx += ${WG}u) {
    var acc = vec2<f32>(0.0, 0.0);
    for (var b = 0u; b < ${m}u; b++) {
      let neg = (had[a * ${wpr}u + (b >> 5u)] >> (b & 31u)) & 1u;
      let v = vec2<f32>(x[base + b * ${block}u + cidx], x[base + ${stride}u + b * ${block}u + cidx]);
      acc = addFF(acc, select(v, -v, neg == 1u));
    }
    y[wid.y * ${stride}u + a * ${block}u + cidx] = mulNormFF(acc, ${f32Lit(nh)}, ${f32Lit(nl)});
  }
}`;
}

/** The fused decode prologue RMSNorm → INT8 absmax of a plain row, from the producer's statistics: every subgroup
 *  (every invocation without subgroups) reduces the `parts` records itself — Σx² as float-float, then the step from
 *  the candidates of the records near the maximum (the whole row where a record overflowed) — so the workgroup meets
 *  at one barrier, after its invocations have quantized their elements into `xw`. Same formulas as the
 *  whole-vector prologue (r as a float-float pair, y = fround(x·r), v = γ·y, s = 127 / max(g, ε) correctly rounded). */
function statsPrologueWGSL(c: NormQuantConfig, bindings: Record<string, number>, parts: number): string {
  const {n, WG, sub} = c;
  if (c.quant !== "int8" || !c.norm || c.hadamard || c.topK !== undefined || c.src !== "plain" || c.inspect)
    throw new Error("normQuantWGSL: a prologue from statistics is a plain RMSNorm → INT8 absmax");
  if (WG & (WG - 1)) throw new Error("normQuantWGSL: WG must be a power of two");
  const KW = 16 * Math.ceil(n / 64);
  const PER = Math.max(4, Math.ceil(n / WG / 4) * 4);
  const S = sub || 1;
  const NS = sub ? WG / sub : WG;
  const NCAND_ = statsLayout.ncand;
  const STATS_STRIDE_ = statsStride();
  const STATS_IN = STATS_BINDINGS.in;
  const L: string[] = [];
  L.push(`struct NP { srcStride: u32, dstStride: u32, eps: f32, epsLo: f32 }
@group(0) @binding(${bindings.P}) var<uniform> np: NP;
@group(0) @binding(${bindings.src}) var<storage, read> src: array<f32>;
@group(0) @binding(${bindings.normW}) var<storage, read> normW: array<f32>;
@group(0) @binding(${STATS_IN}) var<storage, read> sti: array<f32>;
var<workgroup> xw: array<vec4<u32>, ${KW / 4}>;
var<private> xwm: vec2<u32>;
var<workgroup> qsRed: array<i32, ${NS}>;
${exactDivWGSL}
${floatFloatWGSL}
fn normOne(x: f32, g: f32, r0: f32, rl: f32) -> f32 {
  let u = opq(x * r0);
  let y = u + (twoProdErr(x, r0, u) + x * rl);
  return g * y;
}
fn prologue(lid: u32) {
  OPQ = np.srcStride >> 31u;
  let i0 = lid * ${PER}u;
  var v: array<f32, ${PER}>;
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; v[k] = select(0.0, src[min(i, ${n - 1}u)], i < ${n}u); }
  // Σx² and the largest estimate Â from the records (lane-strided, then across the subgroup)
  let lane = lid % ${S}u;
  var ss = vec2<f32>(0.0, 0.0);
  var A = 0.0;
  for (var q = lane; q < ${parts}u; q += ${S}u) { let b = q * ${STATS_STRIDE_}u; ss = addFF(ss, vec2<f32>(sti[b], sti[b + 1u])); A = max(A, sti[b + 2u]); }`);
  if (sub)
    L.push(`  for (var o = ${sub / 2}u; o > 0u; o = o >> 1u) {
    ss = addFF(ss, vec2<f32>(subgroupShuffleXor(ss.x, o), subgroupShuffleXor(ss.y, o)));
    A = max(A, subgroupShuffleXor(A, o));
  }
  ss = subgroupBroadcast(ss, 0u);
  A = subgroupBroadcast(A, 0u);`);
  L.push(`  let vh0 = opq(ss.x / ${n}.0);
  let tq = opq(vh0 * ${n}.0);
  let vl0 = (((ss.x - tq) - twoProdErr(vh0, ${n}.0, tq)) + ss.y) / ${n}.0;
  let vv = addFF(vec2<f32>(vh0, vl0), vec2<f32>(np.eps, np.epsLo));
  let r0 = opq(inverseSqrt(vv.x));
  let pr = opq(r0 * r0);
  let pre = twoProdErr(r0, r0, pr);
  let qv = opq(vv.x * pr);
  let qe = twoProdErr(vv.x, pr, qv);
  let dr = ((1.0 - qv) - qe) - (vv.x * pre + vv.y * pr);
  let rl = r0 * dr * 0.5;
  // g = max |γ·fround(x·r)|: over the candidates of the records near Â, or over the whole row if one overflowed
  let thr = A - A * ${2 ** -19};
  var g = 0.0;
  var ovf = select(0u, 1u, A < 1e-30);
  for (var q = lane; q < ${parts}u; q += ${S}u) {
    let b = q * ${STATS_STRIDE_}u;
    if (sti[b + 2u] >= thr) {
      let nc = u32(sti[b + 3u]);
      if (nc > ${NCAND_}u) { ovf = 1u; } else {
        for (var k = 0u; k < nc; k++) { g = max(g, abs(normOne(sti[b + 4u + 2u * k], sti[b + 5u + 2u * k], r0, rl))); }
      }
    }
  }`);
  if (sub) L.push(`  ovf = subgroupMax(ovf);`);
  L.push(`  var gs = 0.0;
  if (ovf != 0u) { for (var i = lane; i < ${n}u; i += ${S}u) { gs = max(gs, abs(normOne(src[i], normW[i], r0, rl))); } }
  g = max(g, gs);`);
  if (sub) L.push(`  g = subgroupMax(g);`);
  L.push(`  let s = div127(max(g, 1e-5));
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < ${n}u) { v[k] = normOne(v[k], normW[i], r0, rl); } }
  var qs = 0i;
  for (var k = 0u; k < ${PER / 4}u; k++) {
    var word = 0u;
    for (var e = 0u; e < 4u; e++) {
      let qc = i32(clamp(round(v[4u * k + e] * s), -128.0, 127.0));
      qs += qc;
      word = word | ((u32(qc) & 0xffu) << (8u * e));
    }
    let w = lid * ${PER / 4}u + k;
    if (w < ${KW}u) { xw[w >> 2u][w & 3u] = word; }
  }
  for (var w = ${(WG * PER) / 4}u + lid; w < ${KW}u; w += ${WG}u) { xw[w >> 2u][w & 3u] = 0u; }`);
  if (sub)
    L.push(`  let qsg = subgroupAdd(qs);
  if (lid % ${sub}u == 0u) { qsRed[lid / ${sub}u] = qsg; }`);
  else L.push(`  qsRed[lid] = qs;`);
  L.push(`  workgroupBarrier();
  var total = 0i;
  for (var i = 0u; i < ${NS}u; i++) { total += qsRed[i]; }
  xwm = vec2<u32>(bitcast<u32>(s), bitcast<u32>(total));
}`);
  return L.join("\n");
}
