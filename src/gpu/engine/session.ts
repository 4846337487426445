// The session: builds a model's buffers and passes on a device, runs blocks of tokens through them, samples on
// the GPU, and handles reset / device loss / dispose. Implements DecodeSession (src/lib/backend.ts) like the CPU
// reference (src/lib/model.ts), its oracle. A decode step is one command buffer (one compute pass by default);
// all bind groups are made at load, so a step writes only the step and embedding uniforms. The token a step
// consumes is read from a GPU buffer, so greedy decoding can run several steps ahead of the CPU.
import {checkLogits, type DecodeSession, type SamplingOptions} from "../../lib/backend.js";
import type {BitNetConfig} from "../../lib/config.js";
import {kvBitsAt} from "../../lib/variant.js";
import type {KVFormat} from "../kernels/kv-cache.js";
import {DeviceLostError, type GpuContext} from "../device.js";
import {buildInScopes, sessionContext} from "./lifecycle.js";
import type {Dispatch} from "../gpu.js";
import type {LinearConfig} from "../kernels/linear.js";
import {subgroupSize} from "./tune.js";
import {attentionPipes} from "./attention-block.js";
import {embedStep, headSteps, layerPass, samplingSteps, wanted} from "./blocks.js";
import type {BuildContext} from "./build-context.js";
import {GpuSampler, readToken} from "./sampling.js";
import {splitPasses, StepList} from "./step-list.js";
import {runDecodeChain, type DecodeChainProfile} from "./decode-chain.js";
import {allocActivations, TOKEN_RING, type Activations} from "./buffers.js";
import {
  collectInspection,
  encodeInspected,
  joinInspections,
  readKV,
  type InspectCopy,
  type InspectedKV,
} from "./inspect.js";
import {CHUNK, makePlan, NC_PREFILL, type Plan} from "./plan.js";
import {createPooler, type Pooler} from "./pooling.js";
import type {EngineAppendOptions, DecodeParts, EngineInspection, Step, StepTag, WebGPUSessionOptions} from "./types.js";
import {BufferPool, uploadWeights, type WeightSource} from "./upload.js";

export class WebGPUSession implements DecodeSession {
  readonly backend = "webgpu" as const;
  readonly config: BitNetConfig;
  /** The last append's inspection (when requested). */
  lastInspection: EngineInspection | undefined;
  /** Bytes inspection has copied back to the CPU (intermediates and KV codes), for measuring. */
  inspectionBytesRead = 0;
  /** A kept inspection pass (append inspect.keep): every layer's copies on the GPU, read per layer on demand. */
  private kept: {copies: InspectCopy[]; M: number; tokens: number[]; start: number} | undefined;
  private ctx!: GpuContext;
  private ownsDevice = false;
  readonly plan: Plan;
  private pos = 0;
  /** The token at position 0 of the current sequence (decides the KV bits of position 0: variant.ts kvBitsAt). */
  private startToken = -1;
  private disposed = false;
  private pool!: BufferPool;
  private A!: Activations;
  private readonly maxLen: number;
  private readonly maxBlock: number;
  private decodeSteps: Step[] = [];
  private prefillSteps: Step[] = [];
  private embed!: Step;
  private headDecode: Step[] = [];
  private headLast: {steps: Step[]; Ps: GPUBuffer[]} = {steps: [], Ps: []};
  private headAll: {steps: Step[]; Ps: GPUBuffer[]} = {steps: [], Ps: []};
  private sampler!: GpuSampler;
  /** Encoding state kept per step list (step-list.ts): the passes of a block, and lists encoded whole. */
  private readonly passCache = new Map<readonly Step[], {passes: number; lists: StepList[]}>();
  private readonly stepLists = new WeakMap<readonly Step[], StepList>();
  private pooler: Pooler | undefined;
  private cfgDecode!: LinearConfig;
  private embRows = {words: 0, perChunk: 0};
  /** Compute passes per step (a measured knob; options.passesPerToken). */
  passesPerToken: number;
  private readonly attnChunk: number;
  private readonly attnMaxChunks: number;
  /** K of W_o's top-K as the kernels read it from the step uniform (plan.oTopKRuntime; setTopKRatio). */
  private oNeed: number;

