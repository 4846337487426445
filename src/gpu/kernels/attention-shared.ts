// The pieces every split-attention kernel shares (split from attention.ts, issue 21).
import type {KVFormat} from "./kv-cache.js";

export interface AttentionConfig {
  H: number;
  KV: number;
  d: number;
  kv: KVFormat;
  /** Decode with a 16-bit cache only: do RoPE and the K/V cache write of the new token inside this kernel (no
   *  separate rope_kv dispatch). Adds bindings 8 cos, 9 sin; K and V become read_write. */
  fusedRope?: boolean;
  /** Scores, softmax and the weighted sum in float-float (attentionExactWGSL): partials of attnPartStride(d, true)
   *  that normquant's attnFF combine rounds once, giving the float64 reference's f32 output. Any KV format. */
  exact?: boolean;
}

/** The first key position query pos sees: pos − W + 1 in a sliding-window layer (P.window = W, architecture.ts
 *  attention.window), else 0 — every kernel starts its chunk's positions there, so a chunk wholly before the window
 *  writes an empty partial (max −3e38, sum 0) and a window of 0 leaves the kernels as they were, bit for bit. */
const keyStartWGSL = `fn keyStart(pos: u32) -> u32 { return select(0u, max(pos + 1u, p.window) - p.window, p.window != 0u); }`;

/** The bindings every split-attention kernel shares (0 P, 1 qkv, 2/3 the K/V cache codes, 4/5 their min/step,
 *  6 part, 7 ST); `cache` is the code arrays' element type, `cacheAccess` read_write where the kernel writes RoPE'd
 *  K/V (the wide kernel's fused RoPE). */
export function attnBindingsWGSL(
  st: string,
  cache: "u32" | "vec4<u32>",
  cacheAccess: "read" | "read_write" = "read",
): string {
  return `struct P { qkvStride: u32, scale: f32, window: u32 }
${st}
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, ${cacheAccess}> Kc: array<${cache}>;
@group(0) @binding(3) var<storage, ${cacheAccess}> Vc: array<${cache}>;
@group(0) @binding(4) var<storage, read> Km: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> Vm: array<vec2<f32>>;
@group(0) @binding(6) var<storage, read_write> part: array<f32>;
@group(0) @binding(7) var<uniform> st: ST;
${keyStartWGSL}`;
}

/** The entry point every split-attention kernel shares: workgroup (c, g, m) = (chunk, KV group, token), the query
 *  position pos and the chunk's key range [start, end); `extra` is a kernel's own first statement. The reads of Km/Vm
 *  keep those bindings in the layout where a KV format does not use them. */
export function chunkMainWGSL(WG: number, extra = ""): string {
  return `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  _ = Km[0];
  _ = Vm[0];${extra ? `\n  ${extra}` : ""}
  let c = wid.x;
  let g = wid.y;
  let m = wid.z;
  let pos = st.P + m;
  let start = c * st.chunk;
  let end = min(start + st.chunk, pos + 1u);`;
}

/** One step of the online softmax over a chunk of `cnt` scores per query row (rows 0…G−1, scores sc[r·CH + l]):
 *  the running max mx, denominator den and the factor corr that rescales what was accumulated before; the scores
 *  become exp(s − max). One invocation per row; the caller's barriers surround it. With `ff` the scores, den and corr
 *  are float-float (vec2) and exp is expFF (the exact kernel); the max is taken over the scores' hi parts. */
export function onlineSoftmaxStepWGSL(G: number, CH: number, ff = false): string {
  const s = `sc[r * ${CH}u + l]`;
  const [hi, cr, zero, e, sum, den] = ff
    ? [
        `${s}.x`,
        "expFF(twoSum(mx[r], -nm))",
        "vec2<f32>(0.0, 0.0)",
        `expFF(addFF(${s}, vec2<f32>(-nm, 0.0)))`,
        "sum = addFF(sum, e)",
        "addFF(mulFF(den[r], cr), sum)",
      ]
    : [s, "exp(mx[r] - nm)", "0.0", `exp(${s} - nm)`, "sum += e", "den[r] * cr + sum"];
  return `    if (lid < ${G}u) {
      let r = lid;
      var nm = mx[r];
      for (var l = 0u; l < cnt; l++) { nm = max(nm, ${hi}); }
      let cr = ${cr};
      var sum = ${zero};
      for (var l = 0u; l < cnt; l++) { let e = ${e}; ${s} = e; ${sum}; }
      den[r] = ${den};
      corr[r] = cr;
      mx[r] = nm;
    }`;
}
