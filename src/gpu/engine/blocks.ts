// The prepared passes: one named builder per block of the forward (attention block, FFN block, embedding, LM head,
// sampling). Every step carries a typed tag (kind, layer, site) and its bind group is made here, once, so a step
// at run time only writes the step uniform. Per layer and block of M tokens:
//   nq(input_layernorm → quant) · QKV (one fused GEMV/GEMM) · RoPE + KV write · split attention
//   · nq(combine → attn_sub_norm → [Hadamard] → [top-K] → quant) · O (+ residual)
//   · nq(post_attention_layernorm → quant) · gate|up (rows interleaved, GLU in the epilogue)
//   · nq(ffn_sub_norm → [Hadamard] → quant) · down (+ residual)
// In decode, each norm/quant prologue that fits is fused into the linear that consumes it.
import {attentionWGSL, attentionWideOK} from "../kernels/attention.js";
import type {KVFormat} from "../kernels/kv-cache.js";
import {ropeKVWGSL} from "../kernels/rope-kv.js";
import {embedWGSL} from "../kernels/embed.js";
import {bindGroup, pipelineChecked, type Dispatch} from "../gpu.js";
import {
  fusedPrologueBindings,
  fusedWorkgroupBytes,
  linearGrid,
  linearWGSL,
  rowVec4s,
  STATS_BINDINGS,
  statsStride,
  type Epilogue,
  type LinearConfig,
  type LinearKind,
} from "../kernels/linear.js";
import {
  hadamardMixWGSL,
  fitNormQuant,
  normQuantBindings,
  normQuantWGSL,
  type NormQuantConfig,
} from "../kernels/normquant.js";
import {hadamardPlan} from "../../lib/hadamard.js";
import {gluWGSL, headNormWGSL} from "../kernels/headnorm.js";
import {normAddWGSL} from "../kernels/sandwich.js";
import {ARGMAX_PER, argmaxFinalWGSL, argmaxPartialWGSL, sampleWGSL} from "../kernels/sample.js";
import {linearConfig, type LinearTuning} from "./tune.js";
import type {Site} from "../../lib/variant.js";
import type {Activations} from "./buffers.js";
import {actWords, type Plan} from "./plan.js";
import type {DecodeParts, InspectPoint, Step, StepTag} from "./types.js";
import type {BufferPool, LinearBufs, WeightBufs} from "./upload.js";

export interface BuildContext {
  device: GPUDevice;
  P: Plan;
  pool: BufferPool;
  A: Activations;
  W: WeightBufs;
  /** Subgroup size used by reductions (0: workgroup memory). */
  S: number;
  WG: number;
  tuning: LinearTuning;
  kvF: KVFormat;
  inspect: boolean;
  /** Fuse decode prologues into linears (all sites, or these) and RoPE into 16-bit attention. */
  fuse: boolean | readonly Site[];
  /** Decode: with "o" fused, fuse W_o's attention-combine prologue too (default true; see combineFusable). */
  fuseCombine?: boolean;
  /** Split H-BitLinear prologues with a cross-block Hadamard step in decode (see WebGPUSessionOptions). */
  hadamardSplit: "auto" | boolean;
  maxBlock: number;
  /** Decode: RMSNorm → INT8 prologues from the producer's per-workgroup statistics (issue 25; see statsEligible). */
  normStats?: boolean;
  /** The statistics records: of the residual stream (written by W_o and W_down) and of the GLU output (gate|up). */
  statsBufs?: {h: GPUBuffer; glu: GPUBuffer};
}

/** Where a producer writes norm statistics for the next BitLinear's prologue, and that prologue's norm weight. */
export interface StatsOut {
  buf: GPUBuffer;
  gamma: GPUBuffer;
}
/** Where a consumer reads them, and how many workgroup records the producer wrote. */
export interface StatsIn {
  buf: GPUBuffer;
  parts: number;
}

/** Whether a decode prologue can come from its producer's statistics: a plain row, RMSNorm, INT8 absmax, no
 *  Hadamard or top-K (b1.58's four sites; v2-a8's qkv and gate_up). */
export function statsEligible(b: BuildContext, nq: NQ): boolean {
  return (
    !!b.normStats &&
    !!b.statsBufs &&
    b.P.kind === "ternary" &&
    nq.src === "plain" &&
    nq.norm &&
    !nq.hadamard &&
    nq.topK === undefined &&
    nq.quant === "int8"
  );
}

/** Workgroups of the decode kernel of a linear with N rows (= the statistics records it writes). */
function decodeParts(b: BuildContext, N: number, K: number, ep: Epilogue): number {
  return linearGrid(linearConfig(b.S, b.P.kind, ep, 1, b.tuning, b.WG, K), N, 1)[0];
}

type NQ = Omit<NormQuantConfig, "sub" | "WG" | "inspect">;

const epsWords = (eps: number) => new Uint32Array(new Float32Array([eps, eps - Math.fround(eps)]).buffer);

