// Chapter 7 (memory, latency, energy) in Chromium: the link's state reaches the controls and a changed control
// reaches the link, bad link values are named, the paper-vs-model table is there with its misses marked, the
// exercises reveal answers computed by the cost model, and the live measurement runs on WebGPU (SwiftShader) —
// or is skipped with a reason without it.
import {existsSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import {axeViolations, keyboardGaps, launch, shrunkCharts, watch} from "./browser.js";
import {serve} from "./server.js";

let site: Awaited<ReturnType<typeof serve>>;
beforeAll(async () => {
  if (!existsSync("dist/scaling.html")) throw new Error("dist/ is missing: run `npm run build` first");
  site = await serve("dist");
});
afterAll(async () => {
  await site?.close();
});

describe("the cost page with WebGPU", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch({webgpu: true});
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("round-trips its URL, reproduces the papers' table, checks exercises and measures this GPU", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    const log = watch(page, site.url);
    await page.goto(`${site.url}/scaling?model=70B&context=512&batch=0`, {waitUntil: "networkidle"});
    // batch=0 is out of range: ignored, and the notice (the same as every page's) names it.
    await expect.poll(() => page.locator('.url-notice li[data-param="batch"]').count()).toBe(1);
    expect(await page.locator('select[name="model"]').inputValue()).toBe("70B");
    expect(await page.locator('input[name="context"]').inputValue()).toBe("512");
    await page.locator('select[name="wbits"]').selectOption("4");
    await expect.poll(() => page.evaluate(() => location.search)).toMatch(/wbits=4/);
    expect(await page.evaluate(() => location.search)).toMatch(/model=70B/);

    // The reproduction table: many paper figures, some reproduced within tolerance, the misses marked.
    expect(await page.locator(".cost-repro tr.cost-ok").count()).toBeGreaterThan(50);
    expect(await page.locator(".cost-repro tr.cost-miss").count()).toBeGreaterThan(0);

    // Exercise 2: 71.4×, computed live from the energy table. The energy section's sentence that computes it is
    // blurred and inert until the guess is locked in.
    const ex = page.locator(".exercise").nth(1);
    const giveaway = page.locator('[data-answer="mac-ratio"]');
    expect(await giveaway.evaluate((e) => e.classList.contains("exercise-concealed") && e.hasAttribute("inert"))).toBe(
      true,
    );
    await ex.locator('input[type="number"]').fill("71");
    await ex.getByRole("button", {name: /lock in/i}).click();
    expect(await giveaway.evaluate((e) => e.classList.contains("exercise-concealed") || e.hasAttribute("inert"))).toBe(
      false,
    );
    await ex.getByRole("button", {name: /reveal/i}).click();
    await expect.poll(() => ex.getAttribute("data-verdict")).toBe("right");
    expect(await ex.textContent()).toMatch(/71\.4/);

    await page.getByRole("button", {name: "Measure on this GPU"}).click();
    await expect
      .poll(() => page.locator("#observablehq-main").textContent(), {timeout: 120_000})
      .toMatch(/Copy bandwidth \d/);
    expect(log.errors).toEqual([]);
    expect(log.failed).toEqual([]);
    expect(log.foreign).toEqual([]);
    await page.close();
  });
});

