// Post-build: sets the page language and labels Framework's sidebar toggle; puts a Content-Security-Policy on every built page that allows only the site's own origin.
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
  // Accessibility fixes to Framework's page shell (it has no option for these): the document language, and an
  // accessible name for the sidebar toggle (a title alone is not one).
  html = html.replace(/<html(?![^>]*\blang=)/, '<html lang="en"');
  // Framework's viewport has maximum-scale=1, which stops readers from pinch-zooming (WCAG 1.4.4): drop it.
  html = html.replace(
    /(<meta name="viewport" content="[^"]*?)\s*,?\s*(?:maximum-scale=[\d.]+|user-scalable=no)\s*,?/g,
    (_, head) => head.replace(/,\s*$/, ""),
  );
  html = html.replace(
    /<input id="observablehq-sidebar-toggle"(?![^>]*aria-label)/,
    '<input id="observablehq-sidebar-toggle" aria-label="Toggle sidebar"',
  );
  // A list may only hold list items: wrap the sidebar's close button (a <label> inside Framework's <ol>) in one.
  html = html.replace(
    /(<label id="observablehq-sidebar-close"[^>]*><\/label>)/,
    '<li class="sidebar-close-item">$1</li>',
  );
  html = html.replace(/<head>/, `<head>\n<meta http-equiv="Content-Security-Policy" content="${policy}">`);
  writeFileSync(file, html);
  pages++;
}

// Every reference the browser could load from another host: HTML src/href/srcset attributes, CSS url() and
// @import, JS import specifiers and fetch()/new URL()/Worker() with absolute URLs. Bundled libraries also
// *mention* URLs in comments and error messages (licenses, issue links); those are counted, not loaded.
const allowed = /^https?:\/\/(localhost|127\.0\.0\.1)([:/]|$)/;
const URL_RE = String.raw`(https?:)?\/\/[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"'\`)<>]*`;
const loadable = {
  html: [new RegExp(String.raw`\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?(${URL_RE})`, "gi")],
  css: [
    new RegExp(String.raw`url\(\s*["']?(${URL_RE})`, "gi"),
    new RegExp(String.raw`@import\s+["'](${URL_RE})`, "gi"),
  ],
  js: [
    new RegExp(String.raw`\bimport\s*\(\s*["'\`](${URL_RE})`, "g"),
    new RegExp(String.raw`\bfrom\s*["'](${URL_RE})`, "g"),
    new RegExp(
      String.raw`\b(?:fetch|importScripts|new\s+(?:URL|Worker|SharedWorker|WebSocket|EventSource))\s*\(\s*["'\`](${URL_RE})`,
      "g",
    ),
  ],
};
const offenders = [];
let mentions = 0;
for (const file of files) {
  const kind = file.endsWith(".html") ? "html" : file.endsWith(".css") ? "css" : /\.m?js$/.test(file) ? "js" : null;
  if (!kind) continue;
  const text = readFileSync(file, "utf8");
  for (const re of loadable[kind]) {
    for (const m of text.matchAll(re)) {
      const url = m[1].startsWith("//") ? `https:${m[1]}` : m[1];
      if (!allowed.test(url)) offenders.push(`${file}: ${url}`);
    }
  }
  mentions += (text.match(/https?:\/\/(?!www\.w3\.org)[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g) ?? []).length;
}
if (offenders.length) {
  console.error(
    `csp.mjs: the build would load from third-party hosts:\n  ${[...new Set(offenders)].slice(0, 30).join("\n  ")}`,
  );
  process.exit(1);
}
console.log(
  `csp.mjs: Content-Security-Policy on ${pages} pages; nothing in ${files.length} files loads from a third-party host (${mentions} URLs are only mentioned in bundled libraries' comments and messages)`,
);
