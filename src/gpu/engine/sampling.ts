// Picking the next token on the GPU: greedy argmax (two dispatches) or temperature / top-k / top-p sampling, the id
// written into a slot of the token buffer, from where the next decode step's embedding reads it.
import type {SamplingOptions} from "../../lib/backend.js";
import {encodeDispatches} from "../gpu.js";
import type {Activations} from "./buffers.js";
import type {SamplingSteps} from "./blocks.js";

export class GpuSampler {
  /** Draws so far: the sampling kernel's counter, so seeded runs are reproducible step by step. */
  private draws = 0;
  /** argmax stage 1's V as last written (built with the whole vocabulary): a chain of steps writes it once. */
  private argV: number;
  constructor(
    private readonly queue: GPUQueue,
    private readonly A: Activations,
    readonly steps: SamplingSteps,
    private readonly V: number,
  ) {
    this.argV = V;
  }

  /** Encodes picking a token from `logits` into token slot `slot`. */
  encode(pass: GPUComputePassEncoder, slot: number, sampling: Partial<SamplingOptions>): void {
    const s = {temperature: 0, topK: 0, topP: 1, seed: 0, ...sampling};
    // Ids ≥ vocabLimit (an embedding padded beyond the tokenizer) are never drawn.
    const V = Math.min(this.V, s.vocabLimit ?? this.V);
    if (s.temperature === 0) {
      if (V !== this.argV) this.queue.writeBuffer(this.steps.vocabP, 0, new Uint32Array([V, 0]));
      this.argV = V;
      this.argmaxInto(slot);
      encodeDispatches(pass, [this.steps.partial, this.steps.final]);
      return;
    }
    const u = new Uint32Array(8);
    const fl = new Float32Array(u.buffer);
    u[0] = V;
    u[2] = s.topK;
    u[3] = slot;
    fl[4] = 1 / s.temperature;
    fl[5] = s.topP;
    u[6] = s.seed >>> 0;
    u[7] = this.draws++;
    this.queue.writeBuffer(this.A.sampleP, 0, u);
    encodeDispatches(pass, [this.steps.sample]);
  }

  /** The argmax's uniform: stage 1's workgroups and the token slot stage 2 writes. */
  argmaxInto(slot: number): void {
    this.queue.writeBuffer(this.A.argP, 0, new Uint32Array([this.steps.partial.grid[0], slot, 0, 0]));
  }

  reset(): void {
    this.draws = 0;
  }
}

/** Copies token slot `slot` out, submits the encoder, and resolves to the id (a 4-byte readback). */
export function readToken(device: GPUDevice, enc: GPUCommandEncoder, tok: GPUBuffer, slot: number): Promise<number> {
  const rb = device.createBuffer({size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST});
  enc.copyBufferToBuffer(tok, slot * 4, rb, 0, 4);
  device.queue.submit([enc.finish()]);
  return rb.mapAsync(GPUMapMode.READ).then(() => {
    const v = new Uint32Array(rb.getMappedRange())[0];
    rb.unmap();
    rb.destroy();
    return v;
  });
}
