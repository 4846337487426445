// TensorFlow.js for Node on a chosen backend. "webgpu" runs tfjs's WebGPU backend on Dawn (npm `webgpu`):
// a real GPU where Vulkan has one, SwiftShader (slow, correct) elsewhere. "cpu" is the pure-JS backend,
// for tiny runs only. "wasm" needs @tensorflow/tfjs-backend-wasm, which this project does not install.
import * as tf from "@tensorflow/tfjs";
import type {TF} from "../lib/train/tf.js";

export type BackendName = "webgpu" | "cpu" | "wasm";
export const BACKENDS: readonly BackendName[] = ["webgpu", "cpu", "wasm"];

export async function loadTf(backend: BackendName): Promise<TF> {
  if (backend === "webgpu") {
    const {create, globals} = await import("webgpu");
    Object.assign(globalThis, globals);
    Object.defineProperty(globalThis, "navigator", {value: {gpu: create([])}, configurable: true, writable: true});
    await import("@tensorflow/tfjs-backend-webgpu");
  } else if (backend === "wasm") {
    const name = "@tensorflow/tfjs-backend-wasm"; // not a dependency: resolved only if someone installs it
    try {
      await import(/* @vite-ignore */ name);
    } catch {
      throw new Error("the wasm backend needs @tensorflow/tfjs-backend-wasm, which is not installed (npm install --save-dev @tensorflow/tfjs-backend-wasm)");
    }
  }
  // The CPU backend prints an advert for tfjs-node on first use in Node; it is not wanted here.
  const ok = await tf.setBackend(backend);
  if (!ok || tf.getBackend() !== backend) throw new Error(`tfjs: backend "${backend}" could not be initialised (no WebGPU adapter?)`);
  await tf.ready();
  return tf as unknown as TF;
}
