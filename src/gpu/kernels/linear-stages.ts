// The stage builders of linearWGSL (split from linear.ts, issue 21): the declarations, the K loop, the reduction of
// the K-split partial sums and the epilogue, each a list of WGSL lines that linearWGSL concatenates; and the norm
// statistics a residual/GLU epilogue leaves for the next RMSNorm.
import {hadamardPlan} from "../../lib/hadamard.js";
import {exactDivWGSL, floatFloatWGSL} from "./exact.js";
import {STATS_BINDINGS, statsLayout, statsStride} from "./norm-stats.js";
import {normQuantWGSL, type NormQuantConfig} from "./normquant.js";

export type LinearKind = "ternary" | "f32" | "f16";
export type Epilogue = "store" | "residual" | "glu-relu2" | "glu-silu";

export interface LinearConfig {
  kind: LinearKind;
  /** Rows per thread (even for GLU epilogues: gate and up rows are interleaved in pairs). */
  R: number;
  /** Threads along K per row group (power of two). */
  T: number;
  /** Tokens per thread (1 for decode). */
  MT: number;
  /** Threads per workgroup (multiple of T). */
  WG: number;
  /** Subgroup size S when partial sums meet by subgroupShuffleXor (needs T ≤ S, S % T = 0); 0 = workgroup memory. */
  sub: number;
  epilogue: Epilogue;
  /** K steps unrolled per loop iteration (weight loads issued together); default 1. */
  U?: number;
}

/** What every stage of linearWGSL reads: the config, the fused prologue and statistics options, and the names
 *  linearWGSL derives from them. */
export interface LinearParts {
  c: LinearConfig;
  fused?: {prologue: NormQuantConfig; statsIn?: NormStatsIn};
  statsOut?: boolean;
  G: number;
  ternary: boolean;
  accT: string;
  zero: string;
  rs: number[];
  ms: number[];
  /** The activation array the K loop reads: X, or the fused prologue's xw. */
  Xn: string;
}

/** The bindings, workgroup arrays and helper functions. */
export function linearDeclsWGSL(x: LinearParts): string[] {
  const {kind, T, WG, sub} = x.c;
  const {fused, statsOut, ternary, accT} = x;
  const L: string[] = [];
  // the fused prologue may reduce through subgroups even where this kernel's K-split uses workgroup memory
  if (sub || fused?.prologue.sub) L.push("enable subgroups;");
  L.push(`struct P { N: u32, Kv: u32, M: u32, xStride: u32, yStride: u32, yOffset: u32, xOffset: u32 }`);
  L.push(`@group(0) @binding(0) var<uniform> p: P;`);
  L.push(`@group(0) @binding(1) var<storage, read> W: array<vec4<${kind === "f32" ? "f32" : "u32"}>>;`);
  if (fused) {
    L.push(`@group(0) @binding(2) var<storage, read> wscale: array<f32>;`);
    L.push(`@group(0) @binding(3) var<storage, read_write> Y: array<f32>;`);
    L.push(normQuantWGSL(fused.prologue, {bindings: fusedPrologueBindings(fused.prologue), statsIn: fused.statsIn}));
  } else L.push(`@group(0) @binding(2) var<storage, read> X: array<vec4<${ternary ? "u32" : "f32"}>>;`);
  if (ternary) {
    if (!fused) {
      L.push(`@group(0) @binding(3) var<storage, read> xmeta: array<vec2<u32>>;`);
      L.push(`@group(0) @binding(4) var<storage, read> wscale: array<f32>;`);
      L.push(`@group(0) @binding(5) var<storage, read_write> Y: array<f32>;`);
    }
    L.push(`fn dot16(w: u32, x: vec4<u32>) -> i32 {
  let m = 0x03030303u;
  return dot4I8Packed(w & m, x.x) + dot4I8Packed((w >> 2u) & m, x.y) + dot4I8Packed((w >> 4u) & m, x.z) + dot4I8Packed((w >> 6u) & m, x.w);
}`);
  } else {
    L.push(`@group(0) @binding(3) var<storage, read_write> Y: array<f32>;`);
  }
  if (!sub && T > 1) L.push(`var<workgroup> red: array<${accT}, ${WG}>;`);
  if (statsOut) L.push(normStatsOutDeclsWGSL(WG, sub));
  if (ternary) {
    if (!fused) L.push(exactDivWGSL, floatFloatWGSL);
    L.push(`// y = fround(acc · (γ/s)) as the reference computes it in float64, to ~2^-46: γ arrives as a float-float pair
// (γ_hi, γ_lo), γ/s is refined by one exact residual, and acc·(γ/s) is an exact two-product plus a small term.
// Values of a ternary linear lie on the lattice (γ/s)·ℤ; the KV-cache quantizer meets exact ties there, and a
// last-bit difference from the reference would break them the other way (mantissas split by masking, so every
// partial product is exact whether or not the compiler fuses multiply-adds).
fn scaleOut(acc: i32, gh: f32, gl: f32, s: f32) -> f32 {
  let ph = opq(gh / s);
  let t = opq(ph * s);
  let te = twoProdErr(ph, s, t);
  let pl = (((gh - t) - te) + gl) / s;
  let a = f32(acc);
  let u = opq(a * ph);
  let ue = twoProdErr(a, ph, u);
  return u + (ue + a * pl);
}`);
  }
  return L;
}

