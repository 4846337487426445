// The chapters draw from a ForwardTrace. With WebGPU that trace is built from what the engine copied back in
// inspection mode (src/gpu/engine.ts `append(…, {inspect})`), so the views show what the reader's GPU computed;
// `compareTraces` is the page's "golden tensor" check of that trace against the CPU reference on the same prompt.
// DOM-free and kernel-free: the inspection is described structurally here (the engine's Inspection matches it).
import {headDim, tensorNames} from "../config.js";
import type {BitNetConfig, LinearName} from "../config.js";
import {rowNorms} from "../bitlinear.js";
import {hadamardTransform} from "../hadamard.js";
import type {ForwardTrace, LayerTrace, LinearTrace} from "../model.js";
import {quantizeKV, topKCount} from "../quant.js";
import {SITES, sitePlan} from "../variant.js";
import type {Site} from "../variant.js";
import type {ActQuant, ActScheme, QuantStats} from "../quant.js";
import type {ModelWeights} from "../tensor.js";

/** One layer as the engine copies it back (see InspectionLayer in src/gpu/engine.ts). */
export interface InspectedLayer {
  layer: number;
  residualIn: Float32Array;
  qkvInput: Float32Array;
  qkv: Float32Array;
  attnOut: Float32Array;
  oInput: Float32Array;
  gateUpInput: Float32Array;
  glu: Float32Array;
  downInput: Float32Array;
  codes?: Record<Site, {q: Int8Array; invScale: Float32Array}>;
  /** With an RMSNorm inside each BitLinear: k's, v's and up's own inputs and codes (q's and gate's are the site's). */
  projInputs?: Partial<Record<"k" | "v" | "up", {input: Float32Array; codes?: {q: Int8Array; invScale: Float32Array}}>>;
  residualOut: Float32Array;
  /** The quantized KV cache the GPU stored for these tokens (WebGPUSession.inspectKV); absent at 16 bits. */
  kv?: InspectedKVCodes;
}

export interface InspectedKVCodes {
  bits: number[];
  k: Uint8Array;
  v: Uint8Array;
  kMin: Float32Array;
  kStep: Float32Array;
  vMin: Float32Array;
  vStep: Float32Array;
}

export interface InspectedPass {
  start: number;
  tokens: number[];
  layers: InspectedLayer[];
}

/** A chapter's trace with where it came from. GPU traces leave `output` empty where the engine fuses the
 *  projection into its epilogue (gate/up into the GLU, o/down into the residual add) and carry `glu` instead. */
export interface ChapterTrace extends ForwardTrace {
  source: "webgpu" | "cpu";
  layers: (LayerTrace & {
    glu?: Float32Array;
    gateZeroShare?: number;
    kvCodes?: {codes: InspectedKVCodes; keys: Float32Array; values: Float32Array};
  })[];
}

/** The KV summary the CPU trace keeps (bits, mean |error| of K and V), from the GPU's codes and its own pre-quantization
 *  K and V (post-RoPE, as copied in qkv). */
function kvSummary(
  kv: InspectedKVCodes,
  keys: Float32Array,
  values: Float32Array,
  d: number,
): NonNullable<LayerTrace["kv"]> {
  let kErr = 0;
  let vErr = 0;
  let n = 0;
  const per = keys.length / kv.bits.length; // KV·d values per token
  for (let t = 0; t < kv.bits.length; t++) {
    if (kv.bits[t] >= 16) continue;
    for (let i = 0; i < per; i++) {
      const o = t * per + i;
      const vi = Math.floor(o / d);
      kErr += Math.abs(keys[o] - (kv.kMin[vi] + kv.k[o] * kv.kStep[vi]));
      vErr += Math.abs(values[o] - (kv.vMin[vi] + kv.v[o] * kv.vStep[vi]));
    }
    n += per;
  }
  return {bits: [...kv.bits], keyMeanAbsError: n ? kErr / n : 0, valueMeanAbsError: n ? vErr / n : 0};
}

/** Share of gate outputs the activation zeroes (ReLU²: ≤ 0, SiLU: exactly 0), from the FFN input codes the GPU
 *  computed: the sign of γ/s·Σ W̃·q is the sign of the integer sum, so this is exact without the gate's float output,
 *  which the engine never stores (its GLU epilogue fuses gate and up). Float (fp) weights: the float product. */
