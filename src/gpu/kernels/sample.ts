// Choosing the next token on the GPU, so a decode step reads back 4 bytes instead of the logits.
// Greedy: a two-stage argmax (ties → lowest index, as generate.ts argmax). Sampling: one workgroup applies
// temperature, top-k and top-p exactly as generate.ts samplingDistribution defines them (candidates ordered
// by logit descending, index ascending on ties; top-p keeps the shortest such prefix whose mass reaches p),
// then draws by inverse CDF in index order (as sampleToken walks the distribution). The uniform comes from a
// counter-based hash of (seed, draw index), not from rng.ts: same distribution, different stream.
import {PCG_WGSL, treeReduceWGSL} from "./prelude.js";

export const ARGMAX_PER = 16;

/** Stage 1: grid ⌈V / (256·16)⌉; each workgroup writes (value, index) of its best logit.
 *  Bindings: 0 P {V, offset}, 1 logits, 2 partial (vec2<u32>: value bits, index). */
export const argmaxPartialWGSL = /* wgsl */ `
struct P { V: u32, offset: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<vec2<u32>>;
var<workgroup> bv: array<f32, 256>;
var<workgroup> bi: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var best = -3.4e38;
  var idx = 0xffffffffu;
  let base = wid.x * ${256 * ARGMAX_PER}u;
  for (var k = 0u; k < ${ARGMAX_PER}u; k++) {
    let i = base + k * 256u + lid;
    if (i < p.V) {
      let x = logits[p.offset + i];
      if (x > best || (x == best && i < idx)) { best = x; idx = i; }
    }
  }
  bv[lid] = best;
  bi[lid] = idx;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let ov = bv[lid + s];
      let oi = bi[lid + s];
      if (ov > bv[lid] || (ov == bv[lid] && oi < bi[lid])) { bv[lid] = ov; bi[lid] = oi; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { partial[wid.x] = vec2<u32>(bitcast<u32>(bv[0]), bi[0]); }
}`;

/** Stage 2: one workgroup reduces `n` partials and writes the token id to out[slot].
 *  Bindings: 0 P {n, slot}, 1 partial, 2 out. */
export const argmaxFinalWGSL = /* wgsl */ `
struct P { n: u32, slot: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> partial: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> outTok: array<u32>;
var<workgroup> bv: array<f32, 256>;
var<workgroup> bi: array<u32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var best = -3.4e38;
  var idx = 0xffffffffu;
  for (var i = lid; i < p.n; i += 256u) {
    let e = partial[i];
    let x = bitcast<f32>(e.x);
    if (x > best || (x == best && e.y < idx)) { best = x; idx = e.y; }
  }
  bv[lid] = best;
  bi[lid] = idx;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let ov = bv[lid + s];
      let oi = bi[lid + s];
      if (ov > bv[lid] || (ov == bv[lid] && oi < bi[lid])) { bv[lid] = ov; bi[lid] = oi; }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { outTok[p.slot] = bi[0]; }
}`;

/** Temperature / top-k / top-p sampling in one workgroup of 256 over V logits.
 *  Bindings: 0 P {V, offset, topK, slot, invT, topP, seed, draw}, 1 logits, 2 out. */
