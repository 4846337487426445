// Writing what the CLI produces without losing what is already there (issue 22.2/22.4/22.6): an output is
// refused when it is, contains or lies inside an input (real paths, so links and "./x/../x" count), and when
// it is not empty unless --force; a file is written to a temporary name beside the target and renamed, a
// folder is built beside the target and renamed into place — whole or not at all. A failed write (disk
// full) leaves the target as it was and removes the temporary.
import {randomBytes} from "node:crypto";
import {createWriteStream} from "node:fs";
import {once} from "node:events";
import {lstat, mkdir, readdir, realpath, rename, rm, stat} from "node:fs/promises";
import {basename, dirname, join, relative, resolve, isAbsolute} from "node:path";

export class OutputError extends Error {
  override name = "OutputError";
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (for a target that does
 *  not exist yet). */
async function realish(p: string): Promise<string> {
  const abs = resolve(p);
  try {
    return await realpath(abs);
  } catch {
    const parent = dirname(abs);
    if (parent === abs) return abs;
    return join(await realish(parent), basename(abs));
  }
}

const inside = (child: string, parent: string) => {
  const r = relative(parent, child);
  return r === "" || (!r.startsWith("..") && !isAbsolute(r));
};

export interface TargetCheck {
  /** What is written: one file, or a folder of files. */
  kind: "file" | "dir";
  /** Paths read by the command (a model file or folder; a file's folder when files beside it are read). */
  inputs: string[];
  /** Replace a non-empty target. */
  force: boolean;
  /** The flag that names the target, for messages ("--out"). */
  flag?: string;
}

/** Refuses a target that overlaps an input, or that exists (non-empty) without --force, or that is a folder
 *  where a file is written (or the reverse). */
export async function checkTarget(target: string, {kind, inputs, force, flag = "--out"}: TargetCheck): Promise<void> {
  const out = await realish(target);
  for (const input of inputs) {
    const inp = await realish(input);
    if (out === inp)
      throw new OutputError(
        `${flag} ${target} is the input ${input}: refusing to overwrite what is being read (write elsewhere, then move it)`,
      );
    if (inside(inp, out))
      throw new OutputError(`${flag} ${target} contains the input ${input}: writing it would replace the input`);
    if (inside(out, inp)) throw new OutputError(`${flag} ${target} lies inside the input ${input}: write it elsewhere`);
  }
  let st;
  try {
    st = await lstat(out);
  } catch {
    return; // does not exist: fine
  }
  if (kind === "file" && st.isDirectory())
    throw new OutputError(`${flag} ${target} is a folder; this writes one file (give a file name)`);
  if (kind === "dir" && !st.isDirectory()) throw new OutputError(`${flag} ${target} is a file; this writes a folder`);
  const nonEmpty = kind === "file" || (await readdir(out)).length > 0;
  if (nonEmpty && !force)
    throw new OutputError(
      `${flag} ${target} already exists${kind === "dir" ? " and is not empty" : ""}: give --force to replace it${kind === "dir" ? " (the whole folder is replaced)" : ""}`,
    );
}

const FS_REASONS: Record<string, string> = {
  ENOENT: "a folder on the way does not exist or cannot be created",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EISDIR: "a folder is in the way",
  ENOTDIR: "a file is in the way of a folder",
  EXDEV: "the temporary copy landed on another device",
};

/** A file-system error of a write as one sentence naming the target (never a bare "ENOSPC: …, open
 *  '/x/.y.tmp-…'"), saying that the target is unchanged. */
export function writeError(e: unknown, target: string): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (!code || !(code in FS_REASONS)) return e instanceof Error ? e : new Error(String(e));
  return new OutputError(`cannot write ${target}: ${FS_REASONS[code]} (${code}); nothing was changed`);
}

const tmpName = (target: string, what: string) =>
  join(dirname(resolve(target)), `.${basename(target)}.${what}-${process.pid}-${randomBytes(4).toString("hex")}`);

