// The wide 256-invocation split-attention kernel for a 16-bit cache (split from attention.ts, issue 21).
import {type AttentionConfig, attnBindingsWGSL, chunkMainWGSL} from "./attention-shared.js";

/** 16-bit cache, 256 invocations per (token, KV head, chunk), 64 positions per step: scores by 4 lanes per position
 *  (d/4 dimensions each), softmax statistics by tree reductions over the 64 positions of each head, values by 4
 *  position groups per output group (unrolled loads), so no thread walks a long serial chain of loads.
 *  Same bindings and partials as attentionWGSL (+ cos/sin and writable K/V with fusedRope). */
export function attentionWideWGSL(c: AttentionConfig): string {
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
${chunkMainWGSL(WG)}
  let qb = m * p.qkvStride + g * ${G * d}u;
${wideQueryWGSL(rope, G, H, KV, d, WG, VD, per, pack)}
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
${wideSoftmaxWGSL(G, CH, WG)}
${wideValuesWGSL(accs, VU, NPQ, KV, VD, CH, vals)}
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

/** The query heads of this KV head into workgroup memory; with fused RoPE rotated on the way, and the chunk holding
 *  the new position writes its rotated K and its V into the cache. */
function wideQueryWGSL(
  rope: boolean,
  G: number,
  H: number,
  KV: number,
  d: number,
  WG: number,
  VD: number,
  per: number,
  pack: (a: string, b: string) => string,
): string {
  const half = d / 2;
  return rope
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
    : `  for (var i = lid; i < ${(G * d) / 4}u; i += ${WG}u) { qs[i] = vec4<f32>(qkv[qb + 4u * i], qkv[qb + 4u * i + 1u], qkv[qb + 4u * i + 2u], qkv[qb + 4u * i + 3u]); }`;
}

/** Softmax statistics of one 64-position step: scores from the 4 lanes' partial dot products, the running max and
 *  denominator by tree reductions over each head's positions, the rescale factor corr. */
function wideSoftmaxWGSL(G: number, CH: number, WG: number): string {
  return `    // softmax statistics: thread (head hr, position hp), trees over the 64 positions of each head
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
    workgroupBarrier();`;
}

/** The value phase of one step: rescale the accumulators, then VU value loads in flight per thread. */
function wideValuesWGSL(
  accs: number,
  VU: number,
  NPQ: number,
  KV: number,
  VD: number,
  CH: number,
  vals: (x: string) => string[],
): string {
  return `    // values: output group o, positions pq, pq + ${NPQ}, …, ${VU} loads at a time
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
    }`;
}
