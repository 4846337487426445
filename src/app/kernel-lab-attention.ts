// The kernel lab's checks of the wide decode attention (kernels/attention-wide.ts; issue 25: the G query heads of a
// KV head run their softmax max/sum trees side by side). Two checks on one random 16-bit cache per shape:
// - the softmax statistics (max, Σ) of every head and chunk against the same kernel built with one query head per
//   workgroup (G = 1, each KV vector copied to its heads): same pairs per head, so the same bits;
// - the output, combined over the chunks in float64, against the 16-bit split-attention kernel (attention16WGSL,
//   one thread per position): a different summation order, so within float32 rounding;
// and the wide kernel with RoPE and the new position's K/V write fused in against rope_kv, then the wide kernel.
import {type CheckOptions, type CheckResult, Tally, compareBits, dispatchTimed, shapesFor} from "./kernel-lab-kit.js";
import {pipelineChecked, readF32, storageBuffer, uniformBuffer} from "../gpu/gpu.js";
import {attentionWideOK} from "../gpu/kernels/attention.js";
import {attention16WGSL} from "../gpu/kernels/attention-16.js";
import {attentionWideWGSL} from "../gpu/kernels/attention-wide.js";
import {type KVFormat, kvLayout} from "../gpu/kernels/kv-cache.js";
import {ropeKVWGSL} from "../gpu/kernels/rope-kv.js";
import {f32ToF16Bits} from "../gpu/kernels/linear.js";
import {Rng} from "../lib/rng.js";

interface AttnShape {
  H: number;
  KV: number;
  d: number;
  store16: "f32" | "f16";
  /** the decoding position (pos + 1 keys) */
  pos: number;
  chunk: number;
}

/** G = 2 (f32), G = 4 (f16), 2B4T's 20 heads × 128 over 5 KV heads; odd key counts, a chunk not a multiple of 64. */
const SHAPES: AttnShape[] = [
  {H: 4, KV: 2, d: 16, store16: "f32", pos: 150, chunk: 128},
  {H: 8, KV: 2, d: 32, store16: "f16", pos: 77, chunk: 100},
  {H: 20, KV: 5, d: 128, store16: "f16", pos: 130, chunk: 64},
];

const shapeName = (s: AttnShape) => `H${s.H}/KV${s.KV}·d${s.d} ${s.store16} KV, ${s.pos + 1} keys, chunk ${s.chunk}`;

/** Cache words of `kvHeads` heads; head g of the result holds source head src(g). */
function cacheWords(f: KVFormat, d: number, kvHeads: number, n: number, vec: (j: number, g: number) => Float32Array) {
  const lay = kvLayout(f, d, kvHeads);
  const out = new Uint32Array(lay.total(n));
  for (let j = 0; j < n; j++)
    for (let g = 0; g < kvHeads; g++) {
      const v = vec(j, g);
      const b = lay.offset(j, g);
      if (f.store16 === "f32") out.set(new Uint32Array(v.buffer, v.byteOffset, d), b);
      else for (let e = 0; e < d; e += 2) out[b + e / 2] = f32ToF16Bits(v[e]) | (f32ToF16Bits(v[e + 1]) << 16);
    }
  return out;
}

/** Runs `code` (an attention kernel over kvHeads heads) on the shape's data; returns the partials. */
async function runAttention(
  device: GPUDevice,
  s: AttnShape,
  code: string,
  kvHeads: number,
  data: {q: Float32Array; K: Float32Array[][]; V: Float32Array[][]},
  headOf: (g: number) => number,
): Promise<{part: Float32Array; ms: number}> {
  const f: KVFormat = {bits: 16, bosBits: 16, store16: s.store16};
  const n = s.pos + 1;
  const nC = Math.ceil(n / s.chunk);
  const scale = new Uint32Array(new Float32Array([1 / Math.sqrt(s.d)]).buffer)[0];
  const bufs = [
    uniformBuffer(device, new Uint32Array([s.H * s.d, scale, 0, 0])),
    storageBuffer(device, data.q),
    storageBuffer(
      device,
      cacheWords(f, s.d, kvHeads, n, (j, g) => data.K[j][headOf(g)]),
    ),
    storageBuffer(
      device,
      cacheWords(f, s.d, kvHeads, n, (j, g) => data.V[j][headOf(g)]),
    ),
    storageBuffer(device, n * kvHeads * 8),
    storageBuffer(device, n * kvHeads * 8),
    storageBuffer(device, s.H * nC * (s.d + 2) * 4),
    uniformBuffer(device, new Uint32Array([1, s.pos, nC, s.chunk, 0, 0, 0, 0])),
  ];
  try {
    const pl = await pipelineChecked(device, code, "lab-attention");
    const ms = await dispatchTimed(device, pl, bufs, [nC, kvHeads, 1]);
    return {part: await readF32(device, bufs[6], s.H * nC * (s.d + 2)), ms};
  } finally {
    for (const b of bufs) b.destroy();
  }
}

