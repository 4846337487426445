// Exact split attention in float-float (split from attention.ts, issue 21).
import {type AttentionConfig, attnBindingsWGSL, chunkMainWGSL, onlineSoftmaxStepWGSL} from "./attention-shared.js";
import {exactDivWGSL, f32Lit, f32Pair, floatFloatMathWGSL, floatFloatWGSL} from "./exact.js";
import {attnPartStride, kvDeqWGSL, kvLoadWGSL, stStructWGSL} from "./kv-cache.js";

/** Exact split attention: the generic kernel's structure (64 invocations, one position per invocation for the
 *  scores, online softmax over 64-position steps, one output per invocation for the values) with every sum in
 *  float-float: q·k as exact products, · 1/√d as a float-float constant, exp in float-float (expFF), the weights
 *  times V (dequantized exactly, kvDeq) accumulated in float-float. Partials (max, sum hi, sum lo, out hi[d],
 *  out lo[d]) per (token, head, chunk) = attnPartStride(d, true) floats; normquant's attnFF combine rounds once.
 *  Same bindings as attentionWGSL. */
export function attentionExactWGSL(c: AttentionConfig): string {
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
${chunkMainWGSL(CH, "OPQ = p.qkvStride >> 31u;")}
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
