// Number formatting shared by the CLI and the page (decimal units: 1 GB = 10⁹ bytes, as the papers use).

/** A real minus sign (U+2212): a hyphen is easy to miss next to small numbers. */
const minus = (s: string) => s.replace(/^-/, "\u2212");

export function fmtBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes,
    i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return minus(`${v.toFixed(i === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`);
}

export function fmtParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 1 : 2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Significant-figure formatting for model values next to a paper's printed number. */
export function fmtSig(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return minus(v.toPrecision(digits));
  const s = Number(v.toPrecision(digits));
  return minus(s.toLocaleString("en-US", {maximumFractionDigits: 6}));
}

export function fmtPercent(fraction: number, digits = 1): string {
  return minus(`${fraction >= 0 ? "+" : ""}${(100 * fraction).toFixed(digits)}%`).replace(
    /^\+/,
    fraction === 0 ? "" : "+",
  );
}

export function fmtMs(ms: number): string {
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1e3).toFixed(ms >= 0.1 ? 0 : 1)} µs`;
}

export function fmtJ(j: number): string {
  if (j >= 1) return `${j.toFixed(2)} J`;
  if (j >= 1e-3) return `${(j * 1e3).toFixed(2)} mJ`;
  if (j >= 1e-6) return `${(j * 1e6).toFixed(2)} µJ`;
  return `${(j * 1e9).toFixed(2)} nJ`;
}

/** A value in its unit: parameter counts as 1.2B / 679M, everything else to significant figures. */
export function fmtValue(v: number, unit: string, digits = 3): string {
  if (unit === "params")
    return v >= 1e9
      ? `${(v / 1e9).toFixed(Math.max(1, digits - 1))}B`
      : `${(v / 1e6).toFixed(Math.max(0, digits - 3))}M`;
  return fmtSig(v, digits);
}
