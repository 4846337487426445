// Embedding lookup on the GPU (token ids come from a GPU buffer, so a decode step can take the previous step's
// sampled token without a CPU round trip) and random fills used to build benchmark-scale models on the GPU.
import {PCG_WGSL} from "./prelude.js";

/** h[m, i] = E[tok[slot0 + m], i] · scale (Gemma's √hidden; architecture.embedScale) for the tied embedding / LM-head matrix stored as f32 or f16 rows (row stride
 *  `rowWords` u32 words), possibly split by rows over `chunks` buffers (a binding-size limit).
 *  Bindings: 0 P {C, rowWords, slot0, rowsPerChunk}, 1 tok, 2 h, 3… emb chunks. Grid (⌈C/256⌉, M). */
export function embedWGSL(f16: boolean, chunks: number, scale = 1): string {
  const decl = [...Array(chunks).keys()]
    .map((i) => `@group(0) @binding(${3 + i}) var<storage, read> E${i}: array<u32>;`)
    .join("\n");
  const read = (i: number) =>
    f16
      ? `let pr = unpack2x16float(E${i}[base + col / 2u]); v = select(pr.x, pr.y, (col & 1u) == 1u);`
      : `v = bitcast<f32>(E${i}[base + col]);`;
  const branches = [...Array(chunks).keys()].map((i) => `${i ? "else " : ""}if (ch == ${i}u) { ${read(i)} }`).join(" ");
  return /* wgsl */ `
struct P { C: u32, rowWords: u32, slot0: u32, rowsPerChunk: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> tok: array<u32>;
@group(0) @binding(2) var<storage, read_write> h: array<f32>;
${decl}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let col = gid.x;
  let m = gid.y;
  if (col >= p.C) { return; }
  let t = tok[p.slot0 + m];
  let ch = t / p.rowsPerChunk;
  let base = (t % p.rowsPerChunk) * p.rowWords;
  var v = 0.0;
  ${branches}
  h[m * p.C + col] = v${scale !== 1 ? ` * ${f32Literal(scale)}` : ""};
}`;
}

/** A WGSL f32 literal that is exactly `x` rounded to f32 (shortest round-trip digits). */
function f32Literal(x: number): string {
  const f = Math.fround(x);
  for (let p = 1; p <= 17; p++) {
    const t = f.toPrecision(p);
    if (Math.fround(Number(t)) === f) return `${t.includes("e") || t.includes(".") ? t : `${t}.0`}f`;
  }
  return `${f}f`;
}

/** Fills u32 words with a hash of (seed, index): mode 0 = 16 ternary codes per word (each 0, 1 or 2, i.e.
 *  −1/0/+1 with probability 1/3), mode 1 = f32 ≈ N(0, std²) (sum of 4 uniforms), mode 2 = f16 pairs ≈ N(0, std²),
 *  mode 3 = the constant `std` as f32. Bindings: 0 P {n, seed, mode, std, offset}, 1 out. Grid ⌈n / 256⌉ (2-D if large). */
export const fillWGSL = /* wgsl */ `
struct P { n: u32, seed: u32, mode: u32, sd: f32, offset: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> outw: array<u32>;
${PCG_WGSL}
fn unif(x: u32) -> f32 { return f32(x >> 8u) / 16777216.0; }
fn gauss(i: u32) -> f32 {
  let a = pcg(i ^ p.seed);
  let b = pcg(a);
  let c = pcg(b);
  let d = pcg(c);
  // Irwin–Hall with 4 terms: mean 2, variance 1/3
  return (unif(a) + unif(b) + unif(c) + unif(d) - 2.0) * 1.7320508 * p.sd;
}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let gi = i + p.offset;
  if (p.mode == 0u) {
    var w = 0u;
    var r = pcg(gi * 2u + p.seed);
    var r2 = pcg(r);
    for (var f = 0u; f < 16u; f++) {
      // two 16-bit draws per field keep the mod-3 bias below 1e-4
      let x = select(r >> (16u * (f & 1u)), r2 >> (16u * (f & 1u)), f >= 8u) & 0xffffu;
      if (f == 2u || f == 10u) { r = pcg(r + f); r2 = pcg(r2 + f); }
      w = w | ((x % 3u) << (2u * f));
    }
    outw[i] = w;
  } else if (p.mode == 1u) {
    outw[i] = bitcast<u32>(gauss(gi));
  } else if (p.mode == 2u) {
    outw[i] = pack2x16float(vec2<f32>(gauss(2u * gi), gauss(2u * gi + 1u)));
  } else {
    outw[i] = bitcast<u32>(p.sd);
  }
}`;
