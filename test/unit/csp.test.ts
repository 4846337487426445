import {spawnSync} from "node:child_process";
import {createHash} from "node:crypto";
import {mkdtempSync, readFileSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {describe, expect, it} from "vitest";

function run(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "csp-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const r = spawnSync("node", ["scripts/csp.mjs", dir], {encoding: "utf8"});
  return {...r, dir};
}

describe("scripts/csp.mjs (post-build)", () => {
  it("adds a self-only policy listing each inline script by hash", () => {
    const script = "import {x} from './_import/a.js';";
    const r = run({
      "index.html": `<html><head><title>t</title></head><body><script type="module">${script}</script></body></html>`,
    });
    expect(r.status).toBe(0);
    const html = readFileSync(join(r.dir, "index.html"), "utf8");
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1] ?? "";
    expect(csp).toMatch(/default-src 'self'/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).not.toMatch(/'unsafe-inline'[^;]*;?\s*$|script-src[^;]*'unsafe-inline'/);
    // The hash is of this exact script: a changed script would be blocked by the browser.
    expect(csp).toContain(`'sha256-${createHash("sha256").update(script).digest("base64")}'`);
  });
  it("lets readers pinch-zoom: the shell's maximum-scale=1 is removed", () => {
    const r = run({
      "index.html": `<html><head><meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1"></head><body></body></html>`,
    });
    expect(r.status).toBe(0);
    expect(readFileSync(join(r.dir, "index.html"), "utf8")).toContain(
      `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    );
  });
  it("fails the build when a file would load from another host, but not for mere mentions", () => {
    expect(run({"a.html": `<img src="https://evil.example.com/x.png">`}).status).toBe(1);
    expect(run({"b.js": `import y from "https://cdn.jsdelivr.net/npm/y";`}).status).toBe(1);
    expect(run({"c.js": `fetch("//fonts.example.org/a")`}).status).toBe(1);
    expect(run({"d.css": `@font-face{src:url(https://fonts.gstatic.com/f.woff2)}`}).status).toBe(1);
    const ok = run({
      "e.js": `// see https://github.com/tensorflow/tfjs/issues/1 \nthrow Error("see https://example.com")`,
      "f.html": `<a href="/ternary">x</a>`,
    });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/2 URLs are only mentioned/);
  });
});
