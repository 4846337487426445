// The WebGPU engine: a BitNet forward pass (every variant of src/lib/config.ts) on the GPU, implementing the
// DecodeSession contract of src/lib/backend.ts like the CPU reference (src/lib/model.ts), which is its oracle.
//
// Per layer and block of M tokens, one compute pass runs (see linear.ts, normquant.ts, attention.ts):
//   nq(input_layernorm → quant) · QKV (one fused ternary GEMV/GEMM) · RoPE + KV-cache write · split attention
//   · nq(combine → attn_sub_norm → [Hadamard] → [top-K] → quant) · O (+ residual) · nq(post_attention_layernorm
//   → quant) · gate|up (rows interleaved, GLU fused into the epilogue) · nq(ffn_sub_norm → [Hadamard] → quant)
//   · down (+ residual)
// then the final norm, the LM head (f32 or f16 rows of the tied embedding, split over buffers when a binding
// limit requires) and, on the sampling path, argmax / sampling on the GPU. A decode step is one command buffer
// with one compute pass; all bind groups are made at load, so a step only writes two tiny uniforms.
// The token a step consumes is read from a GPU buffer, so greedy decoding can run several steps ahead of the CPU.
import type {DecodeSession, SamplingOptions} from "./lib/backend.js";
import {ternarize} from "./lib/checkpoint.js";
import {headDim, tensorNames} from "./lib/config.js";
import type {BitNetConfig} from "./lib/config.js";
import {topKCount} from "./lib/quant.js";
import type {ModelWeights} from "./lib/tensor.js";
import {attentionWGSL, attentionWideOK, kvLayout, ropeKVWGSL, type KVFormat} from "./attention.js";
import {acquireGpu, DeviceLostError, wrapDevice, type GpuContext} from "./device.js";
import {embedWGSL, fillWGSL} from "./embed.js";
import {bindGroup, grid2, pipelineChecked, readBuffer, storageBuffer, uniformBuffer, type Dispatch} from "./gpu.js";
import {fusedPrologueBindings, fusedWorkgroupBytes, gammaPairs, linearGrid, linearWGSL, packF16, packF32, packTernary, rowVec4s, type Epilogue, type LinearConfig, type LinearKind} from "./linear.js";
import {hadamardSignBits, normQuantBindings, normQuantWGSL, type NormQuantConfig, type QuantKind} from "./normquant.js";
import {ARGMAX_PER, argmaxFinalWGSL, argmaxPartialWGSL, sampleWGSL} from "./sample.js";
import {linearConfig, subgroupSize, type LinearTuning} from "./tune.js";

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
  /** Decode: fuse each BitLinear's norm/quant prologue into its linear kernel where it fits (default true). */
  fuse?: boolean;
  /** Encode every dispatch in its own compute pass instead of one pass per step (for measuring the difference). */
  passPerDispatch?: boolean;
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
  attnInput: Float32Array;
  /** [M, (H + 2·KV)·d] q, k, v after RoPE (k, v as written to the cache, before KV quantization). */
  qkv: Float32Array;
  /** [M, H·d] attention output (softmax-weighted values), before the sub-norm. */
  attnOut: Float32Array;
  /** [M, H·d] the W_o input that gets quantized (after sub-norm and, for v2, the Hadamard transform; before top-K). */
  oInput: Float32Array;
  /** [M, C] the FFN input (RMSNorm of the residual after attention). */
  ffnInput: Float32Array;
  /** [M, F] the GLU output act(gate) ⊙ up. */
  glu: Float32Array;
  /** [M, F] the W_down input that gets quantized (after sub-norm / Hadamard). */
  downInput: Float32Array;
  /** Integer codes and per-token dequantization factors 1/s of each quantized input (absent for fp). */
  codes?: Record<"attn" | "o" | "ffn" | "down", {q: Int8Array; invScale: Float32Array}>;
  /** [M, C] the residual stream leaving the layer. */
  residualOut: Float32Array;
}

/** A layer's quantized KV cache as stored on the GPU, for `count` positions from `start` (inspectKV). */
export interface InspectedKV {
  /** Bits per position (the BOS position may differ; 16 = stored as floats, no codes). */
  bits: number[];
  /** Unsigned codes [count, KV heads, d] of K and V (0 where a position is stored as floats). */
  k: Uint8Array;
  v: Uint8Array;
  /** Per vector [count, KV heads]: zero point (min) and step, as dequantization min + code · step. */
  kMin: Float32Array;
  kStep: Float32Array;
  vMin: Float32Array;
  vStep: Float32Array;
}

export interface Inspection {
  start: number;
  tokens: number[];
  layers: InspectionLayer[];
}

export interface AppendOptions {
  allLogits?: boolean;
  /** Copy intermediates of these layers (default all) back into `lastInspection` (needs opts.inspect). */
  inspect?: {layers?: number[]};
}

interface Plan {
  c: BitNetConfig;
  C: number;
  H: number;
  KV: number;
  d: number;
  F: number;
  V: number;
  L: number;
  qkvN: number;
  kind: LinearKind;
  attnIn: QuantKind;
  oIn: QuantKind;
  ffnIn: QuantKind;
  downIn: QuantKind;
  oTopK?: number;
  hadamard: boolean;
  glu: Epilogue;
}

function makePlan(c: BitNetConfig, dense: "f32" | "f16"): Plan {
  const d = headDim(c);
  const v = c.bitnet_variant;
  const low: QuantKind = c.bitnet_activation_bits === 4 ? "int4" : "int8";
  const q = (x: QuantKind): QuantKind => (v === "fp" ? "none" : x);
  const attnIn = q(v === "b1.58" ? "int8" : low);
  let oTopK: number | undefined;
  if (v === "a4.8") {
    const K = topKCount(c.num_attention_heads * d, c.bitnet_topk_ratio);
    if (K < c.num_attention_heads * d) oTopK = K;
  }
  if (!Number.isInteger(d) || d % 2) throw new Error(`webgpu: head_dim must be an even integer, got ${d}`);
  if (c.num_attention_heads % c.num_key_value_heads) throw new Error("webgpu: num_attention_heads must be a multiple of num_key_value_heads");
  return {
    c,
    C: c.hidden_size,
    H: c.num_attention_heads,
    KV: c.num_key_value_heads,
    d,
    F: c.intermediate_size,
    V: c.vocab_size,
    L: c.num_hidden_layers,
    qkvN: (c.num_attention_heads + 2 * c.num_key_value_heads) * d,
    kind: v === "fp" ? dense : "ternary",
    attnIn,
    oIn: q(v === "a4.8" || v === "b1.58" ? "int8" : low),
    ffnIn: attnIn,
    downIn: q(v === "v2" ? low : "int8"),
    oTopK,
    hadamard: v === "v2" && c.bitnet_hadamard,
    glu: c.hidden_act === "relu2" ? "glu-relu2" : "glu-silu",
  };
}

/** Activation words per token for a K-long input to a linear of this kind. */
function actWords(kind: LinearKind, K: number): number {
  return kind === "ternary" ? 16 * Math.ceil(K / 64) : 8 * Math.ceil(K / 8);
}

interface LinearBufs {
  W: GPUBuffer;
  scale?: GPUBuffer;
  N: number;
  K: number;
}

interface LayerBufs {
  qkv: LinearBufs;
  o: LinearBufs;
  gu: LinearBufs;
  down: LinearBufs;
  inNorm: GPUBuffer;
  postNorm: GPUBuffer;
  attnSub?: GPUBuffer;
  ffnSub?: GPUBuffer;
  K: GPUBuffer;
  V: GPUBuffer;
  Km: GPUBuffer;
  Vm: GPUBuffer;
}

interface Step extends Dispatch {
  gridFn: (M: number, nC: number) => [number, number, number];
  /** Inspection: after this step, copy these (buffer, bytes per token, name) rows out. */
  after?: {layer: number; what: string};
}

