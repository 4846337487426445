// Probe family for the CLI's argument space: bad numbers and switches for every command.
import {tmpdir} from "node:os";
import {join} from "node:path";
import fc from "fast-check";

import {type Bucket, runCli} from "./common.js";

// ---------------------------------------------------------------- CLI arguments

export interface CliSetup {
  model: string;
}
export const NUMERIC: Record<string, string[]> = {
  generate: ["max-tokens", "temperature", "top-k", "top-p", "seed"],
  logits: ["top"],
  cost: ["context", "batch", "bandwidth", "memory"],
  train: ["steps", "max-steps", "eval-windows"],
  verify: ["steps", "tolerance"],
  bench: [],
  inspect: [],
  convert: [],
};
export const SWITCHES: Record<string, string[]> = {
  generate: ["json"],
  logits: ["json"],
  cost: ["json"],
  train: ["resume"],
  verify: ["json"],
  bench: ["json", "quick"],
  inspect: ["json"],
  convert: [],
};
export const BAD_NUMBERS = [
  "",
  "0x10",
  "0o7",
  "1_000",
  "Infinity",
  "-Infinity",
  "NaN",
  "5e-324",
  "1e999",
  "abc",
  "1.2.3",
  " 4",
  "4 ",
  "1e",
  "--",
  "٣",
  "1,5",
  "-1",
  "1e10000000",
];
export type BadArg =
  | {kind: "unknown"; name: string}
  | {kind: "number"; flag: number; value: string}
  | {kind: "switch-value"; flag: number}
  | {kind: "missing-value"; flag: number}
  | {kind: "twice"; flag: number}
  | {kind: "extra-positional"; value: string};
export const badArgArb: fc.Arbitrary<BadArg> = fc.oneof(
  fc.record({
    kind: fc.constant("unknown" as const),
    name: fc.oneof(
      fc.stringMatching(/^[a-z][a-z-]{0,12}$/),
      fc.constantFrom("max-step", "temprature", "topk", "jsn", "steps2", "prompt-file", "x"),
    ),
  }),
  fc.record({
    kind: fc.constant("number" as const),
    flag: fc.nat(),
    value: fc.oneof(
      fc.constantFrom(...BAD_NUMBERS),
      fc.string({maxLength: 6}).filter((s) => !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)),
    ),
  }),
  fc.record({kind: fc.constant("switch-value" as const), flag: fc.nat()}),
  fc.record({kind: fc.constant("missing-value" as const), flag: fc.nat()}),
  fc.record({kind: fc.constant("twice" as const), flag: fc.nat()}),
  fc.record({kind: fc.constant("extra-positional" as const), value: fc.stringMatching(/^[a-z0-9_.]{1,8}$/)}),
);
export const cliArb = fc.tuple(
  fc.constantFrom("generate", "logits", "inspect", "cost", "train", "verify", "bench", "convert"),
  fc.array(badArgArb, {minLength: 1, maxLength: 2}),
);

/** The valid part of each command's argv (the bad elements are appended). */
export function baseArgv(cmd: string, s: CliSetup): string[] {
  switch (cmd) {
    case "generate":
      return [s.model, "--prompt", "the", "--max-tokens", "2"];
    case "logits":
      return [s.model, "--tokens", "1,2"];
    case "inspect":
      return [s.model];
    case "cost":
      return ["--model", "7B"];
    case "train": // a missing --data folder: if a bad flag slipped through, train fails fast (exit 1 → counted crashed)
      return [
        "--config",
        "ci-tiny",
        "--out",
        join(tmpdir(), "bl-probe-never"),
        "--backend",
        "cpu",
        "--data",
        join(tmpdir(), "bl-probe-no-data"),
      ];
    case "convert": // a missing input: same reason
      return [join(tmpdir(), "bl-probe-no-model"), "--to", "hf", "--out", join(tmpdir(), "bl-probe-never")];
    case "verify": // a missing folder: same reason
      return [join(tmpdir(), "bl-probe-no-model")];
    default:
      return [];
  }
}

export function cliArgv(cmd: string, bad: BadArg[], s: CliSetup): string[] {
  const argv = [cmd, ...baseArgv(cmd, s)];
  const nums = NUMERIC[cmd];
  const sw = SWITCHES[cmd];
  // A flag left without its value goes last (else the next element would be its value, a valid argv).
  const order = [...bad].sort((a, b) => Number(a.kind === "missing-value") - Number(b.kind === "missing-value"));
  for (const b of order) {
    if (b.kind === "unknown") argv.push(`--${b.name}`, "1");
    else if (b.kind === "number" && nums.length) {
      const f = nums[b.flag % nums.length];
      argv.push(`--${f}=${b.value}`);
    } else if (b.kind === "switch-value" && sw.length) argv.push(`--${sw[b.flag % sw.length]}=1`);
    else if (b.kind === "missing-value" && nums.length) argv.push(`--${nums[b.flag % nums.length]}`);
    else if (b.kind === "twice" && nums.length) {
      const f = nums[b.flag % nums.length];
      argv.push(`--${f}=1`, `--${f}=1`);
    } else if (b.kind === "twice" && sw.length) argv.push(`--${sw[b.flag % sw.length]}`, `--${sw[b.flag % sw.length]}`);
    else argv.push(b.kind === "extra-positional" ? b.value : "--no-such-flag");
  }
  return argv;
}

export async function judgeCli([cmd, bad]: [string, BadArg[]], s: CliSetup): Promise<Bucket> {
  const argv = cliArgv(cmd, bad, s);
  const r = await runCli(argv);
  if (r.code === 2 && new RegExp(`^bitnet-lab ${cmd}: .+\\nusage: bitnet-lab ${cmd}`).test(r.err.trim()))
    return "handled";
  if (r.code === 0) return "silent";
  throw new Error(`exit ${r.code}: ${r.err.split("\n")[0]}`);
}
