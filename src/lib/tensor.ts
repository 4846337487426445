// Plain, DOM-free tensor containers shared by the reference model, checkpoint I/O, the engine and the
// trainer. Row-major; a linear layer's weight has shape [out, in] as in PyTorch/Hugging Face.
import type {BitNetConfig} from "./config.js";

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** A ternary weight: W ≈ γ · codes, codes ∈ {−1, 0, +1}, row-major [out, in]. */
export interface TernaryTensor {
  shape: [number, number];
  codes: Int8Array;
  /** γ = mean|W| of the latent weight (b1.58 eq. 3); dequantized W = γ · codes. */
  gamma: number;
}

/** Everything a forward pass needs. For quantized variants the seven projections of each layer are in
 *  `ternary`; embeddings, norms and the LM head stay in `float`. An fp model has no ternary tensors.
 *  A latent (training) checkpoint keeps every projection in `float`; `ternarize()` converts it. */
export interface ModelWeights {
  config: BitNetConfig;
  float: Map<string, Tensor>;
  ternary: Map<string, TernaryTensor>;
}

export function tensor(shape: number[], data?: Float32Array): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data && data.length !== n) throw new Error(`tensor: data has ${data.length} values, shape [${shape}] needs ${n}`);
  return {shape, data: data ?? new Float32Array(n)};
}