/** A norm/quant step (normquant.ts) writing xin/xmeta. */
async function nqStep(
  b: BuildContext,
  cfg: NQ,
  src: GPUBuffer,
  srcStride: number,
  normW: GPUBuffer | undefined,
  had: GPUBuffer | undefined,
  label: string,
  tag: StepTag,
  inspectOn: boolean,
  out?: GPUBuffer,
  eps?: number,
): Promise<Step> {
  const {device, P, A} = b;
  const full = fitNormQuant(
    {...cfg, sub: b.S, WG: b.WG, inspect: inspectOn},
    device.limits.maxComputeWorkgroupStorageSize,
  );
  const pl = await pipelineChecked(device, normQuantWGSL(full), label);
  const dstWords = cfg.quant === "none" ? 8 * Math.ceil(cfg.n / 8) : actWords(P.kind, cfg.n);
  const eu = epsWords(eps ?? P.c.rms_norm_eps);
  const Pu = b.pool.uni(new Uint32Array([srcStride, dstWords, eu[0], eu[1]]), label + ".P");
  const map: Record<string, GPUBuffer> = {
    P: Pu,
    src,
    normW: normW ?? b.W.finalNorm,
    out: out ?? A.xin,
    xmeta: A.xmeta,
    st: A.st,
  };
  if (had) map.had = had;
  if (A.dbg) map.dbg = A.dbg;
  const binds = normQuantBindings(full).map((n) => map[n]);
  return {pipeline: pl, bind: bindGroup(device, pl, binds, label), grid: [1], gridFn: (M) => [M, 1, 1], label, tag};
}

/** A linear reading xin (ternary with per-token scales, or dense). */
async function linearStep(
  b: BuildContext,
  lb: LinearBufs,
  ep: Epilogue,
  xK: number,
  out: GPUBuffer,
  yStride: number,
  M: number,
  label: string,
  tag: StepTag,
  statsOut?: StatsOut,
  yOffset = 0,
): Promise<Step & {cfg: LinearConfig}> {
  const {device, P, A} = b;
  const cfg = linearConfig(b.S, P.kind, ep, M, b.tuning, b.WG, lb.K);
  const so = statsOut && M === 1 ? statsOut : undefined;
  const pl = await pipelineChecked(device, linearWGSL(cfg, undefined, !!so), label);
  const Pu = b.pool.uni(
    new Uint32Array([lb.N, rowVec4s(P.kind, lb.K), M, actWords(P.kind, xK) / 4, yStride, yOffset, 0, 0]),
    label + ".P",
  );
  const binds: GPUBuffer[] = P.kind === "ternary" ? [Pu, lb.W, A.xin, A.xmeta, lb.scale!, out] : [Pu, lb.W, A.xin, out];
  if (so) withStats(binds, so);
  return {
    pipeline: pl,
    bind: bindGroupSparse(device, pl, binds, label),
    grid: [1],
    gridFn: (m) => [...linearGrid(cfg, lb.N, m), 1],
    label,
    tag,
    cfg,
  };
}

/** Decode: the norm/quant prologue fused into the linear that consumes it (each workgroup recomputes the quantized
 *  row in workgroup memory); undefined where it does not fit or does not apply. */
async function fusedStep(
  b: BuildContext,
  lb: LinearBufs,
  ep: Epilogue,
  nqc: NQ,
  src: GPUBuffer,
  srcStride: number,
  normW: GPUBuffer | undefined,
  had: GPUBuffer | undefined,
  out: GPUBuffer,
  yStride: number,
  label: string,
  tag: StepTag,
  stats?: {in?: StatsIn; out?: StatsOut},
  yOffset = 0,
  eps?: number,
): Promise<(Step & {cfg: LinearConfig}) | undefined> {
  const {device, P} = b;
  const fuse = stats?.in || (Array.isArray(b.fuse) ? tag.site !== undefined && b.fuse.includes(tag.site) : b.fuse);
  if (!fuse || P.kind !== "ternary" || nqc.quant === "none") return undefined;
  const cfg = linearConfig(b.S, P.kind, ep, 1, b.tuning, b.WG, lb.K);
  const pro: NormQuantConfig = {...nqc, sub: b.S, WG: cfg.WG, inspect: false};
  if ((cfg.WG & (cfg.WG - 1)) !== 0 || fusedWorkgroupBytes(cfg, pro) > device.limits.maxComputeWorkgroupStorageSize)
    return undefined;
  const pl = await pipelineChecked(
    device,
    linearWGSL(cfg, {prologue: pro, statsIn: stats?.in ? {parts: stats.in.parts} : undefined}, !!stats?.out),
    label,
  );
  const Pu = b.pool.uni(new Uint32Array([lb.N, rowVec4s(P.kind, lb.K), 1, 0, yStride, yOffset, 0, 0]), label + ".P");
  const eu = epsWords(eps ?? P.c.rms_norm_eps);
  const NPu = b.pool.uni(new Uint32Array([srcStride, 0, eu[0], eu[1]]), label + ".NP");
  const binds: GPUBuffer[] = [Pu, lb.W, lb.scale!, out, NPu, src, normW ?? b.W.finalNorm];
  const slots = fusedPrologueBindings(pro);
  if (slots.had !== undefined) binds.push(had!);
  if (slots.st !== undefined) binds[slots.st] = b.A.st;
  if (stats?.out) withStats(binds, stats.out);
  if (stats?.in) binds[STATS_BINDINGS.in] = stats.in.buf;
  return {
    pipeline: pl,
    bind: bindGroupSparse(device, pl, binds, label),
    grid: [1],
    gridFn: () => [...linearGrid(cfg, lb.N, 1), 1],
    label,
    tag: {...tag, kind: "norm-quant+linear"},
    cfg,
  };
}

