// Issue 22.2 / 22.4: commands that write never destroy what they read or what is already there. An output
// that is, contains or lies inside an input is refused (real paths); a non-empty target needs --force; files
// and folders are written beside the target and renamed, so a failed write (disk full) changes nothing.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {runCli} from "../../scripts/probe.js";
import {tokenizeDocuments} from "../../src/lib/corpus.js";
import {Rng} from "../../src/lib/rng.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {writeDirAtomic, writeFileAtomic} from "../../src/node/safe-write.js";
import {savePrepared} from "../../src/node/train-data.js";

const tmp = mkdtempSync(join(tmpdir(), "bl-write-"));
afterAll(() => rmSync(tmp, {recursive: true, force: true}));

const snapshot = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((n) => [n, readFileSync(join(dir, n)).toString("base64")]),
  );
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
    expect((await runCli(["convert", gguf, "--to", "gguf", "--out", join(tmp, "link.gguf"), "--force"])).err).toMatch(
      /is the input/,
    );
    expect(
      (await runCli(["convert", gguf, "--to", "gguf", "--out", join(tmp, "self", "..", "self.gguf"), "--force"])).err,
    ).toMatch(/is the input/);
    expect(readFileSync(gguf).equals(before)).toBe(true);
  });

  it("--to hf --out <input folder> (or a folder holding it, or one inside it) is refused, even with --force", async () => {
    const src = fresh("inplace");
    const before = snapshot(src);
    for (const [out, why] of [
      [src, /is the input/],
      [tmp, /contains the input/],
      [join(src, "sub"), /inside the input/],
    ] as const) {
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
    expect(readdirSync(model).sort()).toEqual(
      ["config.json", "model.safetensors"]
        .concat(existsSync(join(src, "tokenizer.json")) ? ["tokenizer.json"] : [])
        .sort(),
    );
    expect(readdirSync(tmp).filter((n) => n.includes(".tmp-") || n.includes(".old-"))).toEqual([]);
    // An empty folder is fine without --force; a file where a folder is written is refused.
    mkdirSync(join(tmp, "empty"));
    expect((await runCli(["convert", src, "--to", "hf", "--out", join(tmp, "empty")])).code).toBe(0);
    expect((await runCli(["convert", src, "--to", "hf", "--out", other, "--force"])).err).toMatch(
      /is a file; this writes a folder/,
    );
  });

  it("flags of the GGUF writer are refused with --to hf", async () => {
    for (const f of [
      ["--embedding", "f32"],
      ["--to-i2s-layout", "arm"],
    ]) {
      const r = await runCli(["convert", "data/fixtures/hf-packed", "--to", "hf", "--out", join(tmp, "never"), ...f]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/applies to --to gguf only/);
    }
  });

  it("a write that fails midway (disk full) leaves the old target and no temporary behind", async () => {
    const file = join(tmp, "target.bin");
    writeFileSync(file, "old");
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), {code: "ENOSPC"});
    await expect(
      writeFileAtomic(file, async (write) => {
        await write(new Uint8Array(1 << 20));
        throw enospc;
      }),
    ).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(file, "utf8")).toBe("old");
    const dir = join(tmp, "target-dir");
    mkdirSync(dir);
    writeFileSync(join(dir, "a"), "old");
    await expect(
      writeDirAtomic(dir, async (d) => {
        writeFileSync(join(d, "b"), "new");
        throw enospc;
      }),
    ).rejects.toThrow(/ENOSPC/);
    expect(snapshot(dir)).toEqual({a: Buffer.from("old").toString("base64")});
    expect(readdirSync(tmp).filter((n) => n.includes(".tmp-"))).toEqual([]);
    await writeFileAtomic(file, async (write) => write(new TextEncoder().encode("new")));
    expect(readFileSync(file, "utf8")).toBe("new");
  });
});

describe("train --out: a finished run is not replaced silently (issue 22.6)", () => {
  const data = join(tmp, "train-data");
  const cfgPath = join(tmp, "tiny.json");
  const run = join(tmp, "run");
  const WORDS = "the union state people nation congress law year world peace war trade".split(" ");
  const text = (seed: number, n: number) => {
    const r = new Rng(seed);
    return Array.from({length: n}, () => WORDS[r.int(WORDS.length)]).join(" ");
  };
  const train = (out: string, ...more: string[]) =>
    runCli([
      "train",
      "--config",
      cfgPath,
      "--out",
      out,
      "--backend",
      "cpu",
      "--data",
      data,
      "--max-steps",
      "1",
      ...more,
    ]);
  beforeAll(() => {
    const tok = Tokenizer.train(text(1, 2000), 300);
    const tr = tokenizeDocuments(tok, [text(2, 1500)]);
    const val = tokenizeDocuments(tok, [text(4, 1500)]);
    savePrepared(data, {
      tokenizer: tok,
      train: tr,
      val,
      info: {
        vocabSize: 300,
        trainAddresses: 1,
        valAddresses: 1,
        trainTokens: tr.length,
        valTokens: val.length,
        valYears: [],
        trainChars: 0,
        valChars: 0,
      },
    });
    const ci = JSON.parse(readFileSync("configs/ci-tiny.json", "utf8"));
    writeFileSync(
      cfgPath,
      JSON.stringify({
        ...ci,
        name: "tiny",
        steps: 4,
        evalEvery: 2,
        checkpointEvery: 2,
        logEvery: 2,
        evalBatches: 1,
        model: {...ci.model, vocab_size: 300},
      }),
    );
  });

  it("refuses a second fresh run into the folder unless --resume or --force", async () => {
    expect((await train(run, "--save-at", "1")).code).toBe(0);
    const before = snapshot(run);
    const r = await train(run);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/already holds a training run .*give --resume to continue it, or --force to start over/);
    expect(snapshot(run)).toEqual(before);
    expect((await train(run, "--resume", "--force")).code).toBe(2);
    // --resume finds state.safetensors; --force starts over and removes the old branch state-1.
    const f = await train(run, "--force");
    expect(f.code, f.err).toBe(0);
    expect(existsSync(join(run, "state-1.safetensors"))).toBe(false);
    expect((await train(run, "--resume")).out).toMatch(/resumed tiny at step 1\/4/);
  }, 120_000);

  it("--resume with only state-N.safetensors points at --from; --force never clears files a run does not write", async () => {
    const only = join(tmp, "branch-only");
    mkdirSync(only);
    writeFileSync(join(only, "state-2.safetensors"), "x");
    const r = await train(only, "--resume");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no state\.safetensors, only state-2\.safetensors: continue from one with --from/);
    const mine = join(tmp, "mine");
    mkdirSync(mine);
    writeFileSync(join(mine, "thesis.tex"), "precious");
    const f = await train(mine, "--force");
    expect(f.code).toBe(1);
    expect(f.err).toMatch(/holds files a training run does not write \(thesis\.tex\)/);
    expect(readFileSync(join(mine, "thesis.tex"), "utf8")).toBe("precious");
  });
});
