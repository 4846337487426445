import {execFileSync, spawnSync} from "node:child_process";
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {UsageError, flagNumber, parseArgs} from "../../src/cli/command.js";
import {commands} from "../../src/cli/commands.js";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const opts = {
  prompt: "string",
  json: "boolean",
  "max-tokens": "string",
  "max-steps": "string",
  n: "string",
  temperature: "string",
} as const;

describe("bitnet-lab CLI entry", () => {
  it("prints its version and help, and rejects unknown commands with exit 2", () => {
    expect(execFileSync("node", ["bin/bitnet-lab.js", "--version"], {encoding: "utf8"}).trim()).toBe(pkg.version);
    expect(execFileSync("node", ["bin/bitnet-lab.js", "--help"], {encoding: "utf8"})).toMatch(
      /usage: bitnet-lab <command>/,
    );
    const r = spawnSync("node", ["bin/bitnet-lab.js", "no-such-command"], {encoding: "utf8"});
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command "no-such-command"/);
  });

  it("parses flags and validates numbers with a specific error", () => {
    const a = parseArgs(["model", "--prompt", "Hello", "--json", "--max-tokens=5", "--", "--literal"], opts);
    expect(a.positional).toEqual(["model", "--literal"]);
    expect(a.flags.get("prompt")).toBe("Hello");
    expect(a.flags.get("json")).toBe(true);
    expect(flagNumber(a, "max-tokens", 1, {integer: true, min: 1})).toBe(5);
    expect(() => flagNumber(parseArgs(["--n", "2.5"], opts), "n", 1, {integer: true})).toThrow(UsageError);
    expect(() => flagNumber(parseArgs(["--n", "x"], opts), "n", 1)).toThrow(/--n must be a number/);
    expect(() => flagNumber(parseArgs(["--n", "9"], opts), "n", 1, {max: 8})).toThrow(/\[-Infinity, 8\]/);
  });

  it("is strict: unknown flags (with a suggestion), repeats, missing values and values given to switches are refused", () => {
    expect(() => parseArgs(["--max-step", "1"], opts)).toThrow(/unknown flag --max-step; did you mean --max-steps\?/);
    expect(() => parseArgs(["--zzz"], {})).toThrow(/unknown flag --zzz; this command takes no flags/);
    expect(() => parseArgs(["-x"], opts)).toThrow(/unknown flag -x/);
    expect(() => parseArgs(["--prompt", "a", "--prompt", "b"], opts)).toThrow(/--prompt is given twice/);
    expect(() => parseArgs(["--prompt"], opts)).toThrow(/--prompt needs a value/);
    expect(() => parseArgs(["--n", "-1"], opts)).toThrow(
      /--n needs a value \(a value starting with "-" is written --n=-…\)/,
    );
    expect(() => parseArgs(["--json=yes"], opts)).toThrow(/--json is a switch and takes no value/);
    expect(parseArgs(["--n=-1"], opts).flags.get("n")).toBe("-1");
    expect(parseArgs(["-h"], opts).flags.get("help")).toBe(true);
  });

  it("reads numbers in plain decimal notation only, in range, never a denormal", () => {
    const num = (v: string, r = {}) => flagNumber(parseArgs([`--n=${v}`], opts), "n", 7, r);
    for (const bad of [
      "",
      " 5",
      "0x10",
      "0o7",
      "0b1",
      "1_000",
      "Infinity",
      "NaN",
      "1e999",
      "5e-324",
      "1e-310",
      "--1",
      "1.2.3",
      "٣",
    ]) {
      expect(() => num(bad), JSON.stringify(bad)).toThrow(UsageError);
    }
    expect(() => num("5e-324")).toThrow(/denormal/);
    expect(() => num("1e999")).toThrow(/out of the floating-point range/);
    expect(() => num("1e3", {integer: true, max: 999})).toThrow(/an integer in \[-Infinity, 999\]/);
    expect(() => num("9007199254740993", {integer: true})).toThrow(UsageError);
    expect(num("1e3", {integer: true})).toBe(1000);
    expect(num(".5")).toBe(0.5);
    expect(num("-0.25")).toBe(-0.25);
    expect(num("2.2250738585072014e-308")).toBe(2.2250738585072014e-308);
  });

  it("every command declares its flags; --help works for each and flags of one command are refused by another", async () => {
    const {main} = await import("../../src/cli/main.js");
    const out: string[] = [];
    const log = console.log;
    const err = console.error;
    console.log = (m: string) => out.push(m);
    console.error = (m: string) => out.push(m);
    try {
      for (const c of commands) {
        expect(Object.keys(c.options).length, c.name).toBeGreaterThan(0);
        expect(await main([c.name, "--help"]), c.name).toBe(0);
        expect(out.pop()).toMatch(new RegExp(`usage: bitnet-lab ${c.name}`));
      }
      expect(await main(["inspect", "x", "--prompt", "a"])).toBe(2);
      expect(out.join("\n")).toMatch(/unknown flag --prompt; known flags: --i2s-layout, --scale, --as-bitnet, --json/);
    } finally {
      console.log = log;
      console.error = err;
    }
  });
});
