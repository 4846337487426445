// Chapter 5 in Chromium: the page's greedy output equals the CLI's for the same prompt and model (on WebGPU via
// SwiftShader, and on the CPU fallback without WebGPU), Verify passes, the inspector draws, URL state round-trips,
// exercises reveal, axe finds nothing serious. Also the overview's live generation.
import {execFileSync} from "node:child_process";
import {existsSync, mkdirSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser, Page} from "playwright-core";
import {axeViolations, launch, watch} from "./browser.js";
import {serve} from "./server.js";

const shots = "test-results/screenshots";
const MODEL = "data/models/b1.58";
const PROMPT = "We the people";
const N = 6;

let site: Awaited<ReturnType<typeof serve>>;
let expected: number[];
beforeAll(async () => {
  if (!existsSync("dist/forward.html")) throw new Error("dist/ is missing: run `npm run build` first");
  if (!existsSync(`${MODEL}/model.safetensors`))
    throw new Error(`${MODEL} is missing: the shipped models are committed under data/models/`);
  mkdirSync(shots, {recursive: true});
  site = await serve("dist");
  const cli = JSON.parse(
    execFileSync(
      "node",
      ["bin/bitnet-lab.js", "generate", MODEL, "--prompt", PROMPT, "--max-tokens", String(N), "--json"],
      {encoding: "utf8"},
    ),
  );
  expected = cli.tokens;
  expect(expected.length).toBe(N);
});
afterAll(async () => {
  await site?.close();
});

const query = `?model=b1.58&prompt=${encodeURIComponent(PROMPT)}&tokens=${N}&compare=false&metric=sparsity&linear=down`;

async function finished(page: Page, index = 0): Promise<{state: string; ids: string; status: string}> {
  const stream = page.locator(".stream").nth(index);
  await page.waitForFunction(
    (i) => {
      const s = document.querySelectorAll(".stream")[i];
      return s && s.getAttribute("data-state") !== "running";
    },
    index,
    {timeout: 240_000},
  );
  return {
    state: (await stream.getAttribute("data-state")) ?? "",
    ids: (await stream.getAttribute("data-token-ids")) ?? "",
    status: (await stream.locator(".stream-status").textContent()) ?? "",
  };
}

describe("the forward pass page with WebGPU (SwiftShader)", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch({webgpu: true});
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("generates on the GPU exactly the CLI's greedy tokens, verifies, inspects, round-trips its URL", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    const log = watch(page, site.url);
    // backend=webgpu: "auto" skips a software adapter like SwiftShader for the CPU reference (chooseBackend)
    await page.goto(site.url + "/forward" + query + "&backend=webgpu", {waitUntil: "networkidle"});
    const run = await finished(page);
    expect(run.state).toBe("done");
    expect(run.status).toMatch(/WebGPU on/);
    expect(run.ids.split(",").map(Number)).toEqual(expected);

    // The URL carries the state in, and a changed control writes it back out.
    expect(await page.locator('.lab-control[data-param="tokens"] input').first().inputValue()).toBe(String(N));
    await page
      .locator('.lab-control[data-param="metric"] select')
      .first()
      .selectOption({label: "relative quantization error of the chosen projection's input"});
    await expect.poll(() => page.evaluate(() => location.search)).toMatch(/metric=error/);

    // The inspector drew one cell per layer and prompt token.
    expect(await page.locator("svg.heatmap rect").count()).toBeGreaterThan(8);
    // …from the GPU's inspection pass, checked against the CPU reference.
    expect(await page.locator(".stream").first().getAttribute("data-live")).toBe("webgpu");
    const check = page.locator('[data-check="gpu-cpu"]');
    await check.waitFor({timeout: 240_000});
    expect(await check.getAttribute("data-pass"), (await check.textContent()) ?? "").toBe("true");
    expect(await page.locator(".live-source").first().textContent()).toMatch(
      /Computed (on your GPU|with WebGPU on your CPU)/,
    );

    await page.locator("#verify-button").click();
    const verdict = page.locator(".verify-out [data-verdict]");
    await verdict.waitFor({timeout: 240_000});
    expect(await verdict.getAttribute("data-verdict"), (await verdict.textContent()) ?? "").toBe("pass");

    // Exercise 2: the zero share of the W_down input, revealed from the live trace.
    const ex = page.locator(".exercise").nth(1);
    await ex.locator('input[type="number"]').fill("50");
    await ex.getByRole("button", {name: /lock in/i}).click();
    await ex.getByRole("button", {name: /reveal/i}).click();
    await expect.poll(() => ex.getAttribute("data-state")).toBe("revealed");

    expect(await axeViolations(page, site.url)).toEqual([]);
    await page.screenshot({path: `${shots}/forward.png`, fullPage: true});
    expect(log.errors).toEqual([]);
    expect(log.failed).toEqual([]);
    expect(log.foreign).toEqual([]);
    await page.close();
  });

  it("the overview generates live on the first screen", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    const log = watch(page, site.url);
    await page.goto(site.url + "/", {waitUntil: "networkidle"});
    const run = await finished(page);
    expect(run.state).toBe("done");
    expect((await page.locator(".stream").first().getAttribute("data-output"))?.length).toBeGreaterThan(10);
    await page.screenshot({path: `${shots}/overview-live.png`});
    expect(log.errors).toEqual([]);
    await page.close();
  });
});

describe("the forward pass page without WebGPU", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launch({webgpu: false});
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("falls back to the CPU reference, says so, and still gives the CLI's tokens", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(site.url + "/forward" + query, {waitUntil: "networkidle"});
    expect(await page.locator("[data-webgpu]").first().getAttribute("data-webgpu")).toBe("unavailable");
    const run = await finished(page);
    expect(run.status).toMatch(/CPU reference/);
    expect(run.ids.split(",").map(Number)).toEqual(expected);
    await page.locator("#verify-button").click();
    await expect.poll(() => page.locator(".verify-out [data-verdict]").getAttribute("data-verdict")).toBe("skipped");
    expect(log.errors).toEqual([]);
    await page.close();
  });
});
