// The project's import graph from the TypeScript compiler's parser: every relative module reference in the
// .ts/.mts/.mjs sources and the pages' code (src/*.md), resolved the way vitest, tsx and Framework resolve it (`x.js` → `x.ts`), with
// the symlink it passes through (if any) and whether it is type-only. Read by test/unit/layers.test.ts (the layer
// rules) and scripts/dev/tree-stats.ts (the numbers). Node-only.
import {execFileSync} from "node:child_process";
import {existsSync, lstatSync, readFileSync, realpathSync, statSync} from "node:fs";
import {dirname, join, posix, relative} from "node:path";
import ts from "typescript";

export interface Ref {
  /** the importing file, repo-relative */
  from: string;
  line: number;
  spec: string;
  kind: "import" | "export" | "dynamic" | "type" | "resolve" | "attachment" | "url";
  /** erased at run time (`import type`, `export type`, `import("x").T` in a type) */
  typeOnly: boolean;
  /** the path as written, joined lexically to the importer's folder (no symlink followed), repo-relative */
  lexical: string;
  /** the file it reaches (symlinks followed), repo-relative; null when nothing is there */
  target: string | null;
  /** the symlink the lexical path passes through, repo-relative, or null */
  link: string | null;
}

/** Source files of the project: tracked and untracked-but-not-ignored, by extension. */
export function projectFiles(root: string): string[] {
  const out = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], {cwd: root, encoding: "utf8"});
  return out
    .split("\0")
    .filter((f) => f && /\.(ts|mts|mjs|md)$/.test(f) && !f.startsWith("node_modules/") && !f.startsWith("data/"))
    .filter((f) => !f.endsWith(".md") || /^src\/[^/]+\.md$/.test(f)) // pages only (docs hold prose, not code)
    .filter((f) => existsSync(join(root, f)) && !lstatSync(join(root, f)).isSymbolicLink())
    .sort();
}

const CODE_EXT = /\.(ts|mts|mjs|js)$/;

/** The module a specifier names: `x.js` is `x.ts` when that exists (the project's convention), `x.mjs` may be
 * `x.mts`. */
export function resolveModule(root: string, lexical: string): string | null {
  const cands = [lexical];
  if (lexical.endsWith(".js")) cands.unshift(lexical.slice(0, -3) + ".ts", lexical.slice(0, -3) + ".tsx");
  else if (lexical.endsWith(".mjs")) cands.push(lexical.slice(0, -4) + ".mts");
  else if (!/\.[a-z]+$/i.test(lexical)) cands.push(lexical + ".ts", lexical + "/index.ts");
  for (const c of cands) {
    const abs = join(root, c);
    if (existsSync(abs) && statSync(abs).isFile()) return relative(root, realpathSync(abs)).split("\\").join("/");
  }
  return null;
}

/** A file Framework makes at build time (a data loader `x.txt.ts` makes `x.txt`) or scripts/vendor.mjs writes. */
export function resolveAttachment(root: string, lexical: string): string | null {
  for (const c of [lexical, ...[".ts", ".js", ".mjs", ".py", ".sh"].map((e) => lexical + e)]) {
    const abs = join(root, c);
    if (existsSync(abs) && (statSync(abs).isFile() || (c === lexical && statSync(abs).isDirectory())))
      return relative(root, realpathSync(abs)).split("\\").join("/") || ".";
  }
  return null;
}

/** Generated, git-ignored output that a source may import before it exists (npm run vendor writes it). */
export const GENERATED = ["src/vendor/"];

export function linkOn(root: string, lexical: string): string | null {
  const parts = lexical.split("/");
  for (let i = 1; i < parts.length; i++) {
    const p = parts.slice(0, i).join("/");
    try {
      if (lstatSync(join(root, p)).isSymbolicLink()) return p;
    } catch {
      return null;
    }
  }
  return null;
}

interface RawRef {
  spec: string;
  pos: number;
  kind: Ref["kind"];
  typeOnly: boolean;
}

function stringArg(node: ts.CallExpression): ts.StringLiteralLike | undefined {
  const a = node.arguments[0];
  return a && ts.isStringLiteralLike(a) ? a : undefined;
}

