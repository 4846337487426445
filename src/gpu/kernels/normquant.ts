// The per-token prologue of every BitLinear, fused into one workgroup per token:
//   [combine split-attention partials] → [RMSNorm] → [Hadamard (v2 H-BitLinear)] → [top-K (a4.8 W_o)]
//   → quantize (absmax INT8 / absmean INT4) or pass through as f32 (fp, the LM head's input).
// It writes the i8 lanes and the (s, Σq) pair the ternary linear kernel reads (see linear.ts).
//
// Numerics follow src/lib/quant.ts exactly where it decides integer codes: s = 127 / max(γ, ε) and
// s = √7 / max(β, ε) are computed correctly rounded (an integer long division — WGSL's f32 division may be
// off by 2.5 ulp, and s moves every code of the token), products s·x are f32 and rounded half to even
// (WGSL round() is half-to-even, like torch.round). γ = max|x| is exact; β = mean|x| and the RMS are f32
// tree sums (the CPU sums in f64), so a code can differ where s·x lands within an ulp of a rounding edge.
// One builder per stage (normquant-stages.ts; the Hadamard stage, f32 or float-float, in normquant-hadamard.ts;
// the fused prologue from the producer's statistics in normquant-stats.ts); normQuantWGSL composes them.
import {hadamardPlan} from "../../lib/hadamard.js";
import {exactDivWGSL, floatFloatMathWGSL, floatFloatWGSL} from "./exact.js";
import {fwhtRowsOutWGSL, hadamardStageWGSL} from "./normquant-hadamard.js";
import {
  combineAttnWGSL,
  inspectRowWGSL,
  loadRowWGSL,
  rmsNormWGSL,
  type RowShape,
  rowReductionsWGSL,
  rowShape,
  sumFFWGSL,
  topKWGSL,
  writeRowWGSL,
} from "./normquant-stages.js";
import {statsPrologueWGSL} from "./normquant-stats.js";

export {fwhtPartsFor, hadamardMixWGSL, hadamardSignBits} from "./normquant-hadamard.js";

export type QuantKind = "int8" | "int4" | "none";

export interface NormQuantConfig {
  /** Row length. */
  n: number;
  /** "plain": the row is src[m·srcStride …]; "attn": combine split-attention partials (attention.ts layout). */
  src: "plain" | "attn";
  /** For src "attn": heads and head dim (n = H·d). */
  H?: number;
  d?: number;
  /** For src "attn": the partials are float-float (attentionWGSL with exact; layout attnPartStride(d, true)) and
   *  are combined in float-float and rounded once, giving the float64 reference's f32 attention output. */
  attnFF?: boolean;
  /** Apply RMSNorm with a weight vector. */
  norm: boolean;
  /** Rotate with the normalized Hadamard transform of length n (hadamardPlan(n)). */
  hadamard: boolean;
  /** With hadamard: stop after the in-block FWHTs and write the raw block sums (f32, quant "none"); the cross-block
   *  mix and the normalization are then done by hadamardMixWGSL over many workgroups (split decode path). */
  fwhtOnly?: boolean;
  /** Carry the rotation as float-float (hi, lo) pairs and round to f32 once, giving the float64 reference's bits
   *  (default true). It doubles the Hadamard workgroup array (8n bytes instead of 4n): a caller whose device limit
   *  cannot hold that sets false and gets the plain f32 rotation, which can be a few ulps off (see normQuantWorkgroupBytes). */
  hadamardFF?: boolean;
  /** Keep only the K largest magnitudes (undefined = off). */
  topK?: number;
  /** Read K from the step uniform (st.topK) instead of compiling it in, so one pipeline serves every K (the
   *  sparsity chapter's sweep); src "attn" only (the prologue that binds st). `topK` must be set; K ≥ n keeps all. */
  topKRuntime?: boolean;
  quant: QuantKind;
  /** Write the pre-norm row and the transformed (pre-quantization) row to a debug buffer [M, 2n]. */
  inspect: boolean;
  /** Subgroup size for reductions (0 = workgroup memory only). */
  sub: number;
  /** In-block FWHT (normquant-hadamard.ts fwhtShape): shuffle lanes per chunk (default sub, or 1 without subgroups;
   *  0 = every butterfly stage through workgroup memory, the kernel before subgroups) and values per lane (default
   *  8). Every choice gives the same bits. */
  fwhtLanes?: number;
  fwhtRegs?: number;
  /** With fwhtOnly: the row's blocks over this many workgroups per token (grid M·fwhtParts: workgroup w is token
   *  ⌊w / parts⌋, part w mod parts). Each normalizes the whole row (the same sums in the same order, so the same
   *  bits) and rotates m / parts blocks, so the FWHT work and the Hadamard arrays shrink by that factor. It must
   *  divide the plan's block count m (fwhtPartsFor picks one); default 1. */
  fwhtParts?: number;
  /** Threads per workgroup (power of two). */
  WG: number;
}

