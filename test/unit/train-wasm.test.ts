// tfjs's WASM backend trains the same model as its CPU backend: the twin's first steps give the same losses (within
// f32 summation-order noise, 5e-3 nats) and flip rates on both (the WASM OneHot kernel ignored a float32 dtype,
// which kept the loss at ln V: model.ts casts).
import {TwinRun} from "../../src/app/train/twin-run.js";
import * as tfjs from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import {afterAll, expect, it} from "vitest";

import type {TF} from "../../src/lib/train/tf.js";

const tf = tfjs as unknown as TF;
afterAll(async () => {
  await tfjs.setBackend("cpu");
});

it("WASM and CPU give the same losses and flip rates for the twin's first steps (odd vocab, tiny model)", async () => {
  const V = 301;
  const ids = Uint16Array.from({length: 6000}, (_, i) => (i * 7919 + (i >> 3)) % V);
  const data = {train: ids, val: ids.slice(0, 2000)};
  const out: Record<string, {b: number; f: number; flip: number}[]> = {};
  for (const backend of ["cpu", "wasm"]) {
    expect(await tfjs.setBackend(backend)).toBe(true);
    const run = TwinRun.create(tf, {size: "tiny", steps: 20, lr: 0.01, seed: 3, vocabSize: V}, data);
    out[backend] = [];
    for (let i = 0; i < 3; i++) {
      const {point} = await run.stepOnce();
      out[backend].push({b: point.bitnetLoss, f: point.fpLoss, flip: point.flip});
    }
    run.dispose();
  }
  expect(out.wasm[0].b).toBeGreaterThan(Math.log(V) - 0.5); // starts near uniform guessing…
  expect(out.wasm[2].b).not.toBeCloseTo(out.wasm[0].b, 4); // …and moves (it was stuck at exactly ln V)
  for (let i = 0; i < 3; i++) {
    expect(out.wasm[i].b).toBeCloseTo(out.cpu[i].b, 2);
    expect(out.wasm[i].f).toBeCloseTo(out.cpu[i].f, 2);
    expect(Math.abs(out.wasm[i].flip - out.cpu[i].flip)).toBeLessThan(0.01);
  }
});
