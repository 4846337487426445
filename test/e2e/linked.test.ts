// Linked views (issue 24): the diagram at the top of /activations and the page's controls drive each other — a click
// or Enter on a part selects its site through the site control (URL and every chart follow), the diagram marks what
// the controls show, charts move over 250 ms unless the reader asked for reduced motion.
import {existsSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser, Page} from "playwright-core";
import {CHROMIUM, launch, watch} from "./browser.js";
import {serve} from "./server.js";

let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync("dist/activations.html")) throw new Error("dist/ is missing or stale: run `npm run build` first");
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  site = await serve("dist");
  browser = await launch({webgpu: false});
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

const siteSelect = '.lab-control[data-param="site"] select';
const channelCaption = (page: Page) =>
  page.locator("figure.lab-figure figcaption", {hasText: "Per-channel max |x|"}).first().textContent();
/** Opens /activations at `query`, scrolling so the cells waiting on visibility() run, until the channel chart is up. */
async function openActivations(query: string, reducedMotion: "reduce" | "no-preference") {
  const page = await browser.newPage({viewport: {width: 1200, height: 900}, reducedMotion});
  const log = watch(page, site.url);
  await page.goto(`${site.url}/activations?${query}`, {waitUntil: "networkidle"});
  const chart = page.locator("figure.lab-figure figcaption", {hasText: "Per-channel max |x|"});
  for (let i = 0; i < 120 && !(await chart.count()); i++) {
    await page.mouse.wheel(0, 700);
    await page.waitForTimeout(250);
  }
  await chart.first().waitFor({timeout: 120_000});
  return {page, log};
}
const selected = (page: Page) =>
  page.$$eval('[data-figure="model-diagram"] a[data-selected="true"]', (as) =>
    as.map((a) => a.getAttribute("data-part")),
  );

describe("linked views on /activations", () => {
  it("click and Enter on a diagram part set the site control, the URL and the charts; the diagram marks it", async () => {
    const {page, log} = await openActivations("backend=cpu&site=attn", "no-preference");
    // (the URL leaves out a parameter at its default, and site's default is down)
    expect(await page.locator(siteSelect).inputValue()).toBe("attn");
    expect(await selected(page)).toContain("qkv-linear");
    const before = await channelCaption(page);
    expect(before).toMatch(/attention input/);

    const down = page.locator('[data-figure="model-diagram"] [data-part="down-linear"]');
    await down.click();
    expect(new URL(page.url()).pathname).toMatch(/\/activations$/); // stayed on the page
    expect(await page.locator(siteSelect).inputValue()).toBe("down");
    await page.waitForFunction(() => (new URL(location.href).searchParams.get("site") ?? "down") === "down");
    await page.waitForFunction(
      () =>
        /FFN inner activation/.test(
          [...document.querySelectorAll("figure.lab-figure figcaption")].map((f) => f.textContent).join(" "),
        ),
      undefined,
      {timeout: 60_000},
    );
    expect(await channelCaption(page)).not.toBe(before);
    expect(await down.getAttribute("data-selected")).toBe("true");
    expect(await selected(page)).not.toContain("qkv-linear");
    // the redrawn chart animates (reduced motion is off here)
    expect(await page.locator('figure.lab-figure svg[data-animated="true"]').count()).toBeGreaterThan(0);

    // keyboard: focus W_o, Enter
    await page.locator('[data-figure="model-diagram"] [data-part="o-linear"]').focus();
    await page.keyboard.press("Enter");
    expect(new URL(page.url()).pathname).toMatch(/\/activations$/);
    expect(await page.locator(siteSelect).inputValue()).toBe("o");
    await page.waitForFunction(() => new URL(location.href).searchParams.get("site") === "o");
    expect(await page.locator('[data-part="o-linear"]').getAttribute("data-selected")).toBe("true");
    expect(await down.getAttribute("data-selected")).toBeNull();

    // the control drives the diagram too
    await page.selectOption(siteSelect, "ffn");
    await page.waitForFunction(
      () => document.querySelector('[data-part="gate_up-linear"]')?.getAttribute("data-selected") === "true",
    );
    // a part the page has no control for still links to its chapter
    expect(await page.locator('[data-figure="model-diagram"] [data-part="attention"]').getAttribute("href")).toMatch(
      /forward$/,
    );
    expect(log.errors).toEqual([]);
    await page.close();
  }, 240_000);

  it("with prefers-reduced-motion: reduce, charts redraw without animating", async () => {
    const {page} = await openActivations("backend=cpu&site=attn", "reduce");
    await page.locator('[data-figure="model-diagram"] [data-part="down-linear"]').click();
    await page.waitForFunction(() => (new URL(location.href).searchParams.get("site") ?? "down") === "down");
    await page.waitForTimeout(500);
    expect(await page.locator("figure.lab-figure svg").count()).toBeGreaterThan(0);
    expect(await page.locator('svg[data-animated="true"]').count()).toBe(0);
    await page.close();
  }, 180_000);
});
