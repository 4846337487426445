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
  type: "f32" | "u32" | "vec2<f32>",
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

/** The same reduction through subgroups of `sub` invocations: `op` (subgroupAdd, subgroupMax) within each
 *  subgroup, then one partial per subgroup through `arr` (workgroupSize / sub entries), folded in order into `t`
 *  by the statement `fold(t, partial)` from `identity` (or from the first partial where `identity` is undefined). */
export function subgroupReduceWGSL(
  name: string,
  type: "f32" | "u32",
  arr: string,
  op: "subgroupAdd" | "subgroupMax",
  fold: (t: string, x: string) => string,
  sub: number,
  workgroupSize: number,
  identity?: string,
): string {
  const NS = Math.max(1, workgroupSize / sub);
  const init =
    identity === undefined ? `var t = ${arr}[0];\n  for (var i = 1u;` : `var t = ${identity};\n  for (var i = 0u;`;
  return `fn ${name}(x: ${type}, lid: u32) -> ${type} {
  let s = ${op}(x);
  workgroupBarrier();
  if (lid % ${sub}u == 0u) { ${arr}[lid / ${sub}u] = s; }
  workgroupBarrier();
  ${init} i < ${NS}u; i++) { ${fold("t", `${arr}[i]`)}; }
  return t;
}`;
}
