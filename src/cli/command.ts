// The CLI's command contract and its one argument parser: node:util parseArgs in strict mode (unknown flags,
// a missing value, a value given to a switch are refused) under typed readers with ranges on top
// (flagNumber refuses "", "0x10", "1_000", "Infinity", denormals and anything out of range).
import {parseArgs as nodeParseArgs} from "node:util";

/** A flag takes a value ("string") or is a switch ("boolean"). */
export type FlagKind = "string" | "boolean";

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Every flag the command accepts (without "--"); any other flag is refused before run() is called.
   *  --help is accepted by every command. */
  options: Readonly<Record<string, FlagKind>>;
  run(args: ParsedArgs): Promise<number>; // the process exit code
}

export interface ParsedArgs {
  positional: string[];
  /** Value of each flag given: a string, or true for a switch. */
  flags: Map<string, string | true>;
}

export class UsageError extends Error {}

/** Edit distance, for "did you mean --max-steps?". */
function distance(a: string, b: string): number {
  let prev = Array.from({length: b.length + 1}, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

function unknownFlag(flag: string, known: readonly string[]): UsageError {
  const name = flag.replace(/^-+/, "");
  const near = known
    .filter((k) => distance(k, name) <= Math.max(1, Math.floor(k.length / 4)))
    .sort((a, b) => distance(a, name) - distance(b, name));
  const hint = near.length
    ? `; did you mean --${near[0]}?`
    : known.length
      ? `; known flags: ${known.map((k) => `--${k}`).join(", ")}`
      : "; this command takes no flags";
  return new UsageError(`unknown flag ${flag}${hint}`);
}

/** Parses argv against a command's flags. Refuses unknown flags, a flag given twice, a value given to a
 *  switch, and a missing value (a value that starts with "-" must be written --flag=-value). */
export function parseArgs(argv: readonly string[], options: Readonly<Record<string, FlagKind>> = {}): ParsedArgs {
  const spec: Record<string, {type: FlagKind; short?: string}> = {help: {type: "boolean", short: "h"}};
  for (const [k, type] of Object.entries(options)) spec[k] = {type};
  const known = Object.keys(options);
  let parsed: ReturnType<typeof nodeParseArgs>;
  try {
    parsed = nodeParseArgs({args: [...argv], options: spec, strict: true, allowPositionals: true, tokens: true});
  } catch (e) {
    const code = (e as {code?: string}).code;
    const msg = e instanceof Error ? e.message : String(e);
    const flag = /'(-[^' ]+)/.exec(msg)?.[1] ?? "?";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw unknownFlag(flag, known);
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      if (/does not take an argument/.test(msg)) throw new UsageError(`${flag} is a switch and takes no value`);
      if (/ambiguous/.test(msg))
        throw new UsageError(`${flag} needs a value (a value starting with "-" is written ${flag}=-…)`);
      throw new UsageError(`${flag} needs a value`);
    }
    throw new UsageError(msg.split("\n")[0]);
  }
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (const t of parsed.tokens ?? []) {
    if (t.kind === "positional") positional.push(t.value);
    else if (t.kind === "option") {
      if (flags.has(t.name)) throw new UsageError(`--${t.name} is given twice`);
      flags.set(t.name, t.value === undefined ? true : t.value);
    }
  }
  return {positional, flags};
}

/** Checks the number of positional arguments; `names` names them for the messages ("<model-dir>"). */
export function expectPositionals(args: ParsedArgs, names: readonly string[], optional = 0): void {
  const min = names.length - optional;
  if (args.positional.length < min) throw new UsageError(`missing ${names[args.positional.length]}`);
  if (args.positional.length > names.length)
    throw new UsageError(`unexpected argument "${args.positional[names.length]}"`);
}

export function flagString(args: ParsedArgs, name: string, fallback?: string): string | undefined {
  const v = args.flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v ?? fallback;
}

// Plain decimal notation only: no hex/octal/binary, no separators, no Infinity/NaN, no whitespace.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export interface NumberRange {
  min?: number;
  max?: number;
  integer?: boolean;
}

/** A number flag in plain decimal notation within [min, max]; refuses "", "0x10", "1_000", "Infinity",
 *  denormals (5e-324) and, for integers, fractions. */
export function flagNumber(
  args: ParsedArgs,
  name: string,
  fallback: number,
  {min = -Infinity, max = Infinity, integer = false}: NumberRange = {},
): number {
  const v = flagString(args, name);
  if (v === undefined) return fallback;
  return parseNumber(`--${name}`, v, {min, max, integer});
}

/** The rule of flagNumber for a value from elsewhere (a list element); `what` names it in the message. */
export function parseNumber(
  what: string,
  v: string,
  {min = -Infinity, max = Infinity, integer = false}: NumberRange = {},
): number {
  const range = `${integer ? "an integer" : "a number"} in [${min}, ${max}]`;
  if (!DECIMAL.test(v)) throw new UsageError(`${what} must be ${range} in decimal notation, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isFinite(n))
    throw new UsageError(`${what} must be ${range}, got "${v}" (out of the floating-point range)`);
  if (n !== 0 && Math.abs(n) < 2.2250738585072014e-308)
    throw new UsageError(`${what}: "${v}" is a denormal number; give 0 or a normal number`);
  if ((integer && !Number.isSafeInteger(n)) || n < min || n > max)
    throw new UsageError(`${what} must be ${range}, got "${v}"`);
  return n;
}

export function flagBool(args: ParsedArgs, name: string): boolean {
  return args.flags.get(name) === true;
}
