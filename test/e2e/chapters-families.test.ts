// The chapters on checkpoints of other families, kept from the Open page (real Chromium, WebGPU on SwiftShader): a
// llama.cpp TQ2_0 GGUF (no tokenizer: the prompt's bytes) draws the ternary chapter from its own codes and generates
// on the forward chapter, both checked against the CPU reference; the Qwen3-body embedding model gets the forward
// inspector (GPU = CPU) but a refusal instead of generation, and the Hadamard chapter says its rotation is for
// illustration. The numbers per family are test/unit/chapters-families.test.ts and test/gpu/chapters-families.test.ts.
import {existsSync, readFileSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser, Page} from "playwright-core";
import {launch, watch, dropFiles, openSettled} from "./browser.js";
import {serve} from "./server.js";
import {tensorNames} from "../../src/lib/config.js";
import {pct} from "../../src/lib/chapters/format.js";
import {chapterTernary} from "../../src/lib/chapters/opened-model.js";
import {ternaryShares} from "../../src/lib/chapters/ternary.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {pathFileSet} from "../../src/node/files.js";

let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync("dist/open.html")) throw new Error("dist/ is missing: run `npm run build` first");
  site = await serve("dist");
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

const FX = "data/fixtures";

async function keep(page: Page): Promise<void> {
  await openSettled(page);
  expect(await page.getAttribute("#drop-zone", "data-state")).toBe("ready");
  await page.click("#open-keep");
  await page.waitForFunction(() =>
    /Kept in this browser/.test(document.querySelector(".open-keep")?.textContent ?? ""),
  );
}

/** Goes to a chapter and sweeps down through it, again and again (a cell waiting on visibility() may appear anywhere
 *  once the kept model has loaded), until `ready` is there. */
async function chapter(page: Page, path: string, ready: string): Promise<void> {
  await page.goto(`${site.url}${path}`);
  const target = page.locator(ready).first();
  const until = Date.now() + 200_000;
  for (let i = 0; !(await target.count()); i++) {
    if (Date.now() > until) {
      // the cell errors the page shows say why the view never came
      const shown = await page.locator(".observablehq--error").allTextContents();
      throw new Error(`${path}: ${ready} not drawn; the page shows: ${shown.join(" | ") || "no error"}`);
    }
    await page.evaluate((k) => window.scrollTo(0, (k * 700) % Math.max(1, document.body.scrollHeight)), i);
    await page.waitForTimeout(250);
  }
}

async function gpuCheckPasses(page: Page): Promise<void> {
  const check = page.locator('[data-check="gpu-cpu"]').first();
  await check.waitFor({timeout: 120_000});
  expect(await check.getAttribute("data-pass")).toBe("true");
}

describe("the chapters on models of other families (kept from the Open page)", () => {
  it("a TQ2_0 GGUF without a tokenizer: the ternary chapter counts its own codes, the forward chapter generates", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await dropFiles(page, {"fam-gguf-tq2_0.gguf": readFileSync(`${FX}/fam-gguf-tq2_0.gguf`)});
    await keep(page);

    await chapter(page, "/ternary?model=opened&layer=1&matrix=down&backend=webgpu", '[data-check="matvec"]');
    const w = await (await openCheckpoint(await pathFileSet(`${FX}/fam-gguf-tq2_0.gguf`))).load();
    const s = ternaryShares(chapterTernary(w, tensorNames.layer(1).down).codes);
    expect(await page.locator('[data-stat="zero-share"] dd').textContent()).toBe(pct(s.zero / s.total));
    expect(await page.locator("figure:has(svg.ternary-shares)").first().textContent()).toMatch(
      /your checkpoint.*fam-gguf-tq2_0\.gguf/,
    );
    // the counted add/subtract product equals the GPU forward's output for that row
    expect(await page.locator('[data-check="matvec"]').getAttribute("class")).toMatch(/\bok\b/);
    await gpuCheckPasses(page);

    await chapter(
      page,
      "/forward?model=opened&prompt=the%20state&tokens=3&compare=false&backend=webgpu",
      "svg.heatmap",
    );
    await page.waitForFunction(
      () => document.querySelector(".stream")?.getAttribute("data-state") !== "running",
      null,
      {
        timeout: 240_000,
      },
    );
    expect(await page.getAttribute(".stream", "data-state")).toBe("done");
    expect((await page.getAttribute(".stream", "data-token-ids"))!.split(",").length).toBeGreaterThan(0);
    await gpuCheckPasses(page);
    expect(log.errors).toEqual([]);
    await page.close();
  });

  it("the Qwen3-body embedding model: inspector on the GPU = CPU, generation refused in words, Hadamard for illustration", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await page.setInputFiles("#open-folder", `${FX}/fam-qwen3-embedding`);
    await keep(page);

    await chapter(
      page,
      "/forward?model=opened&prompt=the%20state&tokens=3&compare=false&backend=webgpu",
      "svg.heatmap",
    );
    expect(await page.getAttribute(".stream", "data-state")).toBe("refused");
    expect(await page.textContent(".stream")).toMatch(/This is an embedding model.*no generation to show/);
    await gpuCheckPasses(page);

    await chapter(page, "/hadamard?model=opened&layer=1&site=down&backend=webgpu", '[data-figure="hadamard"]');
    expect(await page.getAttribute('[data-figure="hadamard"]', "data-rotation")).toBe("illustration");
    expect(await page.textContent('[data-figure="hadamard"]')).toMatch(/applied on this page for illustration/);
    await gpuCheckPasses(page);
    expect(log.errors).toEqual([]);
    await page.close();
  });
});
