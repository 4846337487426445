// WGSL pieces several kernels share, written once (one shader per operation composes them).

/** PCG hash (O'Neill's RXS-M-XS output on an LCG step): a u32 → u32 mix for seeded random fills and sampling. */
export const PCG_WGSL = `fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}`;

/** A workgroup tree reduction over `size` invocations through the workgroup array `arr` (declared by the caller):
 *  `fn name(x: T, lid: u32) -> T`, every invocation gets the result; `combine(a, b)` is a WGSL expression. The
 *  barrier on entry lets a kernel call reductions back to back on one array. */
export function treeReduceWGSL(
  name: string,
  type: "f32" | "u32",
  arr: string,
  combine: (a: string, b: string) => string,
  size = 256,
): string {
  return `fn ${name}(x: ${type}, lid: u32) -> ${type} {
  workgroupBarrier();
  ${arr}[lid] = x;
  workgroupBarrier();
  for (var s = ${size / 2}u; s > 0u; s = s >> 1u) { if (lid < s) { ${arr}[lid] = ${combine(`${arr}[lid]`, `${arr}[lid + s]`)}; } workgroupBarrier(); }
  return ${arr}[0];
}`;
}
