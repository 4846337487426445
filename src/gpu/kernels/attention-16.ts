// Split attention over a 16-bit cache read as vec4<u32> (split from attention.ts, issue 21).
import {type AttentionConfig, attnBindingsWGSL, chunkMainWGSL, onlineSoftmaxStepWGSL} from "./attention-shared.js";

/** The same kernel for a 16-bit cache (f32 or f16 storage), reading K and V as vec4<u32>: a thread's score for a
 *  position takes d/8 (f16) or d/4 (f32) wide loads, and each thread accumulates 8 (f16) or 4 (f32) consecutive
 *  output dimensions, so one wide load per position serves them all. Same bindings and partials as attentionWGSL. */
export function attention16WGSL(c: AttentionConfig): string {
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
${chunkMainWGSL(CH)}
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
