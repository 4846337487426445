// Issue 24, "a picture first, a lesson a teacher can run": the model diagram on the overview and at the top of every
// chapter (parts from the variant table, values on hover, links to chapters; axe, keyboard and a 375 px screen), the
// three plain sentences before any formula, the glossary, hide= by section name, and the lesson path's bar.
import {existsSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import {axeViolations, CHROMIUM, keyboardGaps, launch, shrunkCharts, watch} from "./browser.js";
import {serve} from "./server.js";

let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
const shots = "test-results/screenshots";
beforeAll(async () => {
  if (!existsSync("dist/lesson.html")) throw new Error("dist/ is missing or stale: run `npm run build` first");
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  site = await serve("dist");
  browser = await launch({webgpu: false});
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

describe("the model diagram", () => {
  it("the overview opens with the picture: every site of the chosen variant, values on hover, links to chapters", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    const log = watch(page, site.url);
    await page.goto(`${site.url}/`, {waitUntil: "networkidle"});
    const fig = page.locator('[data-figure="model-diagram"]');
    await fig.waitFor({timeout: 60_000});
    expect(await fig.getAttribute("data-variant")).toBe("b1.58");
    // above the fold, before the live text
    expect((await fig.boundingBox())!.y).toBeLessThan(900);
    for (const part of ["qkv-quant", "qkv-linear", "o-subnorm", "o-linear", "down-linear", "attn-norm", "glu"])
      expect(await fig.locator(`[data-part="${part}"]`).count(), part).toBe(1);
    expect(await fig.locator('[data-part$="hadamard"], [data-part$="topk"]').count()).toBe(0);
    // hover: what it does and its value on the prompt
    await fig.locator('[data-part="down-linear"]').hover();
    expect(await fig.locator(".diagram-info").textContent()).toMatch(
      /W_down: .*On your prompt: \d+(\.\d)?% of its inputs are 0/,
    );
    expect(await fig.locator('[data-part="qkv-linear"]').getAttribute("href")).toMatch(/ternary$/);
    // another variant redraws with its own parts
    await page.selectOption("#overview-variant", "a4.8");
    await page
      .locator('[data-figure="model-diagram"][data-variant="a4.8"] [data-part="o-topk"]')
      .waitFor({timeout: 60_000});
    expect(await page.locator('[data-figure="model-diagram"] [data-part="kv"]').count()).toBe(1);
    await page.selectOption("#overview-variant", "v2-a4");
    await page
      .locator('[data-figure="model-diagram"][data-variant="v2"] [data-part="down-hadamard"]')
      .waitFor({timeout: 60_000});
    // the first paragraph explains why bits matter before any jargon
    const first = await page.locator("#observablehq-main p").first().textContent();
    expect(first).toMatch(/memory/);
    expect(first).not.toMatch(/sparsified 8-bit intermediates|online Hadamard/);
    await page.screenshot({path: `${shots}/overview-diagram.png`});
    expect(await axeViolations(page, site.url)).toEqual([]);
    expect(log.errors).toEqual([]);
    await page.close();
  }, 180_000);

  for (const [chapter, variant] of [
    ["ternary", "b1.58"],
    ["activations", "b1.58"],
    ["hadamard", "v2"],
    ["sparsity", "a4.8"],
    ["forward", "b1.58"],
    ["train", "b1.58"],
    ["scaling", "b1.58"],
  ] as const) {
    it(`/${chapter} opens with the picture and three plain sentences, before the banner and any formula`, async () => {
      const page = await browser.newPage({viewport: {width: 1200, height: 900}});
      await page.goto(`${site.url}/${chapter}?backend=cpu`, {waitUntil: "networkidle"});
      const fig = page.locator('[data-figure="model-diagram"]');
      await fig.waitFor({timeout: 60_000});
      expect(await fig.getAttribute("data-focus")).toBe(chapter);
      expect(await fig.getAttribute("data-variant")).toBe(variant);
      const order = await page.evaluate(() => {
        const main = document.querySelector("#observablehq-main")!;
        const all = [...main.querySelectorAll("*")];
        const at = (sel: string) => {
          const e = main.querySelector(sel);
          return e ? all.indexOf(e) : Infinity;
        };
        return {
          diagram: at('[data-figure="model-diagram"]'),
          lede: at(".chapter-lede"),
          banner: at(".gpu-banner"),
          math: at(".katex-display, .katex"),
        };
      });
      expect(order.diagram).toBeLessThan(order.lede);
      expect(order.lede).toBeLessThan(order.banner);
      expect(order.lede).toBeLessThan(order.math);
      expect(await page.locator(".chapter-lede li").allTextContents()).toEqual([
        expect.stringMatching(/^What\./),
        expect.stringMatching(/^Why\./),
        expect.stringMatching(/^Try\./),
      ]);
      if (chapter === "hadamard") expect(await page.locator("details#widths").getAttribute("open")).toBeNull(); // Paley in an aside
      // chapter 6: the training formulas; chapter 7: the papers' accounting — each in a closed aside
      const asides = {
        train: ["how-training-works"],
        scaling: ["table1-accounting", "table3-accounting", "a48-accounting"],
      };
      for (const id of (asides as Record<string, string[]>)[chapter] ?? [])
        expect(await page.locator(`details#${id}`).getAttribute("open"), id).toBeNull();
      if (chapter === "train") {
        // the BitLinears it trains are emphasised, the rest drawn lighter
        expect(await fig.locator('[data-part="qkv-linear"]').getAttribute("data-faded")).toBeNull();
        expect(await fig.locator('[data-part="attn-norm"]').getAttribute("data-faded")).toBe("true");
      }
      if (chapter === "scaling") {
        // hover: the bytes a part stores at the chosen bits
        await fig.locator('[data-part="down-linear"]').hover();
        expect(await fig.locator(".diagram-info").textContent()).toMatch(
          /W_down: .* over \d+ layers at \d+(\.\d+)? bits per weight/,
        );
      }
      await page.close();
    }, 120_000);
  }

  for (const [chapter, aside] of [
    ["hadamard", "widths"],
    ["train", "how-training-works"],
    ["scaling", "table1-accounting"],
  ] as const) {
    it(`/${chapter}: the diagram and the asides pass axe, keyboard and a 375 px screen`, async () => {
      const page = await browser.newPage({viewport: {width: 375, height: 800}});
      await page.goto(`${site.url}/${chapter}?backend=cpu`, {waitUntil: "networkidle"});
      await page.locator('[data-figure="model-diagram"]').waitFor({timeout: 60_000});
      expect(
        await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
      ).toBeLessThanOrEqual(1);
      expect((await shrunkCharts(page)).filter((x) => /model/.test(x))).toEqual([]);
      await page.locator(`details#${aside} > summary`).click();
      if (chapter === "train") await page.locator("details.breaks-aside > summary").click();
      expect(await axeViolations(page, site.url)).toEqual([]);
      const gaps = await keyboardGaps(page);
      expect(
        gaps.filter((g) => /diagram|ⓘ|Widths|Where|BitLinear|RMSNorm|W_|How training|Change the recipe|Table/.test(g)),
      ).toEqual([]);
      await page.screenshot({path: `${shots}/${chapter}-375-diagram.png`, fullPage: false});
      await page.close();
    }, 180_000);
  }
});

describe("the overview's live text", () => {
  it("does not loop (greedy decoding of the 4M model repeated one phrase over and over)", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    await page.goto(`${site.url}/`, {waitUntil: "networkidle"});
    await page.waitForFunction(() => document.querySelector(".stream[data-output]") !== null, null, {timeout: 120_000});
    const text = (await page.locator(".stream[data-output]").first().getAttribute("data-output")) ?? "";
    const words = text.toLowerCase().split(/\s+/).filter(Boolean);
    const counts = new Map<string, number>();
    for (let i = 0; i + 4 <= words.length; i++) {
      const k = words.slice(i, i + 4).join(" ");
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const worst = Math.max(0, ...counts.values());
    expect(worst, text).toBeLessThan(3);
    await page.close();
  }, 180_000);
});

describe("teacher tooling", () => {
  it("hide= names sections by their visible heading; the page says so and can show them", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    await page.goto(`${site.url}/ternary?hide=exercises,the-bit-ledger,seed`, {waitUntil: "networkidle"});
    await page.locator("h2", {hasText: "Exercises"}).waitFor({state: "attached"});
    expect(await page.locator("h2", {hasText: "Exercises"}).isHidden()).toBe(true);
    expect(await page.locator("h2", {hasText: "The bit ledger"}).isHidden()).toBe(true);
    expect(await page.locator("h2", {hasText: "A real layer"}).isVisible()).toBe(true);
    const note = page.locator("[data-hidden-sections]");
    expect(await note.textContent()).toMatch(/hides 2 sections/);
    // the link's other hide entry is a control, and no issue is reported for any of them
    expect(await page.locator(".url-notice li").count()).toBe(0);
    await page.locator("[data-show-sections]").click();
    expect(await page.locator("h2", {hasText: "Exercises"}).isVisible()).toBe(true);
    // a name that is neither is reported with the page's sections
    await page.goto(`${site.url}/ternary?hide=nonsense`, {waitUntil: "networkidle"});
    expect(await page.locator(".url-notice li").first().textContent()).toMatch(
      /neither a control nor a section.*exercises/,
    );
    await page.close();
  }, 120_000);

  it("the lesson path: 50 minutes, each step opens its chapter with a bar (timing, task, next/previous) and its sections hidden", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    await page.goto(`${site.url}/lesson`, {waitUntil: "networkidle"});
    expect(await page.locator(".lesson-path li").count()).toBe(6);
    expect(await page.locator("#observablehq-main").textContent()).toMatch(/Total: 50 minutes/);
    await page.locator(".lesson-path li").nth(1).locator("a").click();
    await page.waitForURL(/ternary\?lesson=2/);
    const bar = page.locator(".lesson-bar");
    await bar.waitFor();
    expect(await bar.textContent()).toMatch(/step 2 of 6: Ternary weights — 12 min \(minutes 5–17 of 50\)/);
    expect(await page.locator("h2", {hasText: "A matrix product without multiplications"}).isHidden()).toBe(true);
    await bar.locator('a[rel="next"]').click();
    await page.waitForURL(/activations\?lesson=3/);
    expect(await page.locator(".lesson-bar").textContent()).toMatch(/step 3 of 6/);
    await page.locator('.lesson-bar a[rel="prev"]').click();
    await page.waitForURL(/ternary\?lesson=2/);
    await page.close();
  }, 120_000);

  it("the glossary defines the overview's terms and the overview links it", async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/glossary`, {waitUntil: "networkidle"});
    for (const id of ["bitlinear", "hadamard", "sparsified-8-bit", "memory-traffic", "software-renderer"])
      expect(await page.locator(`dt#${id}`).count(), id).toBe(1);
    expect(await axeViolations(page, site.url)).toEqual([]);
    await page.goto(`${site.url}/`, {waitUntil: "networkidle"});
    expect(await page.locator('a[href="./glossary"]').count()).toBeGreaterThan(0);
    await page.close();
  }, 60_000);
});