/** The entry point's head and the loop over K (with a fused prologue, the first block of weight loads before it). */
export function linearMainLoopWGSL(x: LinearParts): string[] {
  const {kind, R, T, MT, WG} = x.c;
  const {c, fused, statsOut, G, ternary, accT, zero, rs, ms, Xn} = x;
  const L: string[] = [];
  L.push(`@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let t = lid % ${T}u;
  let g = lid / ${T}u;
  let r0 = (wid.x * ${G}u + g) * ${R}u;
  let m0 = wid.y * ${MT}u;${ternary && !fused ? "\n  OPQ = p.N >> 31u;" : ""}${statsOut ? "\n  var ssP = vec2<f32>(0.0, 0.0);\n  var amP = 0.0;\n  if (lid == 0u) { atomicStore(&stCnt, 0u); }\n" + rs.map((r) => `  var ov${r} = 0.0; var og${r} = 0.0; var on${r} = false;`).join("\n") : ""}
  let Kv = p.Kv;`);
  for (const r of rs) L.push(`  let row${r} = min(r0 + ${r}u, p.N - 1u) * Kv;`);
  for (const m of ms) L.push(`  let xb${m} = min(m0 + ${m}u, p.M - 1u) * p.xStride + p.xOffset;`);
  for (const r of rs) for (const m of ms) L.push(`  var a${r}_${m}: ${accT} = ${zero};`);
  // one K step (vec4 index jj) for every row and token; `u` suffixes the names so unrolled steps can coexist
  const loads = (jj: string, u: string) => rs.map((r) => `    let w${r}${u} = W[row${r} + ${jj}];`);
  const compute = (jj: string, u: string) => {
    const out: string[] = [];
    for (const m of ms) {
      if (ternary) {
        out.push(
          `    { let xi = xb${m} + 4u * (${jj}); let x0 = ${Xn}[xi]; let x1 = ${Xn}[xi + 1u]; let x2 = ${Xn}[xi + 2u]; let x3 = ${Xn}[xi + 3u];`,
        );
        for (const r of rs)
          out.push(
            `      a${r}_${m} += dot16(w${r}${u}.x, x0) + dot16(w${r}${u}.y, x1) + dot16(w${r}${u}.z, x2) + dot16(w${r}${u}.w, x3);`,
          );
        out.push(`    }`);
      } else if (kind === "f32") {
        out.push(`    { let x = X[xb${m} + ${jj}];`);
        for (const r of rs) out.push(`      a${r}_${m} += dot(w${r}${u}, x);`);
        out.push(`    }`);
      } else {
        out.push(`    { let x0 = X[xb${m} + 2u * (${jj})]; let x1 = X[xb${m} + 2u * (${jj}) + 1u];`);
        for (const r of rs)
          out.push(
            `      a${r}_${m} += dot(vec4<f32>(unpack2x16float(w${r}${u}.x), unpack2x16float(w${r}${u}.y)), x0) + dot(vec4<f32>(unpack2x16float(w${r}${u}.z), unpack2x16float(w${r}${u}.w)), x1);`,
          );
        out.push(`    }`);
      }
    }
    return out;
  };
  const U = c.U ?? 1;
  // U steps per iteration, every weight load issued before any is used (indices clamped, compute guarded), so a
  // thread waits for memory once per U steps; with U·T ≥ Kv the whole row is in flight at once
  const block = (jv: string, u: string) => {
    const out: string[] = [];
    for (let k = 0; k < U; k++) out.push(...loads(U === 1 ? jv : `min(${jv} + ${k * T}u, Kv - 1u)`, `${u}${k}`));
    for (let k = 0; k < U; k++) {
      if (U > 1) out.push(`  if (${jv} + ${k * T}u < Kv) {`);
      out.push(...compute(`${jv} + ${k * T}u`, `${u}${k}`));
      if (U > 1) out.push(`  }`);
    }
    return out;
  };
  if (fused) {
    // the first block's weights are requested before the prologue, so their latency hides under it
    for (let k = 0; k < U; k++) L.push(...loads(`min(t + ${k * T}u, Kv - 1u)`, `_p${k}`));
    L.push(`  prologue(lid);`);
    for (let k = 0; k < U; k++) {
      L.push(`  if (t + ${k * T}u < Kv) {`);
      L.push(...compute(`t + ${k * T}u`, `_p${k}`));
      L.push(`  }`);
    }
    L.push(`  for (var j = t + ${U * T}u; j < Kv; j += ${U * T}u) {`);
  } else L.push(`  for (var j = t; j < Kv; j += ${U * T}u) {`);
  L.push(...block("j", "_"));
  L.push(`  }`);
  return L;
}

