// Reader-facing times of the built site in headless Chromium (a benchmark that prints numbers, not a test):
//   1. per page, navigation → first live view, with WebGPU (SwiftShader here) and without;
//   2. click latency while the Train page trains (a checkbox click → its change handled), per backend;
//   3. time from "Start training" (default settings) to a visibly falling loss.
// Readiness convention (shared with the chapter pages): a page sets data-live="webgpu" or data-live="cpu" on a
// view's root when its first live view is drawn; the script waits for [data-live]. Builds made before that
// convention existed are measured with the fallback selectors below (the first generated token, the dashboard).
//
//   npm run build && nice npx tsx bench/page-times.ts [dist] [--only pages,clicks,loss] [--json out.json]
import {existsSync, writeFileSync} from "node:fs";
import type {Browser, Page} from "playwright-core";
import {launch} from "../test/e2e/browser.js";
import {serve} from "../test/e2e/server.js";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const only = new Set((flag("--only") ?? "pages,clicks,loss").split(","));
const jsonOut = flag("--json");
const dist = args[0] ?? "dist";
if (!existsSync(`${dist}/index.html`)) throw new Error(`${dist}/index.html is missing: run npm run build first`);

const PAGES: {path: string; fallback?: string}[] = [
  {path: "/", fallback: ".token-stream .tok"},
  {path: "/ternary"},
  {path: "/activations"},
  {path: "/hadamard"},
  {path: "/sparsity"},
  {path: "/forward", fallback: ".token-stream .tok"},
  {path: "/train", fallback: ".train-dashboard[data-state=ready]"},
  {path: "/scaling"},
];
const PAGE_TIMEOUT = 60_000;
/** "Visibly falling": the mean of the last three b1.58 steps at least one nat below the first three. */
const FALL_NATS = 1;
const LOSS_TIMEOUT = 180_000;
const CLICKS = Number(flag("--clicks") ?? 5);
/** --pages /,/forward limits the page list (a build without data-live has fallbacks for these three only). */
const pageFilter = flag("--pages")?.split(",");

const site = await serve(dist);
const results: Record<string, unknown> = {dist, at: new Date().toISOString()};
const ms = (t0: number) => Math.round(performance.now() - t0);

