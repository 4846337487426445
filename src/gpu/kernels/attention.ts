// RoPE, the KV cache (16/8/4/3 bits) and decode/prefill attention.
import {exactDivWGSL, f32Pair, f32Lit, floatFloatMathWGSL, floatFloatWGSL} from "./exact.js";
//
// KV cache: per layer a K and a V buffer of u32 words. Each (position j, KV head g) vector of d values is
//   • bits 16: f32 (exactly the reference's float32 cache) or f16 pairs ("f16" storage, half the bytes);
//   • bits b < 16: codes of b bits packed LSB-first into ⌈d·b/32⌉ words (a code may straddle two words), plus a
//     (min, step) pair in a meta buffer — quant.ts quantizeKV: asymmetric min/max per vector, post-RoPE.
//   Position 0 lives in its own region at the buffer start, sized for the BOS bits (variant.ts kvPlan: the BOS
//   token keeps max(bitnet_kv_bos_bits, bitnet_kv_bits)). Whether position 0 holds the BOS token is known only
//   when the sequence starts, so it is a runtime flag (ST.plainStart = 1: position 0 is an ordinary token and
//   uses `bits`, inside the same region).
// Attention is split along the sequence (flash-decoding): a workgroup owns (token, KV head, chunk of positions),
// handles the whole query-head group of that KV head (so each K/V vector is read once per group), keeps an
// online softmax over 64-position steps, and writes (max, sum, out[d]) per query head; normquant.ts combines
// the chunks while it normalizes the W_o input.
// Exact mode (engine Plan.exactAttention, a4.8: its W_o top-K mask flips on a last-bit difference): RoPE with the
// float64 cos/sin as hi + lo pairs, the KV dequantization rounded once, scores, exp, softmax·V and the combine in
// float-float (exact.ts), one rounding at the end — the float64 reference's f32 bits (test/gpu/attention.test.ts).

export interface KVFormat {
  /** Bits of every position but 0. */
  bits: number;
  /** Bits of position 0 when it holds the BOS token (= bits when the BOS token gets no special treatment). */
  bosBits: number;
  /** Storage of 16-bit vectors. */
  store16: "f32" | "f16";
}

/** u32 words of one vector of d values at `bits`. */
export function kvWords(d: number, bits: number, store16: "f32" | "f16"): number {
  if (bits >= 16) return store16 === "f32" ? d : Math.ceil(d / 2);
  return Math.ceil((d * bits) / 32);
}

/** Word offset of vector (j, g) and the words a layer's buffer needs for `maxPos` positions. */
export function kvLayout(f: KVFormat, d: number, KV: number) {
  const bosW = kvWords(d, f.bosBits, f.store16);
  const w = kvWords(d, f.bits, f.store16);
  return {
    bosWords: bosW,
    words: w,
    offset: (j: number, g: number) => (j === 0 ? g * bosW : KV * bosW + ((j - 1) * KV + g) * w),
    total: (maxPos: number) => KV * bosW + Math.max(0, maxPos - 1) * KV * w,
  };
}

/** One layer's KV cache for `maxPos` positions: K and V codes (kvLayout words) and their per-vector (min, step)
 *  pairs. `alloc` makes each buffer (a pool in the engine, a plain storage buffer in tests and benchmarks). */
export interface KVCacheBuffers<B> {
  K: B;
  V: B;
  Km: B;
  Vm: B;
}
export function kvCacheBuffers<B>(
  f: KVFormat,
  d: number,
  KV: number,
  maxPos: number,
  alloc: (bytes: number, name: "K" | "V" | "Kmeta" | "Vmeta") => B,
): KVCacheBuffers<B> {
  const codes = kvLayout(f, d, KV).total(maxPos) * 4;
  return {
    K: alloc(codes, "K"),
    V: alloc(codes, "V"),
    Km: alloc(maxPos * KV * 8, "Kmeta"),
    Vm: alloc(maxPos * KV * 8, "Vmeta"),
  };
}

const quantized = (b: number) => b < 16;

/** Floats per (token, head, chunk) of split-attention partials: (max, sum, out[d]), or with exact (max, sum hi,
 *  sum lo, out hi[d], out lo[d]). */
export function attnPartStride(d: number, exact?: boolean): number {
  return exact ? 2 * d + 3 : d + 2;
}

/** A float64 cos/sin table as the exact RoPE reads it: f32 hi values, then the f32 remainders fround(x − hi),
 *  the halves L = ⌈n/4⌉·4 floats apart (so the buffer is 32·k bytes and arrayLength / 2 finds the lo half). The
 *  fast kernels read the hi half only. */
export function hiLoTable(t: ArrayLike<number>): Float32Array {
  const L = Math.ceil(t.length / 4) * 4;
  const o = new Float32Array(2 * L);
  for (let i = 0; i < t.length; i++) {
    o[i] = t[i];
    o[L + i] = t[i] - o[i];
  }
  return o;
}

/** WGSL (after exactDivWGSL and floatFloatWGSL): RN_f32(min + code·step) as the reference's float64 dequantization
 *  rounds it (an exact product and TwoSum, one rounding) — f32 alone rounds twice. */
const kvDeqWGSL = /* wgsl */ `
fn kvDeq(mn: f32, c: f32, st: f32) -> f32 {
  let p = opq(c * st);
  let t = twoSum(mn, p);
  return t.x + (t.y + twoProdErr(c, st, p));
}`;

/** The step uniform of kernels that touch the KV cache; `plainStart` exists only when BOS has its own bits. */
export function stStructWGSL(f: KVFormat): string {
  return f.bosBits !== f.bits
    ? "struct ST { M: u32, P: u32, nC: u32, chunk: u32, plainStart: u32 }"
    : "struct ST { M: u32, P: u32, nC: u32, chunk: u32 }";
}