/** Every module reference in a TS/JS text, with the position of its string literal. */
export function rawRefs(text: string, fileName: string): RawRef[] {
  const kind = fileName.endsWith(".mjs") || fileName.endsWith(".js") ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const out: RawRef[] = [];
  const visit = (node: ts.Node, inType: boolean): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteralLike(node.moduleSpecifier)) {
      out.push({
        spec: node.moduleSpecifier.text,
        pos: node.moduleSpecifier.getStart(sf),
        kind: "import",
        typeOnly: !!node.importClause?.isTypeOnly,
      });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteralLike(node.moduleSpecifier)) {
      out.push({
        spec: node.moduleSpecifier.text,
        pos: node.moduleSpecifier.getStart(sf),
        kind: "export",
        typeOnly: node.isTypeOnly,
      });
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteralLike(node.argument.literal)
    ) {
      out.push({
        spec: node.argument.literal.text,
        pos: node.argument.literal.getStart(sf),
        kind: "type",
        typeOnly: true,
      });
    } else if (ts.isCallExpression(node)) {
      const s = stringArg(node);
      const callee = node.expression;
      if (s && callee.kind === ts.SyntaxKind.ImportKeyword)
        out.push({spec: s.text, pos: s.getStart(sf), kind: "dynamic", typeOnly: inType});
      else if (
        s &&
        ts.isPropertyAccessExpression(callee) &&
        callee.name.text === "resolve" &&
        ts.isMetaProperty(callee.expression)
      ) {
        out.push({spec: s.text, pos: s.getStart(sf), kind: "resolve", typeOnly: false});
      } else if (s && ts.isIdentifier(callee) && callee.text === "FileAttachment") {
        out.push({spec: s.text, pos: s.getStart(sf), kind: "attachment", typeOnly: false});
      }
    } else if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === "URL" &&
      node.arguments?.length === 2
    ) {
      const [a, b] = node.arguments;
      if (ts.isStringLiteralLike(a) && b.getText(sf) === "import.meta.url")
        out.push({spec: a.text, pos: a.getStart(sf), kind: "url", typeOnly: false});
    }
    ts.forEachChild(node, (c) => visit(c, inType || ts.isTypeNode(c)));
  };
  visit(sf, false);
  return out;
}

/** A page's ```js fences, each with its offset in the page (each is parsed alone: a fence may be an expression). */
export function pageFences(text: string): {text: string; offset: number}[] {
  const out: {text: string; offset: number}[] = [];
  const fence = /^```(?:js|javascript|ts)?\b[^\n]*\n([\s\S]*?)^```/gm;
  for (let m; (m = fence.exec(text)); ) out.push({text: m[1], offset: m.index + m[0].indexOf("\n") + 1});
  return out;
}

export function refsOf(root: string, file: string, text = readFileSync(join(root, file), "utf8")): Ref[] {
  const lines = text.split("\n");
  const lineAt = (pos: number): number => {
    let n = 0;
    for (let acc = 0; n < lines.length && acc + lines[n].length < pos; n++) acc += lines[n].length + 1;
    return n + 1;
  };
  const out: Ref[] = [];
  const chunks = file.endsWith(".md") ? pageFences(text) : [{text, offset: 0}];
  for (const chunk of chunks) {
    for (const r of rawRefs(chunk.text, file.endsWith(".md") ? "page.ts" : file)) {
      if (!r.spec.startsWith("./") && !r.spec.startsWith("../")) continue;
      const lexical = posix.normalize(posix.join(posix.dirname(file), r.spec));
      const module =
        r.kind === "attachment" || r.kind === "url" ? resolveAttachment(root, lexical) : resolveModule(root, lexical);
      out.push({
        from: file,
        line: lineAt(chunk.offset + r.pos),
        spec: r.spec,
        kind: r.kind,
        typeOnly: r.typeOnly,
        lexical,
        target: module ?? (GENERATED.some((g) => lexical.startsWith(g)) ? lexical : null),
        link: linkOn(root, lexical),
      });
    }
  }
  return out;
}

/** The bare (package) specifiers a module or page imports: `d3`, `observablehq:stdlib`, `node:fs`. */
export function bareSpecs(
  root: string,
  file: string,
  text = readFileSync(join(root, file), "utf8"),
): {spec: string; typeOnly: boolean}[] {
  const chunks = file.endsWith(".md") ? pageFences(text) : [{text, offset: 0}];
  return chunks.flatMap((c) =>
    rawRefs(c.text, file.endsWith(".md") ? "page.ts" : file)
      .filter(
        (r) =>
          !r.spec.startsWith(".") &&
          !r.spec.startsWith("/") &&
          ["import", "export", "dynamic", "type"].includes(r.kind),
      )
      .map((r) => ({spec: r.spec, typeOnly: r.typeOnly})),
  );
}

/** A module whose only statement is `export * from "…"`: a path kept for old importers (a shim). */
export function isShim(root: string, file: string): boolean {
  if (!CODE_EXT.test(file)) return false;
  const sf = ts.createSourceFile(file, readFileSync(join(root, file), "utf8"), ts.ScriptTarget.Latest, false);
  return (
    sf.statements.length > 0 &&
    sf.statements.every((s) => ts.isExportDeclaration(s) && !s.exportClause && !!s.moduleSpecifier)
  );
}

export function lineCount(root: string, file: string): {lines: number; long: number} {
  const ls = readFileSync(join(root, file), "utf8").split("\n");
  if (ls.at(-1) === "") ls.pop();
  return {lines: ls.length, long: ls.filter((l) => [...l].length > 120).length};
}

/** The folder a file belongs to, for the folder graph. */
export function folderOf(file: string): string {
  return dirname(file).split("\\").join("/");
}

/** Strongly connected components of size > 1 (Tarjan), each sorted; deterministic order. */
export function cycles(edges: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let i = 0;
  const strong = (v: string): void => {
    index.set(v, i);
    low.set(v, i++);
    stack.push(v);
    onStack.add(v);
    for (const w of [...(edges.get(v) ?? [])].sort()) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      for (let w; (w = stack.pop()!) !== v; ) onStack.delete(w), comp.push(w);
      onStack.delete(v);
      comp.push(v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) strong(v);
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}
