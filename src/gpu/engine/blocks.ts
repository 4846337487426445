// The prepared passes: one named builder per block of the forward (attention block, FFN block, embedding, LM head,
// sampling). Every step carries a typed tag (kind, layer, site) and its bind group is made here, once, so a step
// at run time only writes the step uniform. Per layer and block of M tokens:
//   nq(input_layernorm → quant) · QKV (one fused GEMV/GEMM) · RoPE + KV write · split attention
//   · nq(combine → attn_sub_norm → [Hadamard] → [top-K] → quant) · O (+ residual)
//   · nq(post_attention_layernorm → quant) · gate|up (rows interleaved, GLU in the epilogue)
//   · nq(ffn_sub_norm → [Hadamard] → quant) · down (+ residual)
// In decode, each norm/quant prologue that fits is fused into the linear that consumes it.
// The blocks' step builders live in build-context.ts, bitlinear-steps.ts, layer-steps.ts, attention-block.ts and
// ffn-block.ts (issue 21); this module chains them into the passes.
import {embedWGSL} from "../kernels/embed.js";
import {bindGroup, pipelineChecked, type Dispatch} from "../gpu.js";
import {linearGrid, linearWGSL, rowVec4s, statsStride, type LinearConfig, type LinearKind} from "../kernels/linear.js";
import {ARGMAX_PER, argmaxFinalWGSL, argmaxPartialWGSL, sampleWGSL} from "../kernels/sample.js";
import {linearConfig} from "./tune.js";
import type {DecodeParts, Step, StepTag} from "./types.js";
import {attentionBlock, type AttentionPipes} from "./attention-block.js";
import {nqStep} from "./bitlinear-steps.js";
import {type BuildContext, decodeParts, type Mode} from "./build-context.js";
import {ffnBlock} from "./ffn-block.js";

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
