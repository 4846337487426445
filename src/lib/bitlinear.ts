// The CPU reference forward's per-row building blocks (model.ts): RMSNorm, BitLinear / H-BitLinear with the
// activation quantizer the variant table gives each site, the float64 matmul, and the gated linear unit.
import type {LinearName} from "./config.js";
import type {LinearTrace} from "./forward-trace.js";
import {hadamardTransform} from "./hadamard.js";
import {quantizeAbsmaxInt8, quantizeAbsmeanInt4, quantizeTopKInt8} from "./quant.js";
import type {ActQuant} from "./quant.js";
import type {Architecture} from "./architecture.js";
import type {Linear, PreparedLayer} from "./prepared.js";
import {SITE_LINEARS, type SiteInput} from "./variant.js";

/** RMSNorm per row: y = w · x / sqrt(mean(x²) + eps). */
export function rmsNorm(x: Float32Array, T: number, C: number, w: Float32Array, eps: number): Float32Array {
  const y = new Float32Array(T * C);
  for (let t = 0; t < T; t++) {
    const o = t * C;
    let ss = 0;
    for (let i = 0; i < C; i++) ss += x[o + i] * x[o + i];
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let i = 0; i < C; i++) y[o + i] = w[i] * Math.fround(x[o + i] * r);
  }
  return y;
}

export function rowNorms(x: Float32Array, T: number, C: number): Float32Array {
  const out = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let i = 0; i < C; i++) s += x[t * C + i] * x[t * C + i];
    out[t] = Math.sqrt(s);
  }
  return out;
}

/** Q(x): the activation quantizer the variant table gives a site (undefined for fp). */
function quantizeSite(site: SiteInput, x: Float32Array): ActQuant | undefined {
  switch (site.quantizer) {
    case "none":
      return undefined;
    case "absmax-int8":
      return quantizeAbsmaxInt8(x, site.dim);
    case "absmean-int4":
      return quantizeAbsmeanInt4(x, site.dim);
    case "topk-int8":
      return quantizeTopKInt8(x, site.dim, site.topK!);
  }
}

/** y[t, o] = Σ_i W[o, i] · x̃[t, i] for T rows, with W ternary (γ·W̃) or float, and x̃ the dequantized
 *  activations (q / s) when `act` is given or the float input otherwise. Integer products are exact. */
export function matmul(lin: Linear, x: Float32Array, act: ActQuant | undefined, T: number): Float32Array {
  const {out: O, in: I} = lin;
  const y = new Float32Array(T * O);
  const xin = new Float64Array(I);
  const xint = new Int32Array(I);
  for (let t = 0; t < T; t++) {
    // Output multiplier: γ (ternary) times 1/s (quantized input).
    const post = (lin.kind === "ternary" ? lin.gamma : 1) / (act ? act.scale[t] : 1);
    const yo = t * O;
    if (lin.kind === "ternary" && act) {
      // Ternary × integer codes: exact int32 sums (|sum| ≤ 128·in < 2^31), four accumulators for speed.
      const W = lin.codes;
      for (let i = 0; i < I; i++) xint[i] = act.q[t * I + i];
      for (let o = 0; o < O; o++) {
        const r = o * I;
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        let i = 0;
        for (; i + 3 < I; i += 4) {
          a0 = (a0 + W[r + i] * xint[i]) | 0;
          a1 = (a1 + W[r + i + 1] * xint[i + 1]) | 0;
          a2 = (a2 + W[r + i + 2] * xint[i + 2]) | 0;
          a3 = (a3 + W[r + i + 3] * xint[i + 3]) | 0;
        }
        for (; i < I; i++) a0 = (a0 + W[r + i] * xint[i]) | 0;
        y[yo + o] = (a0 + a1 + a2 + a3) * post;
      }
      continue;
    }
    const src = act ? act.q : x;
    for (let i = 0; i < I; i++) xin[i] = src[t * I + i];
    if (lin.kind === "ternary") {
      const W = lin.codes;
      for (let o = 0; o < O; o++) {
        const r = o * I;
        let acc = 0;
        for (let i = 0; i < I; i++) acc += W[r + i] * xin[i];
        y[yo + o] = acc * post;
      }
    } else {
      const W = lin.w;
      for (let o = 0; o < O; o++) {
        const r = o * I;
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        let i = 0;
        for (; i + 3 < I; i += 4) {
          a0 += W[r + i] * xin[i];
          a1 += W[r + i + 1] * xin[i + 1];
          a2 += W[r + i + 2] * xin[i + 2];
          a3 += W[r + i + 3] * xin[i + 3];
        }
        for (; i < I; i++) a0 += W[r + i] * xin[i];
        y[yo + o] = (a0 + a1 + (a2 + a3)) * post;
      }
    }
  }
  return y;
}

