// Issue 15.7 (pages): the forward page's Projection menu is off when the metric ignores it; a tensor name wraps
// between its parts, never mid-word; the heatmap's labels use the charts' font.
import {existsSync} from "node:fs";
import {afterAll, beforeAll, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import {CHROMIUM, launch} from "./browser.js";
import {serve} from "./server.js";

let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync("dist/forward.html")) throw new Error("dist/ is missing: run `npm run build` first");
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  site = await serve("dist");
  browser = await launch({webgpu: false});
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

it("forward page: Projection is disabled for the residual metrics and enabled for sparsity; heatmap in the sans font", async () => {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}});
  await page.goto(`${site.url}/forward?metric=residual`, {waitUntil: "networkidle"});
  const heat = page.locator("svg.heatmap").first();
  for (let i = 0; i < 60 && !(await heat.count()); i++) {
    await page.mouse.wheel(0, 700);
    await page.waitForTimeout(250);
  }
  await heat.waitFor({timeout: 60_000});
  const proj = page.locator('.lab-control[data-param="linear"] select');
  await expect.poll(() => proj.isDisabled()).toBe(true);
  await page
    .locator('.lab-control[data-param="metric"] select')
    .selectOption({label: "zero share of the chosen projection's quantized input"});
  await expect.poll(() => proj.isDisabled()).toBe(false);
  const fonts = await page.evaluate(() => {
    const t = document.querySelector("svg.heatmap text");
    return [t && getComputedStyle(t).fontFamily];
  });
  expect(fonts[0]).toMatch(/sans|system-ui|Helvetica|Arial/i);
  await page.close();
});

it("ternary page: the tensor name in its stat card breaks only between parts", async () => {
  const page = await browser.newPage({viewport: {width: 375, height: 900}});
  await page.goto(`${site.url}/ternary?layer=1&matrix=down`, {waitUntil: "networkidle"});
  const dd = page.locator(".stat-card dd").first();
  await dd.waitFor({timeout: 60_000});
  expect(await dd.evaluate((e) => e.querySelectorAll("wbr").length)).toBeGreaterThan(2);
  expect(await dd.evaluate((e) => getComputedStyle(e).overflowWrap)).toBe("break-word");
  await page.close();
});