function gateZeroShare(w: ModelWeights, layer: number, x: Float32Array, act: ActQuant | undefined, T: number): number {
  const name = tensorNames.layer(layer).gate;
  const tern = w.ternary.get(name);
  const flt = w.float.get(name);
  const relu2 = w.config.hidden_act === "relu2";
  const F = w.config.intermediate_size;
  const C = x.length / T;
  let zeros = 0;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < F; j++) {
      let sum = 0;
      if (tern && act) {
        const row = tern.codes.subarray(j * C, (j + 1) * C);
        const q = act.q.subarray(t * C, (t + 1) * C);
        for (let i = 0; i < C; i++) sum += row[i] * q[i];
      } else if (flt) {
        const row = flt.data.subarray(j * C, (j + 1) * C);
        for (let i = 0; i < C; i++) sum += row[i] * x[t * C + i];
      }
      if (relu2 ? sum <= 0 : sum === 0) zeros++;
    }
  }
  return zeros / (T * F);
}

/** The site's activation quantizer and rotation, from the variant table (variant.ts) — the same words the
 *  CPU reference and the engine read, so the trace can never disagree with them about what a site does. */
function scheme(c: BitNetConfig, site: Site): ActScheme | undefined {
  const q = sitePlan(c)[site].quantizer;
  return q === "none" ? undefined : q;
}

function rotates(c: BitNetConfig, site: Site): boolean {
  return sitePlan(c)[site].hadamard;
}

/** Statistics of codes against the values they quantize (what the CPU quantizers report). */
function codeStats(
  x: Float32Array,
  q: Int8Array,
  scale: Float32Array,
  dim: number,
  lo: number,
  hi: number,
): QuantStats {
  let zeros = 0;
  let clipped = 0;
  let se = 0;
  let ae = 0;
  let maxAe = 0;
  for (let i = 0; i < q.length; i++) {
    const s = scale[Math.floor(i / dim)];
    if (q[i] === 0) zeros++;
    if ((q[i] === lo || q[i] === hi) && Math.abs(x[i] * s) > Math.abs(q[i]) + 0.5) clipped++;
    const e = Math.abs(x[i] - q[i] / s);
    se += e * e;
    ae += e;
    if (e > maxAe) maxAe = e;
  }
  const n = Math.max(1, q.length);
  return {
    count: q.length,
    zeroFraction: zeros / n,
    clippedFraction: clipped / n,
    mse: se / n,
    meanAbsError: ae / n,
    maxAbsError: maxAe,
  };
}

function actFrom(
  c: BitNetConfig,
  site: Site,
  values: Float32Array,
  dim: number,
  codes: {q: Int8Array; invScale: Float32Array},
): ActQuant {
  const sch = scheme(c, site)!;
  const bits = sch === "absmean-int4" ? 4 : 8;
  const T = codes.invScale.length;
  const scale = new Float32Array(T);
  const gamma = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    scale[t] = 1 / codes.invScale[t];
    // the statistic the scale came from: γ = Q/s (absmax) or β = √Q/s (absmean)
    gamma[t] = (bits === 4 ? Math.sqrt(7) : 127) * codes.invScale[t];
  }
  const lo = bits === 4 ? -8 : -128;
  const hi = bits === 4 ? 7 : 127;
  return {
    scheme: sch,
    bits,
    tokens: T,
    dim,
    q: codes.q,
    scale,
    gamma,
    kept: sch === "topk-int8" ? topKCount(dim, c.bitnet_topk_ratio) : undefined,
    stats: codeStats(values, codes.q, scale, dim, lo, hi),
  };
}

function zeroShare(x: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === 0) z++;
  return x.length ? z / x.length : 0;
}

const EMPTY = new Float32Array(0);

/** The GPU's inspection as a ChapterTrace. H-BitLinear inputs come back rotated (the values that get quantized);
 *  their un-rotated input is recovered with Hᵀ, since H is orthonormal. */
