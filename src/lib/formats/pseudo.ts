// Pseudo-quantized float checkpoints: projections stored as floats whose values are ternary × scale (SpectraSuite
// TriLM "unpacked", Falcon-E "prequantized", BitCPM). A tensor is pseudo-ternary when it holds at most three
// distinct values −α, 0, +α — over the whole tensor, or per group, where a group is a run of rows (a
// column-parallel shard: q/k/v/gate/up) or of columns (a row-parallel shard: o/down) sharing one α. Recovery is
// exact: every stored value equals code · α bit for bit (checked, not assumed), so codes and scales are the file's
// own, not a re-quantization.

export interface PseudoTernary {
  /** One α for the tensor, one per run of rows, or one per run of columns. */
  axis: "tensor" | "rows" | "cols";
  /** Groups: maximal runs of rows (columns) sharing one α; 1 for "tensor". */
  groups: {start: number; length: number; alpha: number}[];
  /** Codes in −1, 0, +1, [out, in] row-major: value = code · α(group). */
  codes: Int8Array;
  zeroFraction: number;
}

/** The one nonzero magnitude of `n` values read by `at`, 0 when all are zero, or NaN when there are two. */
function oneMagnitude(n: number, at: (i: number) => number): number {
  let a = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(at(i));
    if (v === 0) continue;
    if (a === 0) a = v;
    else if (v !== a) return NaN;
  }
  return a;
}

/** Groups runs of equal magnitudes; an all-zero line (0) joins the run before it (or the next, at the start). */
function runs(mags: Float64Array): PseudoTernary["groups"] {
  const out: PseudoTernary["groups"] = [];
  for (let i = 0; i < mags.length; i++) {
    const m = mags[i];
    const last = out[out.length - 1];
    if (last && (m === 0 || m === last.alpha)) last.length++;
    else if (last && last.alpha === 0) {
      last.alpha = m;
      last.length++;
    } else out.push({start: i, length: 1, alpha: m});
  }
  return out;
}

/** Recognises a pseudo-ternary [out, in] tensor and recovers its codes and scales exactly; undefined otherwise
 *  (including all-zero tensors and tensors whose groups are finer than `maxGroups`). */
export function detectPseudoTernary(
  data: Float32Array,
  out: number,
  inp: number,
  maxGroups = 256,
): PseudoTernary | undefined {
  if (data.length !== out * inp || data.length === 0) return undefined;
  let axis: PseudoTernary["axis"];
  let groups: PseudoTernary["groups"];
  const whole = oneMagnitude(data.length, (i) => data[i]);
  if (whole > 0) {
    axis = "tensor";
    groups = [{start: 0, length: out, alpha: whole}];
  } else if (whole === 0) return undefined;
  else {
    const rowMag = new Float64Array(out);
    let ok = true;
    for (let r = 0; r < out && ok; r++) ok = !Number.isNaN((rowMag[r] = oneMagnitude(inp, (i) => data[r * inp + i])));
    if (ok) {
      axis = "rows";
      groups = runs(rowMag);
    } else {
      const colMag = new Float64Array(inp);
      ok = true;
      for (let k = 0; k < inp && ok; k++) ok = !Number.isNaN((colMag[k] = oneMagnitude(out, (r) => data[r * inp + k])));
      if (!ok) return undefined;
      axis = "cols";
      groups = runs(colMag);
    }
    if (groups.length > maxGroups) return undefined;
  }
  const codes = new Int8Array(out * inp);
  let zeros = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    codes[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
    if (v === 0) zeros++;
  }
  return {axis, groups, codes, zeroFraction: zeros / data.length};
}

/** α of element (r, k). */
export function alphaAt(p: PseudoTernary, r: number, k: number): number {
  const i = p.axis === "cols" ? k : r;
  for (const g of p.groups) if (i >= g.start && i < g.start + g.length) return g.alpha;
  return 0;
}

/** A sentence for the inspector. */
export function describePseudo(p: PseudoTernary, name: string): string {
  const al = p.groups.map((g) => g.alpha.toPrecision(5));
  const where =
    p.axis === "tensor"
      ? "one α for the tensor"
      : `${p.groups.length} ${p.axis === "rows" ? "row" : "column"} group(s) (${p.groups.map((g) => g.length).join(" + ")} ${p.axis}), one α each`;
  return `${name} holds only −α, 0, +α: ${where}, α = ${al.slice(0, 4).join(", ")}${al.length > 4 ? ", …" : ""}; ${(100 * p.zeroFraction).toFixed(1)}% zeros; every value is code · α exactly`;
}
