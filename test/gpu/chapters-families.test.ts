// The chapters' GPU data on every family's fixture: the engine's inspection pass (what app/live-trace.ts runs for
// chapters 2–5 and the forward inspector) turned into the chapter trace (traceFromInspection) agrees with the CPU
// reference's trace on the page's golden check (compareTraces), and the views' numbers drawn from it — sparsity per
// layer and component, the inspector's metrics — equal the CPU's.
import {describe, expect, it} from "vitest";
import {createWebGPUSession} from "../../src/gpu/engine.js";
import {compareTraces, traceFromInspection} from "../../src/lib/chapters/gpu-trace.js";
import {layerTokenMetric} from "../../src/lib/chapters/inspect.js";
import {bytesCodec} from "../../src/lib/chapters/opened-model.js";
import {layerSparsity} from "../../src/lib/chapters/sparsity.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {forwardFull} from "../../src/lib/model.js";
import {pathFileSet} from "../../src/node/files.js";
import {GPU_CHAPTER_FIXTURES, fixtureLabel} from "../unit/chapter-fixtures.js";
import {testDevice} from "./harness.js";

describe("chapter traces from the GPU inspection pass on the family fixtures", () => {
  for (const f of GPU_CHAPTER_FIXTURES) {
    it(`${fixtureLabel(f)}: codes, values, sparsity and inspector metrics match the CPU reference`, async () => {
      const device = await testDevice();
      const o = await openCheckpoint(await pathFileSet(`data/fixtures/${f.name}`), f.opts ?? {});
      const w = await o.load();
      const c = w.config;
      const ids = bytesCodec(c).encode("The state of");
      const gpu = await createWebGPUSession(w, {device, inspect: true, maxBlock: ids.length});
      try {
        await gpu.append(ids, {inspect: {}});
        const ins = gpu.lastInspection!;
        const layers = [];
        for (const l of ins.layers) layers.push({...l, kv: await gpu.inspectKV(l.layer, 0, ids.length)});
        const g = traceFromInspection({...ins, layers}, c, w);
        const ref = forwardFull(w, ids, {trace: true}).trace!;
        const r = compareTraces(g, ref);
        expect(r.pass, JSON.stringify(r)).toBe(true);
        if (f.ternary === "codes") {
          expect(r.codes).toBeGreaterThan(0);
          expect(r.codesDiffer).toBe(0);
        }
        const sg = layerSparsity(g, c);
        const sr = layerSparsity(ref, c);
        for (let l = 0; l < sg.length; l++)
          for (const k of Object.keys(sr[l]) as (keyof (typeof sr)[0])[]) expect(sg[l][k]).toBeCloseTo(sr[l][k], 5);
        for (const m of ["residual", "growth", "sparsity", "error"] as const) {
          const a = layerTokenMetric(g, m, "down");
          const b = layerTokenMetric(ref, m, "down");
          for (let i = 0; i < a.length; i++)
            expect(Math.abs(a[i] - b[i])).toBeLessThan(1e-3 * Math.max(1, Math.abs(b[i])));
        }
      } finally {
        gpu.dispose();
      }
    });
  }
});