/** Random queries and cache (keys with a spread: peaked and flat softmax rows), the candidate and a baseline. */
async function bothKernels(device: GPUDevice, s: AttnShape, baseline: "G1" | "attention16", o: CheckOptions) {
  const f: KVFormat = {bits: 16, bosBits: 16, store16: s.store16};
  const r = new Rng(s.H * 100 + s.d + s.pos);
  const vec = (amp: number) => Float32Array.from({length: s.d}, () => (r.uniform() - 0.5) * amp);
  const data = {
    q: Float32Array.from({length: s.H * s.d}, () => (r.uniform() - 0.5) * 3),
    K: Array.from({length: s.pos + 1}, () => Array.from({length: s.KV}, () => vec(r.uniform() < 0.1 ? 12 : 3))),
    V: Array.from({length: s.pos + 1}, () => Array.from({length: s.KV}, () => vec(4))),
  };
  const c = {H: s.H, KV: s.KV, d: s.d, kv: f};
  if (!attentionWideOK(c)) throw new Error(`wide attention does not apply to ${shapeName(s)}`);
  const code = attentionWideWGSL(c);
  const G = s.H / s.KV;
  const cand = await runAttention(device, s, o.perturb ? o.perturb(code) : code, s.KV, data, (g) => g);
  const base =
    baseline === "G1"
      ? await runAttention(device, s, attentionWideWGSL({...c, KV: s.H}), s.H, data, (h) => Math.floor(h / G))
      : await runAttention(device, s, attention16WGSL(c), s.KV, data, (g) => g);
  return {cand, base, nC: Math.ceil((s.pos + 1) / s.chunk)};
}

/** The (max, Σ) pairs of every head and chunk, bit for bit against one head per workgroup. */
export async function wideAttentionStatsCheck(device: GPUDevice, o: CheckOptions): Promise<CheckResult> {
  const t = new Tally();
  for (const s of shapesFor(SHAPES, o)) {
    const {cand, base, nC} = await bothKernels(device, s, "G1", o);
    const pick = (p: Float32Array) =>
      Float32Array.from({length: s.H * nC * 2}, (_, i) => p[(i >> 1) * (s.d + 2) + (i & 1)]);
    t.add(s.H * nC * 2, compareBits(pick(cand.part), pick(base.part)), cand.ms);
  }
  return t.result(shapesFor(SHAPES, o).map(shapeName).join("; "), 0, "slowest dispatch");
}

/** Combines one head's chunk partials in float64: Σ_c e^(m_c − M)·out_c / Σ_c e^(m_c − M)·sum_c. */
function combine(part: Float32Array, h: number, nC: number, d: number): Float64Array {
  const at = (c: number) => (h * nC + c) * (d + 2);
  let M = -Infinity;
  for (let c = 0; c < nC; c++) M = Math.max(M, part[at(c)]);
  const out = new Float64Array(d);
  let den = 0;
  for (let c = 0; c < nC; c++) {
    const w = Math.exp(part[at(c)] - M);
    den += w * part[at(c) + 1];
    for (let e = 0; e < d; e++) out[e] += w * part[at(c) + 2 + e];
  }
  return out.map((x) => x / den);
}

const OUT_TOL = 2e-5;

/** The attention output against attention16's, both combined in float64: within OUT_TOL·max(1, |ref|). */
export async function wideAttentionOutputCheck(device: GPUDevice, o: CheckOptions): Promise<CheckResult> {
  const t = new Tally();
  for (const s of shapesFor(SHAPES, o)) {
    const {cand, base, nC} = await bothKernels(device, s, "attention16", o);
    for (let h = 0; h < s.H; h++) {
      const a = combine(cand.part, h, nC, s.d);
      const b = combine(base.part, h, nC, s.d);
      for (let e = 0; e < s.d; e++) {
        const diff = Math.abs(a[e] - b[e]);
        const off = !(diff <= OUT_TOL * Math.max(1, Math.abs(b[e])));
        t.add(1, {mismatches: off ? 1 : 0, maxDiff: Number.isNaN(diff) ? Infinity : diff});
      }
    }
    t.add(0, {mismatches: 0, maxDiff: 0}, cand.ms);
  }
  return t.result(shapesFor(SHAPES, o).map(shapeName).join("; "), OUT_TOL, "slowest dispatch");
}