export function traceFromInspection(ins: InspectedPass, c: BitNetConfig, weights?: ModelWeights): ChapterTrace {
  const T = ins.tokens.length;
  const layers = ins.layers.map((g): ChapterTrace["layers"][number] => {
    const lin = (
      name: LinearName,
      site: Site,
      values: Float32Array,
      own?: {q: Int8Array; invScale: Float32Array},
    ): LinearTrace => {
      const dim = values.length / T;
      let input = values;
      let rotated: Float32Array | undefined;
      if (rotates(c, site)) {
        rotated = values;
        input = values.slice();
        hadamardTransform(input, dim, {transpose: true});
      }
      const codes = own ?? g.codes?.[site];
      const act = codes && scheme(c, site) ? actFrom(c, site, rotated ?? input, dim, codes) : undefined;
      return {
        name,
        input,
        rotated,
        act,
        sparsity: act ? act.stats.zeroFraction : zeroShare(rotated ?? input),
        output: EMPTY,
      };
    };
    // a projection with its own RMSNorm (per-projection norms) quantizes its own copy, when the engine copied it
    const own = (name: LinearName) => g.projInputs?.[name as "k" | "v" | "up"];
    const attn = (name: LinearName) => lin(name, "qkv", own(name)?.input ?? g.qkvInput, own(name)?.codes);
    const ffn = (name: LinearName) => lin(name, "gate_up", own(name)?.input ?? g.gateUpInput, own(name)?.codes);
    // v comes out of the qkv buffer untouched by RoPE: the projection's own output
    const d = headDim(c);
    const qN = c.num_attention_heads * d;
    const kvN = c.num_key_value_heads * d;
    const v = attn("v");
    const vOut = new Float32Array(T * kvN);
    for (let t = 0; t < T; t++)
      vOut.set(g.qkv.subarray(t * (qN + 2 * kvN) + qN + kvN, (t + 1) * (qN + 2 * kvN)), t * kvN);
    v.output = vOut;
    const gate = ffn("gate");
    let kv: LayerTrace["kv"];
    let kvCodes: ChapterTrace["layers"][number]["kvCodes"];
    if (g.kv) {
      const keys = new Float32Array(T * kvN);
      const values = new Float32Array(T * kvN);
      for (let t = 0; t < T; t++) {
        keys.set(g.qkv.subarray(t * (qN + 2 * kvN) + qN, t * (qN + 2 * kvN) + qN + kvN), t * kvN);
        values.set(g.qkv.subarray(t * (qN + 2 * kvN) + qN + kvN, (t + 1) * (qN + 2 * kvN)), t * kvN);
      }
      kv = kvSummary(g.kv, keys, values, d);
      kvCodes = {codes: g.kv, keys, values};
    }
    return {
      layer: g.layer,
      linears: {
        q: attn("q"),
        k: attn("k"),
        v,
        o: lin("o", "o", g.oInput),
        gate,
        up: ffn("up"),
        down: lin("down", "down", g.downInput),
      },
      attention: EMPTY,
      attentionShape: [c.num_attention_heads, T, 0],
      residualNorm: {
        input: rowNorms(g.residualIn, T, g.residualIn.length / T),
        afterAttention: EMPTY,
        output: rowNorms(g.residualOut, T, g.residualOut.length / T),
      },
      kv,
      kvCodes,
      glu: g.glu,
      gateZeroShare: weights ? gateZeroShare(weights, g.layer, gate.input, gate.act, T) : undefined,
    };
  });
  return {source: "webgpu", tokens: [...ins.tokens], start: ins.start, layers, final: EMPTY};
}

export interface TraceCheck {
  /** Largest |GPU − CPU| over the compared float tensors, and that difference relative to max(1, |CPU|). */
  maxAbs: number;
  maxRel: number;
  /** Where maxRel was found, e.g. "layer 2 W_down input". */
  where: string;
  /** Integer activation codes compared, and how many differ. */
  codes: number;
  codesDiffer: number;
  /** KV-cache codes the GPU stored, checked against the reference quantizer (quantizeKV) on the GPU's own K and V. */
  kvCodes: number;
  kvCodesDiffer: number;
  floats: number;
  pass: boolean;
  /** The tolerances PASS used. */
  tolerance: {rel: number; codeShare: number};
}

