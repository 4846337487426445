#!/usr/bin/env node
// One src/ tree whose folders are the layers (issue 21, first step), as a deterministic, re-runnable codemod:
//
//   node scripts/dev/one-tree.mjs [--dry-run] [--verbose]
//
// Moves (folder rules, applied to whatever files the folders hold when it runs; a few single files reclassified):
//   kernels/{engine,device,gpu}.ts    → src/gpu/                  the engine facade, device acquisition, GPU helpers
//   kernels/<shim>.ts                 → deleted                   a module whose only statement is `export * from "…"`;
//                                                                 its importers are pointed at the real module
//   kernels/measure/tune.ts           → src/gpu/engine/tune.ts    per-device choices are engine configuration
//   kernels/<dir>/**                  → src/gpu/<dir>/**          engine/, measure/, any other folder
//   kernels/*.ts (every other file)   → src/gpu/kernels/          the WGSL builders
//   src/components/<non-view>.ts      → src/app/                  APP below: sessions, model stores, generation, …
//   src/lib/train/worker*.ts          → src/app/train/            the training page's Web Worker, its client, protocol
//   src/lib/train/wasm-backend.ts     → src/app/train/            the worker's WASM backend (imports src/vendor)
//   symlinks kernels/lib → ../src/lib and src/kernels → ../kernels are removed (src/data → ../data stays)
//
// Then every relative reference is rewritten: import/export specifiers, import(), import("…") types,
// import.meta.resolve, FileAttachment, new URL(…, import.meta.url), and any other string literal that names a moved
// file relative to its module (src/node/runtime.ts's variable import), in .ts/.mts/.mjs/.js files and the pages'
// code fences; repo-relative path mentions (comments, docs, test strings like "kernels/engine.ts") are mapped too;
// tsconfig.json, package.json "files" and the architecture notes get their few fixed edits.
//
// Nothing is written unless every reference resolves: an unresolvable one (or a destination that already exists)
// is listed and the script exits 1. On a tree already moved it only checks the references (exit 0 or 1).
import {execFileSync} from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import {dirname, join, posix, relative} from "node:path";
import ts from "typescript";

const DRY = process.argv.includes("--dry-run");
const VERBOSE = process.argv.includes("--verbose");
const root = execFileSync("git", ["rev-parse", "--show-toplevel"], {encoding: "utf8"}).trim();
const abs = (p) => join(root, p);
const SELF = ["scripts/dev/one-tree.mjs", "test/unit/layers.test.ts"]; // they name the old paths on purpose

// ── the classification ───────────────────────────────────────────────────────────────────────────────────────────
/** kernels/*.ts that are not WGSL builders: they go to src/gpu/ itself. */
const GPU_ROOT = ["engine.ts", "device.ts", "gpu.ts"];
/** single files reclassified: old → new. */
const RECLASSIFIED = {
  "kernels/measure/tune.ts": "src/gpu/engine/tune.ts",
  "src/lib/train/wasm-backend.ts": "src/app/train/wasm-backend.ts",
};
/** src/components/ modules that are not views (data, options) → Node: page machinery, to src/app/. Any other file
 * there, including new ones, stays a view (test/unit/layers.test.ts then says if it imports src/app). */
const APP = [
  "figures.ts", // the embeddable figures' registry: runs live traces, models and generation, then draws views
  "format-store.ts", // IndexedDB store of an opened checkpoint
  "generation.ts", // a generation run that survives device loss
  "hadamard-gpu.ts", // GPU pipelines built by hand (the Hadamard prologue's cost)
  "kernel-lab.ts", // the kernel lab's host code (benchmark, checks, roofline)
  "live-sweep.ts", // the sparsity chapter's sweeps on the page device
  "live-trace.ts", // the chapters' live trace (GPU inspection or CPU reference)
  "models.ts", // shipped / opened / trained model loading
  "observablehq-stdlib.d.ts", // types of Framework's stdlib, which models.ts imports
  "sessions.ts", // the page's GPU device and sessions on it
  "trained-model.ts", // IndexedDB store of a browser-trained model and the train session
];
/** symlinks that go away: link → the folder it stands for. */
const REMOVED_LINKS = {"kernels/lib": "src/lib", "src/kernels": "kernels"};
/** generated, git-ignored files a module may import before they exist (scripts/vendor.mjs writes them) */
const GENERATED = ["src/vendor/"];
/** folders whose mentions in prose map as a whole */
const FOLDER_MOVES = [
  ["src/kernels", "src/gpu"],
  ["kernels/lib", "src/lib"],
  ["kernels/engine", "src/gpu/engine"],
  ["kernels/measure", "src/gpu/measure"],
  ["kernels", "src/gpu"],
];
/** fixed edits (find → replace); a find that is no longer there is reported, not fatal. Applied before the
 * path-mention pass, so their text is already in the new terms. */
