// The fused decode prologue RMSNorm → INT8 absmax of a plain row from the producer's statistics (linear.ts
// normStats*), instead of whole-vector reductions.
import {exactDivWGSL, floatFloatWGSL} from "./exact.js";
import {STATS_BINDINGS, statsLayout, statsStride} from "./norm-stats.js";
import {packI8WGSL, rmsInverseWGSL, rowShape} from "./normquant-stages.js";

/** Every subgroup (every invocation without subgroups) reduces the `parts` records itself — Σx² as float-float, then
 *  the step from the candidates of the records near the maximum (the whole row where a record overflowed) — so the
 *  workgroup meets at one barrier, after its invocations have quantized their elements into `xw`. Same formulas as
 *  the whole-vector prologue (r as a float-float pair, y = fround(x·r), v = γ·y, s = 127 / max(g, ε) correctly
 *  rounded). Binding STATS_BINDINGS.in holds the records. */
export function statsPrologueWGSL(
  n: number,
  WG: number,
  sub: number,
  bindings: Record<string, number>,
  parts: number,
): string {
  const shape = rowShape(n, WG);
  const {PER} = shape;
  const KW = 16 * Math.ceil(n / 64);
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
  L.push(`${rmsInverseWGSL(n, "np")}
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
${packI8WGSL(shape, -128, 127, {xw: KW})}`);
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