const SITE_LINEAR: Record<Site, LinearName> = {qkv: "q", o: "o", gate_up: "gate", down: "down"};

/** GPU trace against the CPU reference's trace of the same tokens. Floats: inputs (and rotated inputs) of the four
 *  quantized sites and the residual norms; codes: every activation code. PASS when every float agrees within `rel`
 *  of max(1, |CPU|) and at most `codeShare` of the codes differ (a float-order difference can move a value across a
 *  rounding boundary; the engine rounds like the reference, so normally none do). */
export function compareTraces(
  gpu: ForwardTrace,
  cpu: ForwardTrace,
  opts: {rel?: number; codeShare?: number} = {},
): TraceCheck {
  const rel = opts.rel ?? 1e-3;
  const codeShare = opts.codeShare ?? 1e-3;
  if (gpu.tokens.length !== cpu.tokens.length)
    throw new Error(`compareTraces: ${gpu.tokens.length} vs ${cpu.tokens.length} tokens`);
  let maxAbs = 0;
  let maxRel = 0;
  let where = "";
  let floats = 0;
  let codes = 0;
  let differ = 0;
  let kvCodes = 0;
  let kvDiffer = 0;
  const cmp = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
    if (a.length !== b.length)
      throw new Error(`compareTraces: ${what} has ${a.length} values on the GPU, ${b.length} on the CPU`);
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      const r = d / Math.max(1, Math.abs(b[i]));
      if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
      if (!(r <= maxRel)) {
        maxRel = Number.isNaN(r) ? Infinity : r;
        where = what;
      }
    }
    floats += a.length;
  };
  const byLayer = new Map(cpu.layers.map((l) => [l.layer, l]));
  for (const g of gpu.layers) {
    const r = byLayer.get(g.layer);
    if (!r) throw new Error(`compareTraces: the CPU trace has no layer ${g.layer}`);
    for (const site of SITES) {
      const n = SITE_LINEAR[site];
      const gl = g.linears[n];
      const rl = r.linears[n];
      const label = `layer ${g.layer} ${n === "q" ? "attention" : n === "gate" ? "FFN" : `W_${n}`} input`;
      cmp(gl.input, rl.input, label);
      if (rl.rotated && gl.rotated) cmp(gl.rotated, rl.rotated, `${label} after H`);
      if (gl.act && rl.act) {
        codes += rl.act.q.length;
        for (let i = 0; i < rl.act.q.length; i++) if (gl.act.q[i] !== rl.act.q[i]) differ++;
        cmp(gl.act.scale, rl.act.scale, `${label} scale`);
      }
    }
    const gk = (g as ChapterTrace["layers"][number]).kvCodes;
    if (gk && r.kv) {
      const kvg = gk.codes;
      const d = kvg.k.length / kvg.kMin.length; // values per (token, KV head) vector
      for (let t = 0; t < kvg.bits.length; t++) {
        if (kvg.bits[t] >= 16) continue;
        const per = gk.keys.length / kvg.bits.length;
        for (const [x, codes] of [
          [gk.keys, kvg.k],
          [gk.values, kvg.v],
        ] as const) {
          const want = quantizeKV(x.subarray(t * per, (t + 1) * per), d, kvg.bits[t]);
          kvCodes += per;
          for (let i = 0; i < per; i++) if (codes[t * per + i] !== want.q[i]) kvDiffer++;
        }
      }
      cmp(
        [g.kv!.keyMeanAbsError, g.kv!.valueMeanAbsError],
        [r.kv.keyMeanAbsError, r.kv.valueMeanAbsError],
        `layer ${g.layer} KV-cache error`,
      );
    }
    cmp(g.residualNorm.input, r.residualNorm.input, `layer ${g.layer} residual norm in`);
    cmp(g.residualNorm.output, r.residualNorm.output, `layer ${g.layer} residual norm out`);
  }
  return {
    maxAbs,
    maxRel,
    where,
    codes,
    codesDiffer: differ,
    kvCodes,
    kvCodesDiffer: kvDiffer,
    floats,
    pass: maxRel <= rel && differ <= codeShare * codes && kvDiffer <= codeShare * kvCodes,
    tolerance: {rel, codeShare},
  };
}