  private constructor(
    private readonly source: WeightSource | undefined,
    config: BitNetConfig,
    private readonly opts: WebGPUSessionOptions,
  ) {
    this.config = config;
    this.plan = makePlan(config, opts.dense ?? "f32");
    const max = this.plan.maxPositions; // max_position_embeddings
    this.maxLen = Math.min(max, opts.maxLength ?? max);
    if (!(this.maxLen >= 1)) throw new Error(`createWebGPUSession: maxLength must be ≥ 1, got ${opts.maxLength}`);
    this.maxBlock = Math.max(1, Math.min(opts.maxBlock ?? 128, this.maxLen));
    this.passesPerToken = opts.passesPerToken ?? 1;
    this.attnChunk = opts.attnChunk ?? CHUNK;
    this.oNeed = this.plan.oNeed;
    if (!(Number.isInteger(this.attnChunk) && this.attnChunk >= 1 && this.attnChunk <= 4096))
      throw new Error(`createWebGPUSession: attnChunk must be an integer in [1, 4096], got ${opts.attnChunk}`);
    this.attnMaxChunks = opts.attnMaxChunks ?? Number.POSITIVE_INFINITY;
    if (!(this.attnMaxChunks >= 1 && (Number.isInteger(this.attnMaxChunks) || this.attnMaxChunks === Infinity)))
      throw new Error(`createWebGPUSession: attnMaxChunks must be an integer ≥ 1, got ${opts.attnMaxChunks}`);
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
    const {ctx, owns} = await sessionContext(this.opts, () => this.disposed);
    this.ctx = ctx;
    this.ownsDevice = owns;
    this.pool = new BufferPool(ctx.device);
    const S = this.opts.tuning?.noSubgroups ? 0 : await subgroupSize(ctx.device);
    await buildInScopes(ctx.device, this.pool, () => this.prepare(S));
  }

  private kvFormat(): KVFormat {
    return {bits: this.plan.kv.bits, bosBits: this.plan.kv.bosBits, store16: this.opts.kv16 ?? "f32"};
  }