function zeroFraction(a: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) z++;
  return a.length ? z / a.length : 0;
}

export type Traces = Partial<Record<LinearName, LinearTrace>> | undefined;

/** BitLinear (b1.58 eq. 1–3): y = Q_w(W) · Q(x) for each projection reading this site, with the input quantized
 *  once and shared (q/k/v, gate/up). `x` is what gets quantized; `input` is the site's input as traced. */
function bitLinear(
  site: SiteInput,
  lins: readonly Linear[],
  x: Float32Array,
  T: number,
  trace?: {traces: NonNullable<Traces>; input: Float32Array; rotated?: Float32Array},
  names: readonly LinearName[] = SITE_LINEARS[site.site],
): Float32Array[] {
  const act = quantizeSite(site, x);
  return lins.map((lin, i) => {
    const y = matmul(lin, x, act, T);
    if (trace) {
      const name = names[i];
      trace.traces[name] = {
        name,
        input: trace.input,
        rotated: trace.rotated,
        act,
        sparsity: act ? act.stats.zeroFraction : zeroFraction(x),
        output: y.slice(), // q and k are rotated in place afterwards; keep the projection's own output
      };
    }
    return y;
  });
}

/** H-BitLinear (v2 §2): y = Q_w(W) · Q(H·x). The stored weight is the one trained against rotated inputs, so
 *  the forward only rotates. */
function hBitLinear(
  site: SiteInput,
  lins: readonly Linear[],
  x: Float32Array,
  T: number,
  traces: Traces,
  names?: readonly LinearName[],
): Float32Array[] {
  const rotated = x.slice();
  hadamardTransform(rotated, site.dim);
  return bitLinear(site, lins, rotated, T, traces && {traces, input: x, rotated}, names);
}

/** A site's projections, as the variant table says (BitLinear or H-BitLinear). With an RMSNorm inside each BitLinear
 *  (architecture.norms.perProjection) every projection normalizes the site's input with its own weights and so
 *  quantizes its own copy: the site is no longer shared. */
export function projectSite(
  site: SiteInput,
  layer: PreparedLayer,
  x: Float32Array,
  T: number,
  traces: Traces,
  linEps = 0,
): Float32Array[] {
  const names = SITE_LINEARS[site.site];
  if (layer.linNorm) {
    return names.map((n) => {
      const xn = rmsNorm(x, T, site.dim, layer.linNorm![n], linEps);
      return (
        site.hadamard
          ? hBitLinear(site, [layer.lin[n]], xn, T, traces, [n])
          : bitLinear(site, [layer.lin[n]], xn, T, traces && {traces, input: xn}, [n])
      )[0];
    });
  }
  const lins = names.map((n) => layer.lin[n]);
  return site.hadamard
    ? hBitLinear(site, lins, x, T, traces)
    : bitLinear(site, lins, x, T, traces && {traces, input: x});
}

/** The gated linear unit: act(g) ⊙ u with act = SiLU (SwiGLU), ReLU² (a4.8's ReLU²-GLU) or GELU-tanh (Gemma's GeGLU). */
export function glu(g: Float32Array, u: Float32Array, act: Architecture["activation"]): Float32Array {
  const m = new Float32Array(g.length);
  if (act === "relu2") {
    for (let i = 0; i < m.length; i++) {
      const r = g[i] > 0 ? g[i] : 0;
      m[i] = Math.fround(r * r) * u[i];
    }
  } else if (act === "gelu_tanh") {
    // transformers' gelu_pytorch_tanh: ½ g (1 + tanh(√(2/π) (g + 0.044715 g³)))
    const k = Math.sqrt(2 / Math.PI);
    for (let i = 0; i < m.length; i++) {
      const x = g[i];
      m[i] = Math.fround(0.5 * x * (1 + Math.tanh(k * (x + 0.044715 * x * x * x)))) * u[i];
    }
  } else {
    for (let i = 0; i < m.length; i++) m[i] = Math.fround(g[i] / (1 + Math.exp(-g[i]))) * u[i];
  }
  return m;
}
