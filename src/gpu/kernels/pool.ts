// Pooling + L2 normalization for embedding models (architecture.pooling, src/lib/architecture.ts): the engine's
// final-norm rows → one unit vector, as sentence-transformers' Pooling + Normalize do it.
//   last token  rows [M−1, M) of the last block
//   mean        every row of every block summed into acc; the 1/N of the mean cancels in the L2 normalization, so
//               summing is enough (‖Σx/N‖ direction = ‖Σx‖ direction)
// One workgroup (C is the hidden size, a few thousand at most): thread t owns columns t, t + 256, …; Σ acc² is one
// workgroup tree reduction in f32. acc keeps the running sum across prompt blocks (`accumulate`), `finish` writes
// acc / max(‖acc‖₂, 1e-12) into out (torch.nn.functional.normalize's ε).
import {treeReduceWGSL} from "./prelude.js";

/** Uniform words of poolL2WGSL: C, the row stride of x in floats, the first row and row count to add, accumulate
 *  (add to acc instead of overwriting it), finish (write the normalized vector). */
export function poolParams(
  C: number,
  stride: number,
  first: number,
  count: number,
  accumulate: boolean,
  finish: boolean,
): Uint32Array<ArrayBuffer> {
  return new Uint32Array([C, stride, first, count, accumulate ? 1 : 0, finish ? 1 : 0, 0, 0]);
}

/** Bindings: 0 uniform P (poolParams), 1 x [rows · stride] f32 (read), 2 acc [C] f32, 3 out [C] f32. Grid [1]. */
export function poolL2WGSL(): string {
  return `
struct P { C: u32, stride: u32, first: u32, count: u32, accumulate: u32, finish: u32, a: u32, b: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
var<workgroup> red: array<f32, 256>;
${treeReduceWGSL("sum256", "f32", "red", (a, b) => `${a} + ${b}`)}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var ss = 0.0;
  for (var j = li; j < p.C; j += 256u) {
    var s = select(0.0, acc[j], p.accumulate != 0u);
    for (var r = 0u; r < p.count; r++) { s += x[(p.first + r) * p.stride + j]; }
    acc[j] = s;
    ss += s * s;
  }
  let total = sum256(ss, li);
  if (p.finish == 0u) { return; }
  let inv = 1.0 / max(sqrt(total), 1e-12);
  for (var j = li; j < p.C; j += 256u) { out[j] = acc[j] * inv; }
}`;
}