  private async prepare(S: number): Promise<void> {
    const device = this.ctx.device;
    const P = this.plan;
    const lmHead = this.opts.lmHead ?? "f32";
    const W = await uploadWeights(this.pool, P, this.source, {lmHead, synthetic: this.opts.synthetic});
    this.embRows = {words: W.rowWords, perChunk: W.rowsPerChunk};
    const kvF = this.kvFormat();
    this.A = allocActivations(this.pool, P, kvF, {
      maxLen: this.maxLen,
      maxBlock: this.maxBlock,
      inspect: !!this.opts.inspect,
      attnChunk: this.attnChunk,
    });
    const b: BuildContext = {
      device,
      P,
      pool: this.pool,
      A: this.A,
      W,
      S,
      WG: Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup),
      tuning: this.opts.tuning ?? {},
      kvF,
      inspect: !!this.opts.inspect,
      fuse: this.opts.fuse ?? true,
      fuseCombine: this.opts.fuseCombine ?? true,
      maxBlock: this.maxBlock,
      hadamardSplit: this.opts.hadamardSplit ?? "auto",
      normStats: this.opts.normStats ?? false,
    };
    const pipes = await attentionPipes(b);
    const dec = await layerPass(b, "decode", pipes);
    this.decodeSteps = dec.steps;
    this.passCache.clear(); // a rebuild's new steps: drop the old device's lists
    this.cfgDecode = dec.cfg!;
    this.prefillSteps = (await layerPass(b, "prefill", pipes)).steps;
    this.embed = await embedStep(b, lmHead === "f16");
    const headKind = lmHead === "f16" ? "f16" : "f32";
    this.headDecode = (await headSteps(b, headKind, 1, this.A.logits, "lm_head")).steps;
    this.headLast = await headSteps(b, headKind, 1, this.A.logits, "lm_head_last");
    if (this.maxBlock > 1) this.headAll = await headSteps(b, headKind, this.maxBlock, this.A.logitsAll!, "lm_head_all");
    this.sampler = new GpuSampler(device.queue, this.A, await samplingSteps(b), P.V);
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
    if (this.pos + tokens.length > this.maxLen)
      throw new Error(`session: ${this.pos} + ${tokens.length} tokens exceed the ${this.maxLen}-position limit`);
    if (this.pos === 0) this.startToken = tokens[0];
  }

  /** Writes the step uniform and the embedding slot, for a block of M tokens at the current position. */
  private writeStep(M: number, slotIn: number): {nC: number} {
    const S = this.pos + M;
    let nC: number;
    let chunk: number;
    if (M === 1) {
      // at most attnMaxChunks chunks (each a multiple of attnChunk): W_o's combine reads H·nC·(d + 2) floats
      const n = Math.ceil(S / this.attnChunk);
      nC = Math.min(n, this.attnMaxChunks);
      chunk = this.attnChunk * Math.ceil(n / nC);
      nC = Math.ceil(S / chunk);
    } else {
      const n64 = Math.ceil(S / CHUNK);
      nC = Math.min(n64, NC_PREFILL);
      chunk = CHUNK * Math.ceil(n64 / nC);
    }
    const kv = this.plan.kv;
    // plainStart: position 0 is not the BOS token, so it gets the ordinary KV bits
    const plainStart = kvBitsAt(kv, 0, this.startToken) === kv.bosBits ? 0 : 1;
    const q = this.ctx.device.queue;
    q.writeBuffer(this.A.st, 0, new Uint32Array([M, this.pos, nC, chunk, plainStart, this.oNeed, 0, 0]));
    q.writeBuffer(this.A.embedP, 0, new Uint32Array([this.plan.C, this.embRows.words, slotIn, this.embRows.perChunk]));
    return {nC};
  }

  private encodeSteps(pass: GPUComputePassEncoder, steps: readonly Step[], M: number, nC: number): void {
    let list = this.stepLists.get(steps);
    if (!list) this.stepLists.set(steps, (list = new StepList(steps)));
    list.encode(pass, M, nC);
  }

  /** Encodes a block of M tokens (already in the token buffer at slotIn) through the final norm; `tail` adds to the
   *  last compute pass (a decode step's head and sampling: one pass per step, not two). */
  private encodeBlock(
    enc: GPUCommandEncoder,
    M: number,
    slotIn: number,
    inspect?: Set<number>,
    keep = false,
    tail?: (pass: GPUComputePassEncoder) => void,
  ): ReturnType<typeof encodeInspected> | undefined {
    const {nC} = this.writeStep(M, slotIn);
    const steps = M === 1 && !inspect ? this.decodeSteps : this.prefillSteps;
    if (inspect) {
      const pass = enc.beginComputePass();
      this.encodeSteps(pass, [this.embed], M, nC);
      pass.end();
      return encodeInspected(
        this.ctx.device,
        enc,
        this.plan,
        this.A,
        steps,
        M,
        inspect,
        (pass, s) => this.encodeSteps(pass, s, M, nC),
        keep,
      );
    }
    const lists = this.passLists(steps);
    lists.forEach((list, i) => {
      const pass = enc.beginComputePass();
      list.encode(pass, M, nC);
      if (i === lists.length - 1) tail?.(pass);
      pass.end();
    });
    return undefined;
  }

  /** The embedding and `steps` split into the step's compute passes, made once per split (encoding reuses them). */
  private passLists(steps: readonly Step[]): StepList[] {
    const n = 1 + steps.length;
    const passes = this.opts.passPerDispatch ? n : Math.max(1, Math.min(n, Math.floor(this.passesPerToken)));
    let c = this.passCache.get(steps);
    if (c?.passes !== passes)
      this.passCache.set(steps, (c = {passes, lists: splitPasses([this.embed, ...steps], passes)}));
    return c.lists;
  }

  /** Encodes the LM head for the block just encoded: all M rows, or the last token's. */
  private encodeHead(enc: GPUCommandEncoder, M: number, all: boolean): {src: GPUBuffer; rows: number} {
    const q = this.ctx.device.queue;
    const pass = enc.beginComputePass();
    let out: {src: GPUBuffer; rows: number};
    if (all && M > 1) {
      for (const Pu of this.headAll.Ps) q.writeBuffer(Pu, 8, new Uint32Array([M]));
      this.encodeSteps(pass, this.headAll.steps, M, 0);
      out = {src: this.A.logitsAll!, rows: M};
    } else if (M === 1) {
      this.encodeSteps(pass, this.headDecode, 1, 0);
      out = {src: this.A.logits, rows: 1};
    } else {
      // logits of the last token only: the LM head reads the final norm of token M−1
      const xStride = (8 * Math.ceil(this.plan.C / 8)) / 4;
      for (const Pu of this.headLast.Ps) q.writeBuffer(Pu, 24, new Uint32Array([(M - 1) * xStride]));
      this.encodeSteps(pass, this.headLast.steps, 1, 0);
      out = {src: this.A.logits, rows: 1};
    }
    pass.end();
    return out;
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
    if (wanted)
      for (const l of wanted)
        if (!(Number.isInteger(l) && l >= 0 && l < P.L))
          throw new Error(`append: inspect layer ${l} is not in [0, ${P.L})`);
    const keep = !!opts.inspect?.keep;
    if (keep && tokens.length > this.maxBlock)
      throw new Error(
        `append: a kept inspection needs the tokens in one block (${tokens.length} > maxBlock ${this.maxBlock})`,
      );
    this.dropKept();
    // a kept pass copies every layer on the GPU and reads back only the wanted ones
    const inspLayers = keep ? new Set([...Array(P.L).keys()]) : wanted;
    const inspections: EngineInspection[] = [];
    try {
      for (let b = 0; b < tokens.length; b += this.maxBlock) {
        const blk = tokens.slice(b, b + this.maxBlock);
        const M = blk.length;
        const last = b + M === tokens.length;
        device.queue.writeBuffer(this.A.tok, 0, new Uint32Array(blk));
        const enc = device.createCommandEncoder();
        const copies = this.encodeBlock(enc, M, 0, inspLayers, keep);
        if (!all && !last && !inspLayers) {
          // intermediate prompt block: only the KV cache matters
          device.queue.submit([enc.finish()]);
          this.pos += M;
          continue;
        }
        const {src, rows} = this.encodeHead(enc, M, all);
        const bytes = rows * P.V * 4;
        const rb = device.createBuffer({size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
        enc.copyBufferToBuffer(src, 0, rb, 0, bytes);
        device.queue.submit([enc.finish()]);
        this.pos += M;
        await rb.mapAsync(GPUMapMode.READ);
        const got = new Float32Array(rb.getMappedRange().slice(0));
        rb.unmap();
        rb.destroy();
        checkLogits(got.subarray(0, rows * P.V), P.V, all ? start + b : this.pos - 1, "WebGPU engine");
        if (all) out.set(got, b * P.V);
        else out.set(got.subarray(0, P.V));
        if (copies && keep) {
          this.kept = {copies, M, tokens: [...blk], start: this.pos - M};
          inspections.push(await this.readKept([...wanted!]));
        } else if (copies) {
          const got = await collectInspection(device, P, M, blk, this.pos - M, copies);
          this.inspectionBytesRead += got.bytes;
          inspections.push(got);
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
      for (let b = 0; b < tokens.length; b += this.maxBlock) {
        const blk = tokens.slice(b, b + this.maxBlock);
        const last = b + blk.length === tokens.length;
        device.queue.writeBuffer(this.A.tok, 0, new Uint32Array(blk));
        const enc = device.createCommandEncoder();
        this.encodeBlock(enc, blk.length, 0);
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
    if (this.pos + prompt.length + n > this.maxLen)
      throw new Error(
        `generateOnGpu: ${this.pos} + ${prompt.length} + ${n} tokens exceed the ${this.maxLen}-position limit`,
      );
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
    if (this.pos + n > this.maxLen)
      throw new Error(`decodeChain: ${this.pos} + ${n} tokens exceed the ${this.maxLen}-position limit`);
    const base = this.maxBlock; // the ring of slots after the prompt area
    this.device.queue.writeBuffer(this.A.tok, base * 4, new Uint32Array([token]));
    const step = (enc: GPUCommandEncoder, slotIn: number, slotOut: number) => {
      this.encodeBlock(enc, 1, slotIn, undefined, false, (pass) => {
        this.encodeSteps(pass, this.headDecode, 1, 0);
        this.sampler.encode(pass, slotOut, sampling);
      });
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
    const slot = this.maxBlock + TOKEN_RING - 1;
    try {
      for (let b = 0; b < tokens.length; b += this.maxBlock) {
        const blk = tokens.slice(b, b + this.maxBlock);
        const M = blk.length;
        device.queue.writeBuffer(this.A.tok, 0, new Uint32Array(blk));
        const enc = device.createCommandEncoder();
        this.encodeBlock(enc, M, 0);
        if (b + M < tokens.length) {
          device.queue.submit([enc.finish()]);
          this.pos += M;
          continue;
        }
        this.encodeHead(enc, M, false);
        const pass = enc.beginComputePass();
        this.sampler.encode(pass, slot, sampling);
        pass.end();
        this.pos += M;
        return await readToken(device, enc, this.A.tok, slot);
      }
    } catch (e) {
      throw this.wrapError(e);
    }
    throw new Error("append: no tokens given");
  }

  private async readKept(layers: number[]): Promise<EngineInspection> {
    const k = this.kept!;
    const want = new Set(layers);
    const got = await collectInspection(
      this.ctx.device,
      this.plan,
      k.M,
      k.tokens,
      k.start,
      k.copies.filter((c) => want.has(c.layer)),
    );
    this.inspectionBytesRead += got.bytes;
    return {start: got.start, tokens: got.tokens, layers: got.layers};
  }

  /** Layers of the last kept inspection pass (append(…, {inspect: {keep: true}})), read back from the copies it left on
   *  the GPU — nothing is recomputed, and only these layers cross to the CPU. */
  async readInspection(layers: readonly number[]): Promise<EngineInspection> {
    this.guard();
    if (!this.kept)
      throw new Error(
        "readInspection: no kept inspection pass (append with inspect: {keep: true} first; reset and append drop it)",
      );
    for (const l of layers)
      if (!(Number.isInteger(l) && l >= 0 && l < this.plan.L))
        throw new Error(`readInspection: layer ${l} is not in [0, ${this.plan.L})`);
    try {
      return await this.readKept([...layers]);
    } catch (e) {
      throw this.wrapError(e);
    }
  }

  private dropKept(): void {
    for (const c of this.kept?.copies ?? []) c.buf.destroy();
    this.kept = undefined;
  }

  private wrapError(e: unknown): Error {
    if (this.ctx.lostInfo)
      return new DeviceLostError(
        this.ctx.lostInfo.reason,
        `WebGPU device lost (${this.ctx.lostInfo.reason}): ${this.ctx.lostInfo.message}; call rebuild()`,
      );
    return e instanceof Error ? e : new Error(String(e));
  }

  reset(): void {
    this.pos = 0;
    this.startToken = -1;
    this.sampler?.reset();
    this.lastInspection = undefined;
    this.dropKept();
  }

  /** Rebuilds every GPU resource (after a device loss: on a new device when the session owns its device). */
  async rebuild(): Promise<void> {
    this.pool.free();
    if (this.ownsDevice) {
      try {
        this.ctx.device.destroy();
      } catch {
        /* already gone */
      }
    } else if (this.ctx.lostInfo) {
      throw new Error("rebuild: the shared device was lost; create a new session on a new device");
    }
    this.reset();
    await this.build();
  }

  /** EngineInspection: the KV codes of `layer` the GPU stored for positions [start, start + count) — undefined for a
   *  16-bit cache. Reads only that range of the layer's K/V buffers. */
  async inspectKV(layer: number, start: number, count: number): Promise<InspectedKV | undefined> {
    this.guard();
    const P = this.plan;
    if (P.kv.bits >= 16) return undefined;
    if (!(Number.isInteger(layer) && layer >= 0 && layer < P.L))
      throw new Error(`inspectKV: layer ${layer} is not in [0, ${P.L})`);
    if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 1 && start + count <= this.pos))
      throw new Error(
        `inspectKV: positions [${start}, ${start + count}) are not all in the cache (length ${this.pos})`,
      );
    try {
      const r = await readKV(
        this.ctx.device,
        P,
        this.kvFormat(),
        this.A.kv[layer],
        start,
        count,
        kvBitsAt(P.kv, 0, this.startToken),
      );
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
    const p = makePlan({...this.config, bitnet_topk_ratio: ratio}, this.opts.dense ?? "f32");
    if (p.sites.o.quantizer !== this.plan.sites.o.quantizer)
      throw new Error(`setTopKRatio: ratio ${ratio} changes the W_o quantizer; create a session with that config`);
    if (p.sites.o.quantizer !== "topk-int8") return undefined;
    if (!this.plan.oTopKRuntime)
      throw new Error(
        "setTopKRatio: this session's top-K is compiled in (H-BitLinear prologue); create a session with that config",
      );
    this.oNeed = p.oNeed;
    return p.oNeed;
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
   *  argmax), for timing; selected by step tags. */
  decodeDispatches(parts: DecodeParts = {layers: true, head: true, argmax: true}): (Dispatch & {tag: StepTag})[] {
    const {nC} = this.writeStep(1, this.maxBlock);
    const list: (Dispatch & {tag: StepTag})[] = [];
    const add = (s: Dispatch & {gridFn?: Step["gridFn"]; tag: StepTag}) => {
      if (parts.filter && !parts.filter(s.label ?? "", s.tag)) return;
      list.push({
        pipeline: s.pipeline,
        bind: s.bind,
        grid: s.gridFn ? s.gridFn(1, nC) : s.grid,
        label: s.label,
        tag: s.tag,
      });
    };
    if (parts.layers) {
      if (!parts.linearOnly && !parts.hadamardOnly) add(this.embed);
      for (const s of this.decodeSteps) if (wanted(s.tag, parts)) add(s);
    }
    if (parts.head) for (const s of this.headDecode) add(s);
    if (parts.argmax) {
      this.ctx.device.queue.writeBuffer(
        this.A.argP,
        0,
        new Uint32Array([this.sampler.steps.partial.grid[0], this.maxBlock + 1, 0, 0]),
      );
      add({...this.sampler.steps.partial, tag: {kind: "argmax"}});
      add({...this.sampler.steps.final, tag: {kind: "argmax"}});
    }
    return list;
  }

  /** The dispatch list of one prefill block of `tokens` at the current position (embedding … final norm, the last
   *  token's LM head, argmax: what append's prefill encodes, in one list), for timing; the tokens are written to the
   *  token buffer and the position is left as it was. `parts.layers/head/argmax/filter` select as in decodeDispatches. */
  prefillDispatches(
    tokens: readonly number[],
    parts: DecodeParts = {layers: true, head: true, argmax: true},
  ): (Dispatch & {tag: StepTag})[] {
    this.checkTokens(tokens);
    const M = tokens.length;
    if (M > this.maxBlock) throw new Error(`prefillDispatches: ${M} tokens exceed maxBlock ${this.maxBlock}`);
    const q = this.ctx.device.queue;
    q.writeBuffer(this.A.tok, 0, new Uint32Array(tokens));
    const {nC} = this.writeStep(M, 0);
    const list: (Dispatch & {tag: StepTag})[] = [];
    const add = (s: Dispatch & {gridFn?: Step["gridFn"]; tag: StepTag}, m: number) => {
      if (parts.filter && !parts.filter(s.label ?? "", s.tag)) return;
      list.push({
        pipeline: s.pipeline,
        bind: s.bind,
        grid: s.gridFn ? s.gridFn(m, nC) : s.grid,
        label: s.label,
        tag: s.tag,
      });
    };
    if (parts.layers) {
      if (!parts.linearOnly && !parts.hadamardOnly) add(this.embed, M);
      for (const s of this.prefillSteps) if (wanted(s.tag, parts)) add(s, M);
    }
    if (parts.head) {
      const xStride = (8 * Math.ceil(this.plan.C / 8)) / 4; // the last token's final norm, as encodeHead
      for (const Pu of this.headLast.Ps) q.writeBuffer(Pu, 24, new Uint32Array([(M - 1) * xStride]));
      for (const s of this.headLast.steps) add(s, 1);
    }
    if (parts.argmax) {
      q.writeBuffer(
        this.A.argP,
        0,
        new Uint32Array([this.sampler.steps.partial.grid[0], this.maxBlock + TOKEN_RING - 1, 0, 0]),
      );
      add({...this.sampler.steps.partial, tag: {kind: "argmax"}}, 1);
      add({...this.sampler.steps.final, tag: {kind: "argmax"}}, 1);
    }
    return list;
  }

  /** Sets the cache length without computing anything (benchmarks time decode at a given context). */
  setLengthForBenchmark(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n < this.maxLen))
      throw new Error(`setLengthForBenchmark: ${n} not in [0, ${this.maxLen})`);
    this.pos = n;
  }

  /** The decode linear configuration chosen for this device. */
  get decodeLinearConfig(): LinearConfig {
    return this.cfgDecode;
  }
}