/** Puts a producer's statistics bindings at their slots (STATS_BINDINGS.out, .gamma). */
function withStats(binds: GPUBuffer[], so: StatsOut): void {
  binds[STATS_BINDINGS.out] = so.buf;
  binds[STATS_BINDINGS.gamma] = so.gamma;
}

/** A bind group over the slots the pipeline's layout declares (the statistics slots leave gaps). */
function bindGroupSparse(device: GPUDevice, pl: GPUComputePipeline, binds: GPUBuffer[], label: string): GPUBindGroup {
  const entries: GPUBindGroupEntry[] = [];
  binds.forEach((buffer, binding) => entries.push({binding, resource: {buffer}})); // forEach skips the holes
  return device.createBindGroup({layout: pl.getBindGroupLayout(0), label, entries});
}

/** nq + linear for one BitLinear site: fused in decode where possible, else two steps (with inspection points). */
async function bitLinearSteps(
  b: BuildContext,
  o: {
    l: number;
    site: Site;
    M: number;
    decode: boolean;
    nq: NQ;
    src: GPUBuffer;
    srcStride: number;
    normW?: GPUBuffer;
    had?: GPUBuffer;
    lb: LinearBufs;
    ep: Epilogue;
    out: GPUBuffer;
    yStride: number;
    inspectIn?: InspectPoint;
    inspectOut?: InspectPoint;
    insp: boolean;
    statsIn?: StatsIn;
    statsOut?: StatsOut;
    yOffset?: number;
    eps?: number;
    name?: string;
  },
): Promise<{steps: Step[]; cfg: LinearConfig}> {
  const name = o.name ?? (o.site === "gate_up" ? "gate_up" : o.site);
  const tag: StepTag = {kind: "linear", layer: o.l, site: o.site, hadamard: o.nq.hadamard};
  if (o.decode && splitHadamard(b, o.nq)) return splitSteps(b, o, name, tag);
  if (o.decode && (o.nq.src === "plain" || combineFusable(b, o.nq))) {
    const f = await fusedStep(
      b,
      o.lb,
      o.ep,
      o.nq,
      o.src,
      o.srcStride,
      o.normW,
      o.had,
      o.out,
      o.yStride,
      `L${o.l}.nq+${name}`,
      tag,
      {in: o.statsIn, out: o.statsOut},
      o.yOffset,
      o.eps,
    );
    if (f) return {steps: [f], cfg: f.cfg};
  }
  const q = await nqStep(
    b,
    o.nq,
    o.src,
    o.srcStride,
    o.normW,
    o.had,
    `L${o.l}.nq_${o.name ?? o.site}`,
    {kind: "norm-quant", layer: o.l, site: o.site, hadamard: o.nq.hadamard},
    o.insp,
    undefined,
    o.eps,
  );
  const lin = await linearStep(
    b,
    o.lb,
    o.ep,
    o.nq.n,
    o.out,
    o.yStride,
    o.M,
    `L${o.l}.${name}`,
    tag,
    o.decode ? o.statsOut : undefined,
    o.yOffset,
  );
  const steps: Step[] = [
    {...q, after: o.insp && o.inspectIn ? {layer: o.l, what: o.inspectIn} : undefined},
    {...lin, after: o.insp && o.inspectOut ? {layer: o.l, what: o.inspectOut} : undefined},
  ];
  return {steps, cfg: lin.cfg};
}

/** Whether W_o's attention-combine prologue (partials → combine → sub-norm → INT8/INT4) may be fused into W_o:
 *  every W_o workgroup then combines the partials itself (they are L2-resident, H·nC·(d + 2) floats), which saves
 *  the single-workgroup dispatch. Not with a rotation or top-K (their workgroup arrays and passes stay unfused). */
function combineFusable(b: BuildContext, nq: NQ): boolean {
  return nq.src === "attn" && b.fuseCombine !== false && !nq.hadamard && nq.topK === undefined && !nq.topKRuntime;
}

/** Whether a decode prologue takes the split path: a Kronecker Hadamard plan whose cross-block order makes the
 *  single-workgroup mix slow (measured: 6912 = 108·64 took 70 µs in one workgroup against 9 µs without rotation). */
function splitHadamard(b: BuildContext, nq: NQ): boolean {
  if (!nq.hadamard || b.hadamardSplit === false || !b.A.hsplit) return false;
  const plan = hadamardPlan(nq.n);
  return plan.kind === "kronecker" && (b.hadamardSplit === true || plan.m >= 32);
}