async function withBrowser<T>(webgpu: boolean, fn: (b: Browser) => Promise<T>): Promise<T> {
  const b = await launch({webgpu});
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** Navigation → the first [data-live] (or the page's fallback selector). */
async function pageTime(
  b: Browser,
  path: string,
  fallback?: string,
): Promise<{ms: number | null; live: string | null; via: string}> {
  const page = await b.newPage({viewport: {width: 1280, height: 900}});
  try {
    const t0 = performance.now();
    await page.goto(`${site.url}${path}`, {waitUntil: "commit"});
    const sel = fallback ? `[data-live], ${fallback}` : "[data-live]";
    const el = await page.waitForSelector(sel, {timeout: PAGE_TIMEOUT, state: "attached"}).catch(() => null);
    if (!el) return {ms: null, live: null, via: "timeout"};
    const t = ms(t0);
    const live = await el.getAttribute("data-live");
    return {ms: t, live, via: live ? "data-live" : "fallback"};
  } finally {
    await page.close();
  }
}

const CLICK_TIMEOUT = 90_000;

async function startTraining(page: Page, query: string): Promise<void> {
  await page.goto(`${site.url}/train?${query}`, {waitUntil: "load"});
  await page.locator(".train-dashboard[data-state=ready]").waitFor({timeout: 120_000});
  // Clicked from the page itself: a real click would wait for a main thread that a running step may block.
  await page.evaluate(() =>
    [...document.querySelectorAll("button")].find((b) => b.textContent === "Start training")?.click(),
  );
  await page.waitForFunction(
    () => Number(document.querySelector(".train-dashboard")?.getAttribute("data-step")) >= 1,
    undefined,
    {timeout: 120_000},
  );
}

/** Clicks the "Flip rate" checkbox n times while training runs; each latency is click → its input event handled
 *  (the page's main thread had a turn), measured from Node. */
async function clickLatencies(page: Page, n: number, inPage: number[] = []): Promise<number[]> {
  const box = page.getByLabel(/Flip rate/);
  // Into the viewport first (a mouse click outside it lands nowhere); not timed.
  await (await box.elementHandle({timeout: CLICK_TIMEOUT}))!.evaluate((x) => x.scrollIntoView({block: "center"}));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = (await box.boundingBox({timeout: CLICK_TIMEOUT}))!;
    const el = (await box.elementHandle({timeout: CLICK_TIMEOUT}))!;
    // Also measured in the page: the pointerdown's timestamp (when the browser took the input) → the input handler.
    await el.evaluate((x) => {
      const w = window as unknown as {__seen: number; __down: number; __inPage: number};
      w.__seen = 0;
      x.addEventListener("pointerdown", (e) => (w.__down = e.timeStamp), {once: true});
      x.addEventListener(
        "input",
        () => {
          w.__inPage = performance.now() - w.__down;
          w.__seen = 1;
        },
        {once: true},
      );
    });
    const t0 = performance.now();
    await page.mouse.click(r.x + r.width / 2, r.y + r.height / 2);
    const answered = await page
      .waitForFunction(() => (window as unknown as {__seen: number}).__seen === 1, undefined, {
        timeout: CLICK_TIMEOUT,
        polling: 10,
      })
      .then(
        () => true,
        () => false,
      );
    // Not answered within the timeout: recorded as the timeout (a lower bound).
    out.push(answered ? ms(t0) : CLICK_TIMEOUT);
    if (answered)
      inPage.push(Math.round(await page.evaluate(() => (window as unknown as {__inPage: number}).__inPage)));
    await page.waitForTimeout(700);
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

if (only.has("pages")) {
  const rows: Record<string, unknown>[] = [];
  for (const webgpu of [true, false]) {
    await withBrowser(webgpu, async (b) => {
      for (const p of PAGES.filter((x) => !pageFilter || pageFilter.includes(x.path))) {
        const r = await pageTime(b, p.path, p.fallback);
        rows.push({page: p.path, webgpu, ...r});
        console.log(
          `page ${p.path.padEnd(13)} ${webgpu ? "WebGPU   " : "no WebGPU"}  ${r.ms === null ? "no live view in 60 s" : `${r.ms} ms`}  (${r.via}${r.live ? ` = ${r.live}` : ""})`,
        );
      }
    });
  }
  results.pages = rows;
}

if (only.has("clicks")) {
  const rows: Record<string, unknown>[] = [];
  for (const [query, webgpu] of [
    ["backend=cpu", false],
    ["size=tiny&backend=cpu", false],
    ["size=tiny&backend=wasm", false],
    ["backend=webgpu", true],
  ] as const) {
    await withBrowser(webgpu, async (b) => {
      const page = await b.newPage({viewport: {width: 1280, height: 900}});
      try {
        await startTraining(page, query);
        const inPage: number[] = [];
        const lat = await clickLatencies(page, CLICKS, inPage);
        const backend = await page.locator("[data-backend]").first().getAttribute("data-backend");
        rows.push({
          query,
          backend,
          latenciesMs: lat,
          medianMs: median(lat),
          maxMs: Math.max(...lat),
          inPageMs: inPage,
          inPageMedianMs: median(inPage),
          inPageMaxMs: Math.max(...inPage),
        });
        console.log(
          `click during training /train?${query.padEnd(22)} (${backend}): median ${median(lat)} ms, max ${Math.max(...lat)} ms  [${lat.join(", ")}]; in the page (pointerdown → input handler): median ${median(inPage)} ms, max ${Math.max(...inPage)} ms [${inPage.join(", ")}]`,
        );
      } catch (e) {
        console.log(
          `click during training /train?${query}: failed: ${e instanceof Error ? e.message.split("\n")[0] : e}`,
        );
      } finally {
        await page.close();
      }
    });
  }
  results.clicks = rows;
}

if (only.has("loss")) {
  const rows: Record<string, unknown>[] = [];
  for (const webgpu of [true, false]) {
    await withBrowser(webgpu, async (b) => {
      const page = await b.newPage({viewport: {width: 1280, height: 900}});
      try {
        const tLoad = performance.now();
        await page.goto(`${site.url}/train`, {waitUntil: "load"});
        await page.locator(".train-dashboard[data-state=ready]").waitFor({timeout: 120_000});
        const readyMs = ms(tLoad);
        const t0 = performance.now();
        await page.getByRole("button", {name: "Start training"}).click();
        const fell = await page
          .waitForFunction(
            (nats) => {
              const d = document.querySelector(".train-dashboard");
              const first = Number(d?.getAttribute("data-first-loss"));
              const last = Number(d?.getAttribute("data-last-loss"));
              return Number.isFinite(first) && Number.isFinite(last) && last <= first - nats;
            },
            FALL_NATS,
            {timeout: LOSS_TIMEOUT, polling: 500},
          )
          .then(
            () => true,
            () => false,
          );
        const t = ms(t0);
        const d = page.locator(".train-dashboard");
        const [first, last, step] = await Promise.all(
          ["data-first-loss", "data-last-loss", "data-step"].map((a) => d.getAttribute(a)),
        );
        const backend = await page.locator("[data-backend]").first().getAttribute("data-backend");
        const size =
          new URL(page.url()).searchParams.get("size") ??
          (await page
            .locator("[data-size]")
            .first()
            .getAttribute("data-size")
            .catch(() => null));
        rows.push({
          webgpu,
          backend,
          size,
          readyMs,
          fell,
          ms: t,
          step: Number(step),
          firstLoss: Number(first),
          lastLoss: Number(last),
        });
        console.log(
          `falling loss (${webgpu ? "WebGPU" : "no WebGPU"}, default link → ${backend}${size ? `, ${size}` : ""}): ${fell ? `${t} ms` : `not within ${LOSS_TIMEOUT / 1000} s`} — step ${step}, loss ${Number(first).toFixed(2)} → ${Number(last).toFixed(2)} (page ready in ${readyMs} ms)`,
        );
      } finally {
        await page.close();
      }
    });
  }
  results.loss = rows;
}

await site.close();
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2) + "\n");
