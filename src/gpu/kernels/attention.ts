// Decode/prefill attention: the kernel choice and the generic split-attention kernel.
import {attention16WGSL} from "./attention-16.js";
import {attentionExactWGSL} from "./attention-exact.js";
import {type AttentionConfig, attnBindingsWGSL, chunkMainWGSL, onlineSoftmaxStepWGSL} from "./attention-shared.js";
import {attentionWideWGSL} from "./attention-wide.js";
import {kvLoadWGSL, stStructWGSL} from "./kv-cache.js";
//
// One kernel family a module (issue 21): kv-cache.ts (the cache layout, its buffers, the WGSL that reads it),
// rope-kv.ts (RoPE + the cache write), attention-shared.ts (bindings, keyStart, the online softmax step), and the
// split-attention kernels: the generic one here, attention-16.ts, attention-wide.ts, attention-exact.ts.
// Attention is split along the sequence (flash-decoding): a workgroup owns (token, KV head, chunk of positions),
// handles the whole query-head group of that KV head (so each K/V vector is read once per group), keeps an
// online softmax over 64-position steps, and writes (max, sum, out[d]) per query head; normquant.ts combines
// the chunks while it normalizes the W_o input.
// Exact mode (engine Plan.exactAttention, a4.8: its W_o top-K mask flips on a last-bit difference): RoPE with the
// float64 cos/sin as hi + lo pairs, the KV dequantization rounded once, scores, exp, softmax·V and the combine in
// float-float (exact.ts), one rounding at the end — the float64 reference's f32 bits (test/gpu/attention.test.ts).

/** Whether the wide 256-invocation kernel (and so fusedRope) applies to this shape. */
export function attentionWideOK(c: Omit<AttentionConfig, "fusedRope">): boolean {
  const G = c.H / c.KV;
  const per = c.kv.store16 === "f16" ? 8 : 4;
  const OG = (G * c.d) / per;
  return c.kv.bits >= 16 && c.kv.bosBits >= 16 && c.d % (4 * per) === 0 && G <= 4 && OG <= 256 && 256 % OG === 0;
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
${chunkMainWGSL(CH)}
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