/** H-BitLinear prologue in three steps: norm + in-block FWHT (one workgroup), the cross-block mix (m workgroups),
 *  then quantize (fused into the linear where it fits). Gives the single-kernel path's bits. */
async function splitSteps(
  b: BuildContext,
  o: Parameters<typeof bitLinearSteps>[1],
  name: string,
  tag: StepTag,
): Promise<{steps: Step[]; cfg: LinearConfig}> {
  const {device} = b;
  const [h0, h1] = b.A.hsplit!;
  const n = o.nq.n;
  const stride = 8 * Math.ceil(n / 8);
  const fw = await nqStep(
    b,
    {...o.nq, fwhtOnly: true, topK: undefined, quant: "none"},
    o.src,
    o.srcStride,
    o.normW,
    undefined,
    `L${o.l}.nq_fwht_${name}`,
    {kind: "norm-quant", layer: o.l, site: o.site, hadamard: true},
    false,
    h0,
  );
  const mpl = await pipelineChecked(device, hadamardMixWGSL(n), `hadamard_mix_${n}`);
  const m = hadamardPlan(n).m;
  const label = `L${o.l}.hadamard_mix_${name}`;
  const mix: Step = {
    pipeline: mpl,
    bind: bindGroup(device, mpl, [h0, o.had!, h1], label),
    grid: [m],
    gridFn: (M) => [m, M, 1],
    label,
    tag: {kind: "hadamard-mix", layer: o.l, site: o.site, hadamard: true},
  };
  const q: NQ = {
    n,
    src: "plain",
    norm: false,
    hadamard: false,
    topK: o.nq.topKRuntime ? undefined : o.nq.topK,
    quant: o.nq.quant,
  };
  if (o.nq.topKRuntime) throw new Error("webgpu: a runtime top-K on a split H-BitLinear prologue is not supported");
  const f = await fusedStep(
    b,
    o.lb,
    o.ep,
    q,
    h1,
    stride,
    undefined,
    undefined,
    o.out,
    o.yStride,
    `L${o.l}.nq+${name}`,
    {...tag, hadamard: false},
    {out: o.statsOut},
  );
  if (f) return {steps: [fw, mix, f], cfg: f.cfg};
  const qs = await nqStep(
    b,
    q,
    h1,
    stride,
    undefined,
    undefined,
    `L${o.l}.nq_${name}`,
    {kind: "norm-quant", layer: o.l, site: o.site},
    false,
  );
  const lin = await linearStep(
    b,
    o.lb,
    o.ep,
    n,
    o.out,
    o.yStride,
    1,
    `L${o.l}.${name}`,
    {...tag, hadamard: false},
    o.statsOut,
  );
  return {steps: [fw, mix, qs, lin], cfg: lin.cfg};
}

