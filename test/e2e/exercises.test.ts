// No exercise shows its answer before the reader locks in a guess (issue 15.6): the figures that give it away
// (ternary 1 — its share cards and the mat-vec's skipped-zeros count —, 3, 4; activations 1; hadamard 3; sparsity 1 and 2; cost 2 in
// scaling.test.ts) are blurred and inert until lock-in, and visible after it; the
// exercise titles sit one level under the chapter's "Exercises" heading.
import {existsSync} from "node:fs";
import {afterAll, beforeAll, expect, it} from "vitest";
import type {Browser, Page} from "playwright-core";
import {CHROMIUM, launch, watch} from "./browser.js";
import {serve} from "./server.js";

let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync("dist/ternary.html")) throw new Error("dist/ is missing: run `npm run build` first");
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  site = await serve("dist");
  browser = await launch({webgpu: false});
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

const CASES: {path: string; exercise: number; giveaway: string[]; guess: string; choice?: boolean}[] = [
  {
    path: "/ternary",
    exercise: 0,
    giveaway: [
      '[data-stat="zero-share"]',
      '[data-stat="nonzero-share"]',
      "figure:has(svg.ternary-shares)",
      ".matvec-counters [data-stat=skips]",
    ],
    guess: "30",
  },
  {path: "/ternary", exercise: 2, giveaway: [".bit-ledger", "[data-check=ledger]"], guess: "0", choice: true},
  {path: "/ternary", exercise: 3, giveaway: [".matvec-counters [data-stat=muls]"], guess: "7"},
  {path: "/activations", exercise: 0, giveaway: ['[data-stat="max-over-median"]'], guess: "10"},
  {path: "/hadamard", exercise: 2, giveaway: ['[data-stat="fast-ops"]'], guess: "100"},
  {path: "/sparsity", exercise: 0, giveaway: ['[data-stat="down"]'], guess: "50"},
];

async function concealed(page: Page, sel: string): Promise<{n: number; hidden: number}> {
  return page.evaluate((s) => {
    const els = [...document.querySelectorAll(s)];
    return {
      n: els.length,
      hidden: els.filter((e) => e.classList.contains("exercise-concealed") && e.hasAttribute("inert")).length,
    };
  }, sel);
}

async function open(path: string): Promise<Page> {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}});
  watch(page, site.url);
  await page.goto(site.url + path, {waitUntil: "networkidle"});
  // Cells that wait on visibility() run as the reader scrolls.
  const target = page.locator(".exercise").nth(2);
  for (let i = 0; i < 120 && !(await target.count()); i++) {
    await page.mouse.wheel(0, 700);
    await page.waitForTimeout(250);
  }
  await target.waitFor({timeout: 120_000});
  return page;
}

for (const c of CASES) {
  it(`${c.path} exercise ${c.exercise + 1}: the giveaway is hidden until lock-in`, async () => {
    const page = await open(c.path);
    const ex = page.locator(".exercise").nth(c.exercise);
    for (const sel of c.giveaway) {
      const r = await concealed(page, sel);
      expect(r.n, sel).toBeGreaterThan(0);
      expect(r.hidden, sel).toBe(r.n);
    }
    // The title is an h3 under the page's h2 "Exercises".
    expect(await ex.locator("h3").count()).toBe(1);
    if (c.choice) await ex.locator(`input[type=radio]`).first().check();
    else await ex.locator("input[type=number]").fill(c.guess);
    await ex.getByRole("button", {name: "Lock in my guess"}).click();
    for (const sel of c.giveaway) expect((await concealed(page, sel)).hidden, sel).toBe(0);
    await ex.getByRole("button", {name: "Reveal the answer"}).click();
    await expect.poll(() => ex.getAttribute("data-state"), {timeout: 60_000}).toBe("revealed");
    // Try again hides it again.
    await ex.getByRole("button", {name: "Try again"}).click();
    for (const sel of c.giveaway) expect((await concealed(page, sel)).hidden, sel).toBeGreaterThan(0);
    await page.close();
  });
}

