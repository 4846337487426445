// Every page of the built site, in real Chromium: it loads with no console error, no failed request and no request
// to any host but localhost; the WebGPU banner reports an adapter (SwiftShader) — or, launched without WebGPU, says
// the page falls back to the CPU reference.
import {existsSync, mkdirSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import config from "../../observablehq.config.js";
import {CHROMIUM, axeViolations, launch, watch} from "./browser.js";
import {serve} from "./server.js";

// Reading pages that compute nothing (the glossary, the lesson plan) have no WebGPU banner: they are checked for a
// clean load only (test/e2e/teach.test.ts covers their content).
const READING = new Set(["/glossary", "/lesson"]);
const paths = config.pages.map((p) => p.path).filter((p) => !READING.has(p));
const shots = "test-results/screenshots";

let site: Awaited<ReturnType<typeof serve>>;
beforeAll(async () => {
  if (!existsSync("dist/index.html"))
    throw new Error("dist/ is missing: run `npm run build` first (npm run test:e2e does)");
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (see .ci/run)`);
  mkdirSync(shots, {recursive: true});
  site = await serve("dist");
});
afterAll(async () => {
  await site?.close();
});

describe("with WebGPU (SwiftShader)", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch({webgpu: true});
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const path of paths) {
    it(`${path} loads cleanly and finds an adapter`, async () => {
      const page = await browser.newPage({viewport: {width: 1200, height: 900}});
      const log = watch(page, site.url);
      await page.goto(site.url + path, {waitUntil: "networkidle"});
      const banner = page.locator("[data-webgpu]").first();
      await banner.waitFor({timeout: 60_000});
      expect(await banner.getAttribute("data-webgpu")).toBe("available");
      expect(await banner.textContent()).toMatch(/^WebGPU here is a software renderer on your CPU/);
      // The build's policy is in force (a violation would also show up as a console error).
      const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute("content");
      expect(csp).toMatch(/default-src 'self'/);
      await page.waitForLoadState("networkidle");
      await page.screenshot({path: `${shots}/${path === "/" ? "index" : path.slice(1)}.png`, fullPage: true});
      expect(log.errors).toEqual([]);
      expect(log.failed).toEqual([]);
      expect(log.foreign).toEqual([]);
      await page.close();
    });
  }
});

describe("where the overview's model runs (issue 15.3)", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch({webgpu: true});
  });
  afterAll(async () => {
    await browser?.close();
  });

  // (backend=webgpu forcing the engine on SwiftShader is covered by forward.test.ts and the chooseBackend unit tests.)
  it("auto skips the software adapter (SwiftShader): the first token comes from the CPU path without the GPU stall", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(site.url + "/", {waitUntil: "commit"});
    // Before: ~15 s of compiling on SwiftShader (30–50 s on a loaded machine) before the first token.
    const live = page.locator("[data-live]");
    await live.waitFor({timeout: 15_000});
    expect(await live.getAttribute("data-live")).toBe("cpu");
    expect(await page.locator("#observablehq-main").textContent()).toMatch(
      /WebGPU runs in software here .*slower than the CPU reference/,
    );
    expect(log.errors).toEqual([]);
    await page.close();
  });
});

describe("reading pages", () => {
  for (const path of READING) {
    it(`${path} loads cleanly, with and without WebGPU`, async () => {
      for (const webgpu of [true, false]) {
        const browser = await launch({webgpu});
        const page = await browser.newPage();
        const log = watch(page, site.url);
        await page.goto(site.url + path, {waitUntil: "networkidle"});
        expect(await page.locator("#observablehq-main h1").count()).toBe(1);
        expect(log.errors).toEqual([]);
        expect(log.failed).toEqual([]);
        expect(log.foreign).toEqual([]);
        await browser.close();
      }
    });
  }
});

describe("the page shell", () => {
  it("lets readers pinch-zoom (no maximum-scale in the viewport)", async () => {
    const browser = await launch({webgpu: false});
    const page = await browser.newPage();
    await page.goto(site.url + "/scaling", {waitUntil: "domcontentloaded"});
    expect(await page.locator('meta[name="viewport"]').getAttribute("content")).not.toMatch(
      /maximum-scale|user-scalable/,
    );
    await browser.close();
  });

  it("has a language, a labelled sidebar toggle and no serious axe violations anywhere on the cost page", async () => {
    const browser = await launch({webgpu: false});
    const page = await browser.newPage();
    await page.goto(site.url + "/scaling", {waitUntil: "networkidle"});
    expect(await page.locator("html").getAttribute("lang")).toBe("en");
    expect(await page.locator("#observablehq-sidebar-toggle").getAttribute("aria-label")).toBe("Toggle sidebar");
    expect(await axeViolations(page, site.url, "document")).toEqual([]);
    await browser.close();
  });
});

describe("without WebGPU", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch({webgpu: false});
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const path of paths) {
    it(`${path} says it falls back to the CPU reference and loads cleanly`, async () => {
      const page = await browser.newPage();
      const log = watch(page, site.url);
      await page.goto(site.url + path, {waitUntil: "networkidle"});
      const banner = page.locator("[data-webgpu]").first();
      await banner.waitFor({timeout: 60_000});
      expect(await banner.getAttribute("data-webgpu")).toBe("unavailable");
      expect(await banner.textContent()).toMatch(/CPU reference/);
      await page.waitForLoadState("networkidle");
      expect(log.errors).toEqual([]);
      expect(log.failed).toEqual([]);
      expect(log.foreign).toEqual([]);
      await page.close();
    });
  }
});
