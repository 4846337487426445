// The bad-input probe as a property-based fuzz (scripts/probe.ts): config.json, model.safetensors,
// tokenizer.json, training-state metadata, the CLI's argument space, tokenizer regexes, absurd scales, huge
// sparse files and what commands that write leave behind, each family time-boxed (2 s here;
// `npx tsx scripts/probe.ts --seconds 8` for a longer run). Every case must be handled with a clear error
// (or, for byte-level corruption, load identically); none may crash, hang or be accepted silently.
import {describe, expect, it} from "vitest";
import {formatProbe, runProbe} from "../../scripts/probe.js";

describe("bad-input probe (property-based, time-boxed)", () => {
  it("handles every case: zero crashed, zero silent, zero hung", async () => {
    const seed = Date.now() % 100_000; // a fresh stream each run; printed so a failure can be replayed
    const results = await runProbe({secondsPerFamily: 2, seed});
    console.log(`probe seed ${seed}\n${formatProbe(results)}`);
    for (const r of results) {
      // Families whose every case runs a command on files (convert, sparse GGUFs) try fewer in the time box.
      expect(r.tried, r.family).toBeGreaterThan(/data safety|huge/.test(r.family) ? 5 : 20);
      expect(r.handled, r.family).toBeGreaterThan(0);
      expect({family: r.family, crashed: r.crashed, silent: r.silent, hung: r.hung, examples: r.examples}).toEqual({
        family: r.family,
        crashed: 0,
        silent: 0,
        hung: 0,
        examples: [],
      });
    }
  }, 120_000);
});