/** Attention block of layer l: h += W_o(attn_sub_norm(attention(RoPE(QKV(RMSNorm(h)))))). */
export async function attentionBlock(
  b: BuildContext,
  l: number,
  mode: Mode,
  pipes: AttentionPipes,
): Promise<{steps: Step[]; cfg: LinearConfig}> {
  const {device, P, A, W} = b;
  const Lw = W.layers[l];
  const kv = A.kv[l];
  const decode = mode === "decode";
  const M = decode ? 1 : b.maxBlock;
  const insp = b.inspect && !decode; // inspection runs through the prefill plan (any M)
  const steps: Step[] = [];
  const s = P.sites;
  // per-projection norms (architecture.ts) take the unfused path: the producers' statistics assume one block norm
  const stats = !Lw.proj && !Lw.linNorm;
  if (Lw.proj) {
    // an RMSNorm inside each BitLinear: the block norm once (float), then per projection its own norm + quant + linear
    steps.push(
      ...(await perProjection(
        b,
        l,
        M,
        decode,
        "qkv",
        Lw.inNorm,
        [
          ["q", 0],
          ["k", P.H * P.d],
          ["v", (P.H + P.KV) * P.d],
        ],
        A.qkv,
        P.qkvN,
        insp,
      )),
    );
  } else {
    const qkvNQ: NQ = {n: P.C, src: "plain", norm: true, hadamard: false, topK: undefined, quant: P.attnIn};
    // the residual's statistics come from the previous layer's W_down (layer 0's input is the embedding: none)
    const prevOK = l > 0 && !W.layers[l - 1].proj && !W.layers[l - 1].linNorm;
    const qkvStats =
      decode && stats && prevOK && statsEligible(b, qkvNQ)
        ? {buf: b.statsBufs!.h, parts: decodeParts(b, P.C, P.F, "residual")}
        : undefined;
    const qkv = await bitLinearSteps(b, {
      l,
      site: "qkv",
      M,
      decode,
      nq: qkvNQ,
      src: A.h,
      srcStride: P.C,
      normW: Lw.inNorm,
      lb: Lw.qkv,
      ep: "store",
      out: A.qkv,
      yStride: P.qkvN,
      inspectIn: "qkv_in",
      insp,
      statsIn: qkvStats,
    });
    steps.push(...qkv.steps);
  }
  if (Lw.qkNorm) steps.push(await qkNormStep(b, l));
  // this layer's RoPE θ (Gemma's sliding layers have their own tables: buffers.ts ropeByTheta)
  const rt = A.ropeByTheta?.get(P.arch.rope.thetaPerLayer[l]) ?? {cos: A.cos, sin: A.sin};
  if (decode && pipes.attnRope) {
    const label = `L${l}.rope+attention`;
    steps.push({
      pipeline: pipes.attnRope,
      bind: bindGroup(
        device,
        pipes.attnRope,
        [pipes.attnU[l], A.qkv, kv.K, kv.V, kv.Km, kv.Vm, A.part, A.st, rt.cos, rt.sin],
        label,
      ),
      grid: [1],
      gridFn: (m, nC) => [nC, P.KV, m],
      label,
      tag: {kind: "rope+attention", layer: l},
    });
  } else {
    let label = `L${l}.rope_kv`;
    steps.push({
      pipeline: pipes.rope,
      bind: bindGroup(device, pipes.rope, [pipes.ropeU, A.qkv, rt.cos, rt.sin, kv.K, kv.V, kv.Km, kv.Vm, A.st], label),
      grid: [1],
      gridFn: (m) => [m, 1, 1],
      label,
      tag: {kind: "rope-kv", layer: l},
      after: insp ? {layer: l, what: "qkv"} : undefined,
    });
    label = `L${l}.attention`;
    steps.push({
      pipeline: pipes.attn,
      bind: bindGroup(device, pipes.attn, [pipes.attnU[l], A.qkv, kv.K, kv.V, kv.Km, kv.Vm, A.part, A.st], label),
      grid: [1],
      gridFn: (m, nC) => [nC, P.KV, m],
      label,
      tag: {kind: "attention", layer: l},
    });
  }
  const guOut = decode && stats && statsEligible(b, ffnNQ(b)) ? {buf: b.statsBufs!.h, gamma: Lw.postNorm} : undefined;
  // o's own RMSNorm (per-projection norms) takes the sub-norm's place: plan.ts refuses both at once
  const oNorm = Lw.linNorm ? Lw.linNorm.o : Lw.attnSub;
  const o = await bitLinearSteps(b, {
    l,
    site: "o",
    M,
    decode,
    statsOut: guOut,
    nq: {
      n: P.H * P.d,
      src: "attn",
      H: P.H,
      d: P.d,
      attnFF: P.exactAttention,
      norm: s.o.subNorm || !!Lw.linNorm,
      hadamard: s.o.hadamard,
      topK: P.oTopKRuntime ? P.oNeed : P.oTopK,
      topKRuntime: P.oTopKRuntime,
      quant: P.oIn,
    },
    src: A.part,
    srcStride: 0,
    normW: oNorm,
    had: s.o.hadamard ? A.hadO : undefined,
    lb: Lw.o,
    // Gemma's sandwich: W_o's output is stored, then normalized into the residual (normAddStep)
    ep: Lw.sandwich ? "store" : "residual",
    out: Lw.sandwich ? A.xnorm! : A.h,
    yStride: Lw.sandwich ? C8(P) : P.C,
    inspectIn: "o_in",
    insp,
    eps: Lw.linNorm ? P.c.bitnet_linear_norm_eps : undefined,
  });
  steps.push(...o.steps);
  if (Lw.sandwich) steps.push(await normAddStep(b, l, "attn"));
  return {steps, cfg: o.cfg};
}

const ffnNQ = (b: BuildContext): NQ => ({
  n: b.P.C,
  src: "plain",
  norm: true,
  hadamard: false,
  topK: undefined,
  quant: b.P.ffnIn,
});

