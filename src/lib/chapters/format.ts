// Number formatting for what readers see: a real minus sign (U+2212, not the hyphen that readers misread —
// CNN Explainer issues #5/#33), fixed significant digits, percentages and byte counts.

export const MINUS = "\u2212";

/** Replaces the ASCII hyphen-minus of a formatted number with U+2212. */
export function minus(s: string): string {
  return s.replace(/^-|(?<=[\s(=,])-(?=\d)|e-/g, (m) => m.replace("-", MINUS));
}

/** A number with `digits` significant digits (exponent form only for very small or large values). */
export function fmt(x: number, digits = 3): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "∞" : `${MINUS}∞`;
  if (x === 0) return "0";
  const a = Math.abs(x);
  const s =
    a >= 1e-3 && a < 1e6 ? Number(x.toPrecision(digits)).toString() : x.toExponential(digits - 1).replace("e+", "e");
  return minus(s);
}

/** Fixed decimals, real minus sign. */
export function fixed(x: number, decimals = 2): string {
  return minus(x.toFixed(decimals));
}

/** A fraction in [0, 1] as a percentage. */
export function pct(f: number, decimals = 1): string {
  return `${minus((100 * f).toFixed(decimals))}%`;
}

/** A ternary code as a reader sees it: −1, 0, +1. */
export function ternary(v: number): string {
  return v > 0 ? "+1" : v < 0 ? `${MINUS}1` : "0";
}

/** An integer with a sign always shown (+3, −2, 0). */
export function signed(n: number): string {
  return n > 0 ? `+${n}` : n < 0 ? `${MINUS}${-n}` : "0";
}

export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function hex(byte: number, width = 2): string {
  return `0x${byte.toString(16).toUpperCase().padStart(width, "0")}`;
}

export function bin(byte: number, width = 8): string {
  return byte.toString(2).padStart(width, "0");
}
