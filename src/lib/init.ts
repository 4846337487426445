// Small random models for tests, kernel tests and benchmarks, reproducible from a seed.
//
// Scales are chosen so every layer does something visible: embeddings N(0, 0.5²) (tied logits of a few
// units), norm weights 1 + N(0, 0.1²) (so a bug that ignores them shows), projections drawn as latent
// N(0, 1/in) and, for quantized variants, ternarized with the absmean quantizer (≈ 31% zeros,
// γ ≈ 0.8/√in, residual updates of order 1).
import {expectedTensors} from "./checkpoint.js";
import type {BitNetConfig} from "./config.js";
import {quantizeWeightsAbsmean} from "./quant.js";
import {Rng} from "./rng.js";
import type {ModelWeights, Tensor, TernaryTensor} from "./tensor.js";

export interface RandomWeightsOptions {
  /** Keep quantized variants' projections as latent floats instead of ternarizing them. */
  latent?: boolean;
  /** Standard deviation of the embedding (default 0.5). */
  embedStd?: number;
}

export function randomWeights(config: BitNetConfig, seed: number, opts: RandomWeightsOptions = {}): ModelWeights {
  const rng = new Rng(seed);
  const float = new Map<string, Tensor>();
  const ternary = new Map<string, TernaryTensor>();
  const quantize = config.bitnet_variant !== "fp" && !opts.latent;
  for (const e of expectedTensors(config)) {
    const n = e.shape.reduce((a: number, b: number) => a * b, 1);
    const data = new Float32Array(n);
    if (e.kind === "linear") {
      rng.fillNormal(data, 1 / Math.sqrt(e.shape[1] as number));
      if (quantize) {
        const q = quantizeWeightsAbsmean(data);
        ternary.set(e.name, {shape: [e.shape[0], e.shape[1] as number], codes: q.codes, gamma: 1 / q.scale});
        continue;
      }
    } else if (e.shape.length === 1) {
      rng.fillNormal(data, 0.1, 1);
    } else {
      rng.fillNormal(data, opts.embedStd ?? 0.5);
    }
    float.set(e.name, {shape: [...e.shape], data});
  }
  return {config, float, ternary};
}