/** FFN block of layer l: h += W_down(ffn_sub_norm(act(gate(x)) ⊙ up(x))), x = RMSNorm(h). */
export async function ffnBlock(b: BuildContext, l: number, mode: Mode): Promise<Step[]> {
  const {P, A, W} = b;
  const Lw = W.layers[l];
  const decode = mode === "decode";
  const M = decode ? 1 : b.maxBlock;
  const insp = b.inspect && !decode;
  const s = P.sites;
  const stats = !Lw.proj && !Lw.linNorm; // see attentionBlock
  const downNQ: NQ = {
    n: P.F,
    src: "plain",
    norm: s.down.subNorm || !!Lw.linNorm,
    hadamard: s.down.hadamard,
    topK: undefined,
    quant: P.downIn,
  };
  const guIn =
    decode && stats && statsEligible(b, ffnNQ(b))
      ? {buf: b.statsBufs!.h, parts: decodeParts(b, P.C, P.H * P.d, "residual")}
      : undefined;
  const downIn =
    decode && stats && statsEligible(b, downNQ)
      ? {buf: b.statsBufs!.glu, parts: decodeParts(b, 2 * P.F, P.C, P.glu)}
      : undefined;
  const next = W.layers[l + 1];
  const qkvNext: NQ = {n: P.C, src: "plain", norm: true, hadamard: false, topK: undefined, quant: P.attnIn};
  const downOut =
    decode && stats && next && !next.proj && !next.linNorm && statsEligible(b, qkvNext)
      ? {buf: b.statsBufs!.h, gamma: next.inNorm}
      : undefined;
  const first: Step[] = [];
  if (Lw.proj) {
    first.push(
      ...(await perProjection(
        b,
        l,
        M,
        decode,
        "gate_up",
        Lw.postNorm,
        [
          ["gate", 0],
          ["up", 0],
        ],
        undefined,
        P.F,
        insp,
      )),
    );
    const glu = await gluStep(b, l);
    first.push(insp ? {...glu, after: {layer: l, what: "glu"}} : glu);
  } else {
    const gu = await bitLinearSteps(b, {
      l,
      site: "gate_up",
      M,
      decode,
      statsIn: guIn,
      statsOut: downIn ? {buf: b.statsBufs!.glu, gamma: Lw.ffnSub!} : undefined,
      nq: ffnNQ(b),
      src: A.h,
      srcStride: P.C,
      normW: Lw.postNorm,
      lb: Lw.gu,
      ep: P.glu,
      out: A.inner,
      yStride: P.F,
      inspectIn: "gate_up_in",
      inspectOut: "glu",
      insp,
    });
    first.push(...gu.steps);
  }
  const dn = await bitLinearSteps(b, {
    l,
    site: "down",
    M,
    decode,
    statsIn: Lw.proj ? undefined : downIn,
    statsOut: downOut,
    nq: downNQ,
    src: A.inner,
    srcStride: P.F,
    normW: Lw.linNorm ? Lw.linNorm.down : Lw.ffnSub,
    had: s.down.hadamard ? A.hadDown : undefined,
    lb: Lw.down,
    ep: Lw.sandwich ? "store" : "residual",
    out: Lw.sandwich ? A.xnorm! : A.h,
    yStride: Lw.sandwich ? C8(P) : P.C,
    inspectIn: "down_in",
    inspectOut: Lw.sandwich ? undefined : "residual",
    insp,
    eps: Lw.linNorm ? P.c.bitnet_linear_norm_eps : undefined,
  });
  if (!Lw.sandwich) return [...first, ...dn.steps];
  // the block's output is h after the post-FFN norm-add, so the inspection copies it there
  const post = await normAddStep(b, l, "ffn");
  return [...first, ...dn.steps, insp ? {...post, after: {layer: l, what: "residual"}} : post];
}

/** An RMSNorm inside each BitLinear (architecture.norms.perProjection): the block's RMSNorm once into xnorm (float),
 *  then for each projection its own RMSNorm (ε = bitnet_linear_norm_eps) + quantize + linear, each reading its own
 *  codes. q/k/v write their rows of qkv (yOffset); gate and up write A.gate / A.up for the GLU step. */
async function perProjection(
  b: BuildContext,
  l: number,
  M: number,
  decode: boolean,
  site: "qkv" | "gate_up",
  blockNorm: GPUBuffer,
  parts: ["q" | "k" | "v" | "gate" | "up", number][],
  out: GPUBuffer | undefined,
  yStride: number,
  insp = false,
): Promise<Step[]> {
  const {P, A, W} = b;
  const Lw = W.layers[l];
  const C8 = 8 * Math.ceil(P.C / 8);
  const steps: Step[] = [
    await nqStep(
      b,
      {n: P.C, src: "plain", norm: true, hadamard: false, topK: undefined, quant: "none"},
      A.h,
      P.C,
      blockNorm,
      undefined,
      `L${l}.norm_${site}`,
      {kind: "norm-quant", layer: l, site},
      false,
      A.xnorm!,
    ),
  ];
  const quant = site === "qkv" ? P.attnIn : P.ffnIn;
  for (const [p, yOffset] of parts) {
    const dst = out ?? (p === "gate" ? A.gate! : A.up!);
    const r = await bitLinearSteps(b, {
      l,
      site,
      name: p,
      M,
      decode,
      nq: {n: P.C, src: "plain", norm: true, hadamard: false, topK: undefined, quant},
      src: A.xnorm!,
      srcStride: C8,
      normW: Lw.linNorm![p],
      lb: Lw.proj![p],
      ep: "store",
      out: dst,
      yStride,
      yOffset,
      eps: P.c.bitnet_linear_norm_eps,
      // inspection copies each projection's own normalized input and codes (q and gate as the site's)
      insp,
      inspectIn: ({q: "qkv_in", k: "k_in", v: "v_in", gate: "gate_up_in", up: "up_in"} as const)[p],
    });
    steps.push(...r.steps);
  }
  return steps;
}

