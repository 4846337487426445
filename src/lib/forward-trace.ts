// The CPU reference forward's trace (model.ts forwardFull / CpuSession with {trace: true}): every projection's
// input, quantized activations and output, the attention weights and the residual norms, per layer.
import type {LinearName} from "./config.js";
import type {ActQuant} from "./quant.js";

export interface LinearTrace {
  name: LinearName;
  /** The float input [T, in] as the projection receives it (after the sub-norm for o and down). */
  input: Float32Array;
  /** H-BitLinear only: H·input, the values that get quantized. */
  rotated?: Float32Array;
  /** The quantized activations (codes, per-token scales, statistics); absent for fp. */
  act?: ActQuant;
  /** Fraction of exact zeros among the values multiplied into the weights (codes, or the float input for fp). */
  sparsity: number;
  /** [T, out] */
  output: Float32Array;
}

export interface LayerTrace {
  layer: number;
  linears: Record<LinearName, LinearTrace>;
  /** Softmax weights [heads, T, S] for the T new tokens over all S = past + T positions (0 past the causal edge). */
  attention: Float32Array;
  attentionShape: [number, number, number];
  /** Per token L2 norm of the residual stream entering the layer, after attention, and leaving it. */
  residualNorm: {input: Float32Array; afterAttention: Float32Array; output: Float32Array};
  /** KV quantization of the new tokens: bits used and mean |error| of K and V (absent at 16 bits). */
  kv?: {bits: number[]; keyMeanAbsError: number; valueMeanAbsError: number};
}

export interface ForwardTrace {
  tokens: number[];
  /** Position of the first of `tokens`. */
  start: number;
  layers: LayerTrace[];
  /** The final RMSNorm's output [T, C], the LM head's input. */
  final: Float32Array;
}
