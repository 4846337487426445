// The kernel lab on WebGPU (SwiftShader here, "quick" shapes): it runs on the page's device, places every kernel on the
// roofline with a correctness verdict, checks each GEMV variant against the CPU reference, sets the cost model's
// tokens/s next to the measured ones, and offers the whole report as JSON. Without WebGPU it says so.
import {existsSync, readFileSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import {axeViolations, launch, watch} from "./browser.js";
import {serve} from "./server.js";

let site: Awaited<ReturnType<typeof serve>>;
beforeAll(async () => {
  if (!existsSync("dist/kernel-lab.html")) throw new Error("dist/ is missing: run `npm run build` first");
  site = await serve("dist");
});
afterAll(async () => {
  await site?.close();
});

describe("kernel lab", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch({webgpu: true});
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("runs on the reader's GPU: roofline, a PASS per GEMV variant and per issue-25 kernel, predicted vs measured tokens/s, JSON download", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    const log = watch(page, site.url);
    await page.goto(`${site.url}/kernel-lab?size=quick`);
    const run = page.locator("#lab-run");
    await run.waitFor();
    // keyboard only: focus the button and press Enter
    await run.focus();
    await page.keyboard.press("Enter");
    await page.locator('[data-figure="roofline"]').waitFor({timeout: 480_000});
    // Issue 24: the roofline reads — a legend entry per kind of kernel, distinct symbols, no pile of point labels
    const fig = page.locator('[data-figure="roofline"]');
    const legend = await fig.evaluate((f) =>
      [...f.querySelectorAll("[class$='-swatch'], [class*='-swatch ']")].map((e) => e.textContent?.trim() ?? ""),
    );
    for (const kind of ["copy ceiling", "ternary GEMV", "dense GEMV"])
      expect(legend.join("|"), legend.join("|")).toContain(kind);
    expect(legend.length).toBeGreaterThanOrEqual(4);
    const overlaps = await fig.evaluate((f) => {
      const boxes = [...f.querySelectorAll("svg text")]
        .map((t) => t.getBoundingClientRect())
        .filter((r) => r.width > 0);
      let n = 0;
      for (let i = 0; i < boxes.length; i++)
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i],
            b = boxes[j];
          if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) n++;
        }
      return n;
    });
    expect(overlaps).toBe(0);
    await page.screenshot({path: "test-results/screenshots/kernel-lab-roofline.png", fullPage: true});
    const table = (name: string) => page.locator(`table[data-table="${name}"] tbody tr`);
    const roofRows = await table("roofline").allTextContents();
    expect(roofRows.some((r) => /copy/.test(r))).toBe(true);
    expect(roofRows.filter((r) => /ternary stack/.test(r)).length).toBeGreaterThanOrEqual(3);
    expect(roofRows.some((r) => /dense f16/.test(r))).toBe(true);
    expect(roofRows.some((r) => /whole decode step/.test(r))).toBe(true);
    expect(roofRows.join("\n")).not.toMatch(/FAIL/);
    for (const c of await table("selfcheck").allTextContents()) expect(c).toMatch(/PASS$/);
    const variants = await table("variants").allTextContents();
    expect(variants.length).toBeGreaterThanOrEqual(5);
    for (const v of variants) expect(v).toMatch(/PASS$/);
    // issue 25's decode kernels: one row per entry of ISSUE25_CHECKS, each PASS against its baseline
    const checks = await table("issue25").allTextContents();
    expect(checks.length).toBe(9);
    for (const name of [
      "div127",
      "attention combine",
      "prologue fused",
      "softmax trees",
      "the output",
      "RoPE",
      "normStats",
      "in-block FWHT",
      "tiled prefill GEMM",
    ])
      expect(
        checks.some((c) => c.includes(name)),
        name,
      ).toBe(true);
    const cells = await page
      .locator('table[data-table="issue25"] tbody tr')
      .evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll("th, td")].map((c) => c.textContent ?? "")));
    for (const row of cells) {
      expect(row[3], row.join(" | ")).toMatch(/^0 of [1-9]\d* /); // outputs that differ: none of a nonzero count
      expect(row[5], row.join(" | ")).toBe("PASS");
    }
    expect(await page.locator('[data-checks="pass"]').count()).toBe(1);
    const tps = await table("tokens").allTextContents();
    expect(tps.length).toBeGreaterThan(0);
    // the download is the whole report
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#lab-download").click()]);
    expect(download.suggestedFilename()).toMatch(/^bitnet-lab-kernels-.*\.json$/);
    const rep = JSON.parse(readFileSync((await download.path())!, "utf8"));
    expect(rep.tool).toBe("BitNet Lab kernel lab");
    expect(rep.bench.copy.GBps).toBeGreaterThan(0);
    expect(rep.roofline.length).toBe(roofRows.length);
    expect(rep.variants.every((v: {pass: boolean}) => v.pass)).toBe(true);
    expect(rep.kernelChecks.map((c: {pass: boolean}) => c.pass)).toEqual(Array(9).fill(true));
    expect(await axeViolations(page, site.url)).toEqual([]);
    expect(log.errors).toEqual([]);
    await page.close();
  }, 600_000);

  it("says in words that a software adapter is a CPU emulation, before anything runs (issue 24)", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    await page.goto(`${site.url}/kernel-lab`);
    await page.locator("#lab-run").waitFor();
    expect(await page.locator("[data-software-adapter]").textContent()).toMatch(
      /software renderer that emulates a GPU on your CPU/,
    );
    expect(await page.locator("#lab-run").textContent()).toMatch(/emulated on your CPU/);
    expect(await page.locator("[data-webgpu]").first().textContent()).toMatch(/software renderer on your CPU/);
    await page.close();
  });

  it("fits a 375 px screen and every control is reachable by keyboard with a visible focus ring", async () => {
    const page = await browser.newPage({viewport: {width: 375, height: 800}});
    await page.goto(`${site.url}/kernel-lab`);
    await page.locator("#lab-run").waitFor();
    expect(
      await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth),
    ).toBeLessThanOrEqual(1);
    // Tab from the top reaches the shapes menu and the run button; each shows an outline when focused
    const seen = new Set<string>();
    for (let i = 0; i < 60 && !(seen.has("lab-run") && seen.has("size")); i++) {
      await page.keyboard.press("Tab");
      const f = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        if (!el) return null;
        return {
          id: el.id === "lab-run" ? el.id : (el.closest("[data-param]")?.getAttribute("data-param") ?? el.tagName),
          outline: getComputedStyle(el).outlineStyle,
        };
      });
      if (f && (f.id === "lab-run" || f.id === "size")) {
        expect(f.outline, f.id).not.toBe("none");
        seen.add(f.id);
      }
    }
    expect([...seen].sort()).toEqual(["lab-run", "size"]);
    await page.close();
  });

  it("without WebGPU says the lab needs it", async () => {
    const nogpu = await launch({webgpu: false});
    const page = await nogpu.newPage();
    await page.goto(`${site.url}/kernel-lab`);
    await page.locator('[data-live="cpu"]').waitFor();
    expect(await page.locator('[data-live="cpu"]').textContent()).toMatch(/no WebGPU/);
    await nogpu.close();
  });
});