/** RMSNorm on each q and k head of layer l's qkv rows, in place, before RoPE (architecture.norms.qk). */
async function qkNormStep(b: BuildContext, l: number): Promise<Step> {
  const {device, P, A, W} = b;
  const pl = await pipelineChecked(device, headNormWGSL(), "qk_norm");
  const u = new Uint32Array([P.qkvN, P.H, P.d, new Uint32Array(new Float32Array([P.c.rms_norm_eps]).buffer)[0]]);
  const label = `L${l}.qk_norm`;
  return {
    pipeline: pl,
    bind: bindGroup(device, pl, [b.pool.uni(u, label + ".P"), A.qkv, W.layers[l].qkNorm!], label),
    grid: [1],
    gridFn: (m) => [P.H + P.KV, m, 1],
    label,
    tag: {kind: "qk-norm", layer: l},
  };
}

/** Row stride of xnorm (the per-projection block norm's float output, reused by the sandwich steps). */
const C8 = (P: {C: number}) => 8 * Math.ceil(P.C / 8);

/** Gemma's sandwich norm: h += RMSNorm(stored W_o or W_down output) (architecture.norms.sandwich). */
async function normAddStep(b: BuildContext, l: number, which: "attn" | "ffn"): Promise<Step> {
  const {device, P, A, W} = b;
  const pl = await pipelineChecked(device, normAddWGSL(), "norm_add");
  const u = new Uint32Array([P.C, C8(P), new Uint32Array(new Float32Array([P.c.rms_norm_eps]).buffer)[0], 0]);
  const label = `L${l}.post_${which}_norm`;
  return {
    pipeline: pl,
    bind: bindGroup(device, pl, [b.pool.uni(u, label + ".P"), A.xnorm!, W.layers[l].sandwich![which], A.h], label),
    grid: [1],
    gridFn: (m) => [m, 1, 1],
    label,
    tag: {kind: "norm-add", layer: l},
  };
}

/** act(gate) ⊙ up from the stored rows into inner (the GLU of per-projection norms). */
async function gluStep(b: BuildContext, l: number): Promise<Step> {
  const {device, P, A} = b;
  const pl = await pipelineChecked(device, gluWGSL(P.arch.activation), `glu_${P.arch.activation}`);
  const label = `L${l}.glu`;
  return {
    pipeline: pl,
    bind: bindGroup(
      device,
      pl,
      [b.pool.uni(new Uint32Array([P.F, 0, 0, 0]), label + ".P"), A.gate!, A.up!, A.inner],
      label,
    ),
    grid: [1],
    gridFn: (m) => [Math.ceil(P.F / 256), m, 1],
    label,
    tag: {kind: "glu", layer: l},
  };
}

export interface AttentionPipes {
  rope: GPUComputePipeline;
  attn: GPUComputePipeline;
  /** decode with a 16-bit cache: RoPE and the K/V write inside the attention kernel (one dispatch less) */
  attnRope?: GPUComputePipeline;
  ropeU: GPUBuffer;
  /** per layer: {qkvStride, scale, window} (window 0: every earlier key; layers of one window share a buffer) */
  attnU: GPUBuffer[];
}

export async function attentionPipes(b: BuildContext): Promise<AttentionPipes> {
  const {device, P, kvF} = b;
  const shape = {H: P.H, KV: P.KV, d: P.d, kv: kvF};
  const exact = P.exactAttention;
  const fused = b.fuse !== false && !exact && attentionWideOK(shape);
  return {
    rope: await pipelineChecked(device, ropeKVWGSL({...shape, WG: 128, exact}), "rope_kv"),
    attn: await pipelineChecked(device, attentionWGSL({...shape, exact}), "attention"),
    attnRope: fused
      ? await pipelineChecked(device, attentionWGSL({...shape, fusedRope: true}), "attention+rope")
      : undefined,
    ropeU: b.pool.uni(new Uint32Array([P.qkvN, 0, 0, 0]), "rope.P"),
    attnU: attnUniforms(b),
  };
}

/** The attention kernels' P per layer: scores × head_dim^-½, or Gemma's query_pre_attn_scalar^-½, and the layer's
 *  sliding window (architecture.attention: keys q − W + 1 … q; 0 = none). */
function attnUniforms(b: BuildContext): GPUBuffer[] {
  const {P} = b;
  const scale = new Uint32Array(new Float32Array([P.arch.attention.scale]).buffer)[0];
  const byWindow = new Map<number, GPUBuffer>();
  return P.arch.attention.window.map((w = 0) => {
    let u = byWindow.get(w);
    if (!u) byWindow.set(w, (u = b.pool.uni(new Uint32Array([P.qkvN, scale, w, 0]), w ? `attn.P.w${w}` : "attn.P")));
    return u;
  });
}

export type Mode = "decode" | "prefill";

