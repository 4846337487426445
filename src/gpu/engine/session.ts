// The session: a model's buffers and passes on a device; runs blocks of tokens, samples on the GPU, handles reset /
// device loss / dispose. Implements DecodeSession (src/lib/backend.ts) like the CPU reference, its oracle. A decode
// step is one command buffer whose token comes from a GPU buffer, so greedy decoding can run ahead of the CPU. The
// class keeps what changes (position, device, kept inspection); session-build/-encode/-inspect/-bench.ts the rest.
import {checkLogits, type DecodeSession, type SamplingOptions} from "../../lib/backend.js";
import type {BitNetConfig} from "../../lib/config.js";
import {kvBitsAt} from "../../lib/variant.js";
import type {GpuContext} from "../device.js";
import type {Dispatch} from "../gpu.js";
import type {LinearConfig} from "../kernels/linear.js";
import {TOKEN_RING, type Activations} from "./buffers.js";
import {runDecodeChain, type DecodeChainProfile} from "./decode-chain.js";
import {joinInspections, readKV, type InspectedKV} from "./inspect.js";
import {buildInScopes, releaseForRebuild, sessionContext, sessionError} from "./lifecycle.js";
import {makePlan, type Plan} from "./plan.js";
import {createPooler, type Pooler} from "./pooling.js";
import {readToken} from "./sampling.js";
import {checkBenchmarkLength, decodeDispatchList, prefillDispatchList} from "./session-bench.js";
import {buildSteps, checkSessionOptions, kvFormat, runtimeTopK, type SessionDims} from "./session-build.js";
import {BlockEncoder, type StepAt} from "./session-encode.js";
import {checkKVRange, checkLayers, dropKept, readKept, type KeptPass} from "./session-inspect.js";
import {subgroupSize} from "./tune.js";
import type {EngineAppendOptions, DecodeParts, EngineInspection, StepTag, WebGPUSessionOptions} from "./types.js";
import {BufferPool, type WeightSource} from "./upload.js";

const ALL_PARTS: DecodeParts = {layers: true, head: true, argmax: true};

export class WebGPUSession implements DecodeSession {
  readonly backend = "webgpu" as const;
  readonly config: BitNetConfig;
  /** The last append's inspection (when requested). */
  lastInspection: EngineInspection | undefined;
  /** Bytes inspection has copied back to the CPU (intermediates and KV codes), for measuring. */
  inspectionBytesRead = 0;
  /** A kept inspection pass (append inspect.keep): every layer's copies on the GPU, read per layer on demand. */
  private kept: KeptPass | undefined;
  private ctx!: GpuContext;
  private ownsDevice = false;
  readonly plan: Plan;
  private pos = 0;
  /** The token at position 0 of the current sequence (decides the KV bits of position 0: variant.ts kvBitsAt). */
  private startToken = -1;
  private disposed = false;
  private pool!: BufferPool;
  private readonly dims: SessionDims;
  /** The current build's steps and their encoding (a rebuild makes a new one). */
  private encoder!: BlockEncoder;
  private pooler: Pooler | undefined;
  /** Compute passes per step (a measured knob; options.passesPerToken). */
  passesPerToken: number;
  /** K of W_o's top-K as the kernels read it from the step uniform (plan.oTopKRuntime; setTopKRatio). */
  private oNeed: number;

  private constructor(
    private readonly source: WeightSource | undefined,
    config: BitNetConfig,
    private readonly opts: WebGPUSessionOptions,
  ) {
    this.config = config;
    this.plan = makePlan(config, opts.dense ?? "f32");
    this.dims = checkSessionOptions(opts, this.plan.maxPositions);
    this.passesPerToken = opts.passesPerToken ?? 1;
    this.oNeed = this.plan.oNeed;
  }

  static async create(
    source: WeightSource | undefined,
    config: BitNetConfig,
    opts: WebGPUSessionOptions,
  ): Promise<WebGPUSession> {
    const s = new WebGPUSession(source, config, opts);
    await s.build();
    return s;
  }

  get length(): number {
    return this.pos;
  }

  get maxPositions(): number {
    return this.dims.maxLen;
  }

  /** The device context (features, limits, description). */
  get gpu(): GpuContext {
    return this.ctx;
  }

