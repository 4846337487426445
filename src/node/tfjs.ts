// TensorFlow.js for Node on a chosen backend. "webgpu" runs tfjs's WebGPU backend on Dawn (npm `webgpu`):
// a real GPU where Vulkan has one, SwiftShader (slow, correct) elsewhere. "cpu" is the pure-JS backend,
// for tiny runs only. "wasm" is tfjs's WebAssembly backend (@tensorflow/tfjs-backend-wasm, a dependency).
import * as tf from "@tensorflow/tfjs";
import type {TF} from "../lib/train/tf.js";
import {vulkanDrivers} from "./gpu-env.js";

export type TfBackendName = "webgpu" | "cpu" | "wasm";
export const TF_BACKENDS: readonly TfBackendName[] = ["webgpu", "cpu", "wasm"];

export async function loadTf(backend: TfBackendName): Promise<TF> {
  if (backend === "webgpu") {
    vulkanDrivers(); // before Dawn starts: no "vkCreateInstance failed" noise where only SwiftShader exists
    const {create, globals} = await import("webgpu");
    Object.assign(globalThis, globals);
    const gpu = create([]);
    // Ask for an adapter first: tfjs's own failure is a stack trace with no hint.
    if (!(await gpu.requestAdapter()))
      throw new Error("tfjs: no WebGPU adapter (Dawn found no Vulkan device); use --backend cpu");
    Object.defineProperty(globalThis, "navigator", {value: {gpu}, configurable: true, writable: true});
    await import("@tensorflow/tfjs-backend-webgpu");
  } else if (backend === "wasm") {
    const name = "@tensorflow/tfjs-backend-wasm";
    try {
      await import(/* @vite-ignore */ name);
    } catch {
      throw new Error(
        "the wasm backend needs @tensorflow/tfjs-backend-wasm, which is not installed (npm install --save-dev @tensorflow/tfjs-backend-wasm)",
      );
    }
  }
  const ok = await tf.setBackend(backend);
  if (!ok || tf.getBackend() !== backend)
    throw new Error(
      `tfjs: backend "${backend}" could not be initialised${backend === "webgpu" ? " (no WebGPU adapter?); use --backend cpu" : ""}`,
    );
  await tf.ready();
  // The CPU backend prints an advert for tfjs-node on its first tensor in Node ("Hi, looks like you are
  // running TensorFlow.js in Node.js…"); it is not wanted here. The flag is the backend's own first-use mark.
  const b = tf.backend() as {firstUse?: boolean};
  if (b.firstUse === true) b.firstUse = false;
  return tf as unknown as TF;
}