// Two exercises hide the same figures: the sparsity-by-component chart and the per-layer table show both exercise 1's
// W_down share and exercise 2's W_o share, so they stay hidden until both guesses are locked, in either order.
it("/sparsity exercises 1 and 2: a figure both conceal stays hidden until both are locked", async () => {
  const page = await open("/sparsity");
  const shared = ['[data-shows="sparsity-by-component"]', '[data-shows="sparsity-per-layer"]'];
  const all = async () =>
    Promise.all(
      shared.map(async (sel) => {
        const r = await concealed(page, sel);
        expect(r.n, sel).toBeGreaterThan(0);
        return r.hidden === r.n;
      }),
    );
  const lock = async (i: number) => {
    const ex = page.locator(".exercise").nth(i);
    await ex.locator("input[type=number]").fill("50");
    await ex.getByRole("button", {name: "Lock in my guess"}).click();
  };
  expect(await all()).toEqual([true, true]);
  await lock(1);
  expect(await all()).toEqual([true, true]);
  expect((await concealed(page, '[data-stat="down"]')).hidden).toBeGreaterThan(0);
  await lock(0);
  for (const sel of [...shared, '[data-stat="down"]']) expect((await concealed(page, sel)).hidden, sel).toBe(0);
  await page.close();
});

// Issue 24: exercises conceal exactly what they ask, from the start, next to themselves; their state survives a
// resize; a guess outside the question's range is refused.
it("/ternary exercise 1: its giveaway is hidden from first paint, before the reader scrolls, and sits next to it", async () => {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}});
  await page.goto(`${site.url}/ternary`, {waitUntil: "networkidle"});
  const card = page.locator('[data-stat="zero-share"]').first();
  await card.waitFor({timeout: 60_000});
  // no scrolling: the share card is concealed already (it was visible until the exercises' cell ran)
  expect(await card.evaluate((e) => e.classList.contains("exercise-concealed") && e.hasAttribute("inert"))).toBe(true);
  const ex = page.locator(".exercise").first();
  await ex.waitFor({timeout: 60_000});
  expect(await ex.locator("h3").textContent()).toMatch(/Exercise 1/);
  const gap = await page.evaluate(() => {
    const a = document.querySelector(".exercise")!.getBoundingClientRect();
    const b = document.querySelector('[data-stat="zero-share"]')!.getBoundingClientRect();
    return Math.abs(b.top - a.bottom);
  });
  expect(gap).toBeLessThan(600);
  await page.close();
}, 120_000);

it("/sparsity exercises 1 and 2 sit right above the chart they hide, and a locked guess survives a resize", async () => {
  const page = await open("/sparsity");
  const gap = await page.evaluate(() => {
    const ex = [...document.querySelectorAll(".exercise")][1].getBoundingClientRect();
    const chart = document.querySelector('[data-shows="sparsity-by-component"]')!.getBoundingClientRect();
    return chart.top - ex.bottom;
  });
  expect(gap).toBeGreaterThanOrEqual(0);
  expect(gap).toBeLessThan(400);
  const ex = page.locator(".exercise").first();
  await ex.locator("input[type=number]").fill("42");
  await ex.getByRole("button", {name: "Lock in my guess"}).click();
  expect(await ex.getAttribute("data-state")).toBe("locked");
  // a resize re-runs the cells that read the page width
  await page.setViewportSize({width: 700, height: 900});
  await page.waitForTimeout(1500);
  await page.setViewportSize({width: 1000, height: 900});
  await page.waitForTimeout(1500);
  const again = page.locator(".exercise").first();
  expect(await again.getAttribute("data-state")).toBe("locked");
  expect(await again.locator("input[type=number]").inputValue()).toBe("42");
  expect((await concealed(page, '[data-stat="down"]')).hidden).toBe(0);
  await page.close();
}, 300_000);

it("/forward exercise 1 refuses a layer outside 0–3", async () => {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}});
  await page.goto(`${site.url}/forward?backend=cpu`, {waitUntil: "networkidle"});
  const ex = page.locator(".exercise").first();
  for (let i = 0; i < 80 && !(await ex.count()); i++) {
    await page.mouse.wheel(0, 700);
    await page.waitForTimeout(250);
  }
  await ex.waitFor({timeout: 120_000});
  await ex.locator("input[type=number]").fill("10");
  await ex.getByRole("button", {name: "Lock in my guess"}).click();
  expect(await ex.getAttribute("data-state")).toBe("guessing");
  expect(await ex.locator(".exercise-result").textContent()).toMatch(/between 0 and 3/);
  await ex.locator("input[type=number]").fill("2");
  await ex.getByRole("button", {name: "Lock in my guess"}).click();
  expect(await ex.getAttribute("data-state")).toBe("locked");
  await page.close();
}, 180_000);