describe("the cost page on the shared page machinery (issue 15.5)", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch({webgpu: false});
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("has no horizontal scroll at 375 px, legible charts, keyboard-reachable controls and no moderate axe finding there; no cut-off formula at 1280 px", async () => {
    for (const width of [375, 1280]) {
      const page = await browser.newPage({viewport: {width, height: 900}});
      await page.goto(`${site.url}/scaling`, {waitUntil: "networkidle"});
      await page.locator(".cost-repro table").waitFor();
      expect(
        await page.evaluate(() => document.documentElement.scrollWidth),
        `page width at ${width} px`,
      ).toBeLessThanOrEqual(width);
      if (width === 375) {
        expect(await shrunkCharts(page)).toEqual([]);
        expect(await axeViolations(page, site.url, "main", "moderate")).toEqual([]); // heading levels, landmarks
        expect(await keyboardGaps(page)).toEqual([]);
      }
      if (width === 1280) {
        const cut = await page.evaluate(() =>
          [...document.querySelectorAll(".katex-display")]
            .filter((e) => e.scrollWidth > e.clientWidth + 1)
            .map((e) => e.textContent?.slice(0, 40)),
        );
        expect(cut).toEqual([]);
      }
      await page.close();
    }
  });

  it("a bad link gets the common notice and keeps its query; hide= hides with 'Show them'; a share panel", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    const log = watch(page, site.url);
    await page.goto(`${site.url}/scaling?model=nope&context=512&hide=wbits,bw`, {waitUntil: "networkidle"});
    const notice = page.locator(".url-notice");
    await expect.poll(() => notice.locator('li[data-param="model"]').count()).toBe(1);
    expect(await notice.textContent()).toMatch(/hides 2 controls \(wbits, bw\)/);
    // The link is left as the reader got it until they change something.
    expect(await page.evaluate(() => location.search)).toBe("?model=nope&context=512&hide=wbits,bw");
    expect(await page.locator('.lab-control[data-param="wbits"]').isHidden()).toBe(true);
    expect(await page.locator('.lab-control[data-param="bw"]').isHidden()).toBe(true);
    await notice.getByRole("button", {name: "Show them"}).click();
    expect(await page.locator('.lab-control[data-param="wbits"]').isVisible()).toBe(true);
    expect(await page.evaluate(() => location.search)).not.toMatch(/hide=/);
    // The controls are the shared kit's (issue 15.5), not a form of the page's own: every field on the page outside
    // the share panel, the exercises and the GPU measurement is a kit control — a .lab-control named by its parameter,
    // its field labelled by <label for>, restored from the link, keyboard-operable, with a visible focus ring.
    const stray = await page.evaluate(() =>
      [...document.querySelectorAll("#observablehq-main :is(input, select, textarea)")]
        .filter((e) => !e.closest(".lab-control, .share-panel, .exercise, .cost-bench"))
        .map((e) => e.outerHTML.slice(0, 80)),
    );
    expect(stray).toEqual([]);
    const kit = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>(".lab-control[data-param]")].map((c) => {
        const field = c.querySelector<HTMLInputElement>(`[name="${c.dataset.param}"]`);
        const label = c.querySelector("label");
        return {param: c.dataset.param, labelled: Boolean(field && label && label.htmlFor === field.id)};
      }),
    );
    expect(kit.map((k) => k.param).sort()).toEqual([
      "abits",
      "batch",
      "bw",
      "context",
      "ffn",
      "group",
      "heads",
      "hidden",
      "kvbits",
      "kvheads",
      "layers",
      "mem",
      "model",
      "node",
      "tied",
      "vocab",
      "wbits",
    ]);
    expect(kit.filter((k) => !k.labelled)).toEqual([]);
    expect(await page.locator(".lab-controls fieldset legend").allTextContents()).toEqual([
      "Model and hardware",
      "Custom shape (Model = custom shape)",
    ]);
    const slider = page.locator('.lab-control[data-param="context"] input[type="range"]');
    expect(Number(await slider.inputValue())).toBe(9); // log₂ 512, from the link
    expect(await slider.getAttribute("aria-valuetext")).toBe("512 tokens");
    await slider.focus();
    await page.keyboard.press("ArrowRight");
    await expect.poll(() => page.locator('input[name="context"]').inputValue()).toBe("609"); // 2^9.25, rounded
    expect(await page.evaluate(() => location.search)).toMatch(/context=609/);
    expect(await slider.evaluate((e) => getComputedStyle(e).outlineStyle)).not.toBe("none");
    await page.locator('input[name="batch"]').focus();
    await page.keyboard.press("ArrowUp");
    await expect.poll(() => page.evaluate(() => location.search)).toMatch(/batch=2/);
    await page.keyboard.press("Shift+Tab"); // back to the batch slider: focus moves within the kit's fields
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("Batch (slider)");
    // Share this setup: the link carries a changed control.
    await page.locator('select[name="wbits"]').selectOption("4");
    await page.locator(".share-panel summary").click();
    await expect
      .poll(async () => new URL(await page.locator(".share-link").inputValue()).searchParams.get("wbits"), {
        timeout: 10_000,
      })
      .toBe("4");
    expect(log.errors).toEqual([]);
    await page.close();
  });
});

describe("the cost page without WebGPU", () => {
  it("says the measurement is skipped and why", async () => {
    const browser = await launch({webgpu: false});
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/scaling`, {waitUntil: "networkidle"});
    await expect
      .poll(() => page.locator("#observablehq-main").textContent())
      .toMatch(/WebGPU is not available here .*measurement is skipped/);
    expect(log.errors).toEqual([]);
    await browser.close();
  });
});