/** WGSL: fn <name>Load(j, g, e) -> f32 reading buffer `buf` (array<u32>) and `meta` (array<vec2<f32>>). */
function kvLoadWGSL(
  name: string,
  buf: string,
  meta: string,
  f: KVFormat,
  d: number,
  KV: number,
  exact = false,
): string {
  const bosW = kvWords(d, f.bosBits, f.store16);
  const w = kvWords(d, f.bits, f.store16);
  const one = (bits: number, base: string) => {
    if (bits >= 16) {
      return f.store16 === "f32"
        ? `return bitcast<f32>(${buf}[${base} + e]);`
        : `let pr = unpack2x16float(${buf}[${base} + e / 2u]); return select(pr.x, pr.y, (e & 1u) == 1u);`;
    }
    const mask = (1 << bits) - 1;
    return `let bit = e * ${bits}u;
    let wi = ${base} + bit / 32u;
    let sh = bit % 32u;
    var code = ${buf}[wi] >> sh;
    if (sh + ${bits}u > 32u) { code = code | (${buf}[wi + 1u] << (32u - sh)); }
    let mm = ${meta}[j * ${KV}u + g];
    return ${exact ? `kvDeq(mm.x, f32(code & ${mask}u), mm.y)` : `mm.x + f32(code & ${mask}u) * mm.y`};`;
  };
  const pos0 =
    f.bosBits !== f.bits
      ? `if (st.plainStart != 0u) {
      ${one(f.bits, "base")}
    }
    ${one(f.bosBits, "base")}`
      : one(f.bosBits, "base");
  return `fn ${name}Load(j: u32, g: u32, e: u32) -> f32 {
  if (j == 0u) {
    let base = g * ${bosW}u;
    ${pos0}
  }
  let base = ${KV * bosW}u + ((j - 1u) * ${KV}u + g) * ${w}u;
  ${one(f.bits, "base")}
}`;
}

export interface RopeKVConfig {
  H: number;
  KV: number;
  d: number;
  kv: KVFormat;
  WG: number;
  /** RoPE in float-float with the float64 angles' cos/sin (tables made by hiLoTable), rounded once: the
   *  reference's f32 bits. */
  exact?: boolean;
}

/** RoPE on q and k (rotate_half convention, in place in the qkv buffer), then K and V of each new token
 *  quantized (or stored) into the cache at position P + m. One workgroup per token.
 *  Bindings: 0 P {qkvStride}, 1 qkv (rw), 2 cos [maxPos, d/2], 3 sin, 4 K, 5 V, 6 Kmeta, 7 Vmeta, 8 ST {M, P, nC, chunk}. */
