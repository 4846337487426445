// Sizes from the TypeScript compiler's parser: every function's length in lines (declarations, methods,
// constructors, accessors, function expressions and arrows, in .ts/.mts/.mjs files and the pages' code fences),
// named as a reader finds it (`Class.method`, the const an arrow is bound to, `<arrow>` otherwise). Read by
// test/unit/sizes.test.ts (the limits) and scripts/dev/tree-stats.ts (the numbers). Node-only.
import {readFileSync} from "node:fs";
import {join} from "node:path";
import ts from "typescript";
import {pageFences} from "./import-graph.js";

export interface FunctionSize {
  file: string;
  /** `name`, `Class.method`, or `<arrow>` / `<function>` for an unnamed one */
  name: string;
  /** 1-based line of the function's first line */
  line: number;
  lines: number;
}

/** The limits the tree keeps (CONTRIBUTING's "files ≲400 lines, functions ≲120 lines"). */
export const MAX_FILE_LINES = 400;
export const MAX_FUNCTION_LINES = 120;

function nameOf(node: ts.Node): string {
  const named = (n: ts.Node | undefined): string | undefined =>
    n && (ts.isIdentifier(n) || ts.isStringLiteral(n) || ts.isPrivateIdentifier(n)) ? n.text : undefined;
  const own =
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isAccessor(node) ||
    ts.isFunctionExpression(node)
      ? named(node.name)
      : ts.isConstructorDeclaration(node)
        ? "constructor"
        : undefined;
  const p = node.parent;
  const bound =
    own ??
    (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p))
      ? named(p.name)
      : undefined);
  const cls = p && (ts.isClassDeclaration(p) || ts.isClassExpression(p)) ? named(p.name) : undefined;
  const base = bound ?? (ts.isArrowFunction(node) ? "<arrow>" : "<function>");
  return cls ? `${cls}.${base}` : base;
}

/** Every function of a source text; `lineOffset` places a page's fence in its file. */
export function functionSizesOf(file: string, text: string, lineOffset = 0): FunctionSize[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: FunctionSize[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({file, name: nameOf(node), line: start + 1 + lineOffset, lines: end - start + 1});
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** Every function of a project file (a page: of each code fence). */
export function functionSizes(root: string, file: string): FunctionSize[] {
  const text = readFileSync(join(root, file), "utf8");
  if (!file.endsWith(".md")) return functionSizesOf(file, text);
  return pageFences(text).flatMap((f) => functionSizesOf(file, f.text, text.slice(0, f.offset).split("\n").length - 1));
}
