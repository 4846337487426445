// The engine's public option and inspection types, and the typed tags its steps carry.
import type {GpuContext} from "../device.js";
import type {Dispatch} from "../gpu.js";
import type {Site} from "../../lib/variant.js";
import type {LinearTuning} from "./tune.js";

export interface WebGPUSessionOptions {
  /** A device context to share (pages keep one); otherwise the session acquires its own. */
  gpu?: GpuContext;
  /** Or a bare device (e.g. the test harness's). */
  device?: GPUDevice;
  /** KV-cache positions (default and maximum: max_position_embeddings). */
  maxLength?: number;
  /** Largest block of tokens one prefill pass processes (longer prompts run in blocks). Default 128. */
  maxBlock?: number;
  /** Storage of the embedding / LM head rows: "f32" (default, exactly the reference) or "f16" (half the bytes). */
  lmHead?: "f32" | "f16";
  /** Storage of a 16-bit KV cache: "f32" (default: the reference keeps float32) or "f16". */
  kv16?: "f32" | "f16";
  /** Weights of the fp variant's projections: "f32" (default) or "f16". */
  dense?: "f32" | "f16";
  /** Linear-kernel shapes (rows per thread, threads along K, workgroup size) and the subgroup switch. */
  tuning?: LinearTuning;
  /** Decode: fuse each BitLinear's norm/quant prologue into its linear kernel where it fits (default true), or only
   *  at these sites. */
  fuse?: boolean | readonly Site[];
  /** Decode, where "o" is fused: W_o's prologue that combines the split-attention partials (then sub-norm and
   *  quantization) is fused into W_o too, one dispatch fewer per layer (default true; false: its own dispatch). */
  fuseCombine?: boolean;
  /** Decode: RMSNorm → INT8 prologues without whole-vector reductions — the producer of the row (W_o and W_down
   *  adding to the residual, gate|up's GLU) writes per-workgroup Σx², max |γ·x| and its candidates, and the consuming
   *  linear derives r and the step from them (issue 25; same codes as the other paths). Default false. */
  normStats?: boolean;
  /** Encode every dispatch in its own compute pass instead of one pass per step (for measuring the difference). */
  passPerDispatch?: boolean;
  /** Decode: split an H-BitLinear prologue whose Hadamard plan has a cross-block step (e.g. 6912 = 108·64) into
   *  norm + in-block FWHT, the cross-block mix over m workgroups, and the quantization (fused into the linear where
   *  it fits), instead of one workgroup doing all of it. "auto" (default) and true: every Kronecker plan (measured
   *  faster at W_o's 2560 = 20·128 too, bitlinear-steps.ts splitHadamard); false: one workgroup. */
  hadamardSplit?: "auto" | boolean;
  /** Decode attention: positions per split-softmax chunk (default 64). Smaller chunks give more workgroups at short
   *  contexts (5 KV heads × 8 chunks = 40 workgroups at 512 positions) and more partials to combine. */
  attnChunk?: number;
  /** Decode attention: at most this many chunks per KV head (default: no limit); past attnChunk · attnMaxChunks
   *  positions each chunk grows by multiples of attnChunk. Fewer chunks mean fewer partials for every W_o workgroup
   *  to combine, fewer workgroups for attention. */
  attnMaxChunks?: number;
  /** Compute passes per decode step (default 1): the layer steps are split into this many passes, a measured knob. */
  passesPerToken?: number;
  /** Compile the inspection variants so append(…, {inspect}) can copy intermediates back. */
  inspect?: boolean;
  /** Called once if the device is lost (the session then throws DeviceLostError until rebuilt). */
  onDeviceLost?: (info: GPUDeviceLostInfo) => void;
  /** Internal: weights generated on the GPU from this seed instead of uploaded (benchmark-scale models). */
  synthetic?: {seed: number};
}