const NC_PREFILL = 8;
const CHUNK = 64;

export class WebGPUSession implements DecodeSession {
  readonly backend = "webgpu" as const;
  readonly config: BitNetConfig;
  /** The last append's inspection (when requested). */
  lastInspection: Inspection | undefined;
  private ctx!: GpuContext;
  private ownsDevice = false;
  private plan: Plan;
  private pos = 0;
  private draws = 0;
  private disposed = false;
  private buffers: GPUBuffer[] = [];
  private layers: LayerBufs[] = [];
  private maxLen: number;
  private maxBlock: number;
  private S = 0; // subgroup size used by reductions (0: workgroup memory)
  // shared activations
  private h!: GPUBuffer;
  private xin!: GPUBuffer;
  private xmeta!: GPUBuffer;
  private qkvBuf!: GPUBuffer;
  private part!: GPUBuffer;
  private inner!: GPUBuffer;
  private logits!: GPUBuffer;
  private logitsAll?: GPUBuffer;
  private tok!: GPUBuffer;
  private argPartial!: GPUBuffer;
  private st!: GPUBuffer;
  private embedP!: GPUBuffer;
  private argP!: GPUBuffer;
  private sampleP!: GPUBuffer;
  private emb: GPUBuffer[] = [];
  private head: GPUBuffer[] = [];
  private headRowsPerChunk = 0;
  private embRowsPerChunk = 0;
  private embRowWords = 0;
  private dbg?: GPUBuffer;
  // prepared passes
  private decodeSteps: Step[] = [];
  private prefillSteps: Step[] = [];
  private embedStep!: Step;
  private headDecode: Step[] = [];
  private headPrefillP: GPUBuffer[] = [];
  private headPrefill: Step[] = [];
  private headAllP: GPUBuffer[] = [];
  private headAll: Step[] = [];
  private argSteps!: {partial: Dispatch; final: Dispatch; partialAll?: Dispatch};
  private sampleStep!: Dispatch;
  private cfgDecode!: LinearConfig;

  private constructor(
    private readonly weights: ModelWeights | undefined,
    config: BitNetConfig,
    private readonly opts: WebGPUSessionOptions,
  ) {
    this.config = config;
    this.plan = makePlan(config, opts.dense ?? "f32");
    const max = config.max_position_embeddings;
    this.maxLen = Math.min(max, opts.maxLength ?? max);
    if (!(this.maxLen >= 1)) throw new Error(`createWebGPUSession: maxLength must be ≥ 1, got ${opts.maxLength}`);
    this.maxBlock = Math.max(1, Math.min(opts.maxBlock ?? 128, this.maxLen));
  }

  static async create(weights: ModelWeights | undefined, config: BitNetConfig, opts: WebGPUSessionOptions): Promise<WebGPUSession> {
    const s = new WebGPUSession(weights, config, opts);
    await s.build();
    return s;
  }

  get length(): number {
    return this.pos;
  }

  get maxPositions(): number {
    return this.maxLen;
  }

