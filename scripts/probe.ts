// The bad-input probe (issue 12): property-based fuzzing of the readers (config.json, model.safetensors,
// tokenizer.json, training-state metadata) and of the CLI's argument space, each family time-boxed; issue 22
// added tokenizer Split regexes (complexity), absurd scales, huge sparse GGUFs, and the data safety of every
// command that writes (convert, train: its input and what is at --out must survive). Every case
// is known to be bad (or, for byte-level corruption, checked against the original after loading), and lands in
// one bucket:
//   handled   refused with the reader's own error class / a usage error (exit 2) naming what is wrong
//   harmless  the corruption left the input valid and it loaded identically (e.g. a byte of header padding)
//   crashed   any other exception (TypeError, RangeError, …) or the wrong exit code
//   silent    bad input accepted (or loaded with different content) without a word; a command that exits 0
//             with NaN or garbage; a command that writes and changed what it read or what was there
//   hung      any case that took longer than HUNG_MS (a catastrophic regex, an element-by-element array)
// `npx tsx scripts/probe.ts [--seconds S]` prints the figures; test/unit/fuzz.test.ts asserts crashed = silent = 0.
import {mkdirSync, mkdtempSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {pathToFileURL} from "node:url";
import fc from "fast-check";
import {defaultConfig} from "../src/lib/config.js";
import {randomWeights} from "../src/lib/init.js";
import {Tokenizer} from "../src/lib/tokenizer.js";
import {writeModelDir} from "../src/node/modeldir.js";

import {type BadArg, cliArb, cliArgv, type CliSetup, judgeCli} from "./probe/cli-args.js";
import {emptyResult, family, type FamilyResult} from "./probe/common.js";
import {hugeArb, judgeHuge, judgeWrite, writeArb} from "./probe/huge-writes.js";
import {
  badConfigArb,
  badMetaArb,
  badTokenizerArb,
  corruptionArb,
  judgeConfig,
  judgeMeta,
  judgeRandomConfig,
  judgeRandomTokenizer,
  judgeSafetensors,
  judgeTokenizer,
  SHAPE,
  TEXT,
} from "./probe/readers.js";
import {judgeRegex, judgeScale, regexArb, scaleArb} from "./probe/regex-scales.js";

export {runCli, HUNG_MS, type Bucket, type FamilyResult} from "./probe/common.js";

// ---------------------------------------------------------------- the probe

export async function runProbe({secondsPerFamily = 8, seed = 12} = {}): Promise<FamilyResult[]> {
  const ms = secondsPerFamily * 1000;
  const dir = mkdtempSync(join(tmpdir(), "bl-probe-"));
  const model = join(dir, "model");
  mkdirSync(model, {recursive: true});
  await writeModelDir(model, randomWeights(defaultConfig("b1.58", SHAPE), 5), {
    tokenizer: Tokenizer.train(TEXT.repeat(20), 280).toJSON(),
  });
  writeFileSync(join(dir, "README"), "bitnet-lab probe scratch folder\n");
  const setup: CliSetup = {model};
  const cliShow = ([cmd, bad]: [string, BadArg[]]) => JSON.stringify(cliArgv(cmd, bad, setup).slice(0, 12));
  return [
    await family("config.json: bad field values", badConfigArb, ms, seed, judgeConfig),
    await family("config.json: random JSON", fc.jsonValue({maxDepth: 3}), ms / 2, seed, judgeRandomConfig),
    await family("model.safetensors: corrupted", corruptionArb, ms, seed, judgeSafetensors),
    await family("tokenizer.json: bad fields", badTokenizerArb, ms / 2, seed, judgeTokenizer),
    await family("tokenizer.json: random JSON", fc.jsonValue({maxDepth: 3}), ms / 2, seed, judgeRandomTokenizer),
    await family("training state metadata", badMetaArb, ms / 2, seed, judgeMeta),
    await family("CLI arguments", cliArb, ms, seed, (x) => judgeCli(x, setup), cliShow),
    await family("tokenizer.json: Split regex complexity", regexArb, ms / 2, seed, judgeRegex, (x) =>
      JSON.stringify(x),
    ),
    await family("scale ranges (weight_scale, I2_S)", scaleArb, ms / 2, seed, judgeScale),
    await family("huge sparse files (GGUF)", hugeArb, ms / 2, seed, (x) => judgeHuge(x, dir)),
    await family("data safety: commands that write", writeArb, ms, seed, (x) => judgeWrite(x, dir)),
  ];
}

export function formatProbe(results: FamilyResult[]): string {
  const zero = emptyResult("total");
  const rows = [
    ...results,
    results.reduce(
      (t, r) => ({
        ...t,
        tried: t.tried + r.tried,
        distinct: t.distinct + r.distinct,
        handled: t.handled + r.handled,
        harmless: t.harmless + r.harmless,
        crashed: t.crashed + r.crashed,
        silent: t.silent + r.silent,
        hung: t.hung + r.hung,
      }),
      zero,
    ),
  ];
  const w = Math.max(...rows.map((r) => r.family.length));
  const cols = ["tried", "distinct", "handled", "harmless", "crashed", "silent", "hung"] as const;
  const lines = [`${"family".padEnd(w)}  ${cols.map((h) => h.padStart(9)).join("")}`];
  for (const r of rows) lines.push(`${r.family.padEnd(w)}  ${cols.map((c) => String(r[c]).padStart(9)).join("")}`);
  for (const r of results) for (const e of r.examples) lines.push(`  ${r.family}: ${e}`);
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf("--seconds");
  const results = await runProbe({secondsPerFamily: i > 0 ? Number(process.argv[i + 1]) : 8});
  console.log(formatProbe(results));
  process.exit(results.some((r) => r.crashed || r.silent || r.hung) ? 1 : 0);
}