/** Streams a file to a temporary name beside `target`, then renames it over the target. */
export async function writeFileAtomic(
  target: string,
  produce: (write: (chunk: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<void> {
  await mkdir(dirname(resolve(target)), {recursive: true}).catch((e) => {
    throw writeError(e, target);
  });
  const tmp = tmpName(target, "tmp");
  const ws = createWriteStream(tmp, {flags: "wx"});
  let failed: Error | undefined;
  ws.on("error", (e) => (failed ??= e));
  try {
    await once(ws, "open");
    await produce(async (chunk) => {
      if (failed) throw failed;
      if (!ws.write(chunk)) await Promise.race([once(ws, "drain"), once(ws, "error")]);
      if (failed) throw failed;
    });
    ws.end();
    await Promise.race([once(ws, "finish"), once(ws, "error")]);
    if (failed) throw failed;
    await new Promise<void>((res, rej) => ws.close((e) => (e ? rej(e) : res())));
    await rename(tmp, target);
  } catch (e) {
    ws.destroy();
    await rm(tmp, {force: true});
    throw writeError(e, target);
  }
}

/** Builds a folder in a temporary folder beside `target`, then puts it in place of the target (a previous
 *  target — allowed by --force — is moved aside first and removed once the new one is in place). */
export async function writeDirAtomic(target: string, produce: (dir: string) => Promise<void>): Promise<void> {
  const tmp = tmpName(target, "tmp");
  try {
    await mkdir(dirname(resolve(target)), {recursive: true});
    await mkdir(tmp);
    await produce(tmp);
  } catch (e) {
    await rm(tmp, {recursive: true, force: true});
    throw writeError(e, target);
  }
  let old: string | undefined;
  try {
    if ((await stat(target).catch(() => undefined))?.isDirectory()) {
      old = tmpName(target, "old");
      await rename(target, old);
    }
    await rename(tmp, target);
  } catch (e) {
    if (old) await rename(old, target).catch(() => undefined);
    await rm(tmp, {recursive: true, force: true});
    throw writeError(e, target);
  }
  if (old) await rm(old, {recursive: true, force: true});
}

/** What a training run writes in its folder (src/node/train-run.ts); --force removes these and only these. */
const RUN_FILE =
  /^(config\.json|model\.safetensors|tokenizer\.json|train-config\.json|log\.jsonl|summary\.json|state(-\d+)?\.safetensors)(\.tmp.*)?$/;

/** `train --out`: a fresh run (no --resume) may not land on a non-empty folder unless --force, which clears
 *  the previous run's files (a folder holding anything else is refused even then); --resume without
 *  state.safetensors but with state-N.safetensors points at --from instead of starting over. Returns what
 *  clears the folder, to be called just before training starts. */
export async function prepareRunFolder(
  out: string,
  {resume, force, from}: {resume: boolean; force: boolean; from?: string},
): Promise<() => Promise<void>> {
  const nothing = async () => undefined;
  let names: string[];
  try {
    names = await readdir(out);
  } catch {
    return nothing; // no folder yet
  }
  if (resume) {
    if (names.includes("state.safetensors")) return nothing;
    const branches = names
      .filter((n) => /^state-\d+\.safetensors$/.test(n))
      .sort((a, b) => Number(b.match(/\d+/)![0]) - Number(a.match(/\d+/)![0]));
    if (branches.length)
      throw new OutputError(
        `--resume: ${out} has no state.safetensors, only ${branches.join(", ")}: continue from one with --from ${join(out, branches[0])} (and a new --out)`,
      );
    if (names.length)
      throw new OutputError(
        `--resume: ${out} has no state.safetensors, so it is not a run to resume (it holds ${names.slice(0, 3).join(", ")}${names.length > 3 ? ", …" : ""})`,
      );
    return nothing;
  }
  if (!names.length) return nothing;
  const what = names.includes("state.safetensors") ? "a training run" : "files";
  if (!force)
    throw new OutputError(
      `--out ${out} already holds ${what} (${names.slice(0, 4).join(", ")}${names.length > 4 ? ", …" : ""}): give --resume to continue it, or --force to start over (its run files are replaced)`,
    );
  const foreign = names.filter((n) => !RUN_FILE.test(n));
  if (foreign.length)
    throw new OutputError(
      `--force: ${out} holds files a training run does not write (${foreign.slice(0, 4).join(", ")}${foreign.length > 4 ? ", …" : ""}): refusing to clear it; choose an empty --out`,
    );
  if (from) {
    const f = await realish(from);
    if (inside(f, await realish(out)))
      throw new OutputError(`--force would remove --from ${from}, which lies in --out ${out}: choose another --out`);
  }
  // Cleared only when the run is about to start (data prepared, backend up): a failure before leaves it.
  return async () => {
    for (const n of names) await rm(join(out, n), {force: true});
  };
}