/** Binding order (see the list it returns): P, src, norm weight, out (u32 i8 lanes or f32), then xmeta (quant
 *  only), Hadamard signs (kronecker only), dbg (inspect only), ST (src "attn" only: the step's nC).
 *  P = {srcStride, dstStride (words per token), eps (f32), epsLo (eps − f32(eps))}. */
export function normQuantBindings(c: NormQuantConfig): string[] {
  const b = ["P", "src", "normW", "out"];
  if (c.quant !== "none") b.push("xmeta");
  if (c.hadamard && !c.fwhtOnly && hadamardPlan(c.n).kind === "kronecker") b.push("had");
  if (c.inspect) b.push("dbg");
  if (c.src === "attn") b.push("st");
  return b;
}

/** Bytes of workgroup memory normQuantWGSL(c) declares (unfused), to check against maxComputeWorkgroupStorageSize. */
export function normQuantWorkgroupBytes(c: NormQuantConfig): number {
  const NS = c.sub ? Math.max(1, c.WG / c.sub) : c.WG;
  let b = NS * 8 + 16 + c.WG * 8;
  if (c.hadamard) b += (c.n / (c.fwhtParts ?? 1)) * (c.hadamardFF === false ? 4 : 8);
  if (topKOn(c)) b += 1024 + c.WG * 4;
  if (c.src === "attn") b += (c.H ?? 0) * (c.attnFF ? 16 : 8);
  return b;
}

/** The config as it fits a device: the float-float rotation doubles the Hadamard workgroup array, so where
 *  `maxBytes` cannot hold it the plain f32 rotation (a few ulps off the reference: codes can flip at rounding
 *  edges). The one rule the engine and the benchmark both apply. */
export function fitNormQuant(c: NormQuantConfig, maxBytes: number): NormQuantConfig {
  return c.hadamard && c.hadamardFF !== false && normQuantWorkgroupBytes(c) > maxBytes ? {...c, hadamardFF: false} : c;
}

/** Whether the top-K step is compiled: a compile-time K that drops something, or a runtime K. */
function topKOn(c: NormQuantConfig): boolean {
  return c.topK !== undefined && (c.topK < c.n || !!c.topKRuntime);
}

/** Fused mode (see linear.ts fusedLinearWGSL): the prologue becomes `fn prologue(lid)` for token 0 that leaves
 *  the i8 lanes in `xw` (workgroup array<vec4<u32>>) and (s, Σq) in `xwm`, its uniform is `np: NP`, its bindings
 *  come from `bindings`, and `enable subgroups` is left to the caller. */
export interface NormQuantFused {
  bindings: Record<string, number>;
  /** RMSNorm → INT8 from the producer's per-workgroup statistics (linear.ts normStats*) instead of whole-vector
   *  reductions: binding STATS_BINDINGS.in holds `parts` records. */
  statsIn?: {parts: number};
}

/** The shader of config c: the stages of normquant-stages.ts / normquant-hadamard.ts in order, each where c asks for it. */
export function normQuantWGSL(c: NormQuantConfig, fused?: NormQuantFused): string {
  if (fused?.statsIn) {
    if (c.quant !== "int8" || !c.norm || c.hadamard || c.topK !== undefined || c.src !== "plain" || c.inspect)
      throw new Error("normQuantWGSL: a prologue from statistics is a plain RMSNorm → INT8 absmax");
    return statsPrologueWGSL(c.n, c.WG, c.sub, fused.bindings, fused.statsIn.parts);
  }
  const {n, WG} = c;
  if (fused && (c.quant === "none" || c.inspect || (c.src === "attn" && (c.topK !== undefined || c.hadamard))))
    throw new Error(
      "normQuantWGSL: the fused prologue quantizes a plain row or an attention combine (no top-K, no rotation), without inspection",
    );
  const pv = fused ? "np" : "p";
  const shape = rowShape(n, WG);
  const plan = c.hadamard ? hadamardPlan(n) : undefined;
  if (c.fwhtOnly && (c.quant !== "none" || !c.hadamard || c.topK !== undefined || fused))
    throw new Error("normQuantWGSL: fwhtOnly writes the raw FWHT output (quant none, no top-K, not fused)");
  if (c.topKRuntime && (c.src !== "attn" || c.topK === undefined))
    throw new Error(
      "normQuantWGSL: a runtime top-K reads the step uniform, which only the attention-combine prologue binds",
    );
  const parts = c.fwhtParts ?? 1;
  if (parts !== 1 && (!c.fwhtOnly || c.inspect || !Number.isInteger(parts) || parts < 1 || plan!.m % parts !== 0))
    throw new Error(
      `normQuantWGSL: fwhtParts ${parts} needs fwhtOnly without inspection and must divide the ${plan?.m ?? 0} blocks`,
    );
  const kron = plan?.kind === "kronecker" && !c.fwhtOnly;
  const ff = plan !== undefined && c.hadamardFF !== false;
  const L = [declarationsWGSL(c, shape, fused, kron, ff)];
  L.push(
    fused
      ? `fn prologue(lid: u32) {
  let m = 0u;
  OPQ = np.srcStride >> 31u;`
      : `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${parts > 1 ? `let m = wid.x / ${parts}u;\n  let part = wid.x % ${parts}u;` : "let m = wid.x;"}
  OPQ = p.srcStride >> 31u;`,
  );
  L.push(`  _ = normW[0];
  let i0 = lid * ${shape.PER}u;
  var v: array<f32, ${shape.PER}>;`);
  L.push(c.src === "plain" ? loadRowWGSL(shape, pv) : combineAttnWGSL(shape, c.H!, c.d!, !!c.attnFF));
  if (c.inspect) L.push(inspectRowWGSL(shape, 0));
  if (c.norm) L.push(rmsNormWGSL(shape, pv));
  if (plan)
    L.push(
      hadamardStageWGSL(shape, plan, {
        ff,
        kron,
        fwhtOnly: !!c.fwhtOnly,
        sub: c.sub,
        lanes: c.fwhtLanes,
        regs: c.fwhtRegs,
        parts,
      }),
    );
  if (c.inspect) L.push(inspectRowWGSL(shape, n));
  if (topKOn(c)) L.push(topKWGSL(shape, c.topKRuntime ? `min(st.topK, ${n}u)` : `${c.topK}u`));
  L.push(
    c.fwhtOnly
      ? fwhtRowsOutWGSL(n, WG, ff, parts)
      : writeRowWGSL(shape, c.quant, {fusedKW: fused ? 16 * Math.ceil(n / 64) : undefined}),
  );
  return L.join("\n");
}