const FIXED_EDITS = [
  ["tsconfig.json", `"kernels/**/*.ts", `, ""],
  ["tsconfig.json", `"src/kernels", `, ""],
  ["package.json", `    "kernels",\n`, ""],
  [
    "docs/ARCHITECTURE.md",
    "| `kernels/` | WGSL (as TypeScript string exports — Framework cannot import `.wgsl`) with the host code that runs it | browser, Dawn in Node |\n| `src/components/` | views: pure functions `(data, options) → Node` | browser |",
    "| `src/gpu/` | WebGPU: `kernels/` WGSL builders (TypeScript string exports — Framework cannot import `.wgsl`), `engine/` (with its per-device tuning), `measure/`, device acquisition, GPU helpers, the engine facade | browser, Dawn in Node |\n| `src/components/` | views: pure functions `(data, options) → Node` | browser |\n| `src/app/` | page machinery: the page's GPU device and sessions, model stores, generation, live trace and sweeps, GPU figures, the kernel lab's host code, the training worker and its client | browser |",
  ],
  [
    "docs/ARCHITECTURE.md",
    "| `kernels/` | WGSL kernels + host code: device acquisition, linear (ternary/f32/f16), norm+quant, attention, embedding, sampling | |",
    "| `src/gpu/kernels/` | WGSL builders: linear (ternary/f32/f16), norm+quant, attention, embedding, sampling, float-float helpers; `src/gpu/device.ts` device acquisition, `src/gpu/gpu.ts` buffer/pipeline helpers | |",
  ],
  [
    "docs/ARCHITECTURE.md",
    "`tune.ts`, `timing.ts`; the old `kernels/<name>.js` paths re-export them",
    "`timing.ts` (per-device tuning is `engine/tune.ts`)",
  ],
  [
    "docs/ARCHITECTURE.md",
    "| `src/components/` | views `(data, options) → Node` and page machinery (`PageState`, exercises, charts with data tables, model loading, session choice) | |",
    "| `src/components/` | views `(data, options) → Node` (`PageState` controls, exercises, charts with data tables) | |\n| `src/app/` | page machinery over the engine and the library; views are drawn with `src/components/` | |",
  ],
  [
    "docs/ARCHITECTURE.md",
    "Framework drops imports that leave `src/`, so `src/kernels → ../kernels` and `src/data → ../data`\n  are symlinks; pages import `./kernels/engine.js` and attach `./data/...` files.",
    "Framework drops imports that leave `src/`, so all code lives under `src/` (folders are layers: lib →\n  gpu → node | components → app → cli | pages, test/unit/layers.test.ts) and `src/data → ../data` is the one symlink;\n  pages import `./gpu/engine.js` and attach `./data/...` files.",
  ],
  [
    "docs/ARCHITECTURE.md",
    "- **Kernels reach the library through `kernels/lib → ../src/lib`** (a symlink), so the same relative import works\n  from `kernels/` (Node, esbuild bundles) and from `src/kernels/` (Framework), where `../src/lib` would not.\n",
    "- **One tree** (`scripts/dev/one-tree.mjs` moved it): `src/gpu/` reaches the library as `../lib/…`, plain relative\n  paths that Node, esbuild and Framework resolve alike; no symlink stands for code.\n",
  ],
  [
    "README.md",
    "`kernels/` WGSL kernels and their host code (reached from pages through the `src/kernels` symlink)",
    "`src/gpu/` WGSL kernels, the engine and its measurements, `src/app/` page machinery",
  ],
];

// ── helpers ──────────────────────────────────────────────────────────────────────────────────────────────────────
const errors = [];
const notes = [];
const isLink = (p) => {
  try {
    return lstatSync(abs(p)).isSymbolicLink();
  } catch {
    return false;
  }
};
const isFile = (p) => existsSync(abs(p)) && statSync(abs(p)).isFile();
const isDir = (p) => existsSync(abs(p)) && statSync(abs(p)).isDirectory();
const real = (p) =>
  relative(root, realpathSync(abs(p)))
    .split("\\")
    .join("/");