/** The T partial sums of each accumulator meet (subgroup shuffles or workgroup memory). */
export function linearReduceWGSL(x: LinearParts): string[] {
  const {T, sub} = x.c;
  const {zero, rs, ms} = x;
  const L: string[] = [];
  // reduce the T partial sums of each accumulator
  if (T > 1) {
    if (sub) {
      for (const r of rs)
        for (const m of ms)
          for (let off = T / 2; off >= 1; off /= 2) L.push(`  a${r}_${m} += subgroupShuffleXor(a${r}_${m}, ${off}u);`);
    } else {
      for (const r of rs)
        for (const m of ms) {
          L.push(`  red[lid] = a${r}_${m}; workgroupBarrier();`);
          L.push(
            `  if (t == 0u) { var s = ${zero}; for (var i = 0u; i < ${T}u; i++) { s += red[lid + i]; } a${r}_${m} = s; }`,
          );
          L.push(`  workgroupBarrier();`);
        }
    }
  }
  return L;
}

/** The outputs (store, residual add or GLU) and, with statsOut, the norm statistics; closes the entry point. */
export function linearEpilogueWGSL(x: LinearParts): string[] {
  const {R, T, MT, WG, sub, epilogue} = x.c;
  const {fused, statsOut, ternary, rs, ms} = x;
  const L: string[] = [];
  // Each output is written by one lane: with shuffles every lane holds every sum, so the work spreads over
  // lanes (the exact epilogue is a long division); with workgroup memory only lane 0 has them.
  const owner = (r: number, m: number) => (sub ? (r * MT + m) % T : 0);
  for (const m of ms) {
    L.push(`  if (m0 + ${m}u < p.M) {`);
    L.push(`    let yb = (m0 + ${m}u) * p.yStride + p.yOffset;`);
    if (ternary)
      L.push(
        `    let xm = ${fused ? "xwm" : `xmeta[m0 + ${m}u]`}; let xsc = bitcast<f32>(xm.x); let sx = bitcast<i32>(xm.y);`,
      );
    const val = (r: number) =>
      ternary
        ? `scaleOut(a${r}_${m} - sx, wscale[min(r0 + ${r}u, p.N - 1u)], wscale[p.N + min(r0 + ${r}u, p.N - 1u)], xsc)`
        : `a${r}_${m}`;
    // with statsOut, each written value also feeds this workgroup's Σx² (float-float) and max fround(|γ·x|)
    const stat = (r: number, idx: string) =>
      statsOut
        ? ` let sq = opq(nv * nv); ssP = addFF(ssP, vec2<f32>(sq, twoProdErr(nv, nv, sq))); og${r} = stg[${idx}]; amP = max(amP, abs(og${r} * nv)); ov${r} = nv; on${r} = true;`
        : "";
    if (epilogue === "store" || epilogue === "residual") {
      for (const r of rs) {
        if (statsOut)
          L.push(
            `    if (t == ${owner(r, m)}u && r0 + ${r}u < p.N) { let nv = Y[yb + r0 + ${r}u] + ${val(r)}; Y[yb + r0 + ${r}u] = nv;${stat(r, `r0 + ${r}u`)} }`,
          );
        else {
          const op = epilogue === "store" ? "=" : "+=";
          L.push(`    if (t == ${owner(r, m)}u && r0 + ${r}u < p.N) { Y[yb + r0 + ${r}u] ${op} ${val(r)}; }`);
        }
      }
    } else {
      // rows come in (gate, up) pairs; output i = pair index
      for (let r = 0; r < R; r += 2) {
        const act =
          epilogue === "glu-relu2"
            ? `let gr = max(gv, 0.0); let h = gr * gr * uv;`
            : `let h = gv / (1.0 + exp(-gv)) * uv;`;
        L.push(
          `    if (t == ${owner(r, m)}u && r0 + ${r + 1}u < p.N) { let gv = ${val(r)}; let uv = ${val(r + 1)}; ${act} Y[yb + (r0 + ${r}u) / 2u] = h;${statsOut ? ` let nv = h;${stat(r, `(r0 + ${r}u) / 2u`)}` : ""} }`,
        );
      }
    }
    L.push(`  }`);
  }
  if (statsOut)
    L.push(
      normStatsOutWGSL(
        WG,
        sub,
        rs.map((r) => [`ov${r}`, `og${r}`, `on${r}`]),
      ),
    );
  L.push(`}`);
  return L;
}

