// The steps of one BitLinear (split from blocks.ts, issue 21): its norm/quant prologue, the linear, the decode fusion
// of the two, and the split Hadamard path.
import {bindGroup, pipelineChecked} from "../gpu.js";
import {
  fusedPrologueBindings,
  fusedWorkgroupBytes,
  linearGrid,
  linearWGSL,
  rowVec4s,
  STATS_BINDINGS,
  type Epilogue,
  type LinearConfig,
} from "../kernels/linear.js";
import {
  fwhtPartsFor,
  hadamardMixWGSL,
  fitNormQuant,
  normQuantBindings,
  normQuantWGSL,
  type NormQuantConfig,
} from "../kernels/normquant.js";
import {hadamardPlan} from "../../lib/hadamard.js";
import {gemmGrid, gemmWGSL} from "../kernels/linear-gemm.js";
import {linearConfig, prefillGemm} from "./tune.js";
import type {Site} from "../../lib/variant.js";
import {actWords} from "./plan.js";
import type {InspectPoint, Step, StepTag} from "./types.js";
import type {LinearBufs} from "./upload.js";
import {type BuildContext, type StatsOut, type StatsIn, type NQ, epsWords} from "./build-context.js";

/** A norm/quant step (normquant.ts) writing xin/xmeta. */
export async function nqStep(
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
    {...cfg, sub: b.S, WG: b.WG, inspect: inspectOn, fwhtLanes: b.tuning.fwhtLanes},
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
export async function linearStep(
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
  const gemm = prefillGemm(b.tuning, P.kind, ep, M, device.limits, tag.site); // the tiled prefill GEMM, same bindings
  const pl = await pipelineChecked(device, gemm ? gemmWGSL(gemm) : linearWGSL(cfg, undefined, !!so), label);
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
    gridFn: (m) => [...(gemm ? gemmGrid(gemm, lb.N, m) : linearGrid(cfg, lb.N, m)), 1],
    label,
    tag: {...tag, ...(gemm ? {gemm: `${gemm.BN}×${gemm.BM}`} : {})},
    cfg,
  };
}

/** Decode: the norm/quant prologue fused into the linear that consumes it (each workgroup recomputes the quantized
 *  row in workgroup memory); undefined where it does not fit or does not apply. */
export async function fusedStep(
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
  const pro: NormQuantConfig = {...nqc, sub: b.S, WG: cfg.WG, inspect: false, fwhtLanes: b.tuning.fwhtLanes};
  if ((cfg.WG & (cfg.WG - 1)) !== 0 || fusedWorkgroupBytes(cfg, pro) > device.limits.maxComputeWorkgroupStorageSize)
    return undefined;
  const statsIn = stats?.in ? {parts: stats.in.parts} : undefined;
  const pl = await pipelineChecked(device, linearWGSL(cfg, {prologue: pro, statsIn}, !!stats?.out), label);
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
export function withStats(binds: GPUBuffer[], so: StatsOut): void {
  binds[STATS_BINDINGS.out] = so.buf;
  binds[STATS_BINDINGS.gamma] = so.gamma;
}

/** A bind group over the slots the pipeline's layout declares (the statistics slots leave gaps). */
export function bindGroupSparse(
  device: GPUDevice,
  pl: GPUComputePipeline,
  binds: GPUBuffer[],
  label: string,
): GPUBindGroup {
  const entries: GPUBindGroupEntry[] = [];
  binds.forEach((buffer, binding) => entries.push({binding, resource: {buffer}})); // forEach skips the holes
  return device.createBindGroup({layout: pl.getBindGroupLayout(0), label, entries});
}

/** nq + linear for one BitLinear site: fused in decode where possible, else two steps (with inspection points). */
export async function bitLinearSteps(
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
export function combineFusable(b: BuildContext, nq: NQ): boolean {
  return nq.src === "attn" && b.fuseCombine !== false && !nq.hadamard && nq.topK === undefined && !nq.topKRuntime;
}

/** Whether a decode prologue takes the split path: every Kronecker Hadamard plan unless hadamardSplit is false.
 *  The single-workgroup mix is slow at a large cross-block order (6912 = 108·64 took 70 µs in one workgroup against
 *  9 µs without rotation) and at a small one too: on one H200, 2B4T v2 decode @512 split at W_down only (the old
 *  "auto", m ≥ 32) took 3.483 ms and split at W_o's 2560 = 20·128 as well 2.816 ms, the same bits
 *  (bench/results/h200-issue25d-bench.log.txt). */
export function splitHadamard(b: BuildContext, nq: NQ): boolean {
  if (!nq.hadamard || b.hadamardSplit === false || !b.A.hsplit) return false;
  return hadamardPlan(nq.n).kind === "kronecker";
}

/** H-BitLinear prologue in three steps: norm + in-block FWHT (one workgroup), the cross-block mix (m workgroups),
 *  then quantize (fused into the linear where it fits). Gives the single-kernel path's bits. */
export async function splitSteps(
  b: BuildContext,
  o: Parameters<typeof bitLinearSteps>[1],
  name: string,
  tag: StepTag,
): Promise<{steps: Step[]; cfg: LinearConfig}> {
  const {device} = b;
  const [h0, h1] = b.A.hsplit!;
  const n = o.nq.n;
  const stride = 8 * Math.ceil(n / 8);
  // norm + FWHT over `parts` workgroups per token, each normalizing the whole row and rotating its blocks
  const parts = b.tuning.fwhtParts ?? fwhtPartsFor(n, b.WG);
  const fw0 = await nqStep(
    b,
    {...o.nq, fwhtOnly: true, topK: undefined, quant: "none", fwhtParts: parts},
    o.src,
    o.srcStride,
    o.normW,
    undefined,
    `L${o.l}.nq_fwht_${name}`,
    {kind: "norm-quant", layer: o.l, site: o.site, hadamard: true},
    false,
    h0,
  );
  const fw: Step = {...fw0, grid: [parts], gridFn: (M) => [M * parts, 1, 1]};
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