  /** The device context (features, limits, description). */
  get gpu(): GpuContext {
    return this.ctx;
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  // ------------------------------------------------------------------ building

  private async build(): Promise<void> {
    if (this.opts.gpu) this.ctx = this.opts.gpu;
    else if (this.opts.device) this.ctx = wrapDevice(this.opts.device);
    else {
      this.ctx = await acquireGpu({onLost: this.opts.onDeviceLost});
      this.ownsDevice = true;
    }
    if (this.opts.gpu || this.opts.device) {
      void this.ctx.device.lost.then((info) => {
        if (!this.disposed && info.reason !== "destroyed") this.opts.onDeviceLost?.(info);
      });
    }
    const device = this.ctx.device;
    this.S = this.opts.tuning?.noSubgroups ? 0 : await subgroupSize(device);
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    let failure: unknown;
    try {
      await this.upload();
      await this.prepare();
    } catch (e) {
      failure = e;
    }
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (failure || oom || validation) {
      this.freeBuffers();
      if (oom) throw new Error(`webgpu: the model does not fit in GPU memory (${oom.message}); try lmHead "f16", a shorter maxLength or a smaller model`);
      if (failure) throw failure;
      throw new Error(`webgpu: building the session failed: ${validation!.message}`);
    }
  }

  private buf(sizeOrData: number | ArrayBufferView, label: string): GPUBuffer {
    const maxSize = this.ctx.device.limits.maxBufferSize;
    const bytes = typeof sizeOrData === "number" ? sizeOrData : sizeOrData.byteLength;
    if (bytes > maxSize) throw new Error(`webgpu: ${label} needs ${bytes} bytes, more than this device's maxBufferSize ${maxSize}`);
    const b = storageBuffer(this.ctx.device, sizeOrData, label);
    this.buffers.push(b);
    return b;
  }

  private uni(data: ArrayBuffer | ArrayBufferView, label: string): GPUBuffer {
    const b = uniformBuffer(this.ctx.device, data, label);
    this.buffers.push(b);
    return b;
  }

  private checkBinding(bytes: number, label: string): void {
    const max = this.ctx.device.limits.maxStorageBufferBindingSize;
    if (bytes > max) throw new Error(`webgpu: ${label} needs a ${bytes}-byte binding, more than this device's maxStorageBufferBindingSize ${max}`);
  }

  /** GPU-side fill (synthetic weights). */
  private async fill(buf: GPUBuffer, words: number, mode: number, seed: number, std: number): Promise<void> {
    const device = this.ctx.device;
    const p = await pipelineChecked(device, fillWGSL, "fill");
    const maxWG = device.limits.maxComputeWorkgroupsPerDimension;
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(p);
    // split into dispatches of at most 2^24 words so the index stays far from u32 overflow and grids stay small
    for (let off = 0; off < words; off += 1 << 24) {
      const n = Math.min(1 << 24, words - off);
      const P = uniformBuffer(device, new Uint32Array([n, seed >>> 0, mode, new Uint32Array(new Float32Array([std]).buffer)[0], off, 0, 0, 0]));
      const view = {buffer: buf, offset: off * 4, size: n * 4};
      pass.setBindGroup(0, bindGroup(device, p, [P, view]));
      const [gx, gy] = grid2(Math.ceil(n / 256), maxWG);
      pass.dispatchWorkgroups(gx, gy);
    }
    pass.end();
    device.queue.submit([enc.finish()]);
  }

  private async upload(): Promise<void> {
    const P = this.plan;
    const c = P.c;
    const synth = this.opts.synthetic;
    let w: ModelWeights | undefined = this.weights;
    if (w && c.bitnet_variant !== "fp") w = ternarize(w);
    const f = (name: string) => {
      const t = w!.float.get(name);
      if (!t) throw new Error(`webgpu: missing tensor ${name}`);
      return t.data;
    };
    let seed = synth?.seed ?? 0;
    const ones = (n: number) => new Float32Array(n).fill(1);
    const normBuf = (name: string, n: number) => this.buf(synth ? ones(n) : f(name), name);

    const linear = async (parts: {name: string; rows: number}[], K: number, interleave: boolean, label: string): Promise<LinearBufs> => {
      const N = parts.reduce((a, p) => a + p.rows, 0);
      const kind = P.kind;
      const rowBytes = rowVec4s(kind, K) * 16;
      this.checkBinding(N * rowBytes, label);
      // which (part, row) is GPU row r
      const src = (r: number): [number, number] => {
        if (interleave) return [r % 2, r >> 1];
        let p = 0;
        while (r >= parts[p].rows) r -= parts[p++].rows;
        return [p, r];
      };
      if (synth) {
        const W = this.buf(N * rowBytes, label);
        if (kind === "ternary") await this.fill(W, (N * rowBytes) / 4, 0, ++seed * 7919, 0);
        else await this.fill(W, (N * rowBytes) / 4, kind === "f32" ? 1 : 2, ++seed * 7919, 1 / Math.sqrt(K));
        const scale = kind === "ternary" ? this.buf(gammaPairs(new Float64Array(N).fill(1.2 / Math.sqrt(K))), label + ".scale") : undefined;
        return {W, scale, N, K};
      }
      if (kind === "ternary") {
        const tens = parts.map((p) => {
          const t = w!.ternary.get(p.name);
          if (!t) throw new Error(`webgpu: ${p.name} is not ternary`);
          return t;
        });
        const data = packTernary(N, K, (r) => {
          const [p, i] = src(r);
          return tens[p].codes.subarray(i * K, (i + 1) * K);
        });
        const scales = new Float64Array(N);
        for (let r = 0; r < N; r++) scales[r] = tens[src(r)[0]].gamma;
        return {W: this.buf(data, label), scale: this.buf(gammaPairs(scales), label + ".scale"), N, K};
      }
      const tens = parts.map((p) => f(p.name));
      const row = (r: number) => {
        const [p, i] = src(r);
        return tens[p].subarray(i * K, (i + 1) * K);
      };
      return {W: this.buf(kind === "f32" ? packF32(N, K, row) : packF16(N, K, row), label), N, K};
    };

    const kvF: KVFormat = this.kvFormat();
    const lay = kvLayout(kvF, P.d, P.KV);
    const kvWordsTotal = lay.total(this.maxLen);
    this.checkBinding(kvWordsTotal * 4, "KV cache");
    for (let l = 0; l < P.L; l++) {
      const n = tensorNames.layer(l);
      const hd = P.H * P.d;
      const kvd = P.KV * P.d;
      this.layers.push({
        qkv: await linear([{name: n.q, rows: hd}, {name: n.k, rows: kvd}, {name: n.v, rows: kvd}], P.C, false, `L${l}.qkv`),
        o: await linear([{name: n.o, rows: P.C}], hd, false, `L${l}.o`),
        gu: await linear([{name: n.gate, rows: P.F}, {name: n.up, rows: P.F}], P.C, true, `L${l}.gate_up`),
        down: await linear([{name: n.down, rows: P.C}], P.F, false, `L${l}.down`),
        inNorm: normBuf(n.inputNorm, P.C),
        postNorm: normBuf(n.postAttnNorm, P.C),
        attnSub: c.bitnet_sub_norms ? normBuf(n.attnSubNorm, hd) : undefined,
        ffnSub: c.bitnet_sub_norms ? normBuf(n.ffnSubNorm, P.F) : undefined,
        K: this.buf(kvWordsTotal * 4, `L${l}.K`),
        V: this.buf(kvWordsTotal * 4, `L${l}.V`),
        Km: this.buf(this.maxLen * P.KV * 8, `L${l}.Kmeta`),
        Vm: this.buf(this.maxLen * P.KV * 8, `L${l}.Vmeta`),
      });
    }
    this.finalNorm = normBuf(tensorNames.finalNorm, P.C);

    // embedding and LM head rows (f32 or f16), split by rows to respect the binding limit
    const f16 = (this.opts.lmHead ?? "f32") === "f16";
    const rowWords = f16 ? Math.ceil(P.C / 8) * 4 : Math.ceil(P.C / 4) * 4;
    const maxBind = Math.min(this.ctx.device.limits.maxStorageBufferBindingSize, this.ctx.device.limits.maxBufferSize);
    const rowsPerChunk = Math.min(P.V, Math.floor(maxBind / (rowWords * 4)));
    if (rowsPerChunk < 1) throw new Error("webgpu: one embedding row exceeds the binding limit");
    const chunks = Math.ceil(P.V / rowsPerChunk);
    const maxChunks = this.ctx.device.limits.maxStorageBuffersPerShaderStage - 2;
    if (chunks > maxChunks) throw new Error(`webgpu: the ${P.V}×${P.C} embedding needs ${chunks} buffers of ≤ ${maxBind} bytes; this device binds at most ${maxChunks}`);
    const rowsOf = (i: number) => Math.min(rowsPerChunk, P.V - i * rowsPerChunk);
    const makeRows = async (name: string, label: string): Promise<GPUBuffer[]> => {
      const out: GPUBuffer[] = [];
      const data = synth ? undefined : f(name);
      for (let i = 0; i < chunks; i++) {
        const rows = rowsOf(i);
        if (synth) {
          const b = this.buf(rows * rowWords * 4, `${label}${i}`);
          await this.fill(b, rows * rowWords, f16 ? 2 : 1, ++seed * 104729, 0.5);
          out.push(b);
        } else {
          const row = (r: number) => data!.subarray((i * rowsPerChunk + r) * P.C, (i * rowsPerChunk + r + 1) * P.C);
          out.push(this.buf(f16 ? packF16(rows, P.C, row) : packF32(rows, P.C, row), `${label}${i}`));
        }
      }
      return out;
    };
    this.emb = await makeRows(tensorNames.embed, "embed");
    this.head = c.tie_word_embeddings ? this.emb : await makeRows(tensorNames.lmHead, "lm_head");
    this.embRowsPerChunk = rowsPerChunk;
    this.headRowsPerChunk = rowsPerChunk;
    this.embRowWords = rowWords;

    // activations
    const Mx = this.maxBlock;
    const hd = P.H * P.d;
    const xw = Math.max(actWords(P.kind, P.C), actWords(P.kind, hd), actWords(P.kind, P.F), 8 * Math.ceil(P.C / 8));
    this.h = this.buf(Mx * P.C * 4, "h");
    this.xin = this.buf(Mx * xw * 4, "xin");
    this.xmeta = this.buf(Mx * 8, "xmeta");
    this.qkvBuf = this.buf(Mx * P.qkvN * 4, "qkv");
    const partFloats = Math.max(Math.ceil(this.maxLen / CHUNK) * P.H, Mx * P.H * NC_PREFILL) * (P.d + 2);
    this.checkBinding(partFloats * 4, "attention partials");
    this.part = this.buf(partFloats * 4, "attn-partials");
    this.inner = this.buf(Mx * P.F * 4, "glu");
    this.logits = this.buf(P.V * 4, "logits");
    this.tok = this.buf((Mx + 1024) * 4, "tokens");
    this.argPartial = this.buf(Math.ceil(P.V / (256 * ARGMAX_PER)) * Mx * 8 + 16, "argmax-partials");
    this.st = this.uni(new Uint32Array(8), "step");
    this.embedP = this.uni(new Uint32Array(4), "embed.P");
    this.argP = this.uni(new Uint32Array(4), "argmax.P");
    this.sampleP = this.uni(new Uint32Array(8), "sample.P");
    // cos/sin tables in float64 → f32, exactly the angles of the reference (pos · θ^(−2i/d))
    const half = P.d / 2;
    const cos = new Float32Array(this.maxLen * half);
    const sin = new Float32Array(this.maxLen * half);
    for (let i = 0; i < half; i++) {
      const inv = 1 / Math.pow(c.rope_theta, (2 * i) / P.d);
      for (let p = 0; p < this.maxLen; p++) {
        cos[p * half + i] = Math.cos(p * inv);
        sin[p * half + i] = Math.sin(p * inv);
      }
    }
    this.cos = this.buf(cos, "rope.cos");
    this.sin = this.buf(sin, "rope.sin");
    if (P.hadamard) {
      this.hadO = this.buf(hadamardSignBits(hd), "hadamard.o");
      this.hadDown = this.buf(hadamardSignBits(P.F), "hadamard.down");
    }
    if (this.opts.inspect) {
      const maxN = Math.max(P.C, hd, P.F);
      this.dbg = this.buf(Mx * 2 * maxN * 4, "inspect");
    }
  }

  private finalNorm!: GPUBuffer;
  private cos!: GPUBuffer;
  private sin!: GPUBuffer;
  private hadO?: GPUBuffer;
  private hadDown?: GPUBuffer;

  private kvFormat(): KVFormat {
    const c = this.config;
    const bits = c.bitnet_kv_bits >= 16 ? 16 : c.bitnet_kv_bits;
    const bos = bits >= 16 ? 16 : c.bitnet_kv_bos_bits > 0 ? c.bitnet_kv_bos_bits : bits;
    return {bits, bosBits: bos >= 16 ? 16 : bos, store16: this.opts.kv16 ?? "f32"};
  }

  private async prepare(): Promise<void> {
    const device = this.ctx.device;
    const P = this.plan;
    const hd = P.H * P.d;
    const Mx = this.maxBlock;
    const S = this.S;
    const WG = Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup);
    const tuning = this.opts.tuning ?? {};
    const kind = P.kind;
    const inspect = !!this.opts.inspect;

    const nq = async (cfg: Omit<NormQuantConfig, "sub" | "WG" | "inspect">, src: GPUBuffer, srcStride: number, normW: GPUBuffer | undefined, had: GPUBuffer | undefined, label: string, inspectOn: boolean) => {
      const full: NormQuantConfig = {...cfg, sub: S, WG, inspect: inspectOn};
      const pl = await pipelineChecked(device, normQuantWGSL(full), label);
      const dstWords = cfg.quant === "none" ? 8 * Math.ceil(cfg.n / 8) : actWords(kind, cfg.n);
      const eps = new Float32Array([P.c.rms_norm_eps, P.c.rms_norm_eps - Math.fround(P.c.rms_norm_eps)]);
      const eu = new Uint32Array(eps.buffer);
      const Pu = this.uni(new Uint32Array([srcStride, dstWords, eu[0], eu[1]]), label + ".P");
      const map: Record<string, GPUBuffer> = {P: Pu, src, normW: normW ?? this.finalNorm, out: this.xin, xmeta: this.xmeta, st: this.st};
      if (had) map.had = had;
      if (this.dbg) map.dbg = this.dbg;
      const binds = normQuantBindings(full).map((n) => map[n]);
      return {pipeline: pl, bind: bindGroup(device, pl, binds, label), grid: [1] as [number], gridFn: (M: number) => [M, 1, 1] as [number, number, number], label};
    };

    const lin = async (lb: LinearBufs, ep: Epilogue, xK: number, out: GPUBuffer, yStride: number, M: number, label: string): Promise<Step> => {
      const cfg = linearConfig(S, kind, ep, M, tuning, WG, lb.K);
      const pl = await pipelineChecked(device, linearWGSL(cfg), label);
      const xStrideVec4 = actWords(kind, xK) / 4;
      const Pu = this.uni(new Uint32Array([lb.N, rowVec4s(kind, lb.K), M, xStrideVec4, yStride, 0, 0, 0]), label + ".P");
      const binds = kind === "ternary" ? [Pu, lb.W, this.xin, this.xmeta, lb.scale!, out] : [Pu, lb.W, this.xin, out];
      if (M === 1) this.cfgDecode = cfg;
      return {
        pipeline: pl,
        bind: bindGroup(device, pl, binds, label),
        grid: [1],
        gridFn: (m: number) => {
          const [x, y] = linearGrid(cfg, lb.N, m);
          return [x, y, 1];
        },
        label,
      };
    };

    // decode: the norm/quant prologue fused into the linear kernel that consumes it (each workgroup recomputes the
    // quantized row in workgroup memory), one dispatch instead of two; used where workgroup memory allows
    const fuse = kind === "ternary" && this.opts.fuse !== false;
    const fusedLin = async (lb: LinearBufs, ep: Epilogue, nqc: Omit<NormQuantConfig, "sub" | "WG" | "inspect">, src: GPUBuffer, srcStride: number, normW: GPUBuffer | undefined, had: GPUBuffer | undefined, out: GPUBuffer, yStride: number, label: string): Promise<Step | undefined> => {
      if (!fuse || nqc.quant === "none") return undefined;
      const cfg = linearConfig(S, kind, ep, 1, tuning, WG, lb.K);
      const pro: NormQuantConfig = {...nqc, sub: S, WG: cfg.WG, inspect: false};
      if ((cfg.WG & (cfg.WG - 1)) !== 0 || fusedWorkgroupBytes(cfg, pro) > device.limits.maxComputeWorkgroupStorageSize) return undefined;
      const pl = await pipelineChecked(device, linearWGSL(cfg, {prologue: pro}), label);
      const Pu = this.uni(new Uint32Array([lb.N, rowVec4s(kind, lb.K), 1, 0, yStride, 0, 0, 0]), label + ".P");
      const eps = new Float32Array([P.c.rms_norm_eps, P.c.rms_norm_eps - Math.fround(P.c.rms_norm_eps)]);
      const eu = new Uint32Array(eps.buffer);
      const NPu = this.uni(new Uint32Array([srcStride, 0, eu[0], eu[1]]), label + ".NP");
      const binds = [Pu, lb.W, lb.scale!, out, NPu, src, normW ?? this.finalNorm];
      if (fusedPrologueBindings(pro).had !== undefined) binds.push(had!);
      return {
        pipeline: pl,
        bind: bindGroup(device, pl, binds, label),
        grid: [1],
        gridFn: () => {
          const [x, y] = linearGrid(cfg, lb.N, 1);
          return [x, y, 1];
        },
        label,
      };
    };

    const kvF = this.kvFormat();
    const ropePl = await pipelineChecked(device, ropeKVWGSL({H: P.H, KV: P.KV, d: P.d, kv: kvF, WG: 128}), "rope_kv");
    const attnPl = await pipelineChecked(device, attentionWGSL({H: P.H, KV: P.KV, d: P.d, kv: kvF}), "attention");
    // decode with a 16-bit cache: RoPE and the K/V write happen inside the attention kernel (one dispatch less)
    const ropeFused = this.opts.fuse !== false && attentionWideOK({H: P.H, KV: P.KV, d: P.d, kv: kvF});
    const attnRopePl = ropeFused ? await pipelineChecked(device, attentionWGSL({H: P.H, KV: P.KV, d: P.d, kv: kvF, fusedRope: true}), "attention+rope") : undefined;
    const ropeU = this.uni(new Uint32Array([P.qkvN, 0, 0, 0]), "rope.P");
    const attnU = this.uni(new Uint32Array([P.qkvN, new Uint32Array(new Float32Array([1 / Math.sqrt(P.d)]).buffer)[0], 0, 0]), "attn.P");

    const sub = P.c.bitnet_sub_norms;
    for (const mode of ["decode", "prefill"] as const) {
      const M = mode === "decode" ? 1 : Mx;
      const steps: Step[] = [];
      for (let l = 0; l < P.L; l++) {
        const Lb = this.layers[l];
        const insp = inspect && mode === "prefill"; // inspection runs through the prefill plan (any M)
        const aCfg = {n: P.C, src: "plain" as const, norm: true, hadamard: false, topK: undefined, quant: P.attnIn};
        const fa = mode === "decode" ? await fusedLin(Lb.qkv, "store", aCfg, this.h, P.C, Lb.inNorm, undefined, this.qkvBuf, P.qkvN, `L${l}.nq+qkv`) : undefined;
        if (fa) steps.push(fa);
        else {
          const a = await nq(aCfg, this.h, P.C, Lb.inNorm, undefined, `L${l}.nq_attn`, insp);
          steps.push({...a, after: insp ? {layer: l, what: "attn_in"} : undefined});
          steps.push(await lin(Lb.qkv, "store", P.C, this.qkvBuf, P.qkvN, M, `L${l}.qkv`));
        }
        if (mode === "decode" && attnRopePl) {
          steps.push({
            pipeline: attnRopePl,
            bind: bindGroup(device, attnRopePl, [attnU, this.qkvBuf, Lb.K, Lb.V, Lb.Km, Lb.Vm, this.part, this.st, this.cos, this.sin], `L${l}.rope+attention`),
            grid: [1],
            gridFn: (m, nC) => [nC, P.KV, m],
            label: `L${l}.rope+attention`,
          });
        } else {
          steps.push({
            pipeline: ropePl,
            bind: bindGroup(device, ropePl, [ropeU, this.qkvBuf, this.cos, this.sin, Lb.K, Lb.V, Lb.Km, Lb.Vm, this.st], `L${l}.rope_kv`),
            grid: [1],
            gridFn: (m) => [m, 1, 1],
            label: `L${l}.rope_kv`,
            after: insp ? {layer: l, what: "qkv"} : undefined,
          });
          steps.push({
            pipeline: attnPl,
            bind: bindGroup(device, attnPl, [attnU, this.qkvBuf, Lb.K, Lb.V, Lb.Km, Lb.Vm, this.part, this.st], `L${l}.attention`),
            grid: [1],
            gridFn: (m, nC) => [nC, P.KV, m],
            label: `L${l}.attention`,
          });
        }
        const o = await nq({n: hd, src: "attn", H: P.H, d: P.d, norm: sub, hadamard: P.hadamard, topK: P.oTopK, quant: P.oIn}, this.part, 0, Lb.attnSub, P.hadamard ? this.hadO : undefined, `L${l}.nq_o`, insp);
        steps.push({...o, after: insp ? {layer: l, what: "o_in"} : undefined});
        steps.push(await lin(Lb.o, "residual", hd, this.h, P.C, M, `L${l}.o`));
        const fCfg = {n: P.C, src: "plain" as const, norm: true, hadamard: false, topK: undefined, quant: P.ffnIn};
        const ff = mode === "decode" ? await fusedLin(Lb.gu, P.glu, fCfg, this.h, P.C, Lb.postNorm, undefined, this.inner, P.F, `L${l}.nq+gate_up`) : undefined;
        if (ff) steps.push(ff);
        else {
          const fq = await nq(fCfg, this.h, P.C, Lb.postNorm, undefined, `L${l}.nq_ffn`, insp);
          steps.push({...fq, after: insp ? {layer: l, what: "ffn_in"} : undefined});
          steps.push({...(await lin(Lb.gu, P.glu, P.C, this.inner, P.F, M, `L${l}.gate_up`)), after: insp ? {layer: l, what: "glu"} : undefined});
        }
        const dCfg = {n: P.F, src: "plain" as const, norm: sub, hadamard: P.hadamard, topK: undefined, quant: P.downIn};
        const fd = mode === "decode" ? await fusedLin(Lb.down, "residual", dCfg, this.inner, P.F, Lb.ffnSub, P.hadamard ? this.hadDown : undefined, this.h, P.C, `L${l}.nq+down`) : undefined;
        if (fd) steps.push(fd);
        else {
          const dq = await nq(dCfg, this.inner, P.F, Lb.ffnSub, P.hadamard ? this.hadDown : undefined, `L${l}.nq_down`, insp);
          steps.push({...dq, after: insp ? {layer: l, what: "down_in"} : undefined});
          steps.push({...(await lin(Lb.down, "residual", P.F, this.h, P.C, M, `L${l}.down`)), after: insp ? {layer: l, what: "residual"} : undefined});
        }
      }
      const fin = await nq({n: P.C, src: "plain", norm: true, hadamard: false, topK: undefined, quant: "none"}, this.h, P.C, this.finalNorm, undefined, "final_norm", false);
      steps.push(fin);
      if (mode === "decode") this.decodeSteps = steps;
      else this.prefillSteps = steps;
    }

    // embedding lookup (tokens from the GPU token buffer)
    const embPl = await pipelineChecked(device, embedWGSL((this.opts.lmHead ?? "f32") === "f16", this.emb.length), "embed");
    this.embedStep = {
      pipeline: embPl,
      bind: bindGroup(device, embPl, [this.embedP, this.tok, this.h, ...this.emb], "embed"),
      grid: [1],
      gridFn: (m) => [Math.ceil(P.C / 256), m, 1],
      label: "embed",
    };

    // LM head: dense rows over chunks; decode (1 token), prefill-last (1 token at offset), prefill-all (M tokens)
    const headKind: LinearKind = (this.opts.lmHead ?? "f32") === "f16" ? "f16" : "f32";
    const xStrideHead = (8 * Math.ceil(P.C / 8)) / 4;
    const headSteps = async (M: number, yStride: number, out: () => GPUBuffer, label: string) => {
      const cfg = linearConfig(S, headKind, "store", M, tuning, WG, P.C);
      const pl = await pipelineChecked(device, linearWGSL(cfg), label);
      const steps: Step[] = [];
      const Ps: GPUBuffer[] = [];
      for (let i = 0; i < this.head.length; i++) {
        const rows = Math.min(this.headRowsPerChunk, P.V - i * this.headRowsPerChunk);
        const Pu = this.uni(new Uint32Array([rows, rowVec4s(headKind, P.C), M, xStrideHead, yStride, i * this.headRowsPerChunk, 0, 0]), `${label}${i}.P`);
        Ps.push(Pu);
        steps.push({
          pipeline: pl,
          bind: bindGroup(device, pl, [Pu, this.head[i], this.xin, out()], `${label}${i}`),
          grid: [1],
          gridFn: (m) => {
            const [x, y] = linearGrid(cfg, rows, m);
            return [x, y, 1];
          },
          label: `${label}${i}`,
        });
      }
      return {steps, Ps};
    };
    this.headDecode = (await headSteps(1, P.V, () => this.logits, "lm_head")).steps;
    const hp = await headSteps(1, P.V, () => this.logits, "lm_head_last");
    this.headPrefill = hp.steps;
    this.headPrefillP = hp.Ps;
    if (Mx > 1) {
      this.checkBinding(Mx * P.V * 4, "all-position logits");
      this.logitsAll = this.buf(Mx * P.V * 4, "logits-all");
      const ha = await headSteps(Mx, P.V, () => this.logitsAll!, "lm_head_all");
      this.headAll = ha.steps;
      this.headAllP = ha.Ps;
    }

    // greedy / sampling
    const apl = await pipelineChecked(device, argmaxPartialWGSL, "argmax");
    const afl = await pipelineChecked(device, argmaxFinalWGSL, "argmax-final");
    const nPart = Math.ceil(P.V / (256 * ARGMAX_PER));
    const apU = this.uni(new Uint32Array([P.V, 0, 0, 0]), "argmax.P1");
    this.argSteps = {
      partial: {pipeline: apl, bind: bindGroup(device, apl, [apU, this.logits, this.argPartial]), grid: [nPart]},
      final: {pipeline: afl, bind: bindGroup(device, afl, [this.argP, this.argPartial, this.tok]), grid: [1]},
    };
    const spl = await pipelineChecked(device, sampleWGSL, "sample");
    this.sampleStep = {pipeline: spl, bind: bindGroup(device, spl, [this.sampleP, this.logits, this.tok]), grid: [1]};
  }

