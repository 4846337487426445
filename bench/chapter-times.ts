// Per chapter: time from navigation to its first live view ([data-live], the readiness convention shared with
// bench/page-times.ts), in headless Chromium — forced WebGPU (SwiftShader here: ?backend=webgpu), "auto" with WebGPU
// offered (a software adapter makes auto take the CPU), and a browser without WebGPU. A benchmark that prints numbers,
// not a test. Differs from bench/page-times.ts in forcing the backend and in its tall viewport, so views that wait for
// visibility() start at once without scrolling.
//
//   npm run build && nice npx tsx bench/chapter-times.ts [dist] [--runs 1] [--pages /sparsity,/activations] [--json bench/results/chapter-times.json]
import {existsSync, writeFileSync} from "node:fs";
import type {Browser} from "playwright-core";
import {launch} from "../test/e2e/browser.js";
import {serve} from "../test/e2e/server.js";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const runs = Number(flag("--runs") ?? 1);
const jsonOut = flag("--json");
const only = flag("--pages")?.split(",");
const dist = args[0] ?? "dist";
if (!existsSync(`${dist}/ternary.html`)) throw new Error(`${dist} has no build: run npm run build first`);

const CHAPTERS = ["/ternary", "/activations", "/hadamard", "/sparsity", "/forward", "/embed?figure=hadamard"].filter(
  (p) => !only || only.includes(p),
);
const MODES = [
  {name: "WebGPU forced (SwiftShader)", webgpu: true, query: "backend=webgpu"},
  {name: "auto, WebGPU offered", webgpu: true, query: ""},
  {name: "no WebGPU", webgpu: false, query: ""},
] as const;
const TIMEOUT = 300_000;

const site = await serve(dist);
const rows: {page: string; mode: string; ms: number | null; live: string | null; pass: string | null}[] = [];
for (const mode of MODES) {
  const b: Browser = await launch({webgpu: mode.webgpu});
  try {
    for (const path of CHAPTERS) {
      for (let r = 0; r < runs; r++) {
        // a fresh context per load: no shader or HTTP cache carried over from the previous page
        const ctx = await b.newContext({viewport: {width: 1280, height: 30000}});
        const page = await ctx.newPage();
        const url = `${site.url}${path}${mode.query ? `${path.includes("?") ? "&" : "?"}${mode.query}` : ""}`;
        const t0 = performance.now();
        await page.goto(url, {waitUntil: "commit"});
        const el = await page.waitForSelector("[data-live]", {timeout: TIMEOUT, state: "attached"}).catch(() => null);
        const ms = el ? Math.round(performance.now() - t0) : null;
        const live = el ? await el.getAttribute("data-live") : null;
        const check = await page
          .waitForSelector('[data-check="gpu-cpu"]', {timeout: 60_000, state: "attached"})
          .catch(() => null);
        const pass = check ? await check.getAttribute("data-pass") : null;
        rows.push({page: path, mode: mode.name, ms, live, pass});
        console.log(
          `${path.padEnd(24)} ${mode.name.padEnd(28)} ${ms === null ? "no live view" : `${ms} ms`.padStart(9)}  data-live=${live}  check=${pass}`,
        );
        await ctx.close();
      }
    }
  } finally {
    await b.close();
  }
}
await site.close();
if (jsonOut)
  writeFileSync(
    jsonOut,
    JSON.stringify(
      {
        command: `npx tsx bench/chapter-times.ts ${dist} --runs ${runs}`,
        at: new Date().toISOString(),
        cores: (await import("node:os")).cpus().length,
        rows,
      },
      null,
      1,
    ) + "\n",
  );
