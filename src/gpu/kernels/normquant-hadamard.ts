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
 *  `fwhtOnly`: stop after the in-block FWHTs and leave the raw block sums in hs/hl for fwhtRowsOutWGSL (and hi in v
 *  for inspection); with `parts` > 1 only the workgroup's blocks (its part of the row, hs holding n/parts). */
export function hadamardStageWGSL(
  {n, WG, PER}: RowShape,
  plan: HadamardPlan,
  o: {ff: boolean; kron: boolean; fwhtOnly: boolean; sub: number; lanes?: number; regs?: number; parts?: number},
): string {
  const {ff} = o;
  const P = o.parts ?? 1;
  const seg = n / P; // the elements this workgroup rotates (all n with P = 1)
  const {block, m: mm, norm} = plan;
  const [nh, nl] = f32Pair(norm);
  const read = (j: string) => (ff ? `vec2<f32>(hs[${j}], hl[${j}])` : `hs[${j}]`);
  const scale = (x: string) => (ff ? `mulNormFF(${x}, ${f32Lit(nh)}, ${f32Lit(nl)})` : `${x} * ${norm}`);
  // with parts: j = i − s0 wraps past seg for elements before the part
  const jj = P > 1 ? `i0 + k - part * ${seg}u` : "i0 + k";
  const L = [
    `  workgroupBarrier();
  for (var k = 0u; k < ${PER}u; k++) { let j = ${jj}; if (j < ${seg}u) { hs[j] = v[k];${ff ? " hl[j] = 0.0;" : ""} } }
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
  const fw = fwhtShape(block, WG, o.sub, o.lanes, o.regs);
  if (fw.C > 1) L.push(fwhtChunksWGSL(seg, fw, ff));
  if (fw.C < block)
    L.push(`  for (var h = ${fw.C}u; h < ${block}u; h = h << 1u) {
    for (var q = lid; q < ${seg / 2}u; q += ${WG}u) {
      let blk = q / ${block / 2}u;
      let w = q % ${block / 2}u;
      let i = blk * ${block}u + (w / h) * 2u * h + (w % h);
      let a = ${read("i")};
      let b = ${read("i + h")};
${butterfly}
    }
    workgroupBarrier();
  }`);
  if (o.kron) L.push(kronWGSL({n, WG, PER}, block, mm, ff, scale(`acc[k]`)));
  else if (o.fwhtOnly) {
    // the raw block sums stay in hs (hi) and hl (lo) for fwhtRowsOutWGSL; v for inspection (one part only)
    if (P === 1)
      L.push(
        `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; v[k] = select(0.0, hs[min(i, ${n - 1}u)], i < ${n}u); }`,
      );
  } else {
    const j = ff ? "j" : `min(i, ${n - 1}u)`;
    L.push(
      `  for (var k = 0u; k < ${PER}u; k++) { let i = i0 + k; ${ff ? `let j = min(i, ${n - 1}u); ` : ""}v[k] = select(0.0, ${scale(read(j))}, i < ${n}u); }`,
    );
  }
  return L.join("\n");
}

/** The FWHT-only output of token m: the raw block sums as two f32 rows, hi at [m·2·stride …], lo at
 *  [m·2·stride + stride …] (zeros without `ff`), stride = p.dstStride, padding zeroed; copied from hs/hl with
 *  consecutive threads on consecutive words. With `parts` > 1 each workgroup writes its part (the last one the
 *  padding). Closes the entry point. */
export function fwhtRowsOutWGSL(n: number, WG: number, ff: boolean, parts: number): string {
  const seg = n / parts;
  const [s0, e] =
    parts > 1 ? [`part * ${seg}u`, `select(s0 + ${seg}u, p.dstStride, part == ${parts - 1}u)`] : ["0u", "p.dstStride"];
  return `  let s0 = ${s0};
  let e = ${e};
  for (var i = s0 + lid; i < e; i += ${WG}u) {
    let j = min(i - s0, ${seg - 1}u);
    outv[m * 2u * p.dstStride + i] = select(0.0, hs[j], i < ${n}u);
    outv[(m * 2u + 1u) * p.dstStride + i] = select(0.0, ${ff ? "hl[j]" : "0.0"}, i < ${n}u);
  }
}`;
}

/** Workgroups per token for the FWHT-only prologue of length n (normquant.ts fwhtParts): the most that divide the
 *  block count and still give every one of WG invocations an element. */
export function fwhtPartsFor(n: number, WG: number): number {
  const {m} = hadamardPlan(n);
  let best = 1;
  for (let P = 1; P <= m; P++) if (m % P === 0 && n / P >= WG) best = P;
  return best;
}

/** The cross-block step inside the workgroup: v[k] = norm · Σ_b M[a, b] · hs[b·block + c] for the thread's elements
 *  i = a·block + c, b ascending (the reference's order), the b loop outside so the thread's PER sums are
 *  independent chains; with m ≤ 32 each element's row of signs is one word, read once. `out`: the scaled acc[k]. */
function kronWGSL({n, PER}: RowShape, block: number, m: number, ff: boolean, out: string): string {
  const wpr = Math.ceil(m / 32);
  const zero = ff ? "vec2<f32>(0.0, 0.0)" : "0.0";
  const x = ff ? "vec2<f32>(hs[ci[k]], hl[ci[k]])" : "hs[ci[k]]";
  const sign = wpr === 1 ? "(sw[k] >> b) & 1u" : `(had[sw[k] + (b >> 5u)] >> (b & 31u)) & 1u`;
  return `  var acc: array<${ff ? "vec2<f32>" : "f32"}, ${PER}>;
  var sw: array<u32, ${PER}>;
  var ci: array<u32, ${PER}>;
  for (var k = 0u; k < ${PER}u; k++) {
    let i = min(i0 + k, ${n - 1}u);
    acc[k] = ${zero};
    ci[k] = i % ${block}u;
    sw[k] = ${wpr === 1 ? `had[i / ${block}u]` : `(i / ${block}u) * ${wpr}u`};
  }
  for (var b = 0u; b < ${m}u; b++) {
    for (var k = 0u; k < ${PER}u; k++) {
      let neg = ${sign};
      let x = ${x};
      acc[k] = ${ff ? "addFF(acc[k], select(x, -x, neg == 1u))" : "acc[k] + select(x, -x, neg == 1u)"};
    }
    ${"" /* ci[k] moves by one block per b */}for (var k = 0u; k < ${PER}u; k++) { ci[k] += ${block}u; }
  }
  for (var k = 0u; k < ${PER}u; k++) { v[k] = select(0.0, ${out}, i0 + k < ${n}u); }`;
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
  if (m % 4) throw new Error(`hadamardMixWGSL: order ${m} is not a multiple of 4`);
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> had: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
${exactDivWGSL}
${floatFloatWGSL}
// ±x[b·block + c] of the token at base, the sign M[a, b]
fn term(a: u32, b: u32, base: u32, cidx: u32) -> vec2<f32> {
  let neg = (had[a * ${wpr}u + (b >> 5u)] >> (b & 31u)) & 1u;
  let v = vec2<f32>(x[base + b * ${block}u + cidx], x[base + ${stride}u + b * ${block}u + cidx]);
  return select(v, -v, neg == 1u);
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  OPQ = arrayLength(&had) >> 31u; // 0, but not a compile-time constant (see opq)
  let a = wid.x;
  let base = wid.y * ${2 * stride}u;
  for (var cidx = lid; cidx < ${block}u; cidx += ${WG}u) {
    var acc = vec2<f32>(0.0, 0.0);
    // four terms' loads issued together, then added in order (b ascending, as the one-workgroup path); Paley
    // orders are multiples of 4
    for (var b0 = 0u; b0 < ${m}u; b0 += 4u) {
      var t: array<vec2<f32>, 4>;
      for (var u = 0u; u < 4u; u++) { t[u] = term(a, b0 + u, base, cidx); }
      for (var u = 0u; u < 4u; u++) { acc = addFF(acc, t[u]); }
    }
    y[wid.y * ${stride}u + a * ${block}u + cidx] = mulNormFF(acc, ${f32Lit(nh)}, ${f32Lit(nl)});
  }
}`;
}

