// Embeddable figures: docs/embed-example.html — a plain HTML page on another origin — embeds two figures of the built
// site through the chrome-less /embed route, under the site's CSP, and each draws (Hadamard from the GPU's inspection
// pass with its PASS check, sparsity bars); a bad figure name and a bad value are reported, not fatal.
import {existsSync, readFileSync} from "node:fs";
import {createServer, type Server} from "node:http";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import {CHROMIUM, launch, shrunkCharts, watch} from "./browser.js";
import {serve} from "./server.js";

const DIST = process.env.BITNET_LAB_DIST ?? "dist";
let site: Awaited<ReturnType<typeof serve>>;
let host: {url: string; server: Server};
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(`${DIST}/embed.html`)) throw new Error("dist/ is missing: run `npm run build` first");
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  site = await serve(DIST);
  // the tutorial author's page, on its own origin, pointing at the site
  // backend=webgpu: "auto" would (rightly) skip SwiftShader, a software adapter, for the CPU
  const html = readFileSync("docs/embed-example.html", "utf8").replaceAll(
    "https://example.org/bitnet-lab/embed.html?",
    `${site.url}/embed.html?backend=webgpu&amp;`,
  );
  const server = createServer((_, res) => res.writeHead(200, {"content-type": "text/html; charset=utf-8"}).end(html));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  host = {url: `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`, server};
  browser = await launch({webgpu: true});
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  await new Promise((r) => host?.server.close(r));
});