/** Every layer, then the final norm: the decode pass (one token) or the prefill pass (blocks of up to maxBlock). */
export async function layerPass(
  b: BuildContext,
  mode: Mode,
  pipes: AttentionPipes,
): Promise<{steps: Step[]; cfg?: LinearConfig}> {
  const steps: Step[] = [];
  let cfg: LinearConfig | undefined;
  if (mode === "decode" && b.normStats && !b.statsBufs && b.P.kind === "ternary") {
    const rec = (n: number) => Math.max(1, n) * statsStride() * 4;
    b.statsBufs = {
      h: b.pool.buf(rec(decodeParts(b, b.P.C, b.P.F, "residual")), "stats.h"),
      glu: b.pool.buf(rec(decodeParts(b, 2 * b.P.F, b.P.C, b.P.glu)), "stats.glu"),
    };
  }
  for (let l = 0; l < b.P.L; l++) {
    const a = await attentionBlock(b, l, mode, pipes);
    cfg ??= a.cfg;
    steps.push(...a.steps, ...(await ffnBlock(b, l, mode)));
  }
  steps.push(
    await nqStep(
      b,
      {n: b.P.C, src: "plain", norm: true, hadamard: false, topK: undefined, quant: "none"},
      b.A.h,
      b.P.C,
      b.W.finalNorm,
      undefined,
      "final_norm",
      {kind: "final-norm"},
      false,
    ),
  );
  return {steps, cfg};
}

/** Embedding lookup of the tokens in the GPU token buffer. */
export async function embedStep(b: BuildContext, f16: boolean): Promise<Step> {
  const pl = await pipelineChecked(b.device, embedWGSL(f16, b.W.emb.length, b.P.arch.embedScale), "embed");
  return {
    pipeline: pl,
    bind: bindGroup(b.device, pl, [b.A.embedP, b.A.tok, b.A.h, ...b.W.emb], "embed"),
    grid: [1],
    gridFn: (m) => [Math.ceil(b.P.C / 256), m, 1],
    label: "embed",
    tag: {kind: "embed"},
  };
}

/** LM head over its row buffers for M tokens; the uniforms are returned so callers can move the input row. */
export async function headSteps(
  b: BuildContext,
  headKind: LinearKind,
  M: number,
  out: GPUBuffer,
  label: string,
): Promise<{steps: Step[]; Ps: GPUBuffer[]}> {
  const {device, P, W} = b;
  const cfg = linearConfig(b.S, headKind, "store", M, b.tuning, b.WG, P.C);
  const pl = await pipelineChecked(device, linearWGSL(cfg), label);
  const xStride = (8 * Math.ceil(P.C / 8)) / 4;
  const steps: Step[] = [];
  const Ps: GPUBuffer[] = [];
  for (let i = 0; i < W.head.length; i++) {
    const rows = Math.min(W.rowsPerChunk, P.V - i * W.rowsPerChunk);
    const Pu = b.pool.uni(
      new Uint32Array([rows, rowVec4s(headKind, P.C), M, xStride, P.V, i * W.rowsPerChunk, 0, 0]),
      `${label}${i}.P`,
    );
    Ps.push(Pu);
    steps.push({
      pipeline: pl,
      bind: bindGroup(device, pl, [Pu, W.head[i], b.A.xin, out], `${label}${i}`),
      grid: [1],
      gridFn: (m) => [...linearGrid(cfg, rows, m), 1],
      label: `${label}${i}`,
      tag: {kind: "lm-head"},
    });
  }
  return {steps, Ps};
}

export interface SamplingSteps {
  partial: Dispatch;
  final: Dispatch;
  sample: Dispatch;
  /** argmax stage 1's {V, offset}: V shrinks to SamplingOptions.vocabLimit (padded ids never win). */
  vocabP: GPUBuffer;
}

/** Greedy argmax (two dispatches) and temperature / top-k / top-p sampling, writing a token id into the token buffer. */
export async function samplingSteps(b: BuildContext): Promise<SamplingSteps> {
  const {device, P, A} = b;
  const apl = await pipelineChecked(device, argmaxPartialWGSL, "argmax");
  const afl = await pipelineChecked(device, argmaxFinalWGSL, "argmax-final");
  const spl = await pipelineChecked(device, sampleWGSL, "sample");
  const nPart = Math.ceil(P.V / (256 * ARGMAX_PER));
  const apU = b.pool.uni(new Uint32Array([P.V, 0, 0, 0]), "argmax.P1");
  return {
    partial: {
      pipeline: apl,
      bind: bindGroup(device, apl, [apU, A.logits, A.argPartial]),
      grid: [nPart],
      label: "argmax",
    },
    final: {
      pipeline: afl,
      bind: bindGroup(device, afl, [A.argP, A.argPartial, A.tok]),
      grid: [1],
      label: "argmax-final",
    },
    sample: {pipeline: spl, bind: bindGroup(device, spl, [A.sampleP, A.logits, A.tok]), grid: [1], label: "sample"},
    vocabP: apU,
  };
}

/** Whether a layer step belongs to the selection (linearOnly: BitLinear linears, fused or not; hadamardOnly: the
 *  steps that apply the Hadamard transform). */
export function wanted(tag: StepTag, parts: DecodeParts): boolean {
  const k = tag.kind;
  if (parts.linearOnly && k !== "linear" && k !== "norm-quant+linear") return false;
  if (
    parts.hadamardOnly &&
    !(tag.hadamard && (k === "norm-quant" || k === "norm-quant+linear" || k === "hadamard-mix"))
  )
    return false;
  return true;
}