export function ropeKVWGSL(c: RopeKVConfig): string {
  const {H, KV, d, kv, WG} = c;
  const half = d / 2;
  const qd = H * d;
  const exact = !!c.exact;
  const kd = KV * d;
  const bosW = kvWords(d, kv.bosBits, kv.store16);
  const w = kvWords(d, kv.bits, kv.store16);
  const anyQ = quantized(kv.bits) || quantized(kv.bosBits);
  const maxWords = Math.max(bosW, w);
  return /* wgsl */ `
struct P { qkvStride: u32 }
${stStructWGSL(kv)}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(8) var<uniform> st: ST;
@group(0) @binding(1) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> cosT: array<f32>;
@group(0) @binding(3) var<storage, read> sinT: array<f32>;
@group(0) @binding(4) var<storage, read_write> Kc: array<u32>;
@group(0) @binding(5) var<storage, read_write> Vc: array<u32>;
@group(0) @binding(6) var<storage, read_write> Km: array<vec2<f32>>;
@group(0) @binding(7) var<storage, read_write> Vm: array<vec2<f32>>;
var<workgroup> vec: array<f32, ${d}>;
var<workgroup> red: array<vec2<f32>, ${WG}>;
var<workgroup> mmv: vec2<f32>;

${exactDivWGSL}
${exact ? floatFloatWGSL + floatFloatMathWGSL : ""}
// RN_f32(a / b) for positive normal a, b (correctly rounded, like the reference's float64 division + fround)
fn divF32(a: f32, b: f32) -> f32 {
  let ab = bitcast<u32>(a);
  return exactDiv(0u, (ab & 0x7fffffu) | 0x800000u, i32((ab >> 23u) & 0xffu) - 150, b);
}
// round-half-even((x − lo) / st) as float64 would give it: x − lo is kept exactly as s + e (TwoSum) and the
// decision against the nearest half-step h is the sign of (s + e) − h·st, with st split into 12-bit halves so
// both products are exact. f32 alone lands on the wrong side of ties (seen at 8 bits: 127.4999959 → 127.5).
fn kvCode(x: f32, lo: f32, st: f32, L: f32) -> u32 {
  let se = twoSum(x, -lo);
  let s = se.x;
  let e = se.y;
  let f = floor(s / st);
  let h = f + 0.5;
  let sth = bitcast<f32>(bitcast<u32>(st) & 0xfffff000u);
  let stl = st - sth;
  let r = ((s - h * sth) + e) - h * stl;
  var q = f;
  if (r > 0.0 || (r == 0.0 && (u32(f) & 1u) == 1u)) { q = f + 1.0; }
  return u32(clamp(q, 0.0, L));
}
fn store(isV: bool, wi: u32, word: u32) { if (isV) { Vc[wi] = word; } else { Kc[wi] = word; } }
fn storeMeta(isV: bool, i: u32, mm: vec2<f32>) { if (isV) { Vm[i] = mm; } else { Km[i] = mm; } }

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  _ = Km[0];
  _ = Vm[0];
  OPQ = p.qkvStride >> 31u;
  let m = wid.x;
  let pos = st.P + m;
  let row = m * p.qkvStride;
  // RoPE: pairs (i, i + d/2) of every q and k head
  for (var t = lid; t < ${(H + KV) * half}u; t += ${WG}u) {
    let h = t / ${half}u;
    let i = t % ${half}u;
    let o = row + h * ${d}u + i;
    let x1 = qkv[o];
    let x2 = qkv[o + ${half}u];
${
  exact
    ? `    let ti = pos * ${half}u + i;
    let lo = arrayLength(&cosT) / 2u;
    let cs = vec2<f32>(cosT[ti], cosT[lo + ti]);
    let sn = vec2<f32>(sinT[ti], sinT[lo + ti]);
    qkv[o] = addFF(mulFF1(cs, x1), -mulFF1(sn, x2)).x;
    qkv[o + ${half}u] = addFF(mulFF1(cs, x2), mulFF1(sn, x1)).x;`
    : `    let cs = cosT[pos * ${half}u + i];
    let sn = sinT[pos * ${half}u + i];
    qkv[o] = x1 * cs - x2 * sn;
    qkv[o + ${half}u] = x2 * cs + x1 * sn;`
}
  }
  storageBarrier();
  workgroupBarrier();
  var bits = ${kv.bits}u;
  var words = ${w}u;
  var gstride = ${w}u;
  var base0 = ${KV * bosW}u + (max(pos, 1u) - 1u) * ${KV * w}u;
  if (pos == 0u) {
    base0 = 0u;
    gstride = ${bosW}u;${
      kv.bosBits !== kv.bits
        ? `
    if (st.plainStart == 0u) { bits = ${kv.bosBits}u; words = ${bosW}u; }`
        : `
    bits = ${kv.bosBits}u;
    words = ${bosW}u;`
    }
  }
  for (var vi = 0u; vi < ${2 * KV}u; vi++) {
    let isV = vi >= ${KV}u;
    let g = vi % ${KV}u;
    let src = row + select(${qd}u, ${qd + kd}u, isV) + g * ${d}u;
    let base = base0 + g * gstride;
    workgroupBarrier();
    for (var e = lid; e < ${d}u; e += ${WG}u) { vec[e] = qkv[src + e]; }
    workgroupBarrier();
    if (bits >= 16u) {
      ${
        kv.store16 === "f32"
          ? `for (var e = lid; e < ${d}u; e += ${WG}u) { store(isV, base + e, bitcast<u32>(vec[e])); }`
          : `for (var e = lid; e < ${d / 2}u; e += ${WG}u) { store(isV, base + e, pack2x16float(vec2<f32>(vec[2u * e], vec[2u * e + 1u]))); }`
      }
      continue;
    }${
      anyQ
        ? `
    // min / max over the vector
    var lo = 3.0e38;
    var hi = -3.0e38;
    for (var e = lid; e < ${d}u; e += ${WG}u) { lo = min(lo, vec[e]); hi = max(hi, vec[e]); }
    red[lid] = vec2<f32>(lo, hi);
    workgroupBarrier();
    for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
      if (lid < s) { let a = red[lid]; let b = red[lid + s]; red[lid] = vec2<f32>(min(a.x, b.x), max(a.y, b.y)); }
      workgroupBarrier();
    }
    let mm = red[0];
    let L = f32((1u << bits) - 1u);
    // step = fround((max − min) / L) with max − min exact, as the reference computes it in float64
    let dse = twoSum(mm.y, -mm.x);
    let dsum = dse.x;
    let derr = dse.y;
    var st = divF32(1e-5, L);
    if (dsum > 1e-5 || (dsum == 1e-5 && derr > 0.0)) { st = exactDivSum(dsum, derr, L); }
    if (lid == 0u) { storeMeta(isV, pos * ${KV}u + g, vec2<f32>(mm.x, st)); }
    // one invocation per output word: gather the codes whose bits fall in it
    for (var wd = lid; wd < words; wd += ${WG}u) {
      var word = 0u;
      let b0 = wd * 32u;
      let e0 = b0 / bits;
      let e1 = min((b0 + 32u + bits - 1u) / bits, ${d}u);
      for (var e = e0; e < e1; e++) {
        let code = kvCode(vec[e], mm.x, st, L);
        let bit = e * bits;
        if (bit >= b0) { word = word | (code << (bit - b0)); } else { word = word | (code >> (b0 - bit)); }
      }
      store(isV, base + wd, word);
    }`
        : ""
    }
  }
}`;
}

export interface AttentionConfig {
  H: number;
  KV: number;
  d: number;
  kv: KVFormat;
  /** Decode with a 16-bit cache only: do RoPE and the K/V cache write of the new token inside this kernel (no
   *  separate rope_kv dispatch). Adds bindings 8 cos, 9 sin; K and V become read_write. */
  fusedRope?: boolean;
  /** Scores, softmax and the weighted sum in float-float (attentionExactWGSL): partials of attnPartStride(d, true)
   *  that normquant's attnFF combine rounds once, giving the float64 reference's f32 output. Any KV format. */
  exact?: boolean;
}

/** Whether the wide 256-invocation kernel (and so fusedRope) applies to this shape. */
export function attentionWideOK(c: Omit<AttentionConfig, "fusedRope">): boolean {
  const G = c.H / c.KV;
  const per = c.kv.store16 === "f16" ? 8 : 4;
  const OG = (G * c.d) / per;
  return c.kv.bits >= 16 && c.kv.bosBits >= 16 && c.d % (4 * per) === 0 && G <= 4 && OG <= 256 && 256 % OG === 0;
}

/** The first key position query pos sees: pos − W + 1 in a sliding-window layer (P.window = W, architecture.ts
 *  attention.window), else 0 — every kernel starts its chunk's positions there, so a chunk wholly before the window
 *  writes an empty partial (max −3e38, sum 0) and a window of 0 leaves the kernels as they were, bit for bit. */
const keyStartWGSL = `fn keyStart(pos: u32) -> u32 { return select(0u, max(pos + 1u, p.window) - p.window, p.window != 0u); }`;

/** The bindings every split-attention kernel shares (0 P, 1 qkv, 2/3 the K/V cache codes, 4/5 their min/step,
 *  6 part, 7 ST); `cache` is the code arrays' element type, `cacheAccess` read_write where the kernel writes RoPE'd
 *  K/V (the wide kernel's fused RoPE). */
