// Copies what the site serves from npm packages into src/vendor/ (git-ignored), so that the built site
// makes no third-party request. KaTeX's fonts are inlined as data: URIs because Framework bundles the
// stylesheet with esbuild, which has no loader for font files.
import {mkdirSync, readFileSync, writeFileSync} from "node:fs";
import {dirname, join} from "node:path";
import {createRequire} from "node:module";
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
