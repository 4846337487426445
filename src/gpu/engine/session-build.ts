// A session's build phase, apart from the session so a rebuild (device loss) runs the same code: the options checked
// into the sizes everything is allocated for, then weights uploaded, activations allocated and every pass's steps
// compiled. What it returns is all the session encodes from; nothing here keeps state between builds.
import type {BitNetConfig} from "../../lib/config.js";
import type {LinearConfig} from "../kernels/linear.js";
import type {KVFormat} from "../kernels/kv-cache.js";
import {attentionPipes} from "./attention-block.js";
import {embedStep, headSteps, layerPass, samplingSteps} from "./blocks.js";
import type {BuildContext} from "./build-context.js";
import {allocActivations, type Activations} from "./buffers.js";
import {CHUNK, makePlan, type Plan} from "./plan.js";
import {GpuSampler} from "./sampling.js";
import type {Step, WebGPUSessionOptions} from "./types.js";
import {uploadWeights, type BufferPool, type WeightSource} from "./upload.js";

/** The sizes a session allocates for, fixed at creation (a rebuild keeps them). */
export interface SessionDims {
  /** Positions of the KV cache: min(max_position_embeddings, maxLength). */
  maxLen: number;
  /** Tokens per prefill block. */
  maxBlock: number;
  attnChunk: number;
  attnMaxChunks: number;
}

/** The options' sizes, each checked before anything is sized from it (a clear error, not a failed allocation). */
export function checkSessionOptions(opts: WebGPUSessionOptions, maxPositions: number): SessionDims {
  const maxLen = Math.min(maxPositions, opts.maxLength ?? maxPositions);
  if (!(maxLen >= 1)) throw new Error(`createWebGPUSession: maxLength must be ≥ 1, got ${opts.maxLength}`);
  const maxBlock = Math.max(1, Math.min(opts.maxBlock ?? 128, maxLen));
  const attnChunk = opts.attnChunk ?? CHUNK;
  if (!(Number.isInteger(attnChunk) && attnChunk >= 1 && attnChunk <= 4096))
    throw new Error(`createWebGPUSession: attnChunk must be an integer in [1, 4096], got ${opts.attnChunk}`);
  const attnMaxChunks = opts.attnMaxChunks ?? Number.POSITIVE_INFINITY;
  if (!(attnMaxChunks >= 1 && (Number.isInteger(attnMaxChunks) || attnMaxChunks === Infinity)))
    throw new Error(`createWebGPUSession: attnMaxChunks must be an integer ≥ 1, got ${opts.attnMaxChunks}`);
  return {maxLen, maxBlock, attnChunk, attnMaxChunks};
}

/** setTopKRatio: W_o's K for the config with bitnet_topk_ratio = `ratio`, where the built plan reads K from the step
 *  uniform (no rebuild); undefined for a variant without top-K. A ratio that would need other kernels throws. */
export function runtimeTopK(
  config: BitNetConfig,
  opts: WebGPUSessionOptions,
  plan: Plan,
  ratio: number,
): number | undefined {
  const p = makePlan({...config, bitnet_topk_ratio: ratio}, opts.dense ?? "f32");
  if (p.sites.o.quantizer !== plan.sites.o.quantizer)
    throw new Error(`setTopKRatio: ratio ${ratio} changes the W_o quantizer; create a session with that config`);
  if (p.sites.o.quantizer !== "topk-int8") return undefined;
  if (!plan.oTopKRuntime)
    throw new Error(
      "setTopKRatio: this session's top-K is compiled in (H-BitLinear prologue); create a session with that config",
    );
  return p.oNeed;
}

export function kvFormat(P: Plan, opts: WebGPUSessionOptions): KVFormat {
  return {bits: P.kv.bits, bosBits: P.kv.bosBits, store16: opts.kv16 ?? "f32"};
}

/** The LM head of one kind of block: its steps and the uniforms its row count / row offset is written into. */
export interface HeadSteps {
  steps: Step[];
  Ps: GPUBuffer[];
}

/** Everything a build made that encoding reads. */
export interface SessionSteps {
  A: Activations;
  /** The embedding's row layout (u32 words per row, rows per upload chunk), for its uniform. */
  embRows: {words: number; perChunk: number};
  embed: Step;
  decode: Step[];
  prefill: Step[];
  headDecode: Step[];
  /** The head for the last token of a prefill block, and for all its tokens (empty when maxBlock is 1). */
  headLast: HeadSteps;
  headAll: HeadSteps;
  sampler: GpuSampler;
  /** The decode linear configuration chosen for this device. */
  cfgDecode: LinearConfig;
}

/** Uploads the weights and compiles every pass; `S` is the subgroup size (0: none). Runs inside the session's
 *  error scopes (lifecycle.ts buildInScopes), which free `pool` on failure. */
export async function buildSteps(
  device: GPUDevice,
  pool: BufferPool,
  P: Plan,
  source: WeightSource | undefined,
  opts: WebGPUSessionOptions,
  dims: SessionDims,
  S: number,
): Promise<SessionSteps> {
  const lmHead = opts.lmHead ?? "f32";
  const W = await uploadWeights(pool, P, source, {lmHead, synthetic: opts.synthetic});
  const kvF = kvFormat(P, opts);
  const inspect = !!opts.inspect;
  const {maxLen, maxBlock, attnChunk} = dims;
  const A = allocActivations(pool, P, kvF, {maxLen, maxBlock, inspect, attnChunk});
  const b: BuildContext = {
    device,
    P,
    pool,
    A,
    W,
    S,
    WG: Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup),
    tuning: opts.tuning ?? {},
    kvF,
    inspect,
    fuse: opts.fuse ?? true,
    fuseCombine: opts.fuseCombine ?? true,
    maxBlock,
    hadamardSplit: opts.hadamardSplit ?? "auto",
    normStats: opts.normStats ?? false,
  };
  const pipes = await attentionPipes(b);
  const dec = await layerPass(b, "decode", pipes);
  const prefill = (await layerPass(b, "prefill", pipes)).steps;
  const embed = await embedStep(b, lmHead === "f16");
  const headKind = lmHead === "f16" ? "f16" : "f32";
  const headDecode = (await headSteps(b, headKind, 1, A.logits, "lm_head")).steps;
  const headLast = await headSteps(b, headKind, 1, A.logits, "lm_head_last");
  const headAll =
    maxBlock > 1 ? await headSteps(b, headKind, maxBlock, A.logitsAll!, "lm_head_all") : {steps: [], Ps: []};
  const sampler = new GpuSampler(device.queue, A, await samplingSteps(b), P.V);
  const embRows = {words: W.rowWords, perChunk: W.rowsPerChunk};
  return {A, embRows, embed, decode: dec.steps, prefill, headDecode, headLast, headAll, sampler, cfgDecode: dec.cfg!};
}
