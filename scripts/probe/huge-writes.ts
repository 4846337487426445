// Probe families from issue 22: huge sparse GGUFs, and the data safety of every command that writes.
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import {basename, join} from "node:path";
import fc from "fast-check";
import {ggufFromWeights} from "../../src/lib/formats/gguf-model.js";
import {GGUFValueType} from "../../src/lib/formats/gguf.js";
import {writeGGUF} from "../../src/lib/formats/gguf-write.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {mapFileSet, memorySource} from "../../src/lib/formats/source.js";

import {type Bucket, runCli} from "./common.js";
import {packedFiles} from "./regex-scales.js";

// ---------------------------------------------------------------- issue 22: huge sparse files

export type HugeCase =
  | {kind: "array"; elementType: GGUFValueType; count: number}
  | {kind: "tensor"; vocab: number}
  | {kind: "string"; length: number};
export const hugeArb: fc.Arbitrary<HugeCase> = fc.oneof(
  fc.record({
    kind: fc.constant("array" as const),
    elementType: fc.constantFrom(
      GGUFValueType.U8,
      GGUFValueType.I32,
      GGUFValueType.F32,
      GGUFValueType.STRING,
      GGUFValueType.BOOL,
    ),
    count: fc.constantFrom(2 ** 22 + 1, 1e8, 3.1e9, 2 ** 31, 2 ** 40),
  }),
  fc.record({kind: fc.constant("tensor" as const), vocab: fc.constantFrom(2 ** 21, 2 ** 21 + 7, 3_000_000, 2 ** 22)}),
  fc.record({kind: fc.constant("string" as const), length: fc.constantFrom(1e8 + 1, 2 ** 31, 3e9)}),
);

export async function judgeHuge(c: HugeCase, dir: string): Promise<Bucket> {
  const w = await (
    await openCheckpoint(mapFileSet("hf-packed", new Map([...packedFiles()].map(([n, b]) => [n, memorySource(b, n)]))))
  ).load();
  let {kvs, tensors} = ggufFromWeights(w, {embedding: "F32"});
  const key = "probe.huge";
  if (c.kind === "array") kvs = [...kvs, {key, type: GGUFValueType.ARRAY, elementType: c.elementType, value: []}];
  if (c.kind === "string") kvs = [...kvs, {key, type: GGUFValueType.STRING, value: ""}];
  if (c.kind === "tensor") {
    kvs = kvs.map((k) => (k.key === "bitnet-25.vocab_size" ? {...k, value: c.vocab} : k));
    tensors = tensors.map((t) => (t.name === "token_embd.weight" ? {...t, dims: [t.dims[0], c.vocab]} : t));
  }
  let header: Uint8Array | undefined;
  const stop = new Error("header only");
  await writeGGUF(
    kvs,
    tensors.map((t) => ({
      ...t,
      data: () => {
        throw stop;
      },
    })),
    (ch) => void (header ??= ch.slice()),
  ).catch((e) => {
    if (e !== stop) throw e;
  });
  const h = header!;
  const at = Buffer.from(h).indexOf(key) + key.length + 4; // after the key and its type
  if (c.kind === "array") new DataView(h.buffer).setBigUint64(at + 4, BigInt(c.count), true);
  if (c.kind === "string") new DataView(h.buffer).setBigUint64(at, BigInt(c.length), true);
  const path = join(dir, "huge.gguf");
  writeFileSync(path, h);
  truncateSync(path, c.kind === "tensor" ? h.length + c.vocab * 256 * 4 + (64 << 20) : 5e9);
  try {
    const r = await runCli(["logits", path, "--tokens", "1,2"]);
    if (r.code === 0) return "silent";
    if (
      r.code === 1 &&
      /^bitnet-lab logits: \S/.test(r.err.trim().split("\n").at(-1)!) &&
      !/is not a function|undefined|RangeError|TypeError/.test(r.err)
    )
      return "handled";
    throw new Error(`exit ${r.code}: ${r.err.trim().split("\n").at(-1)}`);
  } finally {
    rmSync(path, {force: true});
  }
}

// ---------------------------------------------------------------- issue 22: data safety of commands that write

export type WriteTarget =
  | "input"
  | "input-link"
  | "input-dotdot"
  | "parent"
  | "child"
  | "file"
  | "folder"
  | "model"
  | "empty"
  | "fresh";
