// Chapter 6 in real Chromium (SwiftShader WebGPU available, but the link picks the tfjs CPU backend, which is the
// fastest on this CPU-only machine): a tiny b1.58 model and its fp twin train for a few steps; the loss falls and
// stays finite, the flip-rate and γ charts have data, the live tensor count stays flat, generation and export
// work, and the page makes no foreign request and logs no console error.
import {existsSync, mkdirSync} from "node:fs";
import {afterAll, beforeAll, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import {CHROMIUM, axeViolations, launch, watch} from "./browser.js";
import {serve} from "./server.js";

// E2E_DIST lets an engineer test a private build (observable build --config with another output folder).
const dist = process.env.E2E_DIST ?? "dist";
const shots = "test-results/screenshots";
const STEPS = 10; // a multiple of the steps slider's step (10)

let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(`${dist}/train.html`))
    throw new Error(`${dist}/ is missing: run \`npm run build\` first (npm run test:e2e does)`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (see .ci/run)`);
  mkdirSync(shots, {recursive: true});
  site = await serve(dist);
  browser = await launch({webgpu: true});
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

it("puts Start training near the top: the four formulas are in an aside after the charts (issue 24)", async () => {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}});
  await page.goto(`${site.url}/train?size=tiny&steps=10&backend=cpu`, {waitUntil: "networkidle"});
  const start = page.getByRole("button", {name: "Start training"});
  await start.waitFor({timeout: 60_000});
  // Above it only the picture, the three sentences and the run's setup (was 1,600 px below four formulas): no
  // formula comes first, and the data's numbers wait in an aside.
  const y = await start.evaluate((b) => b.getBoundingClientRect().top + window.scrollY);
  expect(y).toBeLessThan(1500);
  expect(
    await start.evaluate((b) =>
      [...document.querySelectorAll(".katex")].some(
        (k) => k.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING,
      ),
    ),
  ).toBe(false);
  expect(await page.locator("details.train-data-aside").getAttribute("open")).toBeNull();
  // the formulas are closed by default, in one aside
  expect(await page.locator("details#how-training-works").getAttribute("open")).toBeNull();
  expect(await page.locator("details#how-training-works .katex-display").count()).toBeGreaterThanOrEqual(3);
  await page.close();
}, 120_000);

it("trains a tiny b1.58 model and its fp twin in the browser", async () => {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}});
  const log = watch(page, site.url);
  await page.goto(`${site.url}/train?size=tiny&steps=${STEPS}&lr=0.02&backend=cpu`, {waitUntil: "networkidle"});
  const dash = page.locator(".train-dashboard");
  await dash.waitFor({timeout: 60_000});
  expect(await page.locator("[data-backend]").getAttribute("data-backend")).toBe("cpu");
  expect(await dash.getAttribute("data-state")).toBe("ready");
  // The link's settings are in force and reported nowhere as ignored.
  expect(await page.locator(".url-notice").isHidden()).toBe(true);

  await page.getByRole("button", {name: "Start training"}).click();
  await page.waitForFunction(
    () => Number(document.querySelector(".train-dashboard")?.getAttribute("data-step")) >= 4,
    undefined,
    {timeout: 60_000},
  );
  const tensorsEarly = Number(await dash.getAttribute("data-tensors"));
  await page.waitForFunction(
    () => document.querySelector(".train-dashboard")?.getAttribute("data-state") === "done",
    undefined,
    {timeout: 90_000},
  );
  expect(Number(await dash.getAttribute("data-step"))).toBe(STEPS);

  // The loss fell (first three steps against the last three) and is finite, for both models.
  for (const which of ["", "-fp"]) {
    const first = Number((await dash.getAttribute(`data-first${which}-loss`)) ?? NaN);
    const last = Number((await dash.getAttribute(`data-last${which}-loss`)) ?? NaN);
    expect(Number.isFinite(first) && Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first - 0.1);
  }
  // No tensor leak across steps.
  expect(Number(await dash.getAttribute("data-tensors"))).toBe(tensorsEarly);

  // Issue 24: the two loss curves read apart — smoothed, the fp twin dashed, a dozen markers each — and the gap is plotted.
  const lossFig = page.locator("figure.train-loss");
  const dashes = await lossFig.evaluate((f) =>
    [...f.querySelectorAll("svg .lab-line")].map((p) => p.getAttribute("stroke-dasharray") ?? "none"),
  );
  expect(new Set(dashes).size, dashes.join("|")).toBeGreaterThanOrEqual(2);
  const markers = await lossFig.locator("svg .lab-markers > *").count();
  expect(markers).toBeGreaterThan(0);
  expect(markers).toBeLessThanOrEqual(4 * 12);
  expect(await page.locator("[data-chart='loss-gap'] table tbody tr").count()).toBeGreaterThan(0);
  expect(await lossFig.locator("figcaption").textContent()).toMatch(/smoothed/);

  // Charts have data (their data tables), including the flip rate and γ per layer.
  const rows = async (cls: string) => page.locator(`figure.${cls} table tbody tr`).count();
  expect(await rows("train-loss")).toBeGreaterThanOrEqual(2 * STEPS);
  expect(await rows("train-flips")).toBe(STEPS);
  expect(await rows("train-gamma")).toBe(STEPS); // one layer in the tiny model
  const flips = await page.locator("figure.train-flips table tbody tr td:nth-child(3)").allTextContents();
  expect(flips.some((t) => Number(t.replace("\u2212", "-")) > 0)).toBe(true);
  expect(await page.locator(".train-weights figure").count()).toBe(1);

  // Hiding a chart does not restart training.
  await page.getByLabel(/Flip rate/).uncheck();
  // the dashboard redraws after the input event, so wait for the chart to go rather than reading it at once
  await expect.poll(() => page.locator('[data-chart="flips"]').isHidden(), {timeout: 10_000}).toBe(true);
  expect(await dash.getAttribute("data-state")).toBe("done");
  await page.getByLabel(/Flip rate/).check();

  // Generate with the trained model on the CPU reference.
  await page.getByRole("button", {name: "Generate"}).click();
  await page.waitForFunction(
    () => document.querySelector(".train-generate")?.getAttribute("data-state") === "done",
    undefined,
    {timeout: 60_000},
  );
  expect(await page.locator(".train-generate .tok").count()).toBeGreaterThan(0);

  // Export: three download links, and the model saved for the forward-pass page.
  await page.getByRole("button", {name: "Download the b1.58 checkpoint"}).click();
  await page.locator(".download-links a").nth(2).waitFor({timeout: 30_000});
  expect(await page.locator(".download-links a").allTextContents()).toEqual([
    "config.json",
    "model.safetensors",
    "tokenizer.json",
  ]);
  await page.getByRole("button", {name: "Use on the forward-pass page"}).click();
  await page.getByText("Saved in this browser").waitFor({timeout: 30_000});
  // The link opens the reader's model on the forward page, not the shipped one.
  expect(await page.getByRole("link", {name: "Open the forward-pass page"}).getAttribute("href")).toMatch(
    /model=browser-trained/,
  );
  const stored = await page.evaluate(
    () =>
      new Promise<{steps: number; bytes: number; vocab: unknown}>((resolve, reject) => {
        const req = indexedDB.open("bitnet-lab");
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const get = req.result.transaction("trained-models").objectStore("trained-models").get("browser-b1.58");
          get.onerror = () => reject(get.error);
          get.onsuccess = () =>
            resolve({
              steps: get.result.meta.steps,
              bytes: get.result.safetensors.byteLength,
              vocab: get.result.config.vocab_size,
            });
        };
      }),
  );
  expect(stored.steps).toBe(STEPS);
  expect(stored.bytes).toBeGreaterThan(1000);
  expect(stored.vocab).toBe(4096);

  // An exercise answered from the live run: the flip rate of the last step.
  const ex = page.locator(".exercise").nth(2);
  await ex.locator("input[type=number]").fill("1");
  await ex.getByRole("button", {name: "Lock in my guess"}).click();
  await ex.getByRole("button", {name: "Reveal the answer"}).click();
  await page.waitForFunction(
    () => document.querySelectorAll(".exercise")[2]?.getAttribute("data-state") === "revealed",
  );
  expect(await ex.getAttribute("data-verdict")).toMatch(/^(right|wrong)$/);
  expect(await ex.locator(".explain").textContent()).toContain(`codes changed at step ${STEPS} `);

  // Accessible with the live charts, the export links and the generated text on the page.
  expect(await axeViolations(page, site.url)).toEqual([]);

  await page.screenshot({path: `${shots}/train.png`, fullPage: true});
  expect(log.errors).toEqual([]);
  expect(log.failed).toEqual([]);
  expect(log.foreign).toEqual([]);
  await page.close();
});

it("reports a bad link parameter by name and hides the controls a teacher chose", async () => {
  const page = await browser.newPage({viewport: {width: 390, height: 844}});
  const log = watch(page, site.url);
  await page.goto(`${site.url}/train?size=huge&backend=cpu&hide=seed,lr`, {waitUntil: "networkidle"});
  await page.locator(".train-dashboard").waitFor({timeout: 60_000});
  const notice = page.locator(".url-notice");
  expect(await notice.isHidden()).toBe(false);
  expect(await notice.locator('li[data-param="size"]').textContent()).toMatch(
    /size: "huge" is not one of auto, tiny, small, medium/,
  );
  expect(await page.locator('.lab-control[data-param="seed"]').isHidden()).toBe(true);
  expect(await page.locator('.lab-control[data-param="lr"]').isHidden()).toBe(true);
  expect(await page.locator('.lab-control[data-param="steps"]').isHidden()).toBe(false);
  // The default size (auto: measured here) is used, and nothing starts until the reader presses Start.
  const size = await page.locator(".train-dashboard").getAttribute("data-size");
  expect(await page.locator('[data-stat="batch"] dd').textContent()).toMatch(
    new RegExp(`^${{tiny: 128, small: 512, medium: 1024}[size as "tiny"]}`),
  );
  expect(await page.locator(".train-dashboard").getAttribute("data-state")).toBe("ready");
  expect(log.errors).toEqual([]);
  expect(log.foreign).toEqual([]);
  await page.close();
});
