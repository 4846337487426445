// Issue 22 faults: the GPU device lost in the middle of training (the worker's tfjs WebGPU backend: before, the
// run stopped with the driver's "Failed to execute 'mapAsync' on 'GPUBuffer'…"), and two tabs training at once
// in one profile (before, both autosaved into one IndexedDB slot: the tab that saved last took the other's run).
// Device loss mid-generation is test/e2e/device-loss.test.ts.
import {execFileSync} from "node:child_process";
import {existsSync, mkdtempSync, readFileSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {parseGGUF} from "../../src/lib/formats/gguf.js";
import {memorySource} from "../../src/lib/formats/source.js";
import {afterAll, beforeAll, expect, it} from "vitest";
import type {Browser, Page} from "playwright-core";
import {CHROMIUM, launch, watch, dropFiles, openSettled} from "./browser.js";
import {serve} from "./server.js";

const dist = process.env.E2E_DIST ?? "dist";
let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
beforeAll(async () => {
  if (!existsSync(`${dist}/train.html`)) throw new Error(`${dist}/ is missing: run \`npm run build\` first`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing`);
  site = await serve(dist);
  browser = await launch({webgpu: true});
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

const dash = (page: Page) => page.locator(".train-dashboard");
async function ready(page: Page, query: string): Promise<void> {
  await page.goto(`${site.url}/train?${query}`, {waitUntil: "load"});
  await page
    .locator(".train-dashboard[data-state=ready], .train-dashboard[data-state=paused]")
    .waitFor({timeout: 120_000});
}
async function startAndWait(page: Page, step: number): Promise<void> {
  await page
    .getByRole("button", {name: /Start training|Resume/})
    .first()
    .click();
  await page.waitForFunction(
    (s) => Number(document.querySelector(".train-dashboard")?.getAttribute("data-step")) >= s,
    step,
    {timeout: 180_000},
  );
}

it("device lost mid-training (tfjs WebGPU in the worker): the run stops at once in plain words, and a reload offers its autosave", async () => {
  const page = await browser.newPage({viewport: {width: 1100, height: 900}});
  const log = watch(page, site.url);
  await ready(page, "size=tiny&backend=webgpu&steps=400");
  await startAndWait(page, 1);
  await page.waitForTimeout(12_000); // past the first autosave (every 10 s while training)
  const worker = page.workers()[0];
  // tfjs keeps its engine on the worker's global (_tfengine); destroying its device is what a driver reset does.
  const destroyed = await worker.evaluate(() => {
    const e = (globalThis as unknown as {_tfengine?: {backendName?: string; backend?: {device?: GPUDevice}}})._tfengine;
    e?.backend?.device?.destroy();
    return e?.backendName ?? "none";
  });
  expect(destroyed).toBe("webgpu");
  // It stops at once, in plain words (before: the driver's "Failed to execute 'mapAsync' on 'GPUBuffer'…").
  await page.locator(".train-dashboard[data-state=error]").waitFor({timeout: 60_000});
  const status = (await dash(page).locator(".train-status").textContent()) ?? "";
  expect(status).toMatch(
    /^Stopped: the GPU was reset .* at step \d+, so training stopped\. Reload the page to go on with a fresh device: it offers to resume/,
  );
  expect(status).not.toMatch(/mapAsync|GPUBuffer|Failed to execute/);
  expect(log.errors).toEqual([]);
  // A reload offers the autosaved run.
  await page.reload({waitUntil: "load"});
  await page.locator(".resume-offer").waitFor({timeout: 60_000});
  await page.close();
}, 400_000);

it("two tabs training at once: both progress without errors, and each keeps its own autosaved run", async () => {
  const ctx = await browser.newContext({viewport: {width: 1100, height: 900}}); // one profile: shared IndexedDB
  const a = await ctx.newPage();
  const b = await ctx.newPage();
  const la = watch(a, site.url);
  const lb = watch(b, site.url);
  await ready(a, "size=tiny&backend=cpu&steps=400&seed=1");
  await ready(b, "size=tiny&backend=cpu&steps=400&seed=2");
  await startAndWait(a, 1);
  await startAndWait(b, 1);
  const steps = async () => [
    Number(await dash(a).getAttribute("data-step")),
    Number(await dash(b).getAttribute("data-step")),
  ];
  const s0 = await steps();
  await a.waitForTimeout(8_000);
  const s1 = await steps();
  expect(s1[0], `A ${s0[0]} → ${s1[0]}`).toBeGreaterThan(s0[0]);
  expect(s1[1], `B ${s0[1]} → ${s1[1]}`).toBeGreaterThan(s0[1]);
  // A pauses (autosave), then B (autosave last): with one shared slot, A's reload offered B's run (seed 2).
  for (const p of [a, b]) {
    await p.getByRole("button", {name: "Pause"}).first().click();
    await p.waitForFunction(
      () => {
        const d = document.querySelector(".train-dashboard");
        return (
          d?.getAttribute("data-state") === "paused" &&
          d.getAttribute("data-saved-step") === d.getAttribute("data-step")
        );
      },
      undefined,
      {timeout: 120_000},
    );
  }
  expect([la.errors, lb.errors]).toEqual([[], []]);
  for (const [p, seed] of [
    [a, 1],
    [b, 2],
  ] as const) {
    await p.reload({waitUntil: "load"});
    const offer = p.locator(".resume-offer");
    await offer.waitFor({timeout: 60_000});
    expect(await offer.textContent()).toContain(`seed ${seed};`);
  }
  await ctx.close();
}, 400_000);

it("/open: a GGUF with an I2_S scale of 3e38 is flagged by name and refused with the position (was: Ready, then <pad>)", async () => {
  const tmp = mkdtempSync(join(tmpdir(), "bl-faults-"));
  try {
    const path = join(tmp, "m.gguf");
    execFileSync("node", ["bin/bitnet-lab.js", "convert", "data/fixtures/hf-packed", "--to", "gguf", "--out", path]);
    const bytes = new Uint8Array(readFileSync(path));
    const h = await parseGGUF(memorySource(bytes));
    const t = h.tensors.find((x) => x.name === "blk.0.ffn_down.weight")!;
    new DataView(bytes.buffer).setFloat32(h.dataOffset + t.offset + t.n / 4, 3e38, true);
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await dropFiles(page, {"m.gguf": Buffer.from(bytes)});
    await openSettled(page);
    expect(await page.textContent(".format-inspection")).toMatch(
      /blk\.0\.ffn_down\.weight = 3\.00e\+38 \(\S+× above the median\)/,
    );
    // Before: "Ready", and generating printed <pad>. Now the page's own check on the engine refuses it.
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("error");
    expect(await page.textContent("[role=alert]")).toMatch(
      /the model's logits at position 0 are not finite .* on the WebGPU engine/,
    );
    expect(log.errors).toEqual([]);
    await page.close();
  } finally {
    rmSync(tmp, {recursive: true, force: true});
  }
}, 400_000);
