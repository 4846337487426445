// Two small kernels for architectures beyond the 2B4T body (src/lib/architecture.ts), used only where the
// architecture table asks for them:
//   headNormWGSL  RMSNorm over each d-long query and key head of the fused qkv rows, in place, before RoPE
//                 (Qwen3's q_norm / k_norm): one workgroup per (head, token), f32 sums.
//   gluWGSL       act(gate) ⊙ up (SiLU, ReLU² or GELU-tanh) from two stored rows (when gate and up read different quantized inputs — an RMSNorm
//                 inside each BitLinear — and so cannot share the fused GLU epilogue of linear.ts).

/** In place on qkv [M, qkvN]: heads 0..H−1 (q) with w[0..d), heads H..H+KV−1 (k) with w[d..2d). Grid [H + KV, M]. */
export function headNormWGSL(): string {
  return `
struct P { qkvN: u32, H: u32, d: u32, eps: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let j = wid.x;
  let base = wid.y * p.qkvN + j * p.d;
  let wb = select(p.d, 0u, j < p.H);
  var s = 0.0;
  for (var i = li; i < p.d; i += 64u) { let v = x[base + i]; s += v * v; }
  red[li] = s;
  workgroupBarrier();
  for (var k = 32u; k > 0u; k >>= 1u) {
    if (li < k) { red[li] += red[li + k]; }
    workgroupBarrier();
  }
  let r = inverseSqrt(red[0] / f32(p.d) + p.eps);
  for (var i = li; i < p.d; i += 64u) { x[base + i] = w[wb + i] * (x[base + i] * r); }
}`;
}

/** out[m, i] = act(gate[m, i]) · up[m, i] for i < F. Grid [⌈F/256⌉, M]. */
export function gluWGSL(act: "silu" | "relu2" | "gelu_tanh"): string {
  // gelu_tanh: transformers' gelu_pytorch_tanh, ½ g (1 + tanh(√(2/π) (g + 0.044715 g³))); the argument is clamped
  // where tanh is ±1 in f32 so no implementation's exp-based tanh overflows
  const h =
    act === "relu2"
      ? "let gr = max(gv, 0.0); let y = gr * gr * uv;"
      : act === "gelu_tanh"
        ? "let z = clamp(0.7978845608028654 * (gv + 0.044715 * gv * gv * gv), -15.0, 15.0); let y = 0.5 * gv * (1.0 + tanh(z)) * uv;"
        : "let y = gv / (1.0 + exp(-gv)) * uv;";
  return `
struct P { F: u32, a: u32, b: u32, c: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> u: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.F) { return; }
  let k = wid.y * p.F + i;
  let gv = g[k];
  let uv = u[k];
  ${h}
  o[k] = y;
}`;
}
