// Golden checks whose truth comes from outside the reader. CPU-vs-GPU comparisons cannot see a reader that
// hands both sides the same wrong rows (that is how a W_q/W_k permutation shipped); these checks recompute what
// the format owner's runtime would compute from the bytes as stored, with that runtime's own conventions
// (gguf-arch.ts for bitnet.cpp, rotate-half for transformers), and compare it with what the reader feeds the
// model. They are cheap: layer 0's attention for a few positions, and the logits' finiteness.
import {headDim, tensorNames} from "../config.js";
import {llamaRope} from "./gguf-arch.js";
import type {OpenedCheckpoint} from "./open-common.js";

export interface GoldenCheck {
  id: "attention-rope" | "finite-logits";
  pass: boolean;
  /** One plain sentence: what was compared and the result. */
  detail: string;
  maxAbsDiff?: number;
}

function rmsNormRow(x: Float32Array, g: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const r = 1 / Math.sqrt(ss / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * r * g[i];
  return out;
}

function matVec(w: Float32Array, rows: number, cols: number, x: Float64Array): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * cols;
    for (let c = 0; c < cols; c++) s += w[o + c] * x[c];
    y[r] = s;
  }
  return y;
}

/** Layer 0's attention scores q_i·k_j/√d (j ≤ i, every head, positions 0…n−1) from the reader's rows with
 *  rotate-half RoPE (what the reference forward and the engine do), against the same scores from the rows as
 *  the file stores them with the RoPE its owner's runtime applies. Positions ≥ 1 are where a row-order
 *  mistake shows: at position 0 RoPE is the identity. Activations stay float: this checks row order and RoPE,
 *  not quantization. */
export async function attentionRopeCheck(opened: OpenedCheckpoint, ids: readonly number[]): Promise<GoldenCheck> {
  const c = opened.inspection.config;
  const rt = opened.inspection.runtime;
  const d = headDim(c);
  const n = tensorNames.layer(0);
  const rows = opened.rowSource();
  const norm = (await opened.tensor(n.inputNorm)).float!.data;
  const xs: Float64Array[] = [];
  for (const id of ids) xs.push(rmsNormRow(await rows.floatRows(tensorNames.embed, id, 1), norm, c.rms_norm_eps));
  const scores = async (
    W: {data: Float32Array; shape: [number, number]},
    K: {data: Float32Array; shape: [number, number]},
    rope: "neox" | "norm",
  ) => {
    const H = c.num_attention_heads,
      G = H / c.num_key_value_heads;
    const qs = xs.map((x, p) => {
      const q = matVec(W.data, W.shape[0], W.shape[1], x);
      for (let h = 0; h < H; h++) llamaRope(q.subarray(h * d, (h + 1) * d), p, rt.ropeTheta, rope);
      return q;
    });
    const ks = xs.map((x, p) => {
      const k = matVec(K.data, K.shape[0], K.shape[1], x);
      for (let h = 0; h < c.num_key_value_heads; h++) llamaRope(k.subarray(h * d, (h + 1) * d), p, rt.ropeTheta, rope);
      return k;
    });
    const out: number[] = [];
    for (let i = 1; i < xs.length; i++)
      for (let j = 0; j <= i; j++)
        for (let h = 0; h < H; h++) {
          let s = 0;
          const kh = Math.floor(h / G);
          for (let e = 0; e < d; e++) s += qs[i][h * d + e] * ks[j][kh * d + e];
          out.push(s / Math.sqrt(d));
        }
    return out;
  };
  const asMatrix = async (name: string) => {
    const t = await opened.tensor(name);
    if (t.float) return {data: t.float.data, shape: t.float.shape as [number, number]};
    const data = new Float32Array(t.ternary.codes.length);
    for (let k = 0; k < data.length; k++) data[k] = t.ternary.codes[k] * t.ternary.gamma;
    return {data, shape: t.ternary.shape};
  };
  const ours = await scores(await asMatrix(n.q), await asMatrix(n.k), "neox");
  const theirs = await scores(await opened.storedRows(n.q), await opened.storedRows(n.k), rt.rope);
  let maxAbs = 0,
    maxDiff = 0;
  for (let i = 0; i < ours.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(theirs[i]));
    maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
  }
  const tol = 1e-6 * Math.max(1, maxAbs);
  const pass = maxDiff <= tol;
  const what = `layer 0 attention scores at positions 1…${ids.length - 1} (${ours.length} scores): as this reader feeds the model vs as ${rt.name} computes them from the rows the file stores (${rt.rope === "neox" ? "rotate-half" : "adjacent-pair"} RoPE, θ = ${rt.ropeTheta})`;
  return {
    id: "attention-rope",
    pass,
    maxAbsDiff: maxDiff,
    detail: pass
      ? `${what}: equal (max |Δ| ${maxDiff.toExponential(2)})`
      : `${what}: they differ by up to ${maxDiff.toPrecision(3)} (scores up to ${maxAbs.toPrecision(3)}) — the reader's W_q/W_k row order or RoPE is not the one this file was made for`,
  };
}

/** Every logit finite: NaN or ±∞ anywhere is a failure, whatever else agrees. */
export function finiteLogitsCheck(logits: Float32Array, vocab: number): GoldenCheck {
  for (let i = 0; i < logits.length; i++) {
    if (!Number.isFinite(logits[i])) {
      const pos = Math.floor(i / vocab);
      return {
        id: "finite-logits",
        pass: false,
        detail: `logit ${i % vocab} at position ${pos} is ${logits[i]}: the weights or scales produce non-finite values (an absurd scale?)`,
      };
    }
  }
  return {id: "finite-logits", pass: true, detail: `all ${logits.length} logits are finite`};
}