  get device(): GPUDevice {
    return this.ctx.device;
  }

  private get A(): Activations {
    return this.encoder.steps.A;
  }

  // ------------------------------------------------------------------ building

  private async build(): Promise<void> {
    const {ctx, owns} = await sessionContext(this.opts, () => this.disposed);
    this.ctx = ctx;
    this.ownsDevice = owns;
    const pool = (this.pool = new BufferPool(ctx.device));
    const S = this.opts.tuning?.noSubgroups ? 0 : await subgroupSize(ctx.device);
    await buildInScopes(ctx.device, pool, async () => {
      const steps = await buildSteps(ctx.device, pool, this.plan, this.source, this.opts, this.dims, S);
      this.encoder = new BlockEncoder(ctx.device, this.plan, steps, this.dims, !!this.opts.passPerDispatch);
    });
  }

  // ------------------------------------------------------------------ running

  private guard(): void {
    if (this.disposed) throw new Error("webgpu session: used after dispose()");
    this.ctx.check();
  }

  private checkTokens(tokens: readonly number[]): void {
    if (tokens.length === 0) throw new Error("append: no tokens given");
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= this.plan.V)
        throw new Error(`append: token id ${t} is outside the vocabulary [0, ${this.plan.V})`);
    }
    this.checkRoom("session", tokens.length);
    if (this.pos === 0) this.startToken = tokens[0];
  }

  /** Throws unless the cache has room for `counts` more tokens. */
  private checkRoom(what: string, ...counts: number[]): void {
    if (counts.reduce((a, b) => a + b, this.pos) > this.dims.maxLen)
      throw new Error(
        `${what}: ${[this.pos, ...counts].join(" + ")} tokens exceed the ${this.dims.maxLen}-position limit`,
      );
  }

  /** What the next block's uniforms depend on (session-encode.ts StepAt). */
  private at(): StepAt {
    return {pos: this.pos, startToken: this.startToken, oNeed: this.oNeed, passesPerToken: this.passesPerToken};
  }

  async append(tokens: readonly number[], opts: EngineAppendOptions = {}): Promise<Float32Array> {
    this.guard();
    this.checkTokens(tokens);
    if (opts.inspect && !this.opts.inspect)
      throw new Error("append: inspection needs a session created with {inspect: true}");
    const P = this.plan;
    const device = this.ctx.device;
    const all = !!opts.allLogits;
    const out = new Float32Array(all ? tokens.length * P.V : P.V);
    const start = this.pos;
    const wanted = opts.inspect ? new Set(opts.inspect.layers ?? [...Array(P.L).keys()]) : undefined;
    if (wanted) checkLayers(wanted, P.L, "append: inspect layer");
    const keep = !!opts.inspect?.keep;
    if (keep && tokens.length > this.dims.maxBlock)
      throw new Error(
        `append: a kept inspection needs the tokens in one block (${tokens.length} > maxBlock ${this.dims.maxBlock})`,
      );
    this.dropKept();
    // a kept pass copies every layer on the GPU and reads back only the wanted ones
    const inspLayers = keep ? new Set([...Array(P.L).keys()]) : wanted;
    const inspections: EngineInspection[] = [];
    try {
      for (const {b, blk, last, enc} of this.encoder.blocks(tokens)) {
        const M = blk.length;
        const copies = this.encoder.encodeBlock(enc, this.at(), M, 0, inspLayers, keep);
        if (!all && !last && !inspLayers) {
          // intermediate prompt block: only the KV cache matters
          device.queue.submit([enc.finish()]);
          this.pos += M;
          continue;
        }
        const {rows, logits} = this.encoder.submitHead(enc, M, all);
        this.pos += M;
        const got = await logits;
        checkLogits(got.subarray(0, rows * P.V), P.V, all ? start + b : this.pos - 1, "WebGPU engine");
        if (all) out.set(got, b * P.V);
        else out.set(got.subarray(0, P.V));
        if (copies) {
          // without keep, the copies are the wanted layers'; with it, every layer's stays on the GPU
          const pass: KeptPass = {copies, M, tokens: blk, start: this.pos - M};
          if (keep) this.kept = pass;
          inspections.push(await this.readKept(pass, [...wanted!]));
        }
      }
    } catch (e) {
      throw this.wrapError(e);
    }
    if (inspections.length) this.lastInspection = joinInspections(inspections, start, tokens);
    return out;
  }

  /** An embedding model's vector (architecture.pooling): the tokens as a new sequence through every layer and the
   *  final norm, pooled and L2-normalized on the GPU (engine/pooling.ts); the LM head does not run. */
  async embedding(tokens: readonly number[]): Promise<Float32Array> {
    this.guard();
    this.reset();
    this.checkTokens(tokens);
    const device = this.ctx.device;
    try {
      const pooler =
        this.pooler?.xin === this.A.xin
          ? this.pooler
          : (this.pooler = await createPooler(device, this.pool, this.plan, this.A.xin));
      for (const {blk, last, enc} of this.encoder.blocks(tokens)) {
        this.encoder.encodeBlock(enc, this.at(), blk.length, 0);
        pooler.encode(enc, blk.length, last);
        this.pos += blk.length;
        if (last) return await pooler.read(enc);
        device.queue.submit([enc.finish()]);
      }
    } catch (e) {
      throw this.wrapError(e);
    }
    throw new Error("embedding: no tokens given");
  }

  /** Appends tokens and picks the next token on the GPU (greedy argmax, or temperature/top-k/top-p sampling);
   *  only the token id is read back. */
  async appendAndSample(tokens: readonly number[], sampling: Partial<SamplingOptions> = {}): Promise<number> {
    this.guard();
    this.checkTokens(tokens);
    return this.prefillAndSample(tokens, sampling);
  }

  /** Greedy or sampled generation entirely on the GPU: prefill `prompt`, then `n` decode steps, each consuming
   *  the previous step's token from the GPU token buffer. Up to `ahead` steps are in flight before the CPU reads
   *  their ids back. Returns the n + 1 generated ids (the first one comes from the prompt). */
  async generateOnGpu(
    prompt: readonly number[],
    n: number,
    sampling: Partial<SamplingOptions> = {},
    ahead = 8,
  ): Promise<number[]> {
    this.guard();
    this.checkTokens(prompt);
    this.checkRoom("generateOnGpu", prompt.length, n);
    const first = await this.prefillAndSample(prompt, sampling);
    if (n === 0) return [first];
    return [first, ...(await this.decodeChain(first, n, sampling, ahead))];
  }

  /** n decode steps from `token` (sampled, not yet in the cache), chained on the GPU; `profile`: decode-chain.ts. */
  async decodeChain(
    token: number,
    n: number,
    sampling: Partial<SamplingOptions> = {},
    ahead = 8,
    profile?: {timestamps: boolean; out: (p: DecodeChainProfile) => void; encodeOnly?: boolean},
  ): Promise<number[]> {
    this.guard();
    this.checkTokens([token]);
    this.checkRoom("decodeChain", n);
    const base = this.dims.maxBlock; // the ring of slots after the prompt area
    this.device.queue.writeBuffer(this.A.tok, base * 4, new Uint32Array([token]));
    const step = (enc: GPUCommandEncoder, slotIn: number, slotOut: number) => {
      this.encoder.encodeDecodeStep(enc, this.at(), slotIn, slotOut, sampling);
      this.pos += 1;
    };
    try {
      return await runDecodeChain(this.device, this.A.tok, {base, size: TOKEN_RING, slot0: 0}, n, ahead, step, profile);
    } catch (e) {
      throw this.wrapError(e);
    }
  }

  /** Prefill `tokens` in blocks and sample the next token from the last one's logits. */
  private async prefillAndSample(tokens: readonly number[], sampling: Partial<SamplingOptions>): Promise<number> {
    const device = this.ctx.device;
    const slot = this.dims.maxBlock + TOKEN_RING - 1;
    try {
      for (const {blk, last, enc} of this.encoder.blocks(tokens)) {
        const M = blk.length;
        this.encoder.encodeBlock(enc, this.at(), M, 0);
        if (!last) {
          device.queue.submit([enc.finish()]);
          this.pos += M;
          continue;
        }
        this.encoder.encodeSample(enc, M, slot, sampling);
        this.pos += M;
        return await readToken(device, enc, this.A.tok, slot);
      }
    } catch (e) {
      throw this.wrapError(e);
    }
    throw new Error("append: no tokens given");
  }

  private async readKept(pass: KeptPass, layers: readonly number[]): Promise<EngineInspection> {
    const {inspection, bytes} = await readKept(this.ctx.device, this.plan, pass, layers);
    this.inspectionBytesRead += bytes;
    return inspection;
  }

  /** Layers of the last kept inspection pass (append(…, {inspect: {keep: true}})), read back from the copies it left on
   *  the GPU — nothing is recomputed, and only these layers cross to the CPU. */
  async readInspection(layers: readonly number[]): Promise<EngineInspection> {
    this.guard();
    if (!this.kept)
      throw new Error(
        "readInspection: no kept inspection pass (append with inspect: {keep: true} first; reset and append drop it)",
      );
    checkLayers(layers, this.plan.L, "readInspection: layer");
    try {
      return await this.readKept(this.kept, layers);
    } catch (e) {
      throw this.wrapError(e);
    }
  }

  private dropKept(): void {
    dropKept(this.kept);
    this.kept = undefined;
  }

  private wrapError(e: unknown): Error {
    return sessionError(this.ctx, e);
  }

  reset(): void {
    this.pos = 0;
    this.startToken = -1;
    this.encoder?.steps.sampler.reset();
    this.lastInspection = undefined;
    this.dropKept();
  }

  /** Rebuilds every GPU resource (after a device loss: on a new device when the session owns its device). */
  async rebuild(): Promise<void> {
    this.pool.free();
    releaseForRebuild(this.ctx, this.ownsDevice);
    this.reset();
    await this.build();
  }

  /** EngineInspection: the KV codes of `layer` the GPU stored for positions [start, start + count) — undefined for a
   *  16-bit cache. Reads only that range of the layer's K/V buffers. */
  async inspectKV(layer: number, start: number, count: number): Promise<InspectedKV | undefined> {
    this.guard();
    const P = this.plan;
    if (P.kv.bits >= 16) return undefined;
    checkKVRange(layer, start, count, P.L, this.pos);
    try {
      const bits0 = kvBitsAt(P.kv, 0, this.startToken);
      const r = await readKV(this.ctx.device, P, kvFormat(P, this.opts), this.A.kv[layer], start, count, bits0);
      this.inspectionBytesRead += r.bytes;
      return r.kv;
    } catch (e) {
      throw this.wrapError(e);
    }
  }

  /** Sweeps (the sparsity chapter): run as if the config's bitnet_topk_ratio were `ratio`, without compiling — the
   *  W_o top-K reads K from the step uniform. What the ratio means comes from the variant table (makePlan → sitePlan of
   *  the config with this ratio); a variant without top-K ignores it. Returns the K now used (undefined: no top-K). */
  setTopKRatio(ratio: number): number | undefined {
    const k = runtimeTopK(this.config, this.opts, this.plan, ratio);
    if (k !== undefined) this.oNeed = k;
    return k;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.dropKept();
    this.pool.free();
    if (this.ownsDevice) this.ctx.device.destroy();
  }

  // ------------------------------------------------------------------ benchmarking hooks

  /** The per-token dispatch list of a decode step at the current position (embedding … final norm, LM head,
   *  argmax), for timing; selected by step tags (session-bench.ts). */
  decodeDispatches(parts: DecodeParts = ALL_PARTS): (Dispatch & {tag: StepTag})[] {
    return decodeDispatchList(this.encoder, this.at(), this.dims.maxBlock, parts);
  }

  /** One prefill block of `tokens` at the current position as a dispatch list, for timing (session-bench.ts);
   *  the position is left as it was. */
  prefillDispatches(tokens: readonly number[], parts: DecodeParts = ALL_PARTS): (Dispatch & {tag: StepTag})[] {
    this.checkTokens(tokens);
    return prefillDispatchList(this.encoder, this.at(), this.dims.maxBlock, tokens, parts);
  }

  /** Sets the cache length without computing anything (benchmarks time decode at a given context). */
  setLengthForBenchmark(n: number): void {
    checkBenchmarkLength(n, this.dims.maxLen);
    this.pos = n;
  }

  /** The decode linear configuration chosen for this device. */
  get decodeLinearConfig(): LinearConfig {
    return this.encoder.steps.cfgDecode;
  }
}