/** All files under a folder (symlinks listed, not followed), repo-relative, sorted. */
function walk(dir) {
  const out = [];
  for (const e of readdirSync(abs(dir), {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = `${dir}/${e.name}`;
    if (e.isSymbolicLink()) out.push(p);
    else if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

function sourceFile(file, text) {
  const kind = /\.(mjs|js)$/.test(file) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
}

/** Relative string literals of a module: {spec, start (of the text inside the quotes), kind}. */
function literals(file, text) {
  const sf = sourceFile(file, text);
  const out = [];
  const visit = (node) => {
    if (ts.isStringLiteralLike(node) && (node.text.startsWith("./") || node.text.startsWith("../"))) {
      const p = node.parent;
      let kind = "string";
      if ((ts.isImportDeclaration(p) || ts.isExportDeclaration(p)) && p.moduleSpecifier === node) kind = "module";
      else if (ts.isLiteralTypeNode(p) && ts.isImportTypeNode(p.parent)) kind = "module";
      else if (ts.isCallExpression(p) && p.arguments[0] === node) {
        const c = p.expression;
        if (c.kind === ts.SyntaxKind.ImportKeyword) kind = "module";
        else if (ts.isPropertyAccessExpression(c) && c.name.text === "resolve" && ts.isMetaProperty(c.expression))
          kind = "module";
        else if (ts.isIdentifier(c) && c.text === "FileAttachment") kind = "file";
      } else if (
        ts.isNewExpression(p) &&
        ts.isIdentifier(p.expression) &&
        p.expression.text === "URL" &&
        p.arguments?.[0] === node
      ) {
        if (p.arguments[1]?.getText(sf) === "import.meta.url") kind = "file";
      }
      const start = node.getStart(sf) + 1;
      if (text.slice(start, start + node.text.length) !== node.text)
        errors.push(`${file}: cannot edit the escaped string ${JSON.stringify(node.text)}`);
      else out.push({spec: node.text, start, kind});
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** A page's ```js fences with their offsets. */
function fences(text) {
  const out = [];
  const re = /^```(?:js|javascript|ts)?\b[^\n]*\n([\s\S]*?)^```/gm;
  for (let m; (m = re.exec(text));) out.push({text: m[1], offset: m.index + m[0].indexOf("\n") + 1});
  return out;
}

function refsIn(file, text) {
  if (file.endsWith(".md")) {
    return fences(text).flatMap((f) => literals(file, f.text).map((l) => ({...l, start: l.start + f.offset})));
  }
  return literals(file, text);
}

/** The path a relative reference names, with removed links replaced by the folders they stand for. */
function canonical(lexical) {
  for (const [link, target] of Object.entries(REMOVED_LINKS)) {
    if (lexical === link) return target;
    if (lexical.startsWith(link + "/")) return target + lexical.slice(link.length);
  }
  return lexical;
}

/** The source file a module reference reaches: `x.js` → `x.ts` where that exists. Returns {path, suffix}: the
 * file, and how the written path differs from it (so the new path is written the same way). */
function resolveWritten(w, kind) {
  const tries =
    kind === "module"
      ? [
          ...(w.endsWith(".js")
            ? [
                [w.slice(0, -3) + ".ts", ".js", ".ts"],
                [w.slice(0, -3) + ".tsx", ".js", ".tsx"],
              ]
            : []),
          ...(w.endsWith(".mjs") ? [[w.slice(0, -4) + ".mts", ".mjs", ".mts"]] : []),
          [w, "", ""],
          ...(!/\.[a-z]+$/i.test(w) ? [[w + ".ts", "", ".ts"]] : []),
        ]
      : [[w, "", ""], ...[".ts", ".js", ".mjs", ".py", ".sh"].map((e) => [w + e, "", e])];
  for (const [p, wrote, is] of tries) {
    if (isFile(p) || (kind !== "module" && isDir(p))) return {path: p, wrote, is};
  }
  if (GENERATED.some((g) => w.startsWith(g))) return {path: w, wrote: "", is: ""};
  return null;
}

// ── the plan ─────────────────────────────────────────────────────────────────────────────────────────────────────
const moves = new Map(); // old file → new file
const deletions = new Set(); // files and links removed
const redirect = new Map(); // shim → the module it re-exports (old paths)

const alreadyMoved = !existsSync(abs("kernels")) && !isLink("src/kernels") && isDir("src/gpu");
if (!alreadyMoved) {
  if (!isDir("kernels")) errors.push("kernels/ is missing and src/gpu/ does not exist: not a tree this script knows");
  for (const [link, target] of Object.entries(REMOVED_LINKS)) {
    if (!isLink(link)) {
      if (existsSync(abs(link))) errors.push(`${link} should be a symlink to ${target}`);
      continue;
    }
    const to = posix.normalize(posix.join(posix.dirname(link), readlinkSync(abs(link))));
    if (to !== target) errors.push(`${link} points at ${to}, expected ${target}`);
    deletions.add(link);
  }
  for (const f of isDir("kernels") ? walk("kernels") : []) {
    if (f === "kernels/lib") continue;
    if (isLink(f)) {
      errors.push(`${f}: an unexpected symlink in kernels/`);
      continue;
    }
    const rest = f.slice("kernels/".length);
    if (RECLASSIFIED[f]) moves.set(f, RECLASSIFIED[f]);
    else if (rest.includes("/")) moves.set(f, `src/gpu/${rest}`);
    else if (/\.(ts|mts)$/.test(rest) && isShim(f)) deletions.add(f);
    else if (GPU_ROOT.includes(rest)) moves.set(f, `src/gpu/${rest}`);
    else moves.set(f, `src/gpu/kernels/${rest}`);
  }
  for (const f of existsSync(abs("src/components")) ? walk("src/components") : []) {
    const name = f.slice("src/components/".length);
    if (APP.includes(name)) moves.set(f, `src/app/${name}`);
  }
  for (const name of APP)
    if (!isFile(`src/components/${name}`)) notes.push(`src/components/${name} (listed as app) is not there`);
  for (const f of isDir("src/lib/train") ? walk("src/lib/train") : []) {
    const name = f.slice("src/lib/train/".length);
    if (RECLASSIFIED[f]) moves.set(f, RECLASSIFIED[f]);
    else if (/^worker[^/]*\.ts$/.test(name)) moves.set(f, `src/app/train/${name}`);
  }
  for (const [from, to] of Object.entries(RECLASSIFIED))
    if (!isFile(from)) notes.push(`${from} (reclassified) is not there`);
  // shims: point at what they re-export (after the links are replaced)
  for (const f of [...deletions].filter((d) => !isLink(d))) {
    const text = readFileSync(abs(f), "utf8");
    const [ref] = literals(f, text).filter((l) => l.kind === "module");
    const r = ref && resolveWritten(canonical(posix.normalize(posix.join(posix.dirname(f), ref.spec))), "module");
    if (!r) errors.push(`${f}: a shim whose target does not resolve`);
    else redirect.set(f, r.path);
  }
  const targets = new Map();
  for (const [from, to] of [...moves].sort()) {
    if (existsSync(abs(to))) errors.push(`${from} → ${to}: the destination exists`);
    if (targets.has(to)) errors.push(`${from} and ${targets.get(to)} both → ${to}`);
    targets.set(to, from);
  }
}

const finalPath = (p) => {
  for (let i = 0; redirect.has(p) && i < 10; i++) p = redirect.get(p);
  return moves.get(p) ?? p;
};

// ── the files to rewrite ─────────────────────────────────────────────────────────────────────────────────────────
const listed = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], {cwd: root, encoding: "utf8"})
  .split("\0")
  .filter((f) => f && isFile(f) && !isLink(f) && !f.startsWith("node_modules/"));
const CODE = /\.(ts|mts|mjs|js)$/;
const codeFiles = listed.filter(
  (f) => (CODE.test(f) || /^src\/[^/]+\.md$/.test(f)) && !f.startsWith("data/") && !f.startsWith("src/vendor/"),
);
const TEXT = /\.(ts|mts|mjs|js|md|json|py|sh|yml|yaml|html|css|txt)$/;
const textFiles = listed.filter(
  (f) =>
    TEXT.test(f) &&
    !f.startsWith("data/") &&
    !f.startsWith("bench/results/") &&
    f !== "package-lock.json" &&
    !SELF.includes(f) &&
    !f.startsWith("src/vendor/"),
);

const contents = new Map(); // file (old path) → text
const read = (f) => contents.get(f) ?? readFileSync(abs(f), "utf8");
let refsChanged = 0;
const filesChanged = new Set();
const refsSeen = {module: 0, file: 0, string: 0};

for (const f of codeFiles) {
  if (deletions.has(f) || SELF.includes(f)) continue;
  const text = read(f);
  let refs;
  try {
    refs = refsIn(f, text);
  } catch (e) {
    errors.push(`${f}: cannot parse (${e.message})`);
    continue;
  }
  const edits = [];
  for (const r of refs) {
    const lexical = posix.normalize(posix.join(posix.dirname(f), r.spec));
    const canon = canonical(lexical);
    const viaRemoved = canon !== lexical;
    const res =
      r.kind === "string"
        ? (resolveWritten(canon, "module") ?? resolveWritten(canon, "file"))
        : resolveWritten(canon, r.kind);
    if (!res) {
      // a string that is not a reference relative to its module (a path relative to the cwd, a URL part) is fine,
      // unless it names a folder that goes away
      if (r.kind === "string" && !viaRemoved && !/(^|\/)kernels(\/|$)/.test(canon)) continue;
      const line = text.slice(0, r.start).split("\n").length;
      const what = r.kind === "string" ? " (a string naming an old path)" : "";
      errors.push(`${f}:${line}: cannot resolve ${JSON.stringify(r.spec)}${what}`);
      continue;
    }
    refsSeen[r.kind]++;
    const target = res.path;
    const newTarget = finalPath(target);
    const newFrom = moves.get(f) ?? f;
    if (!viaRemoved && newTarget === target && newFrom === f) continue;
    // keep the way it was written: `x.js` for `x.ts`, no extension for a data loader's output
    let written = newTarget;
    if (res.is && written.endsWith(res.is)) written = written.slice(0, -res.is.length) + res.wrote;
    let spec = posix.relative(posix.dirname(newFrom), written);
    if (!spec.startsWith(".")) spec = "./" + spec;
    if (r.spec.endsWith("/") && !spec.endsWith("/")) spec += "/";
    if (spec !== r.spec) edits.push({start: r.start, end: r.start + r.spec.length, to: spec, from: r.spec});
  }
  if (edits.length) {
    let out = text;
    for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.to + out.slice(e.end);
    contents.set(f, out);
    refsChanged += edits.length;
    filesChanged.add(f);
    if (VERBOSE) for (const e of edits.reverse()) console.log(`  ${f}: ${e.from} → ${e.to}`);
  }
}

// ── fixed edits and path mentions ────────────────────────────────────────────────────────────────────────────────
let mentions = 0;
if (!alreadyMoved) {
  const oldFiles = new Set([...moves.keys(), ...redirect.keys()]);
  /** a repo-relative path (maybe a folder, maybe with `x.js` for `x.ts`, maybe a glob) in the new tree, or null */
  const mapPath = (c) => {
    for (const [ext, src] of [
      ["", ""],
      [".js", ".ts"],
    ]) {
      const p = ext && c.endsWith(ext) ? c.slice(0, -ext.length) + src : ext ? null : c;
      if (p && oldFiles.has(p)) {
        const n = finalPath(p);
        return ext ? n.slice(0, -src.length) + ext : n;
      }
    }
    if (c.includes("*")) {
      // a glob of files: if every file it matches moves to one folder, the glob moves there
      const dir = posix.dirname(c);
      const re = new RegExp("^" + posix.basename(c).replace(/[.]/g, "\\.").replace(/\*/g, "[^/]*") + "$");
      const matched = isDir(dir)
        ? readdirSync(abs(dir))
            .filter((n) => re.test(n))
            .map((n) => `${dir}/${n}`)
        : [];
      const dirs = new Set(matched.map((o) => (oldFiles.has(o) ? posix.dirname(finalPath(o)) : dir)));
      if (matched.length && dirs.size === 1 && !dirs.has(dir)) return `${[...dirs][0]}/${posix.basename(c)}`;
    }
    const bare = c.replace(/\/$/, "");
    for (const [from, to] of FOLDER_MOVES) {
      if (bare === from) return to + c.slice(bare.length);
      if (bare.startsWith(from + "/") && !oldFiles.has(bare)) {
        const rest = bare.slice(from.length + 1);
        // a file path under a moved folder that is not one of its files (a typo or a future file): folder rule
        if (from === "kernels" && !rest.includes("/") && /\.\w+$/.test(rest)) return null;
        return to + "/" + rest + c.slice(bare.length);
      }
    }
    return null;
  };
  const MENTION = /(?<![\w.\/@-])(\.\/|src\/)?((?:kernels|components|lib)\/[\w.*\/-]*|kernels\b)/g;
  const fixedDone = new Set();
  for (const f of textFiles) {
    // fixed edits first, behind placeholders, so their new text is not mapped again
    let text = read(f);
    const placed = [];
    FIXED_EDITS.forEach(([file, find, replace], i) => {
      if (file !== f || !text.includes(find)) return;
      text = text.replace(find, `\u0000${i}\u0000`);
      placed.push([i, replace]);
      fixedDone.add(i);
    });
    const isCode = CODE.test(f);
    const codeSpans = isCode || f.endsWith(".md") ? refsIn(f, text).map((r) => [r.start, r.start + r.spec.length]) : [];
    let n = 0;
    const out = text.replace(MENTION, (m, prefix = "", path, offset) => {
      if (codeSpans.some(([a, b]) => offset >= a && offset < b)) return m; // a reference, handled above
      let p = path.replace(/\.+$/, "");
      const tail = path.slice(p.length);
      let c;
      if (!p.includes("/") && prefix === "") return m; // the word, not a path
      if (p.startsWith("kernels")) c = prefix === "src/" || prefix === "./" ? canonical("src/" + p) : p;
      else c = "src/" + p;
      const n2 = mapPath(canonical(c)) ?? canonical(c);
      if (n2 === c) return m;
      n++;
      // write it in the form it was written: "./x" page-relative, "components/x" src-relative, else repo-relative
      if (prefix === "./") return "./" + n2.replace(/^src\//, "") + tail;
      if (prefix === "" && !p.startsWith("kernels")) return n2.replace(/^src\//, "") + tail;
      return n2 + tail;
    });
    let done = out;
    for (const [i, replace] of placed) done = done.replace(`\u0000${i}\u0000`, replace);
    if (n || placed.length) {
      contents.set(f, done);
      filesChanged.add(f);
      mentions += n;
    }
  }
  FIXED_EDITS.forEach(([file, find], i) => {
    if (!fixedDone.has(i))
      notes.push(`${file}: a fixed edit's text is not there (edit by hand): ${JSON.stringify(find.slice(0, 70))}…`);
  });
}

// ── errors stop everything ───────────────────────────────────────────────────────────────────────────────────────
for (const n of notes) console.log(`note: ${n}`);
if (errors.length) {
  console.error(`one-tree: ${errors.length} problem(s); nothing was changed:`);
  for (const e of errors) console.error(`  ${e}`);
  process.exit(1);
}
if (alreadyMoved) {
  const n = Object.values(refsSeen).reduce((a, b) => a + b, 0);
  console.log(`one-tree: already one tree; ${n} relative references resolve, none through a removed link`);
  process.exit(0);
}

const shimCount = [...deletions].filter((d) => !isLink(d)).length;
const linkCount = deletions.size - shimCount;
console.log(
  `one-tree: ${moves.size} files move, ${shimCount} shims and ${linkCount} symlinks go, ` +
    `${refsChanged} references and ${mentions} path mentions rewritten in ${filesChanged.size} files`,
);
for (const [from, to] of [...moves].sort()) if (VERBOSE || DRY) console.log(`  ${from} → ${to}`);
for (const d of [...deletions].sort())
  if (VERBOSE || DRY) console.log(`  ${d} ✕${redirect.has(d) ? ` (importers → ${finalPath(redirect.get(d))})` : ""}`);
if (DRY) process.exit(0);

// ── write ────────────────────────────────────────────────────────────────────────────────────────────────────────
for (const [from, to] of [...moves].sort()) {
  mkdirSync(dirname(abs(to)), {recursive: true});
  writeFileSync(abs(to), contents.get(from) ?? readFileSync(abs(from)));
  unlinkSync(abs(from));
}
for (const [f, text] of contents) if (!moves.has(f) && !deletions.has(f)) writeFileSync(abs(f), text);
for (const d of deletions) unlinkSync(abs(d));
const prune = (dir) => {
  if (!isDir(dir) || isLink(dir)) return;
  for (const e of readdirSync(abs(dir))) prune(`${dir}/${e}`);
  if (readdirSync(abs(dir)).length === 0) rmdirSync(abs(dir));
};
prune("kernels");
prune("src/components");
prune("src/lib/train");

// ── check the result: every reference resolves, none through a removed link ──────────────────────────────────────
const after = execFileSync("node", [process.argv[1]], {
  cwd: root,
  encoding: "utf8",
  stdio: ["ignore", "pipe", "inherit"],
});
process.stdout.write(after);
console.log("one-tree: done; review with `git status`, then `git add -A && git commit`");

function isShim(f) {
  const sf = ts.createSourceFile(f, readFileSync(abs(f), "utf8"), ts.ScriptTarget.Latest, false);
  return (
    sf.statements.length > 0 &&
    sf.statements.every((s) => ts.isExportDeclaration(s) && !s.exportClause && !!s.moduleSpecifier)
  );
}