function attnBindingsWGSL(st: string, cache: "u32" | "vec4<u32>", cacheAccess: "read" | "read_write" = "read"): string {
  return `struct P { qkvStride: u32, scale: f32, window: u32 }
${st}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, ${cacheAccess}> Kc: array<${cache}>;
@group(0) @binding(3) var<storage, ${cacheAccess}> Vc: array<${cache}>;
@group(0) @binding(4) var<storage, read> Km: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> Vm: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> part: array<f32>;
@group(0) @binding(7) var<uniform> st: ST;
${keyStartWGSL}`;
}

/** Split-sequence attention. Grid (nC, KV, M); workgroup of 64 invocations; positions of chunk c are
 *  [max(c·chunk, keyStart(pos)), min((c+1)·chunk, pos+1)) with pos = P + m (causal, and the sliding window). Writes part[((m·H + h)·nC + c)·(d+2) …] =
 *  (max, sum, Σ exp(s − max)·v). Bindings: 0 P {qkvStride, scale, window}, 1 qkv, 2 K, 3 V, 4 Kmeta, 5 Vmeta, 6 part,
 *  7 ST {M, P, nC, chunk}. */
export function attentionWGSL(c: AttentionConfig): string {
  if (c.exact) {
    if (c.fusedRope) throw new Error("attentionWGSL: exact attention takes its RoPE from ropeKVWGSL (no fusedRope)");
    return attentionExactWGSL(c);
  }
  if (attentionWideOK(c)) return attentionWideWGSL(c);
  if (c.fusedRope) throw new Error("attentionWGSL: fusedRope needs the wide 16-bit kernel (see attentionWideOK)");
  if (c.kv.bits >= 16 && c.kv.bosBits >= 16 && c.d % 8 === 0) return attention16WGSL(c);
  const {H, KV, d, kv} = c;
  const G = H / KV;
  const CH = 64;
  const outs = G * d;
  const PER = Math.ceil(outs / CH);
  return /* wgsl */ `
${attnBindingsWGSL(stStructWGSL(kv), "u32")}
var<workgroup> qs: array<f32, ${G * d}>;
var<workgroup> sc: array<f32, ${G * CH}>;
var<workgroup> mx: array<f32, ${G}>;
var<workgroup> den: array<f32, ${G}>;
var<workgroup> corr: array<f32, ${G}>;
${kvLoadWGSL("k", "Kc", "Km", kv, d, KV)}
${kvLoadWGSL("v", "Vc", "Vm", kv, d, KV)}
@compute @workgroup_size(${CH})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  _ = Km[0];
  _ = Vm[0];
  let c = wid.x;
  let g = wid.y;
  let m = wid.z;
  let pos = st.P + m;
  let start = c * st.chunk;
  let end = min(start + st.chunk, pos + 1u);
  for (var i = lid; i < ${G * d}u; i += ${CH}u) { qs[i] = qkv[m * p.qkvStride + g * ${G * d}u + i]; }
  if (lid < ${G}u) { mx[lid] = -3.0e38; den[lid] = 0.0; }
  var acc: array<f32, ${PER}>;
  for (var t = 0u; t < ${PER}u; t++) { acc[t] = 0.0; }
  workgroupBarrier();
  for (var s0 = max(start, keyStart(pos)); s0 < end; s0 += ${CH}u) {
    let j = s0 + lid;
    if (j < end) {
      var sr: array<f32, ${G}>;
      for (var r = 0u; r < ${G}u; r++) { sr[r] = 0.0; }
      for (var e = 0u; e < ${d}u; e++) {
        let kv = kLoad(j, g, e);
        for (var r = 0u; r < ${G}u; r++) { sr[r] += qs[r * ${d}u + e] * kv; }
      }
      for (var r = 0u; r < ${G}u; r++) { sc[r * ${CH}u + lid] = sr[r] * p.scale; }
    } else {
      for (var r = 0u; r < ${G}u; r++) { sc[r * ${CH}u + lid] = -3.0e38; }
    }
    workgroupBarrier();
    let cnt = min(${CH}u, end - s0);
${onlineSoftmaxStepWGSL(G, CH)}
    workgroupBarrier();
    for (var t = 0u; t < ${PER}u; t++) {
      let o = lid + t * ${CH}u;
      if (o < ${outs}u) {
        let r = o / ${d}u;
        let e = o % ${d}u;
        var a = acc[t] * corr[r];
        for (var l = 0u; l < cnt; l++) { a += sc[r * ${CH}u + l] * vLoad(s0 + l, g, e); }
        acc[t] = a;
      }
    }
    workgroupBarrier();
  }
  let nC = st.nC;
  for (var t = 0u; t < ${PER}u; t++) {
    let o = lid + t * ${CH}u;
    if (o < ${outs}u) {
      let r = o / ${d}u;
      let e = o % ${d}u;
      let h = g * ${G}u + r;
      let base = ((m * ${H}u + h) * nC + c) * ${d + 2}u;
      part[base + 2u + e] = acc[t];
      if (e == 0u) { part[base] = mx[r]; part[base + 1u] = den[r]; }
    }
  }
}`;
}

/** The same kernel for a 16-bit cache (f32 or f16 storage), reading K and V as vec4<u32>: a thread's score for a
 *  position takes d/8 (f16) or d/4 (f32) wide loads, and each thread accumulates 8 (f16) or 4 (f32) consecutive
 *  output dimensions, so one wide load per position serves them all. Same bindings and partials as attentionWGSL. */
