// Post-build: puts a Content-Security-Policy on every built page that allows only the site's own origin.
// Framework inlines each page's module script, so the policy lists those scripts by SHA-256 hash rather than
// allowing 'unsafe-inline'. Then it checks that nothing in dist/ names a third-party host.
import {createHash} from "node:crypto";
import {readFileSync, readdirSync, statSync, writeFileSync} from "node:fs";
import {join} from "node:path";

const dist = process.argv[2] ?? "dist";
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else files.push(p);
  }
})(dist);

let pages = 0;
for (const file of files.filter((f) => f.endsWith(".html"))) {
  let html = readFileSync(file, "utf8");
  const hashes = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash("sha256").update(m[1], "utf8").digest("base64")}'`,
  );
  const policy = [
    "default-src 'self'",
    // 'wasm-unsafe-eval' lets tfjs's WebAssembly backend compile; no eval of JavaScript is allowed.
    `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(" ")}`,
    "style-src 'self' 'unsafe-inline'", // d3 and KaTeX set style attributes
    "img-src 'self' data: blob:",
    "font-src 'self' data:", // KaTeX fonts are inlined as data: URIs
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join("; ");
  html = html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>\n?/g, "");
  html = html.replace(/<head>/, `<head>\n<meta http-equiv="Content-Security-Policy" content="${policy}">`);
  writeFileSync(file, html);
  pages++;
}

// XML namespace identifiers (SVG, MathML) are names, not requests.
const allowed = /^https?:\/\/(www\.w3\.org|localhost|127\.0\.0\.1)(\/|$)/;
const offenders = [];
for (const file of files.filter((f) => /\.(html|js|css|json|svg)$/.test(f))) {
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/https?:\/\/[A-Za-z0-9.-]+(?::\d+)?(?:\/[^\s"'`)<>]*)?/g)) {
    if (!allowed.test(m[0])) offenders.push(`${file}: ${m[0]}`);
  }
}
if (offenders.length) {
  console.error(`csp.mjs: the build names third-party hosts:\n  ${[...new Set(offenders)].slice(0, 30).join("\n  ")}`);
  process.exit(1);
}
console.log(`csp.mjs: Content-Security-Policy on ${pages} pages; no third-party host in ${files.length} files`);