/** How the in-block FWHT is laid out (see fwhtChunksWGSL): W lanes × R registers per chunk of C = W·R elements,
 *  NC chunks over G = WG / W groups of lanes, T rounds. C = 1: every stage through workgroup memory (the kernel
 *  before subgroups, `lanes` 0). */
export interface FwhtShape {
  W: number;
  R: number;
  C: number;
  G: number;
}

/** The chunk shape for FWHT blocks of `block` in a workgroup of WG invocations with subgroups of `sub` (0 = none):
 *  `lanes` (default sub, or 1 without subgroups; 0 = no chunks) shuffle lanes, `regs` (default 8) values per lane,
 *  both clipped so a chunk lies inside one block. */
export function fwhtShape(block: number, WG: number, sub: number, lanes?: number, regs?: number): FwhtShape {
  const lw = lanes ?? (sub || 1);
  const pow2 = (x: number) => Number.isInteger(x) && x >= 1 && (x & (x - 1)) === 0;
  if (lw === 0 || block <= 1) return {W: 1, R: 1, C: 1, G: WG};
  if (!pow2(lw) || lw > WG || (lw > 1 && (!sub || sub % lw !== 0)))
    throw new Error(
      `normQuantWGSL: fwhtLanes ${lw} must be a power of two dividing the subgroup size ${sub} (1 without)`,
    );
  if (regs !== undefined && !pow2(regs)) throw new Error(`normQuantWGSL: fwhtRegs ${regs} must be a power of two`);
  const W = Math.min(lw, block);
  const R = Math.min(regs ?? 8, block / W);
  return {W, R, C: W * R, G: WG / W};
}

