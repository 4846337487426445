// The probe's machinery (scripts/probe.ts): buckets, one time-boxed family of cases, the CLI run in-process.
import fc from "fast-check";
import {main} from "../../src/cli/main.js";

export type Bucket = "handled" | "harmless" | "crashed" | "silent" | "hung";
/** A single case taking longer than this is counted hung, whatever it returned. */
export const HUNG_MS = 15_000;
export interface FamilyResult {
  family: string;
  tried: number;
  /** Different inputs among those tried (the catalog-based families repeat cases). */
  distinct: number;
  handled: number;
  harmless: number;
  crashed: number;
  silent: number;
  hung: number;
  /** Up to 5 examples of crashed/silent cases, for the report. */
  examples: string[];
}

/** Runs the CLI in-process with stdout/stderr captured (no child process). */
export async function runCli(argv: readonly string[]): Promise<{code: number; out: string; err: string}> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = {
    log: console.log,
    error: console.error,
    warn: console.warn,
    ew: process.stderr.write,
    ow: process.stdout.write,
  };
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = console.warn = (...a: unknown[]) => void err.push(a.join(" "));
  process.stderr.write = ((s: string | Uint8Array) => (err.push(String(s)), true)) as typeof process.stderr.write;
  process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write;
  try {
    return {code: await main([...argv]), out: out.join("\n"), err: err.join("\n")};
  } finally {
    Object.assign(console, {log: saved.log, error: saved.error, warn: saved.warn});
    process.stderr.write = saved.ew;
    process.stdout.write = saved.ow;
  }
}

/** A family's counts before any sample (also the "total" row's start). */
export function emptyResult(family: string): FamilyResult {
  return {family, tried: 0, distinct: 0, handled: 0, harmless: 0, crashed: 0, silent: 0, hung: 0, examples: []};
}

export async function family<T>(
  name: string,
  arb: fc.Arbitrary<T>,
  budgetMs: number,
  seed: number,
  judge: (x: T) => Bucket | Promise<Bucket>,
  show: (x: T) => string = (x) => JSON.stringify(x).slice(0, 200),
): Promise<FamilyResult> {
  const r = emptyResult(name);
  const seen = new Set<string>();
  const t0 = performance.now();
  // Batches of samples from one seeded stream, until the time box closes.
  for (let batch = 0; performance.now() - t0 < budgetMs; batch++) {
    for (const x of fc.sample(arb, {numRuns: 50, seed: seed + batch})) {
      let b: Bucket;
      const t1 = performance.now();
      try {
        b = await judge(x);
      } catch (e) {
        b = "crashed";
        if (r.examples.length < 5)
          r.examples.push(`${show(x)} → ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
      if (performance.now() - t1 > HUNG_MS) b = "hung";
      r.tried++;
      seen.add(show(x));
      r.distinct = seen.size;
      r[b]++;
      if (
        (b === "silent" || b === "crashed" || b === "hung") &&
        r.examples.length < 5 &&
        !r.examples.at(-1)?.startsWith(show(x))
      )
        r.examples.push(`${show(x)} → ${b}`);
      if (performance.now() - t0 >= budgetMs) break;
    }
  }
  return r;
}

/** Classifies a reader call: its own error class → handled; any other exception → crashed (rethrown). */
export function refused(fn: () => unknown, ...ok: (new (...a: never[]) => Error)[]): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (ok.some((C) => e instanceof C)) return true;
    throw e;
  }
}
