// The Open page's embeddings: two token sequences → two unit vectors and their cosine, on the WebGPU engine
// (WebGPUSession.embedding: pooling + L2 on the GPU) when the page has WebGPU and the engine runs the architecture,
// otherwise — or when the GPU pass fails — on the CPU reference (model.ts embedTokens), and the result says which
// and why. Where the file holds float master weights (OpenedCheckpoint.loadFloat), the same two texts again with
// the projections unquantized, so the reader sees what ternary costs.
import {createWebGPUSession} from "../gpu/engine.js";
import type {GpuContext} from "../gpu/device.js";
import type {OpenedCheckpoint} from "../lib/formats/open-common.js";
import {embedTokens} from "../lib/model.js";
import type {ModelWeights} from "../lib/tensor.js";

export interface EmbeddedPair {
  vectors: [Float32Array, Float32Array];
  /** "WebGPU" or "the CPU reference", and why the CPU when it is the CPU. */
  backend: string;
}

export interface EmbedPairResult extends EmbeddedPair {
  /** The same texts with float weights, or why there is no such comparison. */
  float: EmbeddedPair | {unavailable: string};
}

export interface EmbedPairOptions {
  /** The page device, when the page has WebGPU and the engine runs this architecture; else why not. */
  gpu: (() => Promise<GpuContext>) | {unavailable: string};
}

async function embedBoth(w: ModelWeights, ids: [number[], number[]], o: EmbedPairOptions): Promise<EmbeddedPair> {
  const cpu = (why: string): EmbeddedPair => ({
    vectors: [embedTokens(w, ids[0]), embedTokens(w, ids[1])],
    backend: `the CPU reference (${why})`,
  });
  if (typeof o.gpu !== "function") return cpu(o.gpu.unavailable);
  let s: Awaited<ReturnType<typeof createWebGPUSession>> | undefined;
  try {
    const maxLength = Math.min(w.config.max_position_embeddings, Math.max(ids[0].length, ids[1].length));
    s = await createWebGPUSession(w, {gpu: await o.gpu(), maxLength});
    return {vectors: [await s.embedding(ids[0]), await s.embedding(ids[1])], backend: "WebGPU"};
  } catch (e) {
    return cpu(`the WebGPU pass failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    s?.dispose();
  }
}

type Opened = Pick<OpenedCheckpoint, "load" | "loadFloat" | "inspection">;

// The page compares many pairs of texts on one opened file: read its weights (and the float ones) once, not per pair.
const loaded = new WeakMap<Opened, {ternary: Promise<ModelWeights>; float?: Promise<ModelWeights>}>();
function weightsOf(opened: Opened): {ternary: Promise<ModelWeights>; float?: Promise<ModelWeights>} {
  let w = loaded.get(opened);
  if (!w) {
    w = {ternary: opened.load(), float: opened.loadFloat?.()};
    // a failed read is not kept: the next pair tries again
    w.ternary.catch(() => loaded.delete(opened));
    w.float?.catch(() => loaded.delete(opened));
    loaded.set(opened, w);
  }
  return w;
}

export async function embedPair(
  opened: Opened,
  ids: [number[], number[]],
  o: EmbedPairOptions,
): Promise<EmbedPairResult> {
  const w = weightsOf(opened);
  const main = await embedBoth(await w.ternary, ids, o);
  const float = w.float
    ? await embedBoth(await w.float, ids, o)
    : {
        unavailable: `this file stores ${opened.inspection.format === "hf-packed" || opened.inspection.format.startsWith("gguf") ? "only the ternary codes and their scales" : "no separate float weights"}: there are no float weights to compare with`,
      };
  return {...main, float};
}