/** The in-block FWHT stages of distance h < C without workgroup barriers: chunk c (C contiguous elements of hs/hl,
 *  inside one block) goes to one group of W consecutive lanes of a subgroup, lane l holding elements c·C + r·W + l
 *  (r < R) in registers. Distances h < W pair lanes l and l ^ h (subgroupShuffleXor), W ≤ h < C pair registers.
 *  Every butterfly is the memory loop's: the lower element becomes a + b, the upper a − b (float-float with `ff`),
 *  stage by stage in the same order h = 1, 2, 4 …, so the bits are that loop's. The rounds are uniform (a chunk past
 *  the row is loaded clamped and not stored) so the shuffles run in uniform control flow. */
function fwhtChunksWGSL(n: number, {W, R, C, G}: FwhtShape, ff: boolean): string {
  const NC = n / C;
  const T = Math.ceil(NC / G);
  const L = [
    `  {
    let fg = lid / ${W}u;
    let fl = lid % ${W}u;
    for (var fj = 0u; fj < ${T}u; fj++) {
      let fc = fg + fj * ${G}u;
      let fb = min(fc, ${NC - 1}u) * ${C}u + fl;
      var xh: array<f32, ${R}>;${ff ? `\n      var xl: array<f32, ${R}>;` : ""}`,
  ];
  const at = (r: number) => (r ? `fb + ${r * W}u` : "fb");
  for (let r = 0; r < R; r++) L.push(`      xh[${r}] = hs[${at(r)}];${ff ? ` xl[${r}] = hl[${at(r)}];` : ""}`);
  const x = (r: number) => (ff ? `vec2<f32>(xh[${r}], xl[${r}])` : `xh[${r}]`);
  const put = (r: number, y: string) => (ff ? `xh[${r}] = ${y}.x; xl[${r}] = ${y}.y;` : `xh[${r}] = ${y};`);
  const add = (a: string, b: string) => (ff ? `addFF(${a}, ${b})` : `(${a} + ${b})`);
  for (let h = 1; h < W; h *= 2) {
    // the lower lane keeps a + b, the upper a + (−b) = a − b, a being the lower lane's value
    L.push(`      {
        let up = (fl & ${h}u) != 0u;`);
    for (let r = 0; r < R; r++) {
      const o = ff
        ? `vec2<f32>(subgroupShuffleXor(xh[${r}], ${h}u), subgroupShuffleXor(xl[${r}], ${h}u))`
        : `subgroupShuffleXor(xh[${r}], ${h}u)`;
      L.push(`        let o${r} = ${o};
        let y${r} = ${add(`select(${x(r)}, o${r}, up)`, `select(o${r}, -${x(r)}, up)`)};
        ${put(r, `y${r}`)}`);
    }
    L.push("      }");
  }
  for (let hr = 1; hr < R; hr *= 2) {
    L.push("      {");
    for (let r = 0; r < R; r++) {
      if (r & hr) continue;
      L.push(`        let s${r} = ${add(x(r), x(r + hr))};
        let d${r} = ${add(x(r), `-${x(r + hr)}`)};
        ${put(r, `s${r}`)}
        ${put(r + hr, `d${r}`)}`);
    }
    L.push("      }");
  }
  const st = Array.from({length: R}, (_, r) => `hs[${at(r)}] = xh[${r}];${ff ? ` hl[${at(r)}] = xl[${r}];` : ""}`).join(
    " ",
  );
  L.push(`      if (fc < ${NC}u) { ${st} }
    }
    workgroupBarrier();
  }`);
  return L.join("\n");
}
