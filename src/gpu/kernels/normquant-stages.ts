// The stages of the per-token prologue (normquant.ts composes them): reductions, the split-attention combine,
// RMSNorm, top-K and the INT8/INT4 quantizer. Each builder returns WGSL lines of `main` (or `prologue`) that read and
// write the thread's elements v[0 … PER) of the row; the Hadamard stage is normquant-hadamard.ts.
import {attnPartStride} from "./kv-cache.js";
import {subgroupReduceWGSL, treeReduceWGSL} from "./prelude.js";

/** The row as the threads hold it: n elements, WG threads, PER contiguous elements per thread (whole i8 words). */
export interface RowShape {
  n: number;
  WG: number;
  PER: number;
}

export function rowShape(n: number, WG: number): RowShape {
  if (WG & (WG - 1)) throw new Error("normQuantWGSL: WG must be a power of two");
  return {n, WG, PER: Math.max(4, Math.ceil(n / WG / 4) * 4)};
}

const add = (a: string, b: string) => `${a} + ${b}`;

/** sumF, maxF, sumU over the workgroup (redF, redU: one entry per subgroup, or per invocation without subgroups). */
export function rowReductionsWGSL(WG: number, sub: number): string {
  if (!sub)
    return [
      treeReduceWGSL("sumF", "f32", "redF", add, WG),
      treeReduceWGSL("maxF", "f32", "redF", (a, b) => `max(${a}, ${b})`, WG),
      treeReduceWGSL("sumU", "u32", "redU", add, WG),
    ].join("\n");
  const addTo = (t: string, x: string) => `${t} += ${x}`;
  return [
    subgroupReduceWGSL("sumF", "f32", "redF", "subgroupAdd", addTo, sub, WG, "0.0"),
    subgroupReduceWGSL("maxF", "f32", "redF", "subgroupMax", (t, x) => `${t} = max(${t}, ${x})`, sub, WG),
    subgroupReduceWGSL("sumU", "u32", "redU", "subgroupAdd", addTo, sub, WG, "0u"),
  ].join("\n");
}

/** sumFF: a float-float sum over the workgroup (redFF: WG entries). */
export function sumFFWGSL(WG: number, sub: number): string {
  if (!sub) return treeReduceWGSL("sumFF", "vec2<f32>", "redFF", (a, b) => `addFF(${a}, ${b})`, WG);
  return `fn sumFF(x: vec2<f32>, lid: u32) -> vec2<f32> {
  var v = x;
  for (var o = ${sub / 2}u; o > 0u; o = o >> 1u) { v = addFF(v, vec2<f32>(subgroupShuffleXor(v.x, o), subgroupShuffleXor(v.y, o))); }
  workgroupBarrier();
  if (lid % ${sub}u == 0u) { redFF[lid / ${sub}u] = v; }
  workgroupBarrier();
  var t = redFF[0];
  for (var i = 1u; i < ${Math.max(1, WG / sub)}u; i++) { t = addFF(t, redFF[i]); }
  return t;
}`;
}

/** Load the row of token m from src[m·srcStride …] (`pv` is the uniform: p, or np in a fused prologue). */
export function loadRowWGSL({n, PER}: RowShape, pv: string): string {
  return `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; v[k] = select(0.0, src[m * ${pv}.srcStride + min(i, ${n - 1}u)], i < ${n}u); }`;
}

/** Combine the st.nC split-attention partials of each of H heads of d (attention.ts's layout) into the row: in f32
 *  from (max, sum, out[d]), or from float-float partials (max, den hi, den lo, out hi[d], out lo[d]) with every
 *  chunk's weight exp(max_c − max) and the sums in float-float and one rounding at the division (`ff`) — the
 *  reference's float64 softmax · V, rounded once. */