function attention16WGSL(c: AttentionConfig): string {
  const {H, KV, d, kv} = c;
  const G = H / KV;
  const CH = 64;
  const f16 = kv.store16 === "f16";
  const per = f16 ? 8 : 4; // values per vec4<u32>
  const VD = d / per; // vec4s per vector
  const outs = (G * d) / per; // vec4-groups of outputs
  const PER = Math.ceil(outs / CH);
  const vals = (x: string) =>
    f16
      ? [
          `vec4<f32>(unpack2x16float(${x}.x), unpack2x16float(${x}.y))`,
          `vec4<f32>(unpack2x16float(${x}.z), unpack2x16float(${x}.w))`,
        ]
      : [`bitcast<vec4<f32>>(${x})`];
  const accs = f16 ? 2 : 1;
  return /* wgsl */ `
${attnBindingsWGSL("struct ST { M: u32, P: u32, nC: u32, chunk: u32 }", "vec4<u32>")}
var<workgroup> qs: array<vec4<f32>, ${(G * d) / 4}>;
var<workgroup> sc: array<f32, ${G * CH}>;
var<workgroup> mx: array<f32, ${G}>;
var<workgroup> den: array<f32, ${G}>;
var<workgroup> corr: array<f32, ${G}>;
@compute @workgroup_size(${CH})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  _ = Km[0];
  _ = Vm[0];
  let c = wid.x;
  let g = wid.y;
  let m = wid.z;
  let pos = st.P + m;
  let start = c * st.chunk;
  let end = min(start + st.chunk, pos + 1u);
  let qb = m * p.qkvStride + g * ${G * d}u;
  for (var i = lid; i < ${(G * d) / 4}u; i += ${CH}u) { qs[i] = vec4<f32>(qkv[qb + 4u * i], qkv[qb + 4u * i + 1u], qkv[qb + 4u * i + 2u], qkv[qb + 4u * i + 3u]); }
  if (lid < ${G}u) { mx[lid] = -3.0e38; den[lid] = 0.0; }
${[...Array(PER).keys()].map((t) => [...Array(accs).keys()].map((a) => `  var acc${t}_${a} = vec4<f32>(0.0);`).join("\n")).join("\n")}
  workgroupBarrier();
  for (var s0 = max(start, keyStart(pos)); s0 < end; s0 += ${CH}u) {
    let j = s0 + lid;
    if (j < end) {
      var sr: array<f32, ${G}>;
      for (var r = 0u; r < ${G}u; r++) { sr[r] = 0.0; }
      let kb = (j * ${KV}u + g) * ${VD}u;
      for (var v = 0u; v < ${VD}u; v++) {
        let k4 = Kc[kb + v];
${
  f16
    ? `        let ka = ${vals("k4")[0]};
        let kc = ${vals("k4")[1]};
        for (var r = 0u; r < ${G}u; r++) { sr[r] += dot(qs[r * ${d / 4}u + 2u * v], ka) + dot(qs[r * ${d / 4}u + 2u * v + 1u], kc); }`
    : `        let ka = ${vals("k4")[0]};
        for (var r = 0u; r < ${G}u; r++) { sr[r] += dot(qs[r * ${d / 4}u + v], ka); }`
}
      }
      for (var r = 0u; r < ${G}u; r++) { sc[r * ${CH}u + lid] = sr[r] * p.scale; }
    } else {
      for (var r = 0u; r < ${G}u; r++) { sc[r * ${CH}u + lid] = -3.0e38; }
    }
    workgroupBarrier();
    let cnt = min(${CH}u, end - s0);
${onlineSoftmaxStepWGSL(G, CH)}
    workgroupBarrier();
${[...Array(PER).keys()]
  .map(
    (t) => `    {
      let o = lid + ${t * CH}u;
      if (o < ${outs}u) {
        let r = (o * ${per}u) / ${d}u;
        let v = o % ${VD}u;
        let cr = corr[r];
${[...Array(accs).keys()].map((a) => `        acc${t}_${a} = acc${t}_${a} * cr;`).join("\n")}
        let vb = (s0 * ${KV}u + g) * ${VD}u + v;
        var l = 0u;
        // four positions per iteration: their loads are issued together (the loop is latency-bound otherwise)
        for (; l + 4u <= cnt; l += 4u) {
          let q0 = Vc[vb + l * ${KV * VD}u];
          let q1 = Vc[vb + (l + 1u) * ${KV * VD}u];
          let q2 = Vc[vb + (l + 2u) * ${KV * VD}u];
          let q3 = Vc[vb + (l + 3u) * ${KV * VD}u];
${[0, 1, 2, 3]
  .map((k) =>
    vals(`q${k}`)
      .map((x, a) => `          acc${t}_${a} += sc[r * ${CH}u + l + ${k}u] * ${x};`)
      .join("\n"),
  )
  .join("\n")}
        }
        for (; l < cnt; l++) {
          let w = sc[r * ${CH}u + l];
          let v4 = Vc[vb + l * ${KV * VD}u];
${vals("v4")
  .map((x, a) => `          acc${t}_${a} += w * ${x};`)
  .join("\n")}
        }
      }
    }`,
  )
  .join("\n")}
    workgroupBarrier();
  }
  let nC = st.nC;
${[...Array(PER).keys()]
  .map(
    (t) => `  {
    let o = lid + ${t * CH}u;
    if (o < ${outs}u) {
      let r = (o * ${per}u) / ${d}u;
      let e0 = (o % ${VD}u) * ${per}u;
      let h = g * ${G}u + r;
      let base = ((m * ${H}u + h) * nC + c) * ${d + 2}u;
${[...Array(accs).keys()].map((a) => [0, 1, 2, 3].map((k) => `      part[base + 2u + e0 + ${a * 4 + k}u] = acc${t}_${a}[${k}];`).join("\n")).join("\n")}
      if (e0 == 0u) { part[base] = mx[r]; part[base + 1u] = den[r]; }
    }
  }`,
  )
  .join("\n")}
}`;
}

/** 16-bit cache, 256 invocations per (token, KV head, chunk), 64 positions per step: scores by 4 lanes per position
 *  (d/4 dimensions each), softmax statistics by tree reductions over the 64 positions of each head, values by 4
 *  position groups per output group (unrolled loads), so no thread walks a long serial chain of loads.
 *  Same bindings and partials as attentionWGSL (+ cos/sin and writable K/V with fusedRope). */
