// "What breaks for ternary" on the Train page, in real Chromium: the reader flips a toggle (the full-precision
// learning rate), the link records it, a third model trains beside b1.58 and its fp twin on the same batches, and the
// page shows the effect — a third loss curve, the difference chart, and the numbers in words. The tfjs CPU backend,
// the tiny model, 10 steps.
import {existsSync, mkdirSync} from "node:fs";
import {afterAll, beforeAll, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import {CHROMIUM, launch, watch} from "./browser.js";
import {serve} from "./server.js";

const dist = process.env.E2E_DIST ?? "dist";
const shots = "test-results/screenshots";

let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(`${dist}/train.html`)) throw new Error(`${dist}/ is missing: run \`npm run build\` first`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  mkdirSync(shots, {recursive: true});
  site = await serve(dist);
  browser = await launch({webgpu: false});
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

it("a toggle trains a third model with the change and the page shows what it did", async () => {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}});
  const log = watch(page, site.url);
  await page.goto(`${site.url}/train?size=tiny&steps=10&lr=0.02&backend=cpu`, {waitUntil: "networkidle"});
  await page.locator(".train-dashboard").waitFor({timeout: 60_000});
  // no change: no third model, and the panel says how to get one
  expect(await page.locator('[data-breaks="none"]').count()).toBe(1);
  // every toggle names its source with a link
  const aside = page.locator("details.breaks-aside");
  expect(await aside.getAttribute("open")).toBeNull();
  await aside.locator("summary").click();
  for (const key of ["lowLr", "wd", "ema", "late", "scale"])
    expect(await aside.locator(`[data-break="${key}"] li a[href^="https://"]`).count(), key).toBeGreaterThan(0);

  await page.getByLabel("Train at the full-precision learning rate (÷ 6)").check();
  await page.waitForFunction(() => new URL(location.href).searchParams.get("lowlr") === "true");
  const start = page.locator("[data-breaks-start]");
  await start.waitFor({timeout: 60_000});
  await start.click();
  await page.waitForFunction(
    () => document.querySelector(".train-dashboard")?.getAttribute("data-state") === "done",
    undefined,
    {timeout: 120_000},
  );
  const res = page.locator('.breaks-result[data-breaks="shown"]');
  await res.waitFor({timeout: 10_000});
  expect(await res.textContent()).toMatch(/Your changes: learning rate ÷ 6\./);
  // a sixth of the learning rate learns visibly slower in 10 steps: the changed model's loss stays higher
  const base = Number(await res.getAttribute("data-base-loss"));
  const changed = Number(await res.getAttribute("data-changed-loss"));
  expect(Number.isFinite(base) && Number.isFinite(changed)).toBe(true);
  expect(changed).toBeGreaterThan(base + 0.05);
  expect(await res.locator(".breaks-verdict").textContent()).toMatch(/nats\/token worse than the papers' recipe/);
  // the held-out evaluation lands after "done"; the panel redraws at most once a second
  await page.waitForFunction(
    () => document.querySelector('.breaks-result[data-breaks="shown"]')?.hasAttribute("data-val-changed"),
    undefined,
    {timeout: 30_000},
  );
  expect(Number(await res.getAttribute("data-val-changed"))).toBeGreaterThan(0);
  expect(await res.locator('[data-chart="breaks-diff"]').count()).toBe(1);
  // the main loss chart carries the third curve, and the schedule chart the changed learning rate
  expect(await page.locator("figure.train-loss").textContent()).toMatch(/b1\.58 with your changes/);
  expect(await page.locator(".train-schedule").textContent()).toMatch(/your changes LR/);
  await res.scrollIntoViewIfNeeded();
  await page.screenshot({path: `${shots}/train-breaks.png`, fullPage: false});
  expect(log.errors).toEqual([]);
  expect(log.foreign).toEqual([]);
  await page.close();
}, 240_000);

it("a link with a bad toggle value is reported, not silently trained", async () => {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}});
  await page.goto(`${site.url}/train?size=tiny&steps=10&backend=cpu&late=95&scale=fp4`, {waitUntil: "networkidle"});
  const notice = page.locator(".url-notice");
  await notice.waitFor({timeout: 60_000});
  const text = (await notice.textContent()) ?? "";
  expect(text).toMatch(/late/);
  expect(text).toMatch(/scale/);
  await page.close();
}, 120_000);
