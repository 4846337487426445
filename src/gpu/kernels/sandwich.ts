// Gemma3's sandwich norms (architecture.ts norms.sandwich): the attention and FFN outputs are RMS-normalized before
// they join the residual stream, h += w ⊙ x / √(mean(x²) + ε) (modeling_gemma3.py post_attention_layernorm,
// post_feedforward_layernorm; w already holds Gemma's 1 + w, added at upload). One workgroup per token, f32 sums.

/** h[m, i] += w[i] · x[m·xStride + i] · r_m for i < C. Bindings: 0 P {C, xStride, eps}, 1 x, 2 w, 3 h. Grid [M]. */
export function normAddWGSL(): string {
  return /* wgsl */ `
struct P { C: u32, xStride: u32, eps: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> h: array<f32>;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let xb = wid.x * p.xStride;
  let hb = wid.x * p.C;
  var s = 0.0;
  for (var i = li; i < p.C; i += 64u) { let v = x[xb + i]; s += v * v; }
  red[li] = s;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (li < k) { red[li] += red[li + k]; }
    workgroupBarrier();
  }
  let r = inverseSqrt(red[0] / f32(p.C) + p.eps);
  for (var i = li; i < p.C; i += 64u) { h[hb + i] += w[i] * (x[xb + i] * r); }
}`;
}
