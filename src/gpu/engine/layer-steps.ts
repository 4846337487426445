// The smaller steps of a layer (split from blocks.ts, issue 21): per-projection norms, q/k head norms, the sandwich
// norm + residual add, the GLU.
import {bindGroup, pipelineChecked} from "../gpu.js";
import {gluWGSL, headNormWGSL} from "../kernels/headnorm.js";
import {normAddWGSL} from "../kernels/sandwich.js";
import type {Step} from "./types.js";
import {nqStep, bitLinearSteps} from "./bitlinear-steps.js";
import {type BuildContext, type NQ, C8} from "./build-context.js";

export const ffnNQ = (b: BuildContext): NQ => ({
  n: b.P.C,
  src: "plain",
  norm: true,
  hadamard: false,
  topK: undefined,
  quant: b.P.ffnIn,
});

/** An RMSNorm inside each BitLinear (architecture.norms.perProjection): the block's RMSNorm once into xnorm (float),
 *  then for each projection its own RMSNorm (ε = bitnet_linear_norm_eps) + quantize + linear, each reading its own
 *  codes. q/k/v write their rows of qkv (yOffset); gate and up write A.gate / A.up for the GLU step. */
export async function perProjection(
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
export async function qkNormStep(b: BuildContext, l: number): Promise<Step> {
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

/** Gemma's sandwich norm: h += RMSNorm(stored W_o or W_down output) (architecture.norms.sandwich). */
export async function normAddStep(b: BuildContext, l: number, which: "attn" | "ffn"): Promise<Step> {
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
export async function gluStep(b: BuildContext, l: number): Promise<Step> {
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