  // ------------------------------------------------------------------ running

  private guard(): void {
    if (this.disposed) throw new Error("webgpu session: used after dispose()");
    this.ctx.check();
  }

  private checkTokens(tokens: readonly number[]): void {
    if (tokens.length === 0) throw new Error("append: no tokens given");
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= this.plan.V) throw new Error(`append: token id ${t} is outside the vocabulary [0, ${this.plan.V})`);
    }
    if (this.pos + tokens.length > this.maxLen) throw new Error(`session: ${this.pos} + ${tokens.length} tokens exceed the ${this.maxLen}-position limit`);
  }

  /** Writes the step uniform and the embedding slot, for a block of M tokens at position pos. */
  private writeStep(M: number, slotIn: number): {nC: number} {
    const S = this.pos + M;
    let nC: number;
    let chunk: number;
    if (M === 1) {
      nC = Math.ceil(S / CHUNK);
      chunk = CHUNK;
    } else {
      const n64 = Math.ceil(S / CHUNK);
      nC = Math.min(n64, NC_PREFILL);
      chunk = CHUNK * Math.ceil(n64 / nC);
    }
    const q = this.ctx.device.queue;
    q.writeBuffer(this.st, 0, new Uint32Array([M, this.pos, nC, chunk, 0, 0, 0, 0]));
    q.writeBuffer(this.embedP, 0, new Uint32Array([this.plan.C, this.embRowWords, slotIn, this.embRowsPerChunk]));
    return {nC};
  }

  private encodeSteps(pass: GPUComputePassEncoder, steps: readonly Step[], M: number, nC: number): void {
    let last: GPUComputePipeline | undefined;
    for (const s of steps) {
      if (s.pipeline !== last) pass.setPipeline((last = s.pipeline));
      pass.setBindGroup(0, s.bind);
      const [x, y, z] = s.gridFn(M, nC);
      pass.dispatchWorkgroups(x, y, z);
    }
  }

  /** Encodes a block of M tokens (already in the token buffer at slotIn) through the final norm. */
  private encodeBlock(enc: GPUCommandEncoder, M: number, slotIn: number, inspect?: {layers: Set<number>; copies: {layer: number; what: string; buf: GPUBuffer; src: GPUBuffer; bytes: number}[]}): void {
    const {nC} = this.writeStep(M, slotIn);
    const steps = M === 1 && !inspect ? this.decodeSteps : this.prefillSteps;
    if (!inspect) {
      if (this.opts.passPerDispatch) {
        for (const s of [this.embedStep, ...steps]) {
          const pass = enc.beginComputePass();
          this.encodeSteps(pass, [s], M, nC);
          pass.end();
        }
        return;
      }
      const pass = enc.beginComputePass();
      this.encodeSteps(pass, [this.embedStep], M, nC);
      this.encodeSteps(pass, steps, M, nC);
      pass.end();
      return;
    }
    // inspection: split the pass wherever intermediates are copied out
    const P = this.plan;
    const hd = P.H * P.d;
    let pass = enc.beginComputePass();
    this.encodeSteps(pass, [this.embedStep], M, nC);
    const copy = (layer: number, what: string, src: GPUBuffer, bytes: number, offset = 0) => {
      const buf = this.ctx.device.createBuffer({size: Math.max(16, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
      enc.copyBufferToBuffer(src, offset, buf, 0, bytes);
      inspect.copies.push({layer, what, buf, src, bytes});
    };
    for (const s of steps) {
      if (s.after && s.after.what === "attn_in" && inspect.layers.has(s.after.layer)) {
        pass.end();
        copy(s.after.layer, "residual_in", this.h, M * P.C * 4);
        pass = enc.beginComputePass();
      }
      this.encodeSteps(pass, [s], M, nC);
      if (s.after && inspect.layers.has(s.after.layer)) {
        pass.end();
        const l = s.after.layer;
        const w = s.after.what;
        const n = w === "attn_in" || w === "ffn_in" ? P.C : w === "o_in" ? hd : w === "down_in" ? P.F : 0;
        if (n) {
          copy(l, w + ":dbg", this.dbg!, M * 2 * n * 4);
          if (P.kind === "ternary") {
            copy(l, w + ":q", this.xin, M * actWords("ternary", n) * 4);
            copy(l, w + ":meta", this.xmeta, M * 8);
          }
        } else if (w === "qkv") copy(l, "qkv", this.qkvBuf, M * P.qkvN * 4);
        else if (w === "glu") copy(l, "glu", this.inner, M * P.F * 4);
        else if (w === "residual") copy(l, "residual_out", this.h, M * P.C * 4);
        pass = enc.beginComputePass();
      }
    }
    pass.end();
  }

  private async collectInspection(M: number, tokens: readonly number[], start: number, copies: {layer: number; what: string; buf: GPUBuffer; bytes: number}[]): Promise<Inspection> {
    const P = this.plan;
    const hd = P.H * P.d;
    const byLayer = new Map<number, Map<string, ArrayBuffer>>();
    for (const cp of copies) {
      await cp.buf.mapAsync(GPUMapMode.READ);
      const data = cp.buf.getMappedRange().slice(0, cp.bytes);
      cp.buf.unmap();
      cp.buf.destroy();
      if (!byLayer.has(cp.layer)) byLayer.set(cp.layer, new Map());
      byLayer.get(cp.layer)!.set(cp.what, data);
    }
    const layers: InspectionLayer[] = [];
    for (const [layer, m] of [...byLayer.entries()].sort((a, b) => a[0] - b[0])) {
      const dbgPart = (w: string, n: number, second: boolean) => {
        const all = new Float32Array(m.get(w + ":dbg")!);
        const out = new Float32Array(M * n);
        for (let t = 0; t < M; t++) out.set(all.subarray(t * 2 * n + (second ? n : 0), t * 2 * n + (second ? 2 * n : n)), t * n);
        return out;
      };
      const codes = (w: string, n: number) => {
        const raw = new Int8Array(m.get(w + ":q")!);
        const stride = actWords("ternary", n) * 4;
        const q = new Int8Array(M * n);
        for (let t = 0; t < M; t++) q.set(raw.subarray(t * stride, t * stride + n), t * n);
        const meta = new Float32Array(m.get(w + ":meta")!);
        const invScale = new Float32Array(M);
        for (let t = 0; t < M; t++) invScale[t] = 1 / meta[2 * t];
        return {q, invScale};
      };
      layers.push({
        layer,
        residualIn: new Float32Array(m.get("residual_in")!),
        attnInput: dbgPart("attn_in", P.C, true),
        qkv: new Float32Array(m.get("qkv")!),
        attnOut: dbgPart("o_in", hd, false),
        oInput: dbgPart("o_in", hd, true),
        ffnInput: dbgPart("ffn_in", P.C, true),
        glu: new Float32Array(m.get("glu")!),
        downInput: dbgPart("down_in", P.F, true),
        codes: P.kind === "ternary" ? {attn: codes("attn_in", P.C), o: codes("o_in", hd), ffn: codes("ffn_in", P.C), down: codes("down_in", P.F)} : undefined,
        residualOut: new Float32Array(m.get("residual_out")!),
      });
    }
    return {start, tokens: [...tokens], layers};
  }

  async append(tokens: readonly number[], opts: AppendOptions = {}): Promise<Float32Array> {
    this.guard();
    this.checkTokens(tokens);
    if (opts.inspect && !this.opts.inspect) throw new Error("append: inspection needs a session created with {inspect: true}");
    const P = this.plan;
    const device = this.ctx.device;
    const all = !!opts.allLogits;
    const out = new Float32Array(all ? tokens.length * P.V : P.V);
    const start = this.pos;
    const inspLayers = opts.inspect ? new Set(opts.inspect.layers ?? [...Array(P.L).keys()]) : undefined;
    if (inspLayers) for (const l of inspLayers) if (!(Number.isInteger(l) && l >= 0 && l < P.L)) throw new Error(`append: inspect layer ${l} is not in [0, ${P.L})`);
    const inspections: Inspection[] = [];
    try {
      for (let b = 0; b < tokens.length; b += this.maxBlock) {
        const blk = tokens.slice(b, b + this.maxBlock);
        const M = blk.length;
        const last = b + M === tokens.length;
        if (!all && !last && !inspLayers) {
          // intermediate prompt block: only the KV cache matters
          device.queue.writeBuffer(this.tok, 0, new Uint32Array(blk));
          const enc = device.createCommandEncoder();
          this.encodeBlock(enc, M, 0);
          device.queue.submit([enc.finish()]);
          this.pos += M;
          continue;
        }
        device.queue.writeBuffer(this.tok, 0, new Uint32Array(blk));
        const enc = device.createCommandEncoder();
        const insp = inspLayers ? {layers: inspLayers, copies: [] as {layer: number; what: string; buf: GPUBuffer; src: GPUBuffer; bytes: number}[]} : undefined;
        this.encodeBlock(enc, M, 0, insp);
        let src: GPUBuffer;
        let rows: number;
        const pass = enc.beginComputePass();
        if (all && M > 1) {
          for (const Pu of this.headAllP) device.queue.writeBuffer(Pu, 8, new Uint32Array([M]));
          this.encodeSteps(pass, this.headAll, M, 0);
          src = this.logitsAll!;
          rows = M;
        } else if (M === 1) {
          this.encodeSteps(pass, this.headDecode, 1, 0);
          src = this.logits;
          rows = 1;
        } else {
          // logits of the last token only: the LM head reads the final norm of token M−1
          const xStride = (8 * Math.ceil(P.C / 8)) / 4;
          for (const Pu of this.headPrefillP) device.queue.writeBuffer(Pu, 24, new Uint32Array([(M - 1) * xStride]));
          this.encodeSteps(pass, this.headPrefill, 1, 0);
          src = this.logits;
          rows = 1;
        }
        pass.end();
        const bytes = rows * P.V * 4;
        const rb = device.createBuffer({size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
        enc.copyBufferToBuffer(src, 0, rb, 0, bytes);
        device.queue.submit([enc.finish()]);
        this.pos += M;
        await rb.mapAsync(GPUMapMode.READ);
        const got = new Float32Array(rb.getMappedRange().slice(0));
        rb.unmap();
        rb.destroy();
        if (all) out.set(got, b * P.V);
        else out.set(got.subarray(0, P.V));
        if (insp) inspections.push(await this.collectInspection(M, blk, this.pos - M, insp.copies));
      }
    } catch (e) {
      throw this.wrapError(e);
    }
    if (inspections.length) {
      const layers = inspections[0].layers.map((l0, i) => {
        if (inspections.length === 1) return l0;
        const cat = (k: keyof InspectionLayer) => {
          const parts = inspections.map((x) => x.layers[i][k] as Float32Array);
          const o = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
          let off = 0;
          for (const p of parts) {
            o.set(p, off);
            off += p.length;
          }
          return o;
        };
        return {...l0, residualIn: cat("residualIn"), attnInput: cat("attnInput"), qkv: cat("qkv"), attnOut: cat("attnOut"), oInput: cat("oInput"), ffnInput: cat("ffnInput"), glu: cat("glu"), downInput: cat("downInput"), residualOut: cat("residualOut"), codes: undefined};
      });
      this.lastInspection = {start, tokens: [...tokens], layers};
    }
    return out;
  }

  /** Appends tokens and picks the next token on the GPU (greedy argmax, or temperature/top-k/top-p sampling);
   *  only the token id is read back. */
  async appendAndSample(tokens: readonly number[], sampling: Partial<SamplingOptions> = {}): Promise<number> {
    this.guard();
    this.checkTokens(tokens);
    const ids = await this.runSteps([tokens], sampling, 1);
    return ids[0];
  }

  /** Greedy or sampled generation entirely on the GPU: prefill `prompt`, then `n` decode steps, each consuming
   *  the previous step's token from the GPU token buffer. Up to `ahead` steps are in flight before the CPU reads
   *  their ids back. Returns the n + 1 generated ids (the first one comes from the prompt). */
  async generateOnGpu(prompt: readonly number[], n: number, sampling: Partial<SamplingOptions> = {}, ahead = 8): Promise<number[]> {
    this.guard();
    this.checkTokens(prompt);
    if (this.pos + prompt.length + n > this.maxLen) throw new Error(`generateOnGpu: ${this.pos} + ${prompt.length} + ${n} tokens exceed the ${this.maxLen}-position limit`);
    const first = await this.runSteps([prompt], sampling, 1);
    if (n === 0) return first;
    const rest = await this.decodeChain(first[0], n, sampling, ahead);
    return [...first, ...rest];
  }

  /** n decode steps from `token` (already sampled, not yet in the cache), chained on the GPU. */
  async decodeChain(token: number, n: number, sampling: Partial<SamplingOptions> = {}, ahead = 8): Promise<number[]> {
    this.guard();
    this.checkTokens([token]);
    if (this.pos + n > this.maxLen) throw new Error(`decodeChain: ${this.pos} + ${n} tokens exceed the ${this.maxLen}-position limit`);
    const device = this.ctx.device;
    const base = this.maxBlock; // ring of 1024 slots after the prompt area
    const ring = 1024;
    const ids: number[] = [];
    device.queue.writeBuffer(this.tok, base * 4, new Uint32Array([token]));
    let slot = 0;
    const pending: Promise<number>[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const enc = device.createCommandEncoder();
        this.encodeBlock(enc, 1, base + slot);
        const pass = enc.beginComputePass();
        this.encodeSteps(pass, this.headDecode, 1, 0);
        const next = (slot + 1) % ring;
        this.encodeSample(pass, base + next, sampling);
        pass.end();
        this.pos += 1;
        const rb = device.createBuffer({size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
        enc.copyBufferToBuffer(this.tok, (base + next) * 4, rb, 0, 4);
        device.queue.submit([enc.finish()]);
        pending.push(
          rb.mapAsync(GPUMapMode.READ).then(() => {
            const v = new Uint32Array(rb.getMappedRange())[0];
            rb.unmap();
            rb.destroy();
            return v;
          }),
        );
        slot = next;
        if (pending.length >= ahead) ids.push(await pending.shift()!);
      }
      while (pending.length) ids.push(await pending.shift()!);
    } catch (e) {
      throw this.wrapError(e);
    }
    return ids;
  }

  private encodeSample(pass: GPUComputePassEncoder, slot: number, sampling: Partial<SamplingOptions>): void {
    const device = this.ctx.device;
    const s = {temperature: 0, topK: 0, topP: 1, seed: 0, ...sampling};
    if (s.temperature === 0) {
      device.queue.writeBuffer(this.argP, 0, new Uint32Array([this.argSteps.partial.grid[0], slot, 0, 0]));
      encodeDispatchList(pass, [this.argSteps.partial, this.argSteps.final]);
    } else {
      const u = new Uint32Array(8);
      const fl = new Float32Array(u.buffer);
      u[0] = this.plan.V;
      u[1] = 0;
      u[2] = s.topK;
      u[3] = slot;
      fl[4] = 1 / s.temperature;
      fl[5] = s.topP;
      u[6] = s.seed >>> 0;
      u[7] = this.draws++;
      device.queue.writeBuffer(this.sampleP, 0, u);
      encodeDispatchList(pass, [this.sampleStep]);
    }
  }

  private async runSteps(blocks: (readonly number[])[], sampling: Partial<SamplingOptions>, _n: number): Promise<number[]> {
    const device = this.ctx.device;
    const out: number[] = [];
    try {
      for (const tokens of blocks) {
        for (let b = 0; b < tokens.length; b += this.maxBlock) {
          const blk = tokens.slice(b, b + this.maxBlock);
          const M = blk.length;
          const last = b + M === tokens.length;
          device.queue.writeBuffer(this.tok, 0, new Uint32Array(blk));
          const enc = device.createCommandEncoder();
          this.encodeBlock(enc, M, 0);
          if (last) {
            const pass = enc.beginComputePass();
            if (M === 1) this.encodeSteps(pass, this.headDecode, 1, 0);
            else {
              const xStride = (8 * Math.ceil(this.plan.C / 8)) / 4;
              for (const Pu of this.headPrefillP) device.queue.writeBuffer(Pu, 24, new Uint32Array([(M - 1) * xStride]));
              this.encodeSteps(pass, this.headPrefill, 1, 0);
            }
            this.encodeSample(pass, this.maxBlock + 1023, sampling);
            pass.end();
          }
          let rb: GPUBuffer | undefined;
          if (last) {
            rb = device.createBuffer({size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
            enc.copyBufferToBuffer(this.tok, (this.maxBlock + 1023) * 4, rb, 0, 4);
          }
          device.queue.submit([enc.finish()]);
          this.pos += M;
          if (rb) {
            await rb.mapAsync(GPUMapMode.READ);
            out.push(new Uint32Array(rb.getMappedRange())[0]);
            rb.unmap();
            rb.destroy();
          }
        }
      }
    } catch (e) {
      throw this.wrapError(e);
    }
    return out;
  }

  private wrapError(e: unknown): Error {
    if (this.ctx.lostInfo) return new DeviceLostError(this.ctx.lostInfo.reason, `WebGPU device lost (${this.ctx.lostInfo.reason}): ${this.ctx.lostInfo.message}; call rebuild()`);
    return e instanceof Error ? e : new Error(String(e));
  }

  reset(): void {
    this.pos = 0;
    this.draws = 0;
    this.lastInspection = undefined;
  }

  /** Rebuilds every GPU resource (after a device loss: on a new device when the session owns its device). */
  async rebuild(): Promise<void> {
    this.freeBuffers();
    if (this.ownsDevice) {
      try {
        this.ctx.device.destroy();
      } catch {
        /* already gone */
      }
    } else if (this.ctx.lostInfo) {
      throw new Error("rebuild: the shared device was lost; create a new session on a new device");
    }
    this.layers = [];
    this.pos = 0;
    await this.build();
  }

  private freeBuffers(): void {
    for (const b of this.buffers) b.destroy();
    this.buffers = [];
  }

  /** Inspection: the KV codes of `layer` that the GPU stored for positions [start, start + count) — undefined for a
   *  16-bit cache. Reads only that range of the layer's K/V buffers. */
  async inspectKV(layer: number, start: number, count: number): Promise<InspectedKV | undefined> {
    this.guard();
    const P = this.plan;
    const f = this.kvFormat();
    if (f.bits >= 16) return undefined;
    if (!(Number.isInteger(layer) && layer >= 0 && layer < P.L)) throw new Error(`inspectKV: layer ${layer} is not in [0, ${P.L})`);
    if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 1 && start + count <= this.pos)) throw new Error(`inspectKV: positions [${start}, ${start + count}) are not all in the cache (length ${this.pos})`);
    const lay = kvLayout(f, P.d, P.KV);
    const w0 = lay.offset(start, 0);
    const w1 = lay.offset(start + count - 1, P.KV - 1) + (start + count - 1 === 0 ? lay.bosWords : lay.words);
    const Lb = this.layers[layer];
    const device = this.ctx.device;
    try {
      const [kw, vw, km, vm] = await Promise.all([
        readBuffer(device, Lb.K, (w1 - w0) * 4, w0 * 4).then((b) => new Uint32Array(b)),
        readBuffer(device, Lb.V, (w1 - w0) * 4, w0 * 4).then((b) => new Uint32Array(b)),
        readBuffer(device, Lb.Km, count * P.KV * 8, start * P.KV * 8).then((b) => new Float32Array(b)),
        readBuffer(device, Lb.Vm, count * P.KV * 8, start * P.KV * 8).then((b) => new Float32Array(b)),
      ]);
      const n = count * P.KV * P.d;
      const out: InspectedKV = {bits: [], k: new Uint8Array(n), v: new Uint8Array(n), kMin: new Float32Array(count * P.KV), kStep: new Float32Array(count * P.KV), vMin: new Float32Array(count * P.KV), vStep: new Float32Array(count * P.KV)};
      for (let t = 0; t < count; t++) {
        const j = start + t;
        const bits = j === 0 ? f.bosBits : f.bits;
        out.bits.push(bits);
        if (bits >= 16) continue;
        const mask = (1 << bits) - 1;
        for (let g = 0; g < P.KV; g++) {
          const base = lay.offset(j, g) - w0;
          const vi = t * P.KV + g;
          out.kMin[vi] = km[2 * vi];
          out.kStep[vi] = km[2 * vi + 1];
          out.vMin[vi] = vm[2 * vi];
          out.vStep[vi] = vm[2 * vi + 1];
          for (let e = 0; e < P.d; e++) {
            const bit = e * bits;
            const wi = base + (bit >>> 5);
            const sh = bit & 31;
            for (const [words, dst] of [[kw, out.k], [vw, out.v]] as const) {
              let code = words[wi] >>> sh;
              if (sh + bits > 32) code |= words[wi + 1] << (32 - sh);
              dst[vi * P.d + e] = code & mask;
            }
          }
        }
      }
      return out;
    } catch (e) {
      throw this.wrapError(e);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.freeBuffers();
    if (this.ownsDevice) this.ctx.device.destroy();
  }

  // ------------------------------------------------------------------ benchmarking hooks

  /** The per-token dispatch list of a decode step at the current position (embedding … final norm, LM head,
   *  argmax), for timing. `parts` selects which dispatches to include. */
  decodeDispatches(parts: {layers?: boolean; linearOnly?: boolean; head?: boolean; argmax?: boolean; hadamardOnly?: boolean; filter?: (label: string) => boolean} = {layers: true, head: true, argmax: true}): Dispatch[] {
    const {nC} = this.writeStep(1, this.maxBlock);
    const list: Dispatch[] = [];
    const add = (s: Dispatch & {gridFn?: Step["gridFn"]}) => {
      if (parts.filter && !parts.filter(s.label ?? "")) return;
      list.push({pipeline: s.pipeline, bind: s.bind, grid: s.gridFn ? s.gridFn(1, nC) : s.grid, label: s.label});
    };
    if (parts.layers) {
      if (!parts.linearOnly && !parts.hadamardOnly) add(this.embedStep);
      for (const s of this.decodeSteps) {
        const isLin = /\.(nq\+)?(qkv|o|gate_up|down)$/.test(s.label ?? "");
        const isHad = /\.nq_(o|down)$|\.nq\+down$/.test(s.label ?? "");
        if (parts.linearOnly && !isLin) continue;
        if (parts.hadamardOnly && !isHad) continue;
        add(s);
      }
    }
    if (parts.head) for (const s of this.headDecode) add(s);
    if (parts.argmax) {
      this.ctx.device.queue.writeBuffer(this.argP, 0, new Uint32Array([this.argSteps.partial.grid[0], this.maxBlock + 1, 0, 0]));
      add({...this.argSteps.partial, label: "argmax"});
      add({...this.argSteps.final, label: "argmax-final"});
    }
    return list;
  }

  /** Sets the cache length without computing anything (benchmarks time decode at a given context). */
  setLengthForBenchmark(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n < this.maxLen)) throw new Error(`setLengthForBenchmark: ${n} not in [0, ${this.maxLen})`);
    this.pos = n;
  }

  /** The decode linear configuration chosen for this device. */
  get decodeLinearConfig(): LinearConfig {
    return this.cfgDecode;
  }
}

function encodeDispatchList(pass: GPUComputePassEncoder, list: readonly Dispatch[]): void {
  for (const d of list) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bind);
    pass.dispatchWorkgroups(d.grid[0], d.grid[1] ?? 1, d.grid[2] ?? 1);
  }
}

/** Loads `weights` into GPU buffers and returns a DecodeSession running the forward pass in WGSL. */
export async function createWebGPUSession(weights: ModelWeights, opts: WebGPUSessionOptions = {}): Promise<WebGPUSession> {
  return WebGPUSession.create(weights, weights.config, opts);
}

/** A session whose weights are generated on the GPU (random ternary codes, random f32/f16 embedding, unit norms):
 *  benchmark-scale models (e.g. 2B4T-shaped) without building billions of weights in JavaScript. */
export async function createSyntheticSession(config: BitNetConfig, seed: number, opts: WebGPUSessionOptions = {}): Promise<WebGPUSession> {
  return WebGPUSession.create(undefined, config, {...opts, synthetic: {seed}});
}