function attentionWideWGSL(c: AttentionConfig): string {
  const {H, KV, d, kv} = c;
  const G = H / KV;
  const CH = 64;
  const WG = 256;
  const f16 = kv.store16 === "f16";
  const per = f16 ? 8 : 4;
  const VD = d / per; // vec4s per vector
  const QV = VD / 4; // vec4s per quarter
  const OG = (G * d) / per; // output groups
  const NPQ = WG / OG; // position groups in the value phase
  const VU = 8; // value loads in flight per thread (accumulated in position order, as one at a time would)
  const half = d / 2;
  const rope = !!c.fusedRope;
  const vals = (x: string) =>
    f16
      ? [
          `vec4<f32>(unpack2x16float(${x}.x), unpack2x16float(${x}.y))`,
          `vec4<f32>(unpack2x16float(${x}.z), unpack2x16float(${x}.w))`,
        ]
      : [`bitcast<vec4<f32>>(${x})`];
  const accs = f16 ? 2 : 1;
  const pack = (a: string, b: string) =>
    f16
      ? `vec4<u32>(pack2x16float(${a}.xy), pack2x16float(${a}.zw), pack2x16float(${b}.xy), pack2x16float(${b}.zw))`
      : `bitcast<vec4<u32>>(${a})`;
  return /* wgsl */ `
${attnBindingsWGSL("struct ST { M: u32, P: u32, nC: u32, chunk: u32 }", "vec4<u32>", rope ? "read_write" : "read")}
${
  rope
    ? `@group(0) @binding(8) var<storage, read> cosT: array<f32>;
@group(0) @binding(9) var<storage, read> sinT: array<f32>;`
    : ""
}
var<workgroup> qs: array<vec4<f32>, ${(G * d) / 4}>;
var<workgroup> kv4: array<f32, ${2 * d}>;
var<workgroup> sp: array<f32, ${G * WG}>;
var<workgroup> sc: array<f32, ${G * CH}>;
var<workgroup> redH: array<f32, ${G * CH}>;
var<workgroup> nmx: array<f32, ${G}>;
var<workgroup> mx: array<f32, ${G}>;
var<workgroup> den: array<f32, ${G}>;
var<workgroup> corr: array<f32, ${G}>;
var<workgroup> accS: array<vec4<f32>, ${WG * accs}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  _ = Km[0];
  _ = Vm[0];
  let c = wid.x;
  let g = wid.y;
  let m = wid.z;
  let pos = st.P + m;
  let start = c * st.chunk;
  let end = min(start + st.chunk, pos + 1u);
  let qb = m * p.qkvStride + g * ${G * d}u;
${
  rope
    ? `  // RoPE on this KV head's query heads (rotate_half pairs), straight into workgroup memory
  for (var i = lid; i < ${G * half}u; i += ${WG}u) {
    let r = i / ${half}u;
    let e = i % ${half}u;
    let x1 = qkv[qb + r * ${d}u + e];
    let x2 = qkv[qb + r * ${d}u + e + ${half}u];
    let cs = cosT[pos * ${half}u + e];
    let sn = sinT[pos * ${half}u + e];
    let o1 = r * ${d}u + e;
    let o2 = o1 + ${half}u;
    qs[o1 / 4u][o1 % 4u] = x1 * cs - x2 * sn;
    qs[o2 / 4u][o2 % 4u] = x2 * cs + x1 * sn;
  }
  // the chunk holding the new position writes its K (rotated) and V into the cache
  if (pos >= start && pos < start + st.chunk) {
    let kb = m * p.qkvStride + ${H * d}u + g * ${d}u;
    let vb = m * p.qkvStride + ${(H + KV) * d}u + g * ${d}u;
    for (var e = lid; e < ${half}u; e += ${WG}u) {
      let x1 = qkv[kb + e];
      let x2 = qkv[kb + e + ${half}u];
      let cs = cosT[pos * ${half}u + e];
      let sn = sinT[pos * ${half}u + e];
      kv4[e] = x1 * cs - x2 * sn;
      kv4[e + ${half}u] = x2 * cs + x1 * sn;
    }
    for (var e = lid; e < ${d}u; e += ${WG}u) { kv4[${d}u + e] = qkv[vb + e]; }
    workgroupBarrier();
    let base = (pos * ${KV}u + g) * ${VD}u;
    for (var v = lid; v < ${VD}u; v += ${WG}u) {
      let e = v * ${per}u;
      Kc[base + v] = ${pack(`vec4<f32>(kv4[e], kv4[e + 1u], kv4[e + 2u], kv4[e + 3u])`, `vec4<f32>(kv4[e + 4u], kv4[e + 5u], kv4[e + 6u], kv4[e + 7u])`)};
      Vc[base + v] = ${pack(`vec4<f32>(kv4[${d}u + e], kv4[${d}u + e + 1u], kv4[${d}u + e + 2u], kv4[${d}u + e + 3u])`, `vec4<f32>(kv4[${d}u + e + 4u], kv4[${d}u + e + 5u], kv4[${d}u + e + 6u], kv4[${d}u + e + 7u])`)};
    }
    storageBarrier();
  }`
    : `  for (var i = lid; i < ${(G * d) / 4}u; i += ${WG}u) { qs[i] = vec4<f32>(qkv[qb + 4u * i], qkv[qb + 4u * i + 1u], qkv[qb + 4u * i + 2u], qkv[qb + 4u * i + 3u]); }`
}
  if (lid < ${G}u) { mx[lid] = -3.0e38; den[lid] = 0.0; }
  let pp = lid / 4u; // score phase: position within the step
  let qd = lid % 4u; // and quarter of the dimensions
  let o = lid % ${OG}u; // value phase: output group
  let pq = lid / ${OG}u; // and position group
  let r = (o * ${per}u) / ${d}u;
  let ov = o % ${VD}u;
${[...Array(accs).keys()].map((a) => `  var acc${a} = vec4<f32>(0.0);`).join("\n")}
  workgroupBarrier();
  for (var s0 = max(start, keyStart(pos)); s0 < end; s0 += ${CH}u) {
    let cnt = min(${CH}u, end - s0);
    // scores: 4 lanes per position
    {
      let j = min(s0 + pp, end - 1u);
      let kb = (j * ${KV}u + g) * ${VD}u + qd * ${QV}u;
      var sr: array<f32, ${G}>;
      for (var rr = 0u; rr < ${G}u; rr++) { sr[rr] = 0.0; }
      for (var v = 0u; v < ${QV}u; v++) {
        let k4 = Kc[kb + v];
${
  f16
    ? `        let ka = ${vals("k4")[0]};
        let kc = ${vals("k4")[1]};
        let qi = (qd * ${QV}u + v) * 2u;
        for (var rr = 0u; rr < ${G}u; rr++) { sr[rr] += dot(qs[rr * ${d / 4}u + qi], ka) + dot(qs[rr * ${d / 4}u + qi + 1u], kc); }`
    : `        let ka = ${vals("k4")[0]};
        let qi = qd * ${QV}u + v;
        for (var rr = 0u; rr < ${G}u; rr++) { sr[rr] += dot(qs[rr * ${d / 4}u + qi], ka); }`
}
      }
      for (var rr = 0u; rr < ${G}u; rr++) { sp[rr * ${WG}u + lid] = sr[rr]; }
    }
    workgroupBarrier();
    // softmax statistics: thread (head hr, position hp), trees over the 64 positions of each head
    for (var t = lid; t < ${G * CH}u; t += ${WG}u) {
      let hr = t / ${CH}u;
      let hp = t % ${CH}u;
      let b = hr * ${WG}u + hp * 4u;
      var v = -3.0e38;
      if (hp < cnt) { v = (sp[b] + sp[b + 1u] + sp[b + 2u] + sp[b + 3u]) * p.scale; }
      sc[t] = v;
    }
    workgroupBarrier();
    // the ${G} heads' trees side by side (each head's pairs as in a tree of its own: the same bits, ${G}× fewer barriers)
    for (var t = lid; t < ${G * CH}u; t += ${WG}u) { redH[t] = sc[t]; }
    workgroupBarrier();
    for (var w = ${CH / 2}u; w > 0u; w = w >> 1u) {
      for (var t = lid; t < ${G * CH}u; t += ${WG}u) { if (t % ${CH}u < w) { redH[t] = max(redH[t], redH[t + w]); } }
      workgroupBarrier();
    }
    if (lid < ${G}u) { nmx[lid] = max(mx[lid], redH[lid * ${CH}u]); }
    workgroupBarrier();
    for (var t = lid; t < ${G * CH}u; t += ${WG}u) {
      let e = select(0.0, exp(sc[t] - nmx[t / ${CH}u]), t % ${CH}u < cnt);
      sc[t] = e;
      redH[t] = e;
    }
    workgroupBarrier();
    for (var w = ${CH / 2}u; w > 0u; w = w >> 1u) {
      for (var t = lid; t < ${G * CH}u; t += ${WG}u) { if (t % ${CH}u < w) { redH[t] = redH[t] + redH[t + w]; } }
      workgroupBarrier();
    }
    if (lid < ${G}u) {
      let nm = nmx[lid];
      let cr = exp(mx[lid] - nm);
      den[lid] = den[lid] * cr + redH[lid * ${CH}u];
      corr[lid] = cr;
      mx[lid] = nm;
    }
    workgroupBarrier();
    // values: output group o, positions pq, pq + ${NPQ}, …, ${VU} loads at a time
    {
      let cr = corr[r];
${[...Array(accs).keys()].map((a) => `      acc${a} = acc${a} * cr;`).join("\n")}
      let vb = (s0 * ${KV}u + g) * ${VD}u + ov;
      var l = pq;
      for (; l + ${(VU - 1) * NPQ}u < cnt; l += ${VU * NPQ}u) {
${[...Array(VU).keys()].map((k) => `        let q${k} = Vc[vb + (l + ${k * NPQ}u) * ${KV * VD}u];`).join("\n")}
${[...Array(VU).keys()]
  .map((k) =>
    vals(`q${k}`)
      .map((x, a) => `        acc${a} += sc[r * ${CH}u + l + ${k * NPQ}u] * ${x};`)
      .join("\n"),
  )
  .join("\n")}
      }
      for (; l < cnt; l += ${NPQ}u) {
        let q0 = Vc[vb + l * ${KV * VD}u];
${vals("q0")
  .map((x, a) => `        acc${a} += sc[r * ${CH}u + l] * ${x};`)
  .join("\n")}
      }
    }
    workgroupBarrier();
  }
  // sum the ${NPQ} position groups and write (max, sum, out) per query head
${[...Array(accs).keys()].map((a) => `  accS[lid * ${accs}u + ${a}u] = acc${a};`).join("\n")}
  workgroupBarrier();
  if (pq == 0u) {
${[...Array(accs).keys()].map((a) => `    var t${a} = acc${a};`).join("\n")}
    for (var q = 1u; q < ${NPQ}u; q++) {
${[...Array(accs).keys()].map((a) => `      t${a} += accS[(q * ${OG}u + o) * ${accs}u + ${a}u];`).join("\n")}
    }
    let h = g * ${G}u + r;
    let base = ((m * ${H}u + h) * st.nC + c) * ${d + 2}u;
    let e0 = ov * ${per}u;
${[...Array(accs).keys()].map((a) => [0, 1, 2, 3].map((k) => `    part[base + 2u + e0 + ${a * 4 + k}u] = t${a}[${k}];`).join("\n")).join("\n")}
    if (e0 == 0u) { part[base] = mx[r]; part[base + 1u] = den[r]; }
  }
}`;
}