export function combineAttnWGSL({n, PER}: RowShape, H: number, d: number, ff: boolean): string {
  if (ff) {
    const S = attnPartStride(d, true);
    return `  // combine the nC float-float split-softmax partials of each head
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
  }`;
  }
  // Phase A: per head, the overall max and 1/denominator. Thread t < H reads its head's (max, sum) pairs four
  // chunks at a time so the loads overlap. Phase B: chunk-major, so each iteration issues the PER loads of this
  // thread's elements together (a chunk-inner loop would wait for one load per element per chunk).
  const S = d + 2;
  return `  // combine the nC split-softmax partials of each head: (max, sum, out[d]) per (token, head, chunk)
  if (lid < ${H}u) {
    let base = (m * ${H}u + lid) * st.nC * ${S}u;
    var mx = -3.0e38;
    var cc = 0u;
    for (; cc + 4u <= st.nC; cc += 4u) {
      let a0 = src[base + cc * ${S}u];
      let a1 = src[base + (cc + 1u) * ${S}u];
      let a2 = src[base + (cc + 2u) * ${S}u];
      let a3 = src[base + (cc + 3u) * ${S}u];
      mx = max(mx, max(max(a0, a1), max(a2, a3)));
    }
    for (; cc < st.nC; cc++) { mx = max(mx, src[base + cc * ${S}u]); }
    var den = 0.0;
    cc = 0u;
    for (; cc + 4u <= st.nC; cc += 4u) {
      let o0 = base + cc * ${S}u;
      let o1 = o0 + ${S}u;
      let o2 = o1 + ${S}u;
      let o3 = o2 + ${S}u;
      den += exp(src[o0] - mx) * src[o0 + 1u] + exp(src[o1] - mx) * src[o1 + 1u] + exp(src[o2] - mx) * src[o2 + 1u] + exp(src[o3] - mx) * src[o3 + 1u];
    }
    for (; cc < st.nC; cc++) { den += exp(src[base + cc * ${S}u] - mx) * src[base + cc * ${S}u + 1u]; }
    headMD[lid] = vec2<f32>(mx, 1.0 / den);
  }
  workgroupBarrier();
  for (var k = 0u; k < ${PER}u; k++) { v[k] = 0.0; }
  for (var cc = 0u; cc < st.nC; cc++) {
    for (var k = 0u; k < ${PER}u; k++) {
      let i = min(i0 + k, ${n - 1}u);
      let h = i / ${d}u;
      let o = ((m * ${H}u + h) * st.nC + cc) * ${S}u;
      v[k] += exp(src[o] - headMD[h].x) * src[o + 2u + i % ${d}u];
    }
  }
  for (var k = 0u; k < ${PER}u; k++) {
    let i = i0 + k;
    v[k] = select(0.0, v[k] * headMD[min(i, ${n - 1}u) / ${d}u].y, i < ${n}u);  }`;
}

/** Write v (the row before or after the transforms) to the inspection buffer dbg [M, 2n] at column `at`. */
export function inspectRowWGSL({n, PER}: RowShape, at: number): string {
  return `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < ${n}u) { dbg[m * ${2 * n}u + ${at ? `${at}u + ` : ""}i] = v[k]; } }`;
}

/** r = 1/√(Σx²/n + ε) as a float-float pair (r0, rl) from ss = Σx² (float-float) and the uniform's (eps, epsLo): the
 *  mean split exactly, one Newton step on an f32 inverseSqrt (the reference computes r in float64). */
export function rmsInverseWGSL(n: number, pv: string): string {
  return `  let vh0 = opq(ss.x / ${n}.0);
  let tq = opq(vh0 * ${n}.0);
  let vl0 = (((ss.x - tq) - twoProdErr(vh0, ${n}.0, tq)) + ss.y) / ${n}.0;
  let vv = addFF(vec2<f32>(vh0, vl0), vec2<f32>(${pv}.eps, ${pv}.epsLo));
  let r0 = opq(inverseSqrt(vv.x));
  let pr = opq(r0 * r0);
  let pre = twoProdErr(r0, r0, pr);
  let qv = opq(vv.x * pr);
  let qe = twoProdErr(vv.x, pr, qv);
  let dr = ((1.0 - qv) - qe) - (vv.x * pre + vv.y * pr);
  let rl = r0 * dr * 0.5;`;
}

/** RMSNorm: y = w · fround(x · r), with exact squares, compensated sums and exact products around rmsInverseWGSL. */
export function rmsNormWGSL({n, PER}: RowShape, pv: string): string {
  return `  var ss = vec2<f32>(0.0, 0.0);
  for (var k = 0u; k < ${PER}u; k++) { let q = v[k] * v[k]; ss = addFF(ss, vec2<f32>(q, twoProdErr(v[k], v[k], q))); }
  ss = sumFF(ss, lid);
${rmsInverseWGSL(n, pv)}
  for (var k = 0u; k < ${PER}u; k++) {
    let i = i0 + k;
    if (i < ${n}u) {
      let u = opq(v[k] * r0);
      let y = u + (twoProdErr(v[k], r0, u) + v[k] * rl);
      v[k] = normW[i] * y;
    }
  }`;
}

/** Top-K: zero all but the K largest |v| (`K` a WGSL u32 expression). Radix select of the K-th largest |x| (4 passes
 *  of 8 bits over the f32 bit patterns, hist + bcast), ties at the threshold kept lowest index first (scanU), as
 *  quant.ts topKMask does. Runs before quantization: γ is the row's max, which the top-K keeps. */
