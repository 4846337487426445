// The chapters on a checkpoint of every family the Open page opens: each chapter's data computed through the functions
// the pages call (src/lib/chapters/*), on the fixtures written by each family's own code. The ternary chapter's codes
// and scales (stored, ternarized at load, or recovered from a pseudo-quantized float matrix), the Hadamard chapter's
// before/after (this page's rotation, applied for illustration: these models do not rotate), the sparsity chapter's
// per-layer shares, the forward inspector's metrics, and text ↔ ids without a tokenizer. The GPU inspection of the
// same fixtures against the CPU reference: test/gpu/chapters-families.test.ts.
import {describe, expect, it} from "vitest";
import {LINEARS, tensorNames} from "../../src/lib/config.js";
import {rotateRows} from "../../src/lib/chapters/hadamard.js";
import {layerTokenMetric} from "../../src/lib/chapters/inspect.js";
import {bytesCodec, chapterTernary, generationRefusal, scaleAt} from "../../src/lib/chapters/opened-model.js";
import {layerSparsity, meanSparsity} from "../../src/lib/chapters/sparsity.js";
import {histogram, moments} from "../../src/lib/chapters/stats.js";
import {ternaryShares} from "../../src/lib/chapters/ternary.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {forwardFull} from "../../src/lib/model.js";
import {pathFileSet} from "../../src/node/files.js";
import {CHAPTER_FIXTURES, fixtureLabel} from "./chapter-fixtures.js";

const PROMPT = "The state of the Union";

describe("chapters on every family's fixture", () => {
  for (const f of CHAPTER_FIXTURES) {
    it(`${fixtureLabel(f)}: ternary codes and scales, Hadamard before/after, sparsity per layer, inspector, bytes prompt`, async () => {
      const o = await openCheckpoint(await pathFileSet(`data/fixtures/${f.name}`), f.opts ?? {});
      const w = await o.load();
      const c = w.config;

      // Ternary chapter: every projection of every layer, or a refusal in words for a float model.
      for (let l = 0; l < c.num_hidden_layers; l++) {
        for (const p of LINEARS) {
          const name = tensorNames.layer(l)[p];
          if (f.ternary === "refused") {
            expect(() => chapterTernary(w, name)).toThrow(/float model, so there are no ternary weights/);
            continue;
          }
          const t = chapterTernary(w, name);
          if (f.ternary !== "ternary") expect(t.source).toBe(f.ternary);
          expect(t.codes.length).toBe(t.rows * t.cols);
          expect(t.codes.every((x) => x === -1 || x === 0 || x === 1)).toBe(true);
          const s = ternaryShares(t.codes);
          expect(s.neg + s.zero + s.pos).toBe(t.rows * t.cols);
          expect(s.total).toBe(t.rows * t.cols);
          // three kinds of codes in a real matrix, each a share strictly between 0 and 1
          for (const k of [s.neg, s.zero, s.pos]) expect(k).toBeGreaterThan(0);
          const bins = histogram(t.codes, 3, [-1.5, 1.5]);
          expect(bins.map((b) => b.count)).toEqual([s.neg, s.zero, s.pos]);
          expect(t.gamma).toBeGreaterThan(0);
          const groups = t.scales.groups.reduce((n, g) => n + g.length, 0);
          expect(groups).toBe(t.scales.axis === "cols" ? t.cols : t.rows);
          if (t.source === "pseudo") {
            // the recovered codes × their group's α are the stored float values, bit for bit
            const fl = w.float.get(name)!.data;
            for (let i = 0; i < fl.length; i += 7)
              expect(t.codes[i] * scaleAt(t, Math.floor(i / t.cols), i % t.cols) - fl[i]).toBe(0);
          }
        }
      }
      if (f.name === "fam-trilm-unpacked") {
        // TriLM shards: α per row group for W_q, per column group for W_down
        expect(chapterTernary(w, tensorNames.layer(0).q).scales.axis).toBe("rows");
        expect(chapterTernary(w, tensorNames.layer(0).down).scales.axis).toBe("cols");
      }

      // Prompts without a tokenizer: UTF-8 bytes after BOS, as the Open page does.
      const codec = o.tokenizerJSON ? null : bytesCodec(c);
      const ids = codec ? codec.encode(PROMPT) : [c.bos_token_id, 84, 104, 101, 32, 115, 116, 97, 116, 101];
      if (codec) {
        expect(ids).toEqual([c.bos_token_id, ...new TextEncoder().encode(PROMPT)]);
        expect(codec.decode(ids)).toBe(PROMPT);
        expect(codec.vocabSize).toBeLessThanOrEqual(c.vocab_size);
      }
      expect(generationRefusal(c) !== null).toBe(!!f.embedding);

      const trace = forwardFull(w, ids, {trace: true}).trace!;
      const T = ids.length;

      // Hadamard chapter: W_down's input, rotated by this page's H (the models have none), is the same vector
      // (Hᵀ brings it back) and a planted outlier channel is spread out (kurtosis falls).
      const down = trace.layers[0].linears.down;
      expect(down.rotated).toBeUndefined();
      const n = down.input.length / T;
      const x = Float64Array.from(down.input.subarray((T - 1) * n, T * n));
      const back = rotateRows(rotateRows(x, n), n, {transpose: true});
      for (let i = 0; i < n; i++) expect(Math.abs(back[i] - x[i])).toBeLessThan(1e-9 * (1 + Math.abs(x[i])));
      const planted = Float64Array.from(x);
      planted[5] = 60 * moments(x).maxAbs;
      const before = moments(planted).kurtosis;
      const after = moments(rotateRows(planted, n)).kurtosis;
      expect(before).toBeGreaterThan(n / 4);
      expect(after).toBeLessThan(before / 4);

      // Sparsity chapter: shares in [0, 1]; layer 0's QKV share is the hand count of zero input codes.
      const per = layerSparsity(trace, c);
      expect(per.length).toBe(c.num_hidden_layers);
      for (const s of [...per, meanSparsity(per)])
        for (const v of Object.values(s)) expect(v >= 0 && v <= 1, JSON.stringify(s)).toBe(true);
      const q = trace.layers[0].linears.q;
      const vals = q.act ? q.act.q : q.input;
      let zeros = 0;
      for (let i = 0; i < vals.length; i++) if (vals[i] === 0) zeros++;
      expect(per[0].qkv).toBeCloseTo(zeros / vals.length, 12);
      if (f.ternary === "codes") expect(q.act).toBeDefined();

      // Forward inspector: residual norms grow from the layer's input; shares and errors are fractions.
      for (const metric of ["residual", "growth", "sparsity", "error"] as const) {
        const v = layerTokenMetric(trace, metric, "down");
        expect(v.length).toBe(c.num_hidden_layers * T);
        expect(v.every(Number.isFinite)).toBe(true);
        if (metric === "residual") expect(v.every((r) => r > 0)).toBe(true);
        if (metric === "sparsity") expect(v.every((r) => r >= 0 && r <= 1)).toBe(true);
      }
    });
  }
});
