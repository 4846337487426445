// Encoding a session's blocks: the step uniform written for a block of M tokens at a position, the layer steps
// split into compute passes, the LM head for the rows a caller wants. One BlockEncoder per build (its step lists
// belong to that build's steps); the position and the other per-step values stay the session's and come in as
// a StepAt, so what changes between steps has one owner.
import type {SamplingOptions} from "../../lib/backend.js";
import {kvBitsAt} from "../../lib/variant.js";
import {encodeInspected} from "./inspect.js";
import {CHUNK, NC_PREFILL, type Plan} from "./plan.js";
import type {SessionDims, SessionSteps} from "./session-build.js";
import {splitPasses, StepList} from "./step-list.js";
import type {Step} from "./types.js";

/** The session's state a step's uniforms depend on. */
export interface StepAt {
  /** Tokens already in the KV cache. */
  pos: number;
  /** The sequence's token at position 0 (variant.ts kvBitsAt: the BOS token's KV bits). */
  startToken: number;
  /** K of W_o's top-K as the kernels read it (setTopKRatio). */
  oNeed: number;
  /** Compute passes per step (options.passesPerToken, a measured knob). */
  passesPerToken: number;
}

/** Attention chunks for a block of M tokens ending at position S: how many (nC) and how long each is. */
export function attentionChunks(M: number, S: number, dims: SessionDims): {nC: number; chunk: number} {
  if (M === 1) {
    // at most attnMaxChunks chunks (each a multiple of attnChunk): W_o's combine reads H·nC·(d + 2) floats
    const n = Math.ceil(S / dims.attnChunk);
    const chunk = dims.attnChunk * Math.ceil(n / Math.min(n, dims.attnMaxChunks));
    return {nC: Math.ceil(S / chunk), chunk};
  }
  const n64 = Math.ceil(S / CHUNK);
  const nC = Math.min(n64, NC_PREFILL);
  return {nC, chunk: CHUNK * Math.ceil(n64 / nC)};
}

export class BlockEncoder {
  /** Encoding state kept per step list (step-list.ts): the passes of a block, and lists encoded whole. */
  private readonly passCache = new Map<readonly Step[], {passes: number; lists: StepList[]}>();
  private readonly stepLists = new WeakMap<readonly Step[], StepList>();

  constructor(
    readonly device: GPUDevice,
    private readonly P: Plan,
    readonly steps: SessionSteps,
    private readonly dims: SessionDims,
    /** options.passPerDispatch: one compute pass per dispatch (for timing each). */
    private readonly passPerDispatch: boolean,
  ) {}

  /** Writes the step uniform and the embedding slot, for a block of M tokens at `at.pos`. */
  writeStep(at: StepAt, M: number, slotIn: number): {nC: number} {
    const {nC, chunk} = attentionChunks(M, at.pos + M, this.dims);
    const kv = this.P.kv;
    // plainStart: position 0 is not the BOS token, so it gets the ordinary KV bits
    const plainStart = kvBitsAt(kv, 0, at.startToken) === kv.bosBits ? 0 : 1;
    const q = this.device.queue;
    const {A, embRows} = this.steps;
    q.writeBuffer(A.st, 0, new Uint32Array([M, at.pos, nC, chunk, plainStart, at.oNeed, 0, 0]));
    q.writeBuffer(A.embedP, 0, new Uint32Array([this.P.C, embRows.words, slotIn, embRows.perChunk]));
    return {nC};
  }

  encodeSteps(pass: GPUComputePassEncoder, steps: readonly Step[], M: number, nC: number): void {
    let list = this.stepLists.get(steps);
    if (!list) this.stepLists.set(steps, (list = new StepList(steps)));
    list.encode(pass, M, nC);
  }

  /** Encodes a block of M tokens (already in the token buffer at slotIn) through the final norm; `tail` adds to the
   *  last compute pass (a decode step's head and sampling: one pass per step, not two). */
  encodeBlock(
    enc: GPUCommandEncoder,
    at: StepAt,
    M: number,
    slotIn: number,
    inspect?: Set<number>,
    keep = false,
    tail?: (pass: GPUComputePassEncoder) => void,
  ): ReturnType<typeof encodeInspected> | undefined {
    const {nC} = this.writeStep(at, M, slotIn);
    const steps = M === 1 && !inspect ? this.steps.decode : this.steps.prefill;
    if (inspect) {
      const pass = enc.beginComputePass();
      this.encodeSteps(pass, [this.steps.embed], M, nC);
      pass.end();
      const encode = (pass: GPUComputePassEncoder, s: readonly Step[]) => this.encodeSteps(pass, s, M, nC);
      return encodeInspected(this.device, enc, this.P, this.steps.A, steps, M, inspect, encode, keep);
    }
    const lists = this.passLists(steps, at.passesPerToken);
    lists.forEach((list, i) => {
      const pass = enc.beginComputePass();
      list.encode(pass, M, nC);
      if (i === lists.length - 1) tail?.(pass);
      pass.end();
    });
    return undefined;
  }

