// The attention block of a layer and its pipelines (split from blocks.ts, issue 21).
import {attentionWGSL, attentionWideOK} from "../kernels/attention.js";
import {ropeKVWGSL} from "../kernels/rope-kv.js";
import {bindGroup, pipelineChecked} from "../gpu.js";
import type {LinearConfig} from "../kernels/linear.js";
import type {Step} from "./types.js";
import {bitLinearSteps} from "./bitlinear-steps.js";
import {type BuildContext, statsEligible, decodeParts, type NQ, C8, type Mode} from "./build-context.js";
import {ffnNQ, perProjection, qkNormStep, normAddStep} from "./layer-steps.js";

/** Attention block of layer l: h += W_o(attn_sub_norm(attention(RoPE(QKV(RMSNorm(h)))))). */
export async function attentionBlock(
  b: BuildContext,
  l: number,
  mode: Mode,
  pipes: AttentionPipes,
): Promise<{steps: Step[]; cfg: LinearConfig}> {
  const {P, A, W} = b;
  const Lw = W.layers[l];
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
  steps.push(...ropeAttentionSteps(b, l, decode, insp, pipes));
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

/** RoPE + the K/V cache write and split attention of layer l: one dispatch in decode with a 16-bit cache (the wide
 *  kernel's fused RoPE), else rope_kv then attention. */
function ropeAttentionSteps(b: BuildContext, l: number, decode: boolean, insp: boolean, pipes: AttentionPipes): Step[] {
  const {device, P, A} = b;
  const kv = A.kv[l];
  const steps: Step[] = [];
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
  return steps;
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
export function attnUniforms(b: BuildContext): GPUBuffer[] {
  const {P} = b;
  const scale = new Uint32Array(new Float32Array([P.arch.attention.scale]).buffer)[0];
  const byWindow = new Map<number, GPUBuffer>();
  return P.arch.attention.window.map((w = 0) => {
    let u = byWindow.get(w);
    if (!u) byWindow.set(w, (u = b.pool.uni(new Uint32Array([P.qkvN, scale, w, 0]), w ? `attn.P.w${w}` : "attn.P")));
    return u;
  });
}
