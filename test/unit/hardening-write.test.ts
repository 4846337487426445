// Issue 22.2 / 22.4: commands that write never destroy what they read or what is already there. An output
// that is, contains or lies inside an input is refused (real paths); a non-empty target needs --force; files
// and folders are written beside the target and renamed, so a failed write (disk full) changes nothing.
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {runCli} from "../../scripts/probe.js";
import {writeDirAtomic, writeFileAtomic} from "../../src/node/safe-write.js";

const tmp = mkdtempSync(join(tmpdir(), "bl-write-"));
afterAll(() => rmSync(tmp, {recursive: true, force: true}));

const snapshot = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((n) => [n, readFileSync(join(dir, n)).toString("base64")]));
const fresh = (name: string) => {
  const d = join(tmp, name);
  cpSync("data/fixtures/hf-packed", d, {recursive: true});
  return d;
};

describe("convert: data safety (issue 22.2, 22.4)", () => {
  it("--to gguf --out <its own input> is refused and the input is untouched", async () => {
    const src = fresh("self");
    const gguf = join(tmp, "self.gguf");
    expect((await runCli(["convert", src, "--to", "gguf", "--out", gguf])).code).toBe(0);
    const before = readFileSync(gguf);
    for (const force of [[], ["--force"]]) {
      const r = await runCli(["convert", gguf, "--to", "gguf", "--out", gguf, ...force]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/is the input .*refusing to overwrite/);
      expect(readFileSync(gguf).equals(before)).toBe(true);
    }
    // The same file through a link and through "..": still the input.
    symlinkSync(gguf, join(tmp, "link.gguf"));
    expect((await runCli(["convert", gguf, "--to", "gguf", "--out", join(tmp, "link.gguf"), "--force"])).err).toMatch(/is the input/);
    expect((await runCli(["convert", gguf, "--to", "gguf", "--out", join(tmp, "self", "..", "self.gguf"), "--force"])).err).toMatch(/is the input/);
    expect(readFileSync(gguf).equals(before)).toBe(true);
  });

  it("--to hf --out <input folder> (or a folder holding it, or one inside it) is refused, even with --force", async () => {
    const src = fresh("inplace");
    const before = snapshot(src);
    for (const [out, why] of [[src, /is the input/], [tmp, /contains the input/], [join(src, "sub"), /inside the input/]] as const) {
      const r = await runCli(["convert", src, "--to", "hf", "--out", out, "--force"]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(why);
    }
    expect(snapshot(src)).toEqual(before);
  });

  it("an existing file or a non-empty folder is replaced only with --force, and then wholly", async () => {
    const src = fresh("src2");
    const other = join(tmp, "notes.txt");
    writeFileSync(other, "my notes\n");
    let r = await runCli(["convert", src, "--to", "gguf", "--out", other]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/already exists: give --force/);
    expect(readFileSync(other, "utf8")).toBe("my notes\n");
    // Another model's folder: refused; with --force its summary/log/train-config do not survive beside the new weights.
    const model = join(tmp, "othermodel");
    cpSync("data/models/b1.58", model, {recursive: true});
    r = await runCli(["convert", src, "--to", "hf", "--out", model]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/already exists and is not empty: give --force/);
    expect(existsSync(join(model, "summary.json"))).toBe(true);
    r = await runCli(["convert", src, "--to", "hf", "--out", model, "--force"]);
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(model).sort()).toEqual(["config.json", "model.safetensors"].concat(existsSync(join(src, "tokenizer.json")) ? ["tokenizer.json"] : []).sort());
    expect(readdirSync(tmp).filter((n) => n.includes(".tmp-") || n.includes(".old-"))).toEqual([]);
    // An empty folder is fine without --force; a file where a folder is written is refused.
    mkdirSync(join(tmp, "empty"));
    expect((await runCli(["convert", src, "--to", "hf", "--out", join(tmp, "empty")])).code).toBe(0);
    expect((await runCli(["convert", src, "--to", "hf", "--out", other, "--force"])).err).toMatch(/is a file; this writes a folder/);
  });

  it("flags of the GGUF writer are refused with --to hf", async () => {
    for (const f of [["--embedding", "f32"], ["--i2s-layout", "arm"]]) {
      const r = await runCli(["convert", "data/fixtures/hf-packed", "--to", "hf", "--out", join(tmp, "never"), ...f]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/applies to --to gguf only/);
    }
  });

  it("a write that fails midway (disk full) leaves the old target and no temporary behind", async () => {
    const file = join(tmp, "target.bin");
    writeFileSync(file, "old");
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), {code: "ENOSPC"});
    await expect(writeFileAtomic(file, async (write) => {
      await write(new Uint8Array(1 << 20));
      throw enospc;
    })).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(file, "utf8")).toBe("old");
    const dir = join(tmp, "target-dir");
    mkdirSync(dir);
    writeFileSync(join(dir, "a"), "old");
    await expect(writeDirAtomic(dir, async (d) => {
      writeFileSync(join(d, "b"), "new");
      throw enospc;
    })).rejects.toThrow(/ENOSPC/);
    expect(snapshot(dir)).toEqual({a: Buffer.from("old").toString("base64")});
    expect(readdirSync(tmp).filter((n) => n.includes(".tmp-"))).toEqual([]);
    await writeFileAtomic(file, async (write) => write(new TextEncoder().encode("new")));
    expect(readFileSync(file, "utf8")).toBe("new");
  });
});