/** The engine's decode attention with fuse on: the wide kernel doing RoPE and the new position's K/V write itself
 *  (fusedRope), against rope_kv's dispatch then the wide kernel — partials and the cache words bit for bit. */
export async function fusedRopeCheck(device: GPUDevice, o: CheckOptions): Promise<CheckResult> {
  const t = new Tally();
  for (const s of shapesFor(SHAPES, o)) {
    const f: KVFormat = {bits: 16, bosBits: 16, store16: s.store16};
    const c = {H: s.H, KV: s.KV, d: s.d, kv: f};
    const r = new Rng(s.H * 31 + s.d + s.pos);
    const n = s.pos + 1;
    const half = s.d / 2;
    const nC = Math.ceil(n / s.chunk);
    const qkvN = (s.H + 2 * s.KV) * s.d;
    const row = Float32Array.from({length: qkvN}, () => (r.uniform() - 0.5) * 3);
    const ang = (p: number, i: number) => p / 10000 ** ((2 * i) / s.d);
    const cos = Float32Array.from({length: n * half}, (_, k) => Math.cos(ang(Math.floor(k / half), k % half)));
    const sin = Float32Array.from({length: n * half}, (_, k) => Math.sin(ang(Math.floor(k / half), k % half)));
    // the cache before this step: positions 0 … pos − 1 random, pos empty
    const vec = (j: number) => Float32Array.from({length: s.d}, () => (j === s.pos ? 0 : (r.uniform() - 0.5) * 4));
    const K0 = cacheWords(f, s.d, s.KV, n, (j) => vec(j));
    const V0 = cacheWords(f, s.d, s.KV, n, (j) => vec(j));
    const scale = new Uint32Array(new Float32Array([1 / Math.sqrt(s.d)]).buffer)[0];
    const bufs: GPUBuffer[] = [];
    const keep = (b: GPUBuffer) => (bufs.push(b), b);
    const dispatch = async (fused: boolean) => {
      const [qkv, K, V] = [row, K0, V0].map((x) => keep(storageBuffer(device, x)));
      const [Km, Vm] = [0, 1].map(() => keep(storageBuffer(device, n * s.KV * 8)));
      const [cosB, sinB] = [cos, sin].map((x) => keep(storageBuffer(device, x)));
      const part = keep(storageBuffer(device, s.H * nC * (s.d + 2) * 4));
      const st = keep(uniformBuffer(device, new Uint32Array([1, s.pos, nC, s.chunk, 0, 0, 0, 0])));
      const P = keep(uniformBuffer(device, new Uint32Array([qkvN, scale, 0, 0])));
      let ms = 0;
      if (fused) {
        const code = attentionWideWGSL({...c, fusedRope: true});
        const pl = await pipelineChecked(device, o.perturb ? o.perturb(code) : code, "lab-attention+rope");
        ms = await dispatchTimed(device, pl, [P, qkv, K, V, Km, Vm, part, st, cosB, sinB], [nC, s.KV, 1]);
      } else {
        const rope = await pipelineChecked(device, ropeKVWGSL({...c, WG: 128}), "lab-rope_kv");
        const ropeP = keep(uniformBuffer(device, new Uint32Array([qkvN, 0, 0, 0])));
        await dispatchTimed(device, rope, [ropeP, qkv, cosB, sinB, K, V, Km, Vm, st], [1]);
        const pl = await pipelineChecked(device, attentionWideWGSL(c), "lab-attention");
        await dispatchTimed(device, pl, [P, qkv, K, V, Km, Vm, part, st], [nC, s.KV, 1]);
      }
      const [p, k, v] = await Promise.all([
        readF32(device, part, s.H * nC * (s.d + 2)),
        readF32(device, K, K0.length),
        readF32(device, V, V0.length),
      ]);
      return {p, k, v, t: ms};
    };
    try {
      const base = await dispatch(false);
      const cand = await dispatch(true);
      t.add(base.p.length, compareBits(cand.p, base.p), cand.t);
      // cache words (f16 pairs or f32): bits only
      t.add(2 * K0.length, {
        mismatches: compareBits(cand.k, base.k).mismatches + compareBits(cand.v, base.v).mismatches,
        maxDiff: 0,
      });
    } finally {
      for (const b of bufs) b.destroy();
    }
  }
  return t.result(shapesFor(SHAPES, o).map(shapeName).join("; "), 0, "slowest fused dispatch");
}