export interface WriteCase {
  cmd: "convert-gguf" | "convert-hf" | "train";
  input: "folder" | "gguf";
  target: WriteTarget;
  force: boolean;
}
export const writeArb: fc.Arbitrary<WriteCase> = fc.record({
  cmd: fc.constantFrom("convert-gguf" as const, "convert-hf" as const, "train" as const),
  input: fc.constantFrom("folder" as const, "gguf" as const),
  target: fc.constantFrom<WriteTarget>(
    "input",
    "input-link",
    "input-dotdot",
    "parent",
    "child",
    "file",
    "folder",
    "model",
    "empty",
    "fresh",
  ),
  force: fc.boolean(),
});

/** Every file under `p` (or the file itself) with its bytes, for before/after comparison. */
export function tree(p: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (q: string, rel: string) => {
    let st;
    try {
      st = lstatSync(q);
    } catch {
      return;
    }
    if (st.isSymbolicLink()) out.set(rel, `link:${readlinkSync(q)}`);
    else if (st.isDirectory()) for (const n of readdirSync(q)) walk(join(q, n), `${rel}/${n}`);
    else out.set(rel, readFileSync(q).toString("base64"));
  };
  walk(p, "");
  return out;
}
export const same = (a: Map<string, string>, b: Map<string, string>) =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

export let writeGGUFBytes: Buffer | undefined;
export async function judgeWrite(c: WriteCase, root: string): Promise<Bucket> {
  const dir = mkdtempSync(join(root, "w-"));
  try {
    const model = join(dir, "model");
    cpSync("data/fixtures/hf-packed", model, {recursive: true});
    writeFileSync(join(model, "summary.json"), "{}\n");
    const gguf = join(dir, "m.gguf");
    if (c.input === "gguf" || c.cmd === "train") {
      if (!writeGGUFBytes) {
        const r = await runCli(["convert", model, "--to", "gguf", "--out", gguf]);
        if (r.code !== 0) throw new Error(`fixture: ${r.err}`);
        writeGGUFBytes = readFileSync(gguf);
      } else writeFileSync(gguf, writeGGUFBytes);
    }
    const input = c.cmd === "train" ? gguf : c.input === "gguf" ? gguf : model;
    const inputIsDir = input === model;
    const targets: Record<WriteTarget, string> = {
      input,
      "input-link": join(dir, "link"),
      "input-dotdot": join(input, "..", basename(input)),
      parent: dir,
      child: join(model, "sub"),
      file: join(dir, "notes.txt"),
      folder: join(dir, "mine"),
      model: join(dir, "other-model"),
      empty: join(dir, "empty"),
      fresh: join(dir, "fresh", "out"),
    };
    symlinkSync(input, targets["input-link"]);
    writeFileSync(targets.file, "notes\n");
    mkdirSync(targets.folder);
    writeFileSync(join(targets.folder, "thesis.tex"), "precious\n");
    mkdirSync(targets.model); // another run's folder: what must not survive beside new weights
    for (const n of ["config.json", "model.safetensors", "summary.json", "log.jsonl", "train-config.json"])
      writeFileSync(join(targets.model, n), `${n}\n`);
    mkdirSync(targets.empty);
    const out = targets[c.target];
    const argv =
      c.cmd === "train"
        ? ["train", "--config", "ci-tiny", "--out", out, "--backend", "cpu", "--data", join(dir, "no-data")] // fails after the folder checks
        : ["convert", input, "--to", c.cmd === "convert-gguf" ? "gguf" : "hf", "--out", out];
    if (c.force) argv.push("--force");
    const before = tree(dir);
    const inputBefore = tree(input);
    const r = await runCli(argv);
    const after = tree(dir);
    if (!same(inputBefore, tree(input))) return "silent"; // the input changed
    const overlaps =
      ["input", "input-link", "input-dotdot", "parent"].includes(c.target) || (c.target === "child" && inputIsDir);
    if (r.code !== 0) {
      if (!same(before, after)) return "silent"; // refused or failed, but something changed
      if (r.code === 2 || (r.code === 1 && /^bitnet-lab \w+: \S/.test(r.err.trim().split("\n").at(-1)!)))
        return "handled";
      throw new Error(`exit ${r.code}: ${r.err.trim().split("\n").at(-1)}`);
    }
    if (c.cmd === "train") return "silent"; // cannot succeed without data
    if (overlaps) return "silent";
    const existed = ["file", "folder", "model"].includes(c.target);
    if (existed && !c.force) return "silent"; // replaced without asking
    if (c.cmd === "convert-hf" && existsSync(join(out, "summary.json"))) return "silent"; // a stale file beside new weights
    return "harmless"; // written where it was allowed to write
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}