// ---- Norm statistics (issue 25): the producer of a vector (a residual add, the GLU) leaves, per workgroup, what the
// consumer's RMSNorm → INT8 prologue needs so that no workgroup has to reduce the whole vector again:
//   [Σx² hi, Σx² lo (float-float, exact squares), Â = max fround(|γ_i·x_i|), n_c, (x, γ) × NCAND]
// where the candidates are this workgroup's elements with fround(|γ·x|) ≥ Â_wg·(1 − 2⁻¹⁹) (n_c may exceed NCAND:
// then the consumer scans the whole vector). The consumer's absmax g = max_i |fround(γ_i·fround(x_i·r))| is attained
// at an element within 9 ulps of the global Â (two roundings of y = x·r, one of γ·y, one of the estimate), so it is
// among the candidates of the partials whose Â_wg passes the same threshold: the step g — and so every code — is the
// one a whole-vector reduction gives.

/** A consumer's view of the producer's statistics: how many workgroup records to read. */
export interface NormStatsIn {
  parts: number;
}

export function normStatsOutDeclsWGSL(WG: number, sub: number): string {
  const NS = sub ? WG / sub : WG;
  return `@group(0) @binding(${STATS_BINDINGS.out}) var<storage, read_write> sto: array<f32>;
@group(0) @binding(${STATS_BINDINGS.gamma}) var<storage, read> stg: array<f32>;
var<workgroup> stRed: array<vec4<f32>, ${NS}>;
var<workgroup> stCnt: atomic<u32>;
var<workgroup> stCand: array<vec2<f32>, ${Math.max(1, statsLayout.ncand)}>;`;
}

export function normStatsOutWGSL(WG: number, sub: number, owned: string[][]): string {
  const L: string[] = [];
  L.push(`  // this workgroup's norm statistics`);
  if (sub) {
    L.push(`  var sv = vec3<f32>(ssP, amP);
  for (var o = ${sub / 2}u; o > 0u; o = o >> 1u) {
    let ox = subgroupShuffleXor(sv, o);
    sv = vec3<f32>(addFF(sv.xy, ox.xy), max(sv.z, ox.z));
  }
  if (lid % ${sub}u == 0u) { stRed[lid / ${sub}u] = vec4<f32>(sv, 0.0); }
  workgroupBarrier();
  var tot = stRed[0];
  for (var i = 1u; i < ${WG / sub}u; i++) { let q = stRed[i]; tot = vec4<f32>(addFF(tot.xy, q.xy), max(tot.z, q.z), 0.0); }`);
  } else {
    L.push(`  stRed[lid] = vec4<f32>(ssP, amP, 0.0);
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { let a = stRed[lid]; let q = stRed[lid + s]; stRed[lid] = vec4<f32>(addFF(a.xy, q.xy), max(a.z, q.z), 0.0); }
    workgroupBarrier();
  }
  let tot = stRed[0];`);
  }
  L.push(`  let thrW = tot.z - tot.z * ${2 ** -19};`);
  for (const [v, g, on] of owned)
    L.push(
      `  if (${on} && abs(${g} * ${v}) >= thrW) { let k = atomicAdd(&stCnt, 1u); if (k < ${statsLayout.ncand}u) { stCand[k] = vec2<f32>(${v}, ${g}); } }`,
    );
  L.push(`  workgroupBarrier();
  if (lid == 0u) {
    let base = wid.x * ${statsStride()}u;
    let nc = atomicLoad(&stCnt);
    sto[base] = tot.x;
    sto[base + 1u] = tot.y;
    sto[base + 2u] = tot.z;
    sto[base + 3u] = f32(nc);
    for (var k = 0u; k < min(nc, ${statsLayout.ncand}u); k++) { sto[base + 4u + 2u * k] = stCand[k].x; sto[base + 5u + 2u * k] = stCand[k].y; }
  }`);
  return L.join("\n");
}

/** Binding slots of a fused decode kernel: [P, W, wscale, Y] then the prologue's [NP, src, normW, (had)] and (st) at 11;
 *  st (the step uniform: the attention chunk count) only where the prologue combines attention partials. */
export function fusedPrologueBindings(nq: NormQuantConfig): Record<string, number> {
  const b: Record<string, number> = {P: 4, src: 5, normW: 6};
  if (nq.hadamard && hadamardPlan(nq.n).kind === "kronecker") b.had = 7;
  if (nq.src === "attn") b.st = 11; // after STATS_BINDINGS (W_o may also write norm statistics)
  return b;
}
