// The Hadamard stage of the per-token prologue (v2 H-BitLinear) and its split decode path: hadamardPlan(n) of
// src/lib/hadamard.ts — FWHT inside contiguous blocks of `block`, then the ±1 order-m matrix across blocks at stride
// `block` (kronecker) or nothing (block-diagonal), times `norm`.
import {hadamardMatrix, hadamardPlan, type HadamardPlan} from "../../lib/hadamard.js";
import {exactDivWGSL, f32Lit, f32Pair, floatFloatWGSL} from "./exact.js";
import type {RowShape} from "./normquant-stages.js";

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

/** Rotate v by the normalized Hadamard transform of the plan through the workgroup array hs. With `ff` the rotation
 *  is carried as float-float (hi in hs, lo in hl): TwoSum butterflies, a float-float cross-block sum, a float-float
 *  product with norm (split from its float64 value), one rounding to f32 — the reference's float64 result, rounded
 *  once; without, plain f32 (a few ulps off). `kron`: the cross-block matrix is applied (signs in `had`);
 *  `fwhtOnly`: stop after the in-block FWHTs and leave the raw block sums in v (hi) and vlo (lo, zeros without ff)
 *  for hadamardMixWGSL. */
export function hadamardStageWGSL(
  {n, WG, PER}: RowShape,
  plan: HadamardPlan,
  o: {ff: boolean; kron: boolean; fwhtOnly: boolean},
): string {
  const {ff} = o;
  const {block, m: mm, norm} = plan;
  const [nh, nl] = f32Pair(norm);
  const read = (j: string) => (ff ? `vec2<f32>(hs[${j}], hl[${j}])` : `hs[${j}]`);
  const scale = (x: string) => (ff ? `mulNormFF(${x}, ${f32Lit(nh)}, ${f32Lit(nl)})` : `${x} * ${norm}`);
  const L = [
    `  workgroupBarrier();
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; if (i < ${n}u) { hs[i] = v[k];${ff ? " hl[i] = 0.0;" : ""} } }
  workgroupBarrier();`,
  ];
  const butterfly = ff
    ? `      let s = addFF(a, b);
      let d = addFF(a, -b);
      hs[i] = s.x;
      hl[i] = s.y;
      hs[i + h] = d.x;
      hl[i + h] = d.y;`
    : `      hs[i] = a + b;
      hs[i + h] = a - b;`;
  if (block > 1)
    L.push(`  for (var h = 1u; h < ${block}u; h = h << 1u) {
    for (var q = lid; q < ${n / 2}u; q += ${WG}u) {
      let blk = q / ${block / 2}u;
      let w = q % ${block / 2}u;
      let i = blk * ${block}u + (w / h) * 2u * h + (w % h);
      let a = ${read("i")};
      let b = ${read("i + h")};
${butterfly}
    }
    workgroupBarrier();
  }`);
  if (o.kron) {
    const wpr = Math.ceil(mm / 32);
    L.push(`  for (var k = 0u; k < ${PER}u; k++) {
    let i = i0 + k;
    var acc = ${ff ? "vec2<f32>(0.0, 0.0)" : "0.0"};
    if (i < ${n}u) {
      let a = i / ${block}u;
      let cidx = i % ${block}u;
      for (var b = 0u; b < ${mm}u; b++) {
        let neg = (had[a * ${wpr}u + (b >> 5u)] >> (b & 31u)) & 1u;
        let x = ${read(`b * ${block}u + cidx`)};
        ${ff ? "acc = addFF(acc, select(x, -x, neg == 1u));" : "acc += select(x, -x, neg == 1u);"}
      }
    }
    v[k] = ${scale("acc")};
  }`);
  } else if (o.fwhtOnly) {
    // the raw block sums as two f32 rows: hi in v (written at [token·2·stride …]), lo at [token·2·stride + stride …]
    L.push(
      ff
        ? `  var vlo: array<f32, ${PER}>;
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; let j = min(i, ${n - 1}u); v[k] = select(0.0, hs[j], i < ${n}u); vlo[k] = select(0.0, hl[j], i < ${n}u); }`
        : `  var vlo: array<f32, ${PER}>; // zeros: the lo row the mix reads
  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; v[k] = select(0.0, hs[min(i, ${n - 1}u)], i < ${n}u); }`,
    );
  } else {
    const j = ff ? "j" : `min(i, ${n - 1}u)`;
    L.push(
      `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; ${ff ? `let j = min(i, ${n - 1}u); ` : ""}v[k] = select(0.0, ${scale(read(j))}, i < ${n}u); }`,
    );
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
