// The tree's numbers (issue 21): imports through symlinks, imports through shim paths (modules that only
// `export * from` another), folder-level and file-level import cycles, files over 400 lines, functions over 120
// lines (the limits of test/unit/sizes.test.ts), lines over 120 chars.
//   npx tsx scripts/dev/tree-stats.ts [--list]
import {cycles, folderOf, isShim, lineCount, projectFiles, refsOf, type Ref} from "./import-graph.js";
import {functionSizes, MAX_FILE_LINES, MAX_FUNCTION_LINES} from "./sizes.js";

const root = process.cwd();
const list = process.argv.includes("--list");
const files = projectFiles(root);
const refs: Ref[] = files.flatMap((f) => refsOf(root, f));
const show = (title: string, items: string[]): void => {
  console.log(`${title}: ${items.length}`);
  if (list) for (const i of items) console.log(`  ${i}`);
};
const at = (r: Ref): string => `${r.from}:${r.line} "${r.spec}"`;

const byLink = new Map<string, Ref[]>();
for (const r of refs) if (r.link) byLink.set(r.link, [...(byLink.get(r.link) ?? []), r]);
show(
  "references through symlinks",
  refs.filter((r) => r.link).map((r) => `${at(r)} via ${r.link}`),
);
for (const [link, rs] of [...byLink].sort())
  console.log(
    `  ${link}: ${rs.length} (${rs.filter((r) => !["attachment", "url"].includes(r.kind)).length} module imports)`,
  );
const shims = new Set(files.filter((f) => isShim(root, f)));
show("imports through shim paths", refs.filter((r) => r.target && shims.has(r.target)).map(at));
show("unresolved references", refs.filter((r) => !r.target).map(at));

const fileEdges = new Map<string, Set<string>>();
const runEdges = new Map<string, Set<string>>();
const folderEdges = new Map<string, Set<string>>();
const siblingEdges = new Map<string, Set<string>>();
const add = (m: Map<string, Set<string>>, a: string, b: string): void => void m.set(a, (m.get(a) ?? new Set()).add(b));
for (const r of refs) {
  if (!r.target || r.target === r.from) continue;
  add(fileEdges, r.from, r.target);
  if (!r.typeOnly) add(runEdges, r.from, r.target);
  const [a, b] = [folderOf(r.from), folderOf(r.target)];
  if (a !== b) add(folderEdges, a, b);
  // the rule of test/unit/layers.test.ts: a folder using its ancestor's modules is not a cycle
  if (a !== b && !a.startsWith(b + "/")) add(siblingEdges, a, b);
}
const ring = (c: string[]): string => c.join(" ↔ ");
show(
  "folder-level cycles (layers.test.ts's rule: edges to an ancestor folder not counted)",
  cycles(siblingEdges).map(ring),
);
show("folder-level cycles (every edge)", cycles(folderEdges).map(ring));
show("file-level cycles (run-time imports)", cycles(runEdges).map(ring));
show("file-level cycles (with `import type`)", cycles(fileEdges).map(ring));

const code = files.filter((f) => /^(src|kernels|test|bench|scripts)\//.test(f));
const counts = code.map((f) => ({f, ...lineCount(root, f)}));
const over = counts.filter((c) => c.lines > MAX_FILE_LINES).sort((a, b) => b.lines - a.lines);
show(
  `files over ${MAX_FILE_LINES} lines`,
  over.map((c) => `${c.f} (${c.lines})`),
);
show(
  `src/ files over ${MAX_FILE_LINES} lines (sizes.test.ts)`,
  over.filter((c) => c.f.startsWith("src/")).map((c) => `${c.f} (${c.lines})`),
);
const fns = code.flatMap((f) => functionSizes(root, f));
const longFns = fns.filter((s) => s.lines > MAX_FUNCTION_LINES).sort((a, b) => b.lines - a.lines);
show(
  `functions over ${MAX_FUNCTION_LINES} lines`,
  longFns.map((s) => `${s.file}:${s.line} ${s.name} (${s.lines})`),
);
show(
  `functions over ${MAX_FUNCTION_LINES} lines outside tests (sizes.test.ts)`,
  longFns.filter((s) => !s.file.startsWith("test/")).map((s) => `${s.file}:${s.line} ${s.name} (${s.lines})`),
);
const long = counts.filter((c) => c.long > 0).sort((a, b) => b.long - a.long);
show(
  `lines over 120 chars (in ${long.length} files)`,
  long.map((c) => `${c.f} (${c.long})`).flatMap((s, i) => (i < 1e9 ? [s] : [])),
);
console.log(`  total lines over 120 chars: ${counts.reduce((s, c) => s + c.long, 0)}`);