/** A static server that does no rewriting at all, like `python3 -m http.server`: /embed is a 404, /embed.html the file. */
async function plainServer(root: string): Promise<{url: string; server: Server}> {
  const {createReadStream, statSync} = await import("node:fs");
  const {extname, join, normalize} = await import("node:path");
  const types: Record<string, string> = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".wasm": "application/wasm",
  };
  const server = createServer((req, res) => {
    const file = normalize(join(root, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    if (!file.startsWith(normalize(root)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, {"content-type": types[extname(file)] ?? "application/octet-stream"});
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return {url: `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`, server};
}

describe("embeds on a plain static server (issue 24)", () => {
  it("embed.html?figure= works with no clean-URL rewriting, and the documented snippet grows the frame to its content", async () => {
    const plain = await plainServer(DIST);
    const doc = readFileSync("docs/EMBED.md", "utf8");
    const snippet = /```html\n(<script>[\s\S]*?<\/script>)\n```/.exec(doc)![1];
    const src = `${plain.url}/embed.html?figure=sparsity&amp;backend=cpu`;
    const html = `<!doctype html><html lang="en"><body><h1>host</h1><iframe id="f" title="t" style="width:100%" height="120" src="${src}"></iframe>${snippet}</body></html>`;
    const server = createServer((_, res) => res.writeHead(200, {"content-type": "text/html; charset=utf-8"}).end(html));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const a = server.address();
    const hostUrl = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
    const page = await browser.newPage({viewport: {width: 900, height: 900}});
    const log = watch(page, plain.url);
    try {
      // the documented URL answers on a plain server; the clean one does not (why the docs name embed.html)
      expect((await page.request.get(`${plain.url}/embed.html?figure=cost`)).status()).toBe(200);
      expect((await page.request.get(`${plain.url}/embed?figure=cost`)).status()).toBe(404);
      expect(doc).not.toMatch(/\/embed\?figure=hadamard/);
      await page.goto(hostUrl);
      const frame = page.frameLocator("#f");
      await frame.locator('[data-figure="sparsity"][data-live]').waitFor({timeout: 120_000});
      // the frame grew from 120 px to its content, and the content fits it (no inner scrolling)
      await expect
        .poll(async () => (await page.locator("#f").boundingBox())!.height, {timeout: 30_000})
        .toBeGreaterThan(300);
      const inner = await frame.locator("body").evaluate(() => ({
        scroll: document.documentElement.scrollHeight,
        client: document.documentElement.clientHeight,
      }));
      expect(inner.scroll - inner.client).toBeLessThanOrEqual(2);
      // the link back to the chapter resolves on the same plain server
      const href = await frame.locator(".embed-credit a").getAttribute("href");
      expect(href).toMatch(/^\.\/sparsity\.html\?/);
      expect((await page.request.get(new URL(href!, `${plain.url}/embed.html`).href)).status()).toBe(200);
      // no developer note in the figure's text: code paths only behind an info icon
      const text = await frame.locator(".embed").evaluate((el) => {
        const c = el.cloneNode(true) as HTMLElement;
        c.querySelectorAll(".info-note").forEach((n) => n.remove());
        return c.textContent ?? "";
      });
      expect(text).not.toMatch(/src\/lib|model\.ts/);
      expect(log.failed.filter((f) => !/embed\?figure=cost/.test(f))).toEqual([]);
    } finally {
      await page.close();
      await new Promise((r) => server.close(r));
      await new Promise((r) => plain.server.close(r));
    }
  }, 240_000);
});

describe("embedding figures in a plain page", () => {
  it("the example page shows the Hadamard figure (from the GPU, PASS) and the sparsity bars, with no site chrome", async () => {
    const page = await browser.newPage({viewport: {width: 1000, height: 900}});
    const log = watch(page, site.url);
    await page.goto(host.url);
    const had = page.frameLocator("#fig-hadamard");
    const spa = page.frameLocator("#fig-sparsity");
    await had.locator('[data-figure="hadamard"][data-live]').waitFor({timeout: 240_000});
    expect(await had.locator('[data-figure="hadamard"]').getAttribute("data-live")).toBe("webgpu");
    expect(
      await had.locator('[data-check="gpu-cpu"]').getAttribute("data-pass"),
      (await had.locator('[data-check="gpu-cpu"]').textContent()) ?? "",
    ).toBe("true");
    expect(await had.locator(".live-source").textContent()).toMatch(
      /Computed with WebGPU on your CPU \(a software renderer\)/,
    );
    expect(await had.locator("svg").count()).toBeGreaterThanOrEqual(2);
    await page.locator("#fig-sparsity").scrollIntoViewIfNeeded(); // loading="lazy": it loads once on screen
    await spa.locator('[data-figure="sparsity"][data-live]').waitFor({timeout: 240_000});
    expect(await spa.locator('[data-figure="sparsity"] svg').count()).toBeGreaterThan(0);
    expect(
      await spa.locator('[data-check="gpu-cpu"]').getAttribute("data-pass"),
      (await spa.locator('[data-check="gpu-cpu"]').textContent()) ?? "",
    ).toBe("true");
    // no sidebar, header, pager or footer inside the frame
    for (const sel of ["#observablehq-sidebar", "#observablehq-header", ".observablehq-pager", "#observablehq-footer"])
      expect(await had.locator(sel).count(), sel).toBe(0);
    // the frames run under the site's own CSP: nothing was refused or fetched from elsewhere
    expect(log.errors.filter((e) => /Content Security Policy|Refused/i.test(e))).toEqual([]);
    expect(log.failed).toEqual([]);
    await page.close();
  }, 600_000);

  it("an embedded figure fits a 375 px frame", async () => {
    const page = await browser.newPage({viewport: {width: 375, height: 800}});
    await page.goto(`${site.url}/embed?figure=sparsity&backend=cpu`);
    await page.locator('[data-figure="sparsity"][data-live="cpu"]').waitFor({timeout: 120_000});
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
    ).toBeLessThanOrEqual(1);
    expect(await shrunkCharts(page)).toEqual([]);
    // The cost chart was drawn at 360 px and shrunk into the frame (8.6 px text).
    await page.goto(`${site.url}/embed?figure=cost`);
    await page.locator('[data-figure="cost"] svg').first().waitFor();
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
    ).toBeLessThanOrEqual(1);
    expect(await shrunkCharts(page)).toEqual([]);
    await page.close();
  }, 180_000);

  it("names a bad figure and a bad value instead of failing", async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/embed?figure=nope`);
    await page.locator('[data-embed="nope"] .notice').waitFor();
    expect(await page.locator('[data-embed="nope"] .notice').textContent()).toMatch(
      /hadamard, ternary-histogram, sparsity, generate, cost/,
    );
    await page.goto(`${site.url}/embed?figure=cost&chart=memory&wbits=3`);
    await page.locator('[data-figure="cost"] svg').first().waitFor();
    expect(await page.locator(".notice").first().textContent()).toMatch(/wbits/);
    await page.goto(`${site.url}/embed?figure=ternary-histogram&model=b1.58&layer=2&matrix=down`);
    await page.locator('[data-figure="ternary-histogram"]').waitFor();
    expect(await page.locator('[data-figure="ternary-histogram"]').textContent()).toMatch(/layers\.2\.mlp\.down_proj/);
    await page.close();
  }, 120_000);
});