/** Exact split attention: the generic kernel's structure (64 invocations, one position per invocation for the
 *  scores, online softmax over 64-position steps, one output per invocation for the values) with every sum in
 *  float-float: q·k as exact products, · 1/√d as a float-float constant, exp in float-float (expFF), the weights
 *  times V (dequantized exactly, kvDeq) accumulated in float-float. Partials (max, sum hi, sum lo, out hi[d],
 *  out lo[d]) per (token, head, chunk) = attnPartStride(d, true) floats; normquant's attnFF combine rounds once.
 *  Same bindings as attentionWGSL. */
function attentionExactWGSL(c: AttentionConfig): string {
  const {H, KV, d, kv} = c;
  const G = H / KV;
  const CH = 64;
  const outs = G * d;
  const PER = Math.ceil(outs / CH);
  const S = attnPartStride(d, true);
  const [sh, sl] = f32Pair(1 / Math.sqrt(d));
  return /* wgsl */ `
${attnBindingsWGSL(stStructWGSL(kv), "u32")}
var<workgroup> qs: array<f32, ${G * d}>;
var<workgroup> sc: array<vec2<f32>, ${G * CH}>;
var<workgroup> mx: array<f32, ${G}>;
var<workgroup> den: array<vec2<f32>, ${G}>;
var<workgroup> corr: array<vec2<f32>, ${G}>;
${exactDivWGSL}
${floatFloatWGSL}
${floatFloatMathWGSL}
${kvDeqWGSL}
${kvLoadWGSL("k", "Kc", "Km", kv, d, KV, true)}
${kvLoadWGSL("v", "Vc", "Vm", kv, d, KV, true)}
@compute @workgroup_size(${CH})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  _ = Km[0];
  _ = Vm[0];
  OPQ = p.qkvStride >> 31u;
  let c = wid.x;
  let g = wid.y;
  let m = wid.z;
  let pos = st.P + m;
  let start = c * st.chunk;
  let end = min(start + st.chunk, pos + 1u);
  for (var i = lid; i < ${G * d}u; i += ${CH}u) { qs[i] = qkv[m * p.qkvStride + g * ${G * d}u + i]; }
  if (lid < ${G}u) { mx[lid] = -3.0e38; den[lid] = vec2<f32>(0.0, 0.0); }
  var acc: array<vec2<f32>, ${PER}>;
  for (var t = 0u; t < ${PER}u; t++) { acc[t] = vec2<f32>(0.0, 0.0); }
  workgroupBarrier();
  for (var s0 = max(start, keyStart(pos)); s0 < end; s0 += ${CH}u) {
    let j = s0 + lid;
    if (j < end) {
      var sr: array<vec2<f32>, ${G}>;
      for (var r = 0u; r < ${G}u; r++) { sr[r] = vec2<f32>(0.0, 0.0); }
      for (var e = 0u; e < ${d}u; e++) {
        let kv = kLoad(j, g, e);
        for (var r = 0u; r < ${G}u; r++) {
          let q = qs[r * ${d}u + e];
          let pr = opq(q * kv);
          sr[r] = addFF(sr[r], vec2<f32>(pr, twoProdErr(q, kv, pr)));
        }
      }
      for (var r = 0u; r < ${G}u; r++) { sc[r * ${CH}u + lid] = mulFF(sr[r], vec2<f32>(${f32Lit(sh)}, ${f32Lit(sl)})); }
    } else {
      for (var r = 0u; r < ${G}u; r++) { sc[r * ${CH}u + lid] = vec2<f32>(-3.0e38, 0.0); }
    }
    workgroupBarrier();
    let cnt = min(${CH}u, end - s0);
${onlineSoftmaxStepWGSL(G, CH, true)}
    workgroupBarrier();
    for (var t = 0u; t < ${PER}u; t++) {
      let o = lid + t * ${CH}u;
      if (o < ${outs}u) {
        let r = o / ${d}u;
        let e = o % ${d}u;
        var a = mulFF(acc[t], corr[r]);
        for (var l = 0u; l < cnt; l++) { a = addFF(a, mulFF1(sc[r * ${CH}u + l], vLoad(s0 + l, g, e))); }
        acc[t] = a;
      }
    }
    workgroupBarrier();
  }
  let nC = st.nC;
  for (var t = 0u; t < ${PER}u; t++) {
    let o = lid + t * ${CH}u;
    if (o < ${outs}u) {
      let r = o / ${d}u;
      let e = o % ${d}u;
      let h = g * ${G}u + r;
      let base = ((m * ${H}u + h) * nC + c) * ${S}u;
      part[base + 3u + e] = acc[t].x;
      part[base + ${3 + d}u + e] = acc[t].y;
      if (e == 0u) { part[base] = mx[r]; part[base + 1u] = den[r].x; part[base + 2u] = den[r].y; }
    }
  }
}`;
}

