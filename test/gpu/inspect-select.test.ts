// Inspection copies back only what a view shows: a selected layer read now, or later from the copies a kept pass left
// on the GPU (WebGPUSession.readInspection), equals the same layer of a full read — and fewer bytes cross back.
import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import type {InspectionLayer} from "../../src/gpu/engine.js";
import {defaultConfig} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import {testDevice} from "./harness.js";

const shape = {
  vocab_size: 300,
  hidden_size: 128,
  intermediate_size: 160,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 96,
};
const prompt = [1, 5, 17, 42, 99, 7, 250, 3, 64, 11, 12];

function sameLayer(a: InspectionLayer, b: InspectionLayer): void {
  expect(a.layer).toBe(b.layer);
  for (const k of [
    "residualIn",
    "qkvInput",
    "qkv",
    "attnOut",
    "oInput",
    "gateUpInput",
    "glu",
    "downInput",
    "residualOut",
  ] as const) {
    expect(a[k].length, k).toBe(b[k].length);
    expect(a[k].length, k).toBeGreaterThan(0);
    expect(Array.from(a[k]), k).toEqual(Array.from(b[k]));
  }
  for (const s of ["qkv", "o", "gate_up", "down"] as const) {
    expect(Array.from(a.codes![s].q), s).toEqual(Array.from(b.codes![s].q));
    expect(Array.from(a.codes![s].invScale), s).toEqual(Array.from(b.codes![s].invScale));
  }
}

describe("inspection of selected layers", () => {
  it("a4.8: one layer read now, and others read later from the kept pass, equal a full read's; bytes per layer", async () => {
    const device = await testDevice();
    const w = randomWeights(defaultConfig("a4.8", shape), 41);
    const gpu = await createWebGPUSession(w, {device, inspect: true, maxBlock: prompt.length});
    await gpu.append(prompt, {inspect: {}});
    const full = gpu.lastInspection!;
    const fullBytes = gpu.inspectionBytesRead;
    expect(full.layers.map((l) => l.layer)).toEqual([0, 1, 2]);

    gpu.reset();
    await gpu.append(prompt, {inspect: {layers: [1], keep: true}});
    const one = gpu.lastInspection!;
    const oneBytes = gpu.inspectionBytesRead - fullBytes;
    expect(one.layers.map((l) => l.layer)).toEqual([1]);
    sameLayer(one.layers[0], full.layers[1]);
    // the other layers of the same pass, read later without recomputing
    const before = gpu.inspectionBytesRead;
    const later = await gpu.readInspection([2, 0]);
    expect(later.layers.map((l) => l.layer)).toEqual([0, 2]);
    sameLayer(later.layers[0], full.layers[0]);
    sameLayer(later.layers[1], full.layers[2]);
    // every layer copies the same intermediates: a third of the full read each
    expect(oneBytes * 3).toBe(fullBytes);
    expect(gpu.inspectionBytesRead - before).toBe(2 * oneBytes);
    // the KV cache as stored is still readable per layer, and reset drops the kept pass
    expect((await gpu.inspectKV(1, 0, prompt.length))!.bits.length).toBe(prompt.length);
    gpu.reset();
    await expect(gpu.readInspection([0])).rejects.toThrow(/no kept inspection pass/);
    // the non-kept selected read (copies only that layer) equals too
    await gpu.append(prompt, {inspect: {layers: [2]}});
    sameLayer(gpu.lastInspection!.layers[0], full.layers[2]);
    gpu.dispose();
  });
});
