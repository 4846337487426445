// Issue 12 item 6: the GPU device destroyed in the middle of a generation. The forward page must carry on — on a new
// device, or on the CPU reference — say so in plain words (no driver text, no "call rebuild()"), and still produce the
// CLI's greedy tokens; a later run on the page works too.
import {execFileSync} from "node:child_process";
import {existsSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import {launch, watch} from "./browser.js";
import {serve} from "./server.js";

const MODEL = "data/models/b1.58";
const PROMPT = "We the people";
const N = 24;
let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
let expected: number[];

beforeAll(async () => {
  if (!existsSync("dist/forward.html")) throw new Error("dist/ is missing: run `npm run build` first");
  site = await serve("dist");
  browser = await launch({webgpu: true});
  expected = JSON.parse(
    execFileSync(
      "node",
      ["bin/bitnet-lab.js", "generate", MODEL, "--prompt", PROMPT, "--max-tokens", String(N), "--json"],
      {encoding: "utf8"},
    ),
  ).tokens;
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

describe("device loss in the browser", () => {
  it("device.destroy() mid-generation: the page recovers by itself, tells the reader plainly, keeps the tokens", async () => {
    const page = await browser.newPage({viewport: {width: 1200, height: 900}});
    const log = watch(page, site.url);
    // keep a handle on every device the page opens (the test's only hook; the page has none)
    await page.addInitScript(() => {
      const w = window as unknown as {__devices: GPUDevice[]};
      w.__devices = [];
      const proto = (globalThis as unknown as {GPUAdapter?: {prototype: GPUAdapter}}).GPUAdapter?.prototype;
      if (!proto) return;
      const orig = proto.requestDevice;
      proto.requestDevice = async function (this: GPUAdapter, ...a: Parameters<GPUAdapter["requestDevice"]>) {
        const d = await orig.apply(this, a);
        w.__devices.push(d);
        return d;
      };
    });
    await page.goto(
      `${site.url}/forward?backend=webgpu&model=b1.58&prompt=${encodeURIComponent(PROMPT)}&tokens=${N}&compare=false`,
    );
    const stream = page.locator(".stream").first();
    await page.waitForFunction(
      () => (document.querySelector(".stream")?.querySelectorAll(".tok").length ?? 0) >= 3,
      null,
      {timeout: 300_000},
    );
    expect(await stream.getAttribute("data-live")).toBe("webgpu");
    const destroyed = await page.evaluate(() => {
      const w = window as unknown as {__devices: GPUDevice[]};
      for (const d of w.__devices) d.destroy();
      return w.__devices.length;
    });
    expect(destroyed).toBeGreaterThan(0);
    await page.waitForFunction(
      () => document.querySelector(".stream")?.getAttribute("data-state") !== "running",
      null,
      {timeout: 300_000},
    );
    const text = (await stream.textContent()) ?? "";
    expect(await stream.getAttribute("data-state")).toBe("done");
    expect(["gpu", "cpu"]).toContain(await stream.getAttribute("data-recovered"));
    expect(await stream.locator(".stream-notice").textContent()).toMatch(
      /Your GPU stopped working for this page.*carried on/,
    );
    expect(text).not.toMatch(/rebuild|mapAsync|unmapped|Dawn|DeviceLostError/i);
    // greedy decoding resumed from the tokens it had: the same text as the CLI
    expect((await stream.getAttribute("data-token-ids"))!.split(",").map(Number)).toEqual(expected);
    // and the page keeps working: a new run on the same page (another prompt) completes
    await page.locator('.lab-control[data-param="tokens"] input').first().fill("4");
    await page.locator('.lab-control[data-param="tokens"] input').first().dispatchEvent("input");
    await page.waitForFunction(
      () => {
        const s = document.querySelector(".stream");
        return (
          s &&
          s.getAttribute("data-state") === "done" &&
          (s.getAttribute("data-token-ids") ?? "").split(",").length === 4
        );
      },
      null,
      {timeout: 300_000},
    );
    expect(log.errors.filter((e) => !/device|GPU/i.test(e))).toEqual([]);
    await page.close();
  }, 900_000);
});