/** One step of the online softmax over a chunk of `cnt` scores per query row (rows 0…G−1, scores sc[r·CH + l]):
 *  the running max mx, denominator den and the factor corr that rescales what was accumulated before; the scores
 *  become exp(s − max). One invocation per row; the caller's barriers surround it. With `ff` the scores, den and corr
 *  are float-float (vec2) and exp is expFF (the exact kernel); the max is taken over the scores' hi parts. */
function onlineSoftmaxStepWGSL(G: number, CH: number, ff = false): string {
  const s = `sc[r * ${CH}u + l]`;
  const [hi, cr, zero, e, sum, den] = ff
    ? [
        `${s}.x`,
        "expFF(twoSum(mx[r], -nm))",
        "vec2<f32>(0.0, 0.0)",
        `expFF(addFF(${s}, vec2<f32>(-nm, 0.0)))`,
        "sum = addFF(sum, e)",
        "addFF(mulFF(den[r], cr), sum)",
      ]
    : [s, "exp(mx[r] - nm)", "0.0", `exp(${s} - nm)`, "sum += e", "den[r] * cr + sum"];
  return `    if (lid < ${G}u) {
      let r = lid;
      var nm = mx[r];
      for (var l = 0u; l < cnt; l++) { nm = max(nm, ${hi}); }
      let cr = ${cr};
      var sum = ${zero};
      for (var l = 0u; l < cnt; l++) { let e = ${e}; ${s} = e; ${sum}; }
      den[r] = ${den};
      corr[r] = cr;
      mx[r] = nm;
    }`;
}