export const sampleWGSL = /* wgsl */ `
struct P { V: u32, offset: u32, topK: u32, slot: u32, invT: f32, topP: f32, seed: u32, draw: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> outTok: array<u32>;
var<workgroup> redF: array<f32, 256>;
var<workgroup> redU: array<u32, 256>;
var<workgroup> scan: array<f32, 256>;
var<workgroup> scanU: array<u32, 256>;

// order-preserving key of an f32 (larger float → larger key)
fn key(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
${treeReduceWGSL("sumF", "f32", "redF", (a, b) => `${a} + ${b}`)}
${treeReduceWGSL("maxF", "f32", "redF", (a, b) => `max(${a}, ${b})`)}
${treeReduceWGSL("minU", "u32", "redU", (a, b) => `min(${a}, ${b})`)}
${treeReduceWGSL("maxU", "u32", "redU", (a, b) => `max(${a}, ${b})`)}
${treeReduceWGSL("sumU", "u32", "redU", (a, b) => `${a} + ${b}`)}
// exclusive prefix sums over the 256 invocations (index order = thread order: ranges are contiguous)
fn exclusiveU(x: u32, lid: u32) -> u32 {
  workgroupBarrier();
  scanU[lid] = x;
  workgroupBarrier();
  for (var s = 1u; s < 256u; s = s << 1u) {
    var a = 0u;
    if (lid >= s) { a = scanU[lid - s]; }
    workgroupBarrier();
    scanU[lid] += a;
    workgroupBarrier();
  }
  return scanU[lid] - x;
}
fn exclusiveF(x: f32, lid: u32) -> f32 {
  workgroupBarrier();
  scan[lid] = x;
  workgroupBarrier();
  for (var s = 1u; s < 256u; s = s << 1u) {
    var a = 0.0;
    if (lid >= s) { a = scan[lid - s]; }
    workgroupBarrier();
    scan[lid] += a;
    workgroupBarrier();
  }
  return scan[lid] - x;
}
${PCG_WGSL}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  let V = p.V;
  let per = (V + 255u) / 256u;
  let i0 = min(lid * per, V);
  let i1 = min(i0 + per, V);
  // 1. the largest logit
  var mx = -3.4e38;
  for (var i = i0; i < i1; i++) { mx = max(mx, logits[p.offset + i]); }
  mx = maxF(mx, lid);
  // 2. top-k: threshold key tk = key of the K-th largest logit (bisection on the key bits)
  var tk = 0u;
  var needK = 0xffffffffu; // how many logits equal to the threshold survive (index order)
  if (p.topK > 0u && p.topK < V) {
    for (var b = 31i; b >= 0i; b--) {
      let cand = tk | (1u << u32(b));
      var cnt = 0u;
      for (var i = i0; i < i1; i++) { if (key(logits[p.offset + i]) >= cand) { cnt++; } }
      if (sumU(cnt, lid) >= p.topK) { tk = cand; }
    }
    var above = 0u;
    for (var i = i0; i < i1; i++) { if (key(logits[p.offset + i]) > tk) { above++; } }
    needK = p.topK - sumU(above, lid);
  }
  // membership in the top-k set: key > tk, or key == tk among the first needK such in index order
  var eqBefore = 0u;
  {
    var eq = 0u;
    for (var i = i0; i < i1; i++) { if (key(logits[p.offset + i]) == tk) { eq++; } }
    eqBefore = exclusiveU(eq, lid);
  }
  // 3. unnormalized probabilities over the top-k set; z
  var zl = 0.0;
  {
    var e = eqBefore;
    for (var i = i0; i < i1; i++) {
      let x = logits[p.offset + i];
      let k = key(x);
      var inK = k > tk;
      if (k == tk) { inK = e < needK; e++; }
      if (inK) { zl += exp((x - mx) * p.invT); }
    }
  }
  let z = sumF(zl, lid);
  // 4. top-p: the largest key threshold tp whose top-k mass (keys ≥ tp) reaches topP·z
  var tp = 0u;
  var needP = 0xffffffffu;
  if (p.topP < 1.0) {
    for (var b = 31i; b >= 0i; b--) {
      let cand = tp | (1u << u32(b));
      var ms = 0.0;
      var e = eqBefore;
      for (var i = i0; i < i1; i++) {
        let x = logits[p.offset + i];
        let k = key(x);
        var inK = k > tk;
        if (k == tk) { inK = e < needK; e++; }
        if (inK && k >= cand) { ms += exp((x - mx) * p.invT); }
      }
      if (sumF(ms, lid) >= p.topP * z) { tp = cand; }
    }
    // mass strictly above tp, and the probability of one logit at tp: keep ⌈(p·z − above)/pt⌉ of those at tp
    var ma = 0.0;
    var pt = 0.0;
    var e = eqBefore;
    for (var i = i0; i < i1; i++) {
      let x = logits[p.offset + i];
      let k = key(x);
      var inK = k > tk;
      if (k == tk) { inK = e < needK; e++; }
      if (inK && k > tp) { ma += exp((x - mx) * p.invT); }
      if (inK && k == tp) { pt = exp((x - mx) * p.invT); }
    }
    let above = sumF(ma, lid);
    let ptAll = maxF(pt, lid);
    needP = u32(max(1.0, ceil((p.topP * z - above) / ptAll - 1e-6)));
  }
  var eqPBefore = 0u;
  {
    var eq = 0u;
    var e = eqBefore;
    for (var i = i0; i < i1; i++) {
      let k = key(logits[p.offset + i]);
      var inK = k > tk;
      if (k == tk) { inK = e < needK; e++; }
      if (inK && k == tp) { eq++; }
    }
    eqPBefore = exclusiveU(eq, lid);
  }
  // 5. final mass per thread, then inverse CDF in index order
  var mine = 0.0;
  {
    var e = eqBefore;
    var ep = eqPBefore;
    for (var i = i0; i < i1; i++) {
      let x = logits[p.offset + i];
      let k = key(x);
      var inK = k > tk;
      if (k == tk) { inK = e < needK; e++; }
      var inP = inK && k > tp;
      if (inK && k == tp) { inP = ep < needP; ep++; }
      if (inP) { mine += exp((x - mx) * p.invT); }
    }
  }
  let before = exclusiveF(mine, lid);
  let total = sumF(mine, lid);
  let u = f32(pcg(p.seed ^ pcg(p.draw + 0x9e3779b9u)) >> 8u) / 16777216.0;
  let goal = u * total;
  var chosen = 0xffffffffu;
  var last = 0xffffffffu;
  {
    var cum = before;
    var e = eqBefore;
    var ep = eqPBefore;
    for (var i = i0; i < i1; i++) {
      let x = logits[p.offset + i];
      let k = key(x);
      var inK = k > tk;
      if (k == tk) { inK = e < needK; e++; }
      var inP = inK && k > tp;
      if (inK && k == tp) { inP = ep < needP; ep++; }
      if (inP) {
        last = i;
        cum += exp((x - mx) * p.invT);
        if (chosen == 0xffffffffu && goal >= before && goal < cum) { chosen = i; }
      }
    }
  }
  // the first index whose cumulative mass passes the goal; if rounding left none, the last kept index
  let first = minU(chosen, lid);
  let lastAll = maxU(select(0u, last + 1u, last != 0xffffffffu), lid);
  if (lid == 0u) { outTok[p.slot] = select(first, lastAll - 1u, first == 0xffffffffu); }
}`;