export function topKWGSL({n, WG, PER}: RowShape, K: string): string {
  return `  // radix select: the K-th largest |v| as f32 bits, 8 bits per pass, most significant first
  var prefix = 0u;
  var pmask = 0u;
  var need = ${K};
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
  }`;
}

/** The f64 mantissa/exponent of x for the exact division (x = M · 2^e, M < 2^53). */
function f64Parts(x: number): {hi: number; lo: number; e: number} {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  const hi = dv.getUint32(0);
  const lo = dv.getUint32(4);
  const exp = ((hi >>> 20) & 0x7ff) - 1075;
  return {hi: (hi & 0xfffff) | 0x100000, lo, e: exp};
}

/** The step s of the row: INT8 s = 127 / max(γ, ε) with γ = max|v|; INT4 s = √7 / max(β, ε) with β = fround(Σ|v| / n),
 *  the sum carried as a float-float pair and divided exactly (the reference sums in float64). Both correctly rounded. */
export function quantStepWGSL({n, PER}: RowShape, quant: "int8" | "int4"): string {
  if (quant === "int8")
    return `  var g = 0.0;
  for (var k = 0u; k < ${PER}u; k++) { g = max(g, abs(v[k])); }
  g = maxF(g, lid);
  let s = div127(max(g, 1e-5));`;
  const sq7 = f64Parts(Math.sqrt(7));
  return `  var sa = vec2<f32>(0.0, 0.0);
  for (var k = 0u; k < ${PER}u; k++) { sa = addFF(sa, vec2<f32>(abs(v[k]), 0.0)); }
  sa = sumFF(sa, lid);
  var beta = 0.0;
  if (sa.x > 0.0) { beta = exactDivSum(sa.x, sa.y, ${n}.0); }
  let s = exactDiv(${sq7.hi}u, ${sq7.lo}u, ${sq7.e}, max(beta, 1e-5));`;
}

/** Quantize v with step s to codes in [lo, hi] (round half to even), four i8 lanes per u32 word, their sum in qs;
 *  the words go to the token's row of outv (dstStride words) or to the fused prologue's workgroup array xw (KW words),
 *  the words past the row are zeroed. */
export function packI8WGSL({WG, PER}: RowShape, lo: number, hi: number, to: {xw: number} | "outv"): string {
  const [limit, at] =
    to === "outv" ? ["p.dstStride", "outv[m * p.dstStride + w]"] : [`${to.xw}u`, "xw[w >> 2u][w & 3u]"];
  return `  var qs = 0i;
  for (var k = 0u; k < ${PER / 4}u; k++) {
    var word = 0u;
    for (var e = 0u; e < 4u; e++) {
      let q = i32(clamp(round(v[4u * k + e] * s), ${lo}.0, ${hi}.0));
      qs += q;
      word = word | ((u32(q) & 0xffu) << (8u * e));
    }
    let w = lid * ${PER / 4}u + k;
    if (w < ${limit}) { ${at} = word; }
  }
  for (var w = ${(WG * PER) / 4}u + lid; w < ${limit}; w += ${WG}u) { ${at} = 0u; }`;
}

/** The last stage: write v as f32 (quant none), or quantize it and write the codes with (s, Σq) to xmeta[m] (or,
 *  fused, to xwm). Closes the entry point. (The FWHT-only rows: normquant-hadamard.ts fwhtRowsOutWGSL.) */
export function writeRowWGSL(shape: RowShape, quant: "int8" | "int4" | "none", opts: {fusedKW?: number}): string {
  const {WG, PER} = shape;
  if (quant === "none")
    return `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < p.dstStride) { outv[m * p.dstStride + i] = v[k]; } }
  for (var i = ${WG * PER}u + lid; i < p.dstStride; i += ${WG}u) { outv[m * p.dstStride + i] = 0.0; }
}`;
  const int8 = quant === "int8";
  const fused = opts.fusedKW !== undefined;
  return `${quantStepWGSL(shape, quant)}
${packI8WGSL(shape, int8 ? -128 : -8, int8 ? 127 : 7, fused ? {xw: opts.fusedKW!} : "outv")}
  let total = sumU(bitcast<u32>(qs), lid);
  ${fused ? "if (lid == 0u) { xwm = vec2<u32>(bitcast<u32>(s), total); }\n  workgroupBarrier();" : "if (lid == 0u) { xmeta[m] = vec2<u32>(bitcast<u32>(s), total); }"}
}`;
}
