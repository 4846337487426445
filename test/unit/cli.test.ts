import {execFileSync, spawnSync} from "node:child_process";
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {UsageError, flagNumber, parseArgs} from "../../src/cli/command.js";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));

describe("bitnet-lab CLI entry", () => {
  it("prints its version and help, and rejects unknown commands with exit 2", () => {
    expect(execFileSync("node", ["bin/bitnet-lab.js", "--version"], {encoding: "utf8"}).trim()).toBe(pkg.version);
    expect(execFileSync("node", ["bin/bitnet-lab.js", "--help"], {encoding: "utf8"})).toMatch(/usage: bitnet-lab <command>/);
    const r = spawnSync("node", ["bin/bitnet-lab.js", "no-such-command"], {encoding: "utf8"});
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command "no-such-command"/);
  });

  it("parses flags and validates numbers with a specific error", () => {
    const a = parseArgs(["model", "--prompt", "Hello", "--json", "--max-tokens=5", "--", "--literal"]);
    expect(a.positional).toEqual(["model", "--literal"]);
    expect(a.flags.get("prompt")).toBe("Hello");
    expect(a.flags.get("json")).toBe(true);
    expect(flagNumber(a, "max-tokens", 1, {integer: true, min: 1})).toBe(5);
    expect(() => flagNumber(parseArgs(["--n", "2.5"]), "n", 1, {integer: true})).toThrow(UsageError);
    expect(() => flagNumber(parseArgs(["--n", "x"]), "n", 1)).toThrow(/--n must be a number/);
    expect(() => flagNumber(parseArgs(["--n", "9"]), "n", 1, {max: 8})).toThrow(/\[-Infinity, 8\]/);
  });
});
