// RoPE on q and k and the K/V cache write of the new tokens (split from attention.ts, issue 21).
import {exactDivWGSL, floatFloatMathWGSL, floatFloatWGSL} from "./exact.js";
import {type KVFormat, kvWords, quantized, stStructWGSL} from "./kv-cache.js";

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
${ropeKVDeclsWGSL(kv, d, WG, exact)}

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
${ropePairWGSL(half, exact)}
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
    }${anyQ ? kvQuantizeWGSL(KV, d, WG) : ""}
  }
}`;
}

/** The kernel's bindings, workgroup arrays and helpers: divF32, kvCode (the reference's code rounding), store. */
function ropeKVDeclsWGSL(kv: KVFormat, d: number, WG: number, exact: boolean): string {
  return /* wgsl */ `struct P { qkvStride: u32 }
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
fn storeMeta(isV: bool, i: u32, mm: vec2<f32>) { if (isV) { Vm[i] = mm; } else { Km[i] = mm; } }`;
}

/** The rotation of one (i, i + d/2) pair, from the f32 tables or (exact) their float-float hi + lo halves. */
function ropePairWGSL(half: number, exact: boolean): string {
  return exact
    ? `    let ti = pos * ${half}u + i;
    let lo = arrayLength(&cosT) / 2u;
    let cs = vec2<f32>(cosT[ti], cosT[lo + ti]);
    let sn = vec2<f32>(sinT[ti], sinT[lo + ti]);
    qkv[o] = addFF(mulFF1(cs, x1), -mulFF1(sn, x2)).x;
    qkv[o + ${half}u] = addFF(mulFF1(cs, x2), mulFF1(sn, x1)).x;`
    : `    let cs = cosT[pos * ${half}u + i];
    let sn = sinT[pos * ${half}u + i];
    qkv[o] = x1 * cs - x2 * sn;
    qkv[o + ${half}u] = x2 * cs + x1 * sn;`;
}

/** A quantized cache's write of the vector in `vec`: min/max by a tree reduction, the step as the reference's float64
 *  rounds it, the (min, step) meta, then the codes packed LSB-first (one invocation per output word). */
function kvQuantizeWGSL(KV: number, d: number, WG: number): string {
  return `
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
    }`;
}