/** What inspection copies back per layer (for the M tokens of the append), all row-major per token. */
export interface InspectionLayer {
  layer: number;
  /** [M, C] the residual stream entering the layer. */
  residualIn: Float32Array;
  /** [M, C] RMSNorm(residual) — the q/k/v input before quantization. */
  qkvInput: Float32Array;
  /** [M, (H + 2·KV)·d] q, k, v after RoPE (k, v as written to the cache, before KV quantization). */
  qkv: Float32Array;
  /** [M, H·d] attention output (softmax-weighted values), before the sub-norm. */
  attnOut: Float32Array;
  /** [M, H·d] the W_o input that gets quantized (after sub-norm and, for v2, the Hadamard transform; before top-K). */
  oInput: Float32Array;
  /** [M, C] the FFN input (RMSNorm of the residual after attention). */
  gateUpInput: Float32Array;
  /** [M, F] the GLU output act(gate) ⊙ up. */
  glu: Float32Array;
  /** [M, F] the W_down input that gets quantized (after sub-norm / Hadamard). */
  downInput: Float32Array;
  /** Integer codes and per-token dequantization factors 1/s of each quantized input (absent for fp). */
  codes?: Record<Site, {q: Int8Array; invScale: Float32Array}>;
  /** With an RMSNorm inside each BitLinear: k's, v's and up's own normalized inputs and codes (q's and gate's are
   *  qkvInput / gateUpInput and the site's codes). */
  projInputs?: Partial<Record<"k" | "v" | "up", {input: Float32Array; codes?: {q: Int8Array; invScale: Float32Array}}>>;
  /** [M, C] the residual stream leaving the layer. */
  residualOut: Float32Array;
}

export interface EngineInspection {
  start: number;
  tokens: number[];
  layers: InspectionLayer[];
}

/** What a step of a prepared pass is, so callers select steps by kind and site instead of parsing labels. */
export type StepKind =
  | "embed"
  | "norm-quant" // RMSNorm / attention combine → [Hadamard] → [top-K] → quantize, into xin
  | "linear" // a ternary / dense GEMV or GEMM reading xin
  | "norm-quant+linear" // the two fused (decode)
  | "hadamard-mix" // the cross-block step of a split H-BitLinear prologue (decode)
  | "rope-kv"
  | "qk-norm" // RMSNorm on each q/k head before RoPE (architecture.norms.qk)
  | "glu" // act(gate) ⊙ up from stored rows (architecture.norms.perProjection)
  | "norm-add" // h += RMSNorm(stored W_o / W_down output) (architecture.norms.sandwich)
  | "attention"
  | "rope+attention"
  | "final-norm"
  | "lm-head"
  | "argmax"
  | "sample";

export interface StepTag {
  kind: StepKind;
  layer?: number;
  /** The BitLinear input site a norm-quant / linear step serves. */
  site?: Site;
  /** The step applies the Hadamard transform (v2's H-BitLinear prologue). */
  hadamard?: boolean;
  /** A prefill linear runs as the tiled GEMM (tuning.prefill.gemm) with these BN × BM tiles, e.g. "64×64". */
  gemm?: string;
}

/** EngineInspection: after a step, copy these intermediates of a layer out. */
export type InspectPoint =
  | "qkv_in"
  | "qkv"
  | "o_in"
  | "gate_up_in"
  | "glu"
  | "down_in"
  | "residual"
  // per-projection norms (architecture.norms.perProjection): k, v and up quantize their own normalized copies
  | "k_in"
  | "v_in"
  | "up_in";

export interface Step extends Dispatch {
  gridFn: (M: number, nC: number) => [number, number, number];
  tag: StepTag;
  after?: {layer: number; what: InspectPoint};
}

export interface EngineAppendOptions {
  allLogits?: boolean;
  /** Copy intermediates of these layers (default all) back into `lastInspection` (needs opts.inspect). With `keep`
   *  (tokens in one block): every layer is copied on the GPU and kept there, only `layers` are read back now, and
   *  WebGPUSession.readInspection reads any other layer of that pass later without recomputing it. */
  inspect?: {layers?: number[]; keep?: boolean};
}

/** Which dispatches of a decode step to list (for timing). */
export interface DecodeParts {
  layers?: boolean;
  head?: boolean;
  argmax?: boolean;
  /** only BitLinear linears (fused or not) */
  linearOnly?: boolean;
  /** only the steps that apply the Hadamard transform */
  hadamardOnly?: boolean;
  /** keep the steps this predicate accepts (by tag; the label is given for old callers) */
  filter?: (label: string, tag: StepTag) => boolean;
}
