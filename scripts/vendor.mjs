// Copies what the site serves from npm packages into src/vendor/ (git-ignored), so that the built site
// makes no third-party request: KaTeX's stylesheet, and tfjs's WebAssembly binaries (the Train page's worker
// loads them from the page's FileAttachment URLs; the threaded build is not copied: it needs cross-origin isolation). KaTeX's fonts are inlined as data: URIs because Framework bundles the
// stylesheet with esbuild, which has no loader for font files.
import {copyFileSync, mkdirSync, readFileSync, writeFileSync} from "node:fs";
import {dirname, join} from "node:path";
import {createRequire} from "node:module";
import {build} from "esbuild";
const require = createRequire(import.meta.url);
const root = join(dirname(new URL(import.meta.url).pathname), "..");
const katexDir = dirname(require.resolve("katex/package.json"));
let css = readFileSync(join(katexDir, "dist/katex.min.css"), "utf8");
css = css.replace(/src:([^;}]*)/g, (_, srcs) => {
  const m = /url\(fonts\/([^)]+\.woff2)\)/.exec(srcs);
  if (!m) return `src:${srcs}`;
  const data = readFileSync(join(katexDir, "dist/fonts", m[1])).toString("base64");
  return `src:url(data:font/woff2;base64,${data}) format("woff2")`;
});
if (/url\(fonts\//.test(css)) throw new Error("vendor.mjs: a KaTeX font reference was not inlined");
mkdirSync(join(root, "src/vendor"), {recursive: true});
writeFileSync(join(root, "src/vendor/katex.css"), css);
console.log(`vendor.mjs: src/vendor/katex.css (${(css.length / 1024).toFixed(0)} KiB, fonts inlined)`);
// tfjs's WASM backend as one browser module: Framework's npm bundling keeps its `import "fs"` (and path, os,
// perf_hooks) of the emscripten glue's Node branch, which no browser resolves; esbuild honours the package's
// "browser" field, which maps them to nothing. tfjs-core stays an import, so the backend registers with the same
// engine that @tensorflow/tfjs (bundled by Framework) uses.
const wasmDir = join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist");
for (const f of ["tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm"])
  copyFileSync(join(wasmDir, f), join(root, "src/vendor", f));
await build({
  entryPoints: [join(wasmDir, "index.js")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2020",
  minify: true,
  external: ["@tensorflow/tfjs-core"],
  outfile: join(root, "src/vendor/tfjs-backend-wasm.js"),
  logLevel: "warning",
  legalComments: "none",
});
console.log("vendor.mjs: src/vendor/tfjs-backend-wasm.js and its .wasm binaries");
