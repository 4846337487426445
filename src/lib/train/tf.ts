// The trainer takes TensorFlow.js as a value, not an import: the CLI passes Node's tfjs (CPU or WebGPU
// through Dawn), the pages pass the browser's. This keeps src/lib/train free of bundler- and
// platform-specific module resolution.
import type * as tfjs from "@tensorflow/tfjs";

export type TF = typeof tfjs;
export type TfTensor = tfjs.Tensor;
export type Variable = tfjs.Variable;
export type Scalar = tfjs.Scalar;
