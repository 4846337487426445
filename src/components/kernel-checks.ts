// The kernel lab's table of kernel correctness checks (issue 25's decode kernels): one row per kernel — what it is
// compared against, the shapes, how many outputs differ and by how much, the verdict, and its time on this device.
import {h} from "./dom.js";
import {table} from "./table.js";

/** One kernel's check, as src/app/kernel-lab-checks.ts computes it. */
export interface KernelCheckRow {
  kernel: string;
  /** What the kernel's output is compared against (another kernel path, or the reference's arithmetic). */
  against: string;
  /** The shapes it ran at, in words. */
  shape: string;
  checked: number;
  /** Outputs beyond `tolerance` (0: bits that differ). */
  mismatches: number;
  /** Largest |Δ| (relative to |reference| where `relative`). */
  maxDiff: number;
  relative?: boolean;
  tolerance: number;
  pass: boolean;
  /** Milliseconds of what `timed` names, on the page's device. */
  ms: number;
  timed: string;
  /** Set when the check itself could not run (the row then fails). */
  error?: string;
}

const fmtDiff = (r: KernelCheckRow) =>
  r.maxDiff === 0 ? "0" : `${r.maxDiff.toExponential(1)}${r.relative ? " (rel.)" : ""}`;

/** The table of checks; `software` says the times are a CPU emulation's. */
export function kernelChecksTable(rows: readonly KernelCheckRow[], opts: {caption: string; software?: boolean}): Node {
  const t = table(rows, {
    caption: opts.caption,
    rowHeader: true,
    columns: [
      {label: "kernel", value: (r) => r.kernel},
      {label: "compared against", value: (r) => r.against},
      {label: "shapes", value: (r) => r.shape},
      {
        label: "outputs that differ",
        value: (r) => `${r.mismatches} of ${r.checked}${r.tolerance ? ` (beyond ${r.tolerance})` : " (bits)"}`,
        numeric: true,
      },
      {label: "max |Δ|", value: fmtDiff, numeric: true},
      {label: "verdict", value: (r) => (r.pass ? "PASS" : `FAIL${r.error ? `: ${r.error}` : ""}`)},
      {
        label: `time on this device${opts.software ? " (CPU emulation)" : ""}`,
        value: (r) => `${r.ms.toFixed(r.ms < 10 ? 2 : 0)} ms (${r.timed})`,
        numeric: true,
      },
    ],
  });
  t.setAttribute("data-table", "issue25");
  const failed = rows.filter((r) => !r.pass).length;
  return h(
    "div",
    {class: "lab-checks", "data-checks": failed ? "fail" : "pass"},
    t,
    h(
      "p",
      {role: "status"},
      failed
        ? `${failed} of ${rows.length} kernel checks FAILED on this device.`
        : `All ${rows.length} kernel checks pass.`,
    ),
  );
}
