// The precision a ternary weight's scale γ is kept in. A checkpoint stores γ (or 1/γ) in some float format — fp32 in
// this lab's safetensors and bitnet.cpp's I2_S, bf16 in the 2B4T release, fp16 in the parameter-golf ternary
// submissions — and if training computed γ in fp32, the stored γ rounds the codes' thresholds differently. Training
// with γ rounded to the stored format ("fp16 scale simulation", openai/parameter-golf PR #139 and #367) makes the two
// agree. Round to nearest, ties to even, subnormals kept, saturating at the format's largest finite value (as an
// fp8 cast with saturation does).

export const SCALE_FORMATS = ["f32", "bf16", "f16", "e4m3"] as const;
export type ScaleFormat = (typeof SCALE_FORMATS)[number];

export interface FormatSpec {
  label: string;
  /** Stored mantissa (fraction) bits. */
  mantissa: number;
  /** Exponent of the smallest normal number; below it the spacing stays 2^(minExp − mantissa) (subnormals). */
  minExp: number;
  /** Largest finite value. */
  max: number;
}

export const FORMAT_SPECS: Record<ScaleFormat, FormatSpec> = {
  f32: {label: "fp32 (8-bit exponent, 23-bit mantissa)", mantissa: 23, minExp: -126, max: 3.4028234663852886e38},
  bf16: {label: "bf16 (8-bit exponent, 7-bit mantissa)", mantissa: 7, minExp: -126, max: 3.3895313892515355e38},
  f16: {label: "fp16 (5-bit exponent, 10-bit mantissa)", mantissa: 10, minExp: -14, max: 65504},
  e4m3: {label: "fp8 E4M3 (4-bit exponent, 3-bit mantissa)", mantissa: 3, minExp: -6, max: 448},
};

const f32 = Math.fround;

/** Round half to even of a float64 (x/step is exact here: step is a power of two). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `x` (taken as the f32 it is stored as) rounded to `format`, returned as an f32-representable number. */
export function roundScale(x: number, format: ScaleFormat): number {
  const spec = FORMAT_SPECS[format];
  if (!spec) throw new Error(`roundScale: unknown format "${format}" (known: ${SCALE_FORMATS.join(", ")})`);
  const v = f32(x);
  if (!Number.isFinite(v)) throw new Error(`roundScale: γ must be finite, got ${x}`);
  if (format === "f32" || v === 0) return v;
  const a = Math.abs(v);
  // floor(log2 a), exact: Math.log2 can be off by one next to a power of two
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const step = 2 ** (Math.max(e, spec.minExp) - spec.mantissa);
  const r = Math.min(roundHalfEven(a / step) * step, spec.max);
  return f32(Math.sign(v) * r);
}

/** Relative spacing of the format's normal numbers (the worst-case relative rounding error is half of it). */
export function relativeStep(format: ScaleFormat): number {
  return 2 ** -FORMAT_SPECS[format].mantissa;
}