  /** The embedding and `steps` split into the step's compute passes, made once per split (encoding reuses them). */
  private passLists(steps: readonly Step[], passesPerToken: number): StepList[] {
    const n = 1 + steps.length;
    const passes = this.passPerDispatch ? n : Math.max(1, Math.min(n, Math.floor(passesPerToken)));
    let c = this.passCache.get(steps);
    if (c?.passes !== passes)
      this.passCache.set(steps, (c = {passes, lists: splitPasses([this.steps.embed, ...steps], passes)}));
    return c.lists;
  }

  /** Encodes the LM head for the block just encoded: all M rows, or the last token's. */
  encodeHead(enc: GPUCommandEncoder, M: number, all: boolean): {src: GPUBuffer; rows: number} {
    const q = this.device.queue;
    const {A, headAll, headLast, headDecode} = this.steps;
    const pass = enc.beginComputePass();
    let out: {src: GPUBuffer; rows: number};
    if (all && M > 1) {
      for (const Pu of headAll.Ps) q.writeBuffer(Pu, 8, new Uint32Array([M]));
      this.encodeSteps(pass, headAll.steps, M, 0);
      out = {src: A.logitsAll!, rows: M};
    } else if (M === 1) {
      this.encodeSteps(pass, headDecode, 1, 0);
      out = {src: A.logits, rows: 1};
    } else {
      this.headAtLastToken(M);
      this.encodeSteps(pass, headLast.steps, 1, 0);
      out = {src: A.logits, rows: 1};
    }
    pass.end();
    return out;
  }

  /** Points the last-token LM head (steps.headLast) at the final norm of token M−1 of the block. */
  headAtLastToken(M: number): void {
    const xStride = (8 * Math.ceil(this.P.C / 8)) / 4;
    for (const Pu of this.steps.headLast.Ps)
      this.device.queue.writeBuffer(Pu, 24, new Uint32Array([(M - 1) * xStride]));
  }

  /** A prompt in blocks of at most maxBlock tokens, each written into the token buffer's prompt area (slot 0 on)
   *  with a fresh command encoder; `b` is the block's offset in `tokens`. */
  *blocks(tokens: readonly number[]): Generator<{b: number; blk: number[]; last: boolean; enc: GPUCommandEncoder}> {
    for (let b = 0; b < tokens.length; b += this.dims.maxBlock) {
      const blk = tokens.slice(b, b + this.dims.maxBlock);
      this.device.queue.writeBuffer(this.steps.A.tok, 0, new Uint32Array(blk));
      yield {b, blk, last: b + blk.length === tokens.length, enc: this.device.createCommandEncoder()};
    }
  }

  /** Encodes the LM head's rows (encodeHead), copies them out and submits `enc`; `logits` resolves once read. */
  submitHead(enc: GPUCommandEncoder, M: number, all: boolean): {rows: number; logits: Promise<Float32Array>} {
    const {src, rows} = this.encodeHead(enc, M, all);
    const bytes = rows * this.P.V * 4;
    const rb = this.device.createBuffer({size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
    enc.copyBufferToBuffer(src, 0, rb, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    const logits = rb.mapAsync(GPUMapMode.READ).then(() => {
      const got = new Float32Array(rb.getMappedRange().slice(0));
      rb.unmap();
      rb.destroy();
      return got;
    });
    return {rows, logits};
  }

  /** Encodes the head of a prefill block's last token and picking the next token into token slot `slot`. */
  encodeSample(enc: GPUCommandEncoder, M: number, slot: number, sampling: Partial<SamplingOptions>): void {
    this.encodeHead(enc, M, false);
    const pass = enc.beginComputePass();
    this.steps.sampler.encode(pass, slot, sampling);
    pass.end();
  }

  /** Encodes one chained decode step: the token in slot `slotIn` through the layers, the head and the sampler, which
   *  writes the next token into `slotOut` — all in the block's last compute pass. */
  encodeDecodeStep(
    enc: GPUCommandEncoder,
    at: StepAt,
    slotIn: number,
    slotOut: number,
    sampling: Partial<SamplingOptions>,
  ): void {
    this.encodeBlock(enc, at, 1, slotIn, undefined, false, (pass) => {
      this.encodeSteps(pass, this.steps.headDecode, 1, 0);
      this.steps.sampler.encode(pass, slotOut, sampling);
    });
  }
}