/** Bindings, workgroup arrays and helper functions of normQuantWGSL(c). */
function declarationsWGSL(
  c: NormQuantConfig,
  {n, WG}: RowShape,
  fused: NormQuantFused | undefined,
  kron: boolean,
  ff: boolean,
): string {
  const {sub} = c;
  const binds = normQuantBindings(c);
  const bi = (name: string) => (fused ? fused.bindings[name] : binds.indexOf(name));
  const L: string[] = [];
  if (sub && !fused) L.push("enable subgroups;");
  if (fused) {
    L.push(`struct NP { srcStride: u32, dstStride: u32, eps: f32, epsLo: f32 }
@group(0) @binding(${bi("P")}) var<uniform> np: NP;
@group(0) @binding(${bi("src")}) var<storage, read> src: array<f32>;
@group(0) @binding(${bi("normW")}) var<storage, read> normW: array<f32>;
var<workgroup> xw: array<vec4<u32>, ${(16 * Math.ceil(n / 64)) / 4}>;
var<workgroup> xwm: vec2<u32>;`);
    if (c.src === "attn") L.push(`struct ST { M: u32, P: u32, nC: u32, chunk: u32 }`); // W_o's decode: the combine
  } else {
    L.push(`struct P { srcStride: u32, dstStride: u32, eps: f32, epsLo: f32 }
struct ST { M: u32, P: u32, nC: u32, chunk: u32${c.topKRuntime ? ", plainStart: u32, topK: u32, r0: u32, r1: u32" : ""} }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> normW: array<f32>;
@group(0) @binding(3) var<storage, read_write> outv: array<${c.quant === "none" ? "f32" : "u32"}>;`);
  }
  if (c.quant !== "none" && !fused)
    L.push(`@group(0) @binding(${bi("xmeta")}) var<storage, read_write> xmeta: array<vec2<u32>>;`);
  if (kron) L.push(`@group(0) @binding(${bi("had")}) var<storage, read> had: array<u32>;`);
  if (c.inspect) L.push(`@group(0) @binding(${bi("dbg")}) var<storage, read_write> dbg: array<f32>;`);
  if (c.src === "attn") L.push(`@group(0) @binding(${bi("st")}) var<uniform> st: ST;`);
  const NS = sub ? Math.max(1, WG / sub) : WG;
  L.push(`var<workgroup> redF: array<f32, ${NS}>;
var<workgroup> redU: array<u32, ${NS}>;
var<workgroup> bcast: vec4<u32>;`);
  const hn = n / (c.fwhtParts ?? 1);
  if (c.hadamard) L.push(`var<workgroup> hs: array<f32, ${hn}>;`);
  if (ff) L.push(`var<workgroup> hl: array<f32, ${hn}>;`);
  if (topKOn(c)) L.push(`var<workgroup> hist: array<atomic<u32>, 256>;\nvar<workgroup> scanU: array<u32, ${WG}>;`);
  if (c.src === "attn") L.push(`var<workgroup> headMD: array<vec2<f32>, ${c.H}>;`);
  if (c.src === "attn" && c.attnFF) L.push(`var<workgroup> headDen: array<vec2<f32>, ${c.H}>;`);
  L.push(exactDivWGSL);
  L.push(`var<workgroup> redFF: array<vec2<f32>, ${WG}>;
${floatFloatWGSL}
${c.src === "attn" && c.attnFF ? floatFloatMathWGSL : ""}
${sumFFWGSL(WG, sub)}`);
  L.push(rowReductionsWGSL(WG, sub));
  return L.join("\n");
}
