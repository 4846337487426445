// Page soaks (issue 22): the built site in headless Chromium (WebGPU on SwiftShader) for M minutes, memory
// sampled every S seconds — the page's JS heap and DOM nodes (CDP Performance.getMetrics) and the RSS of the
// whole browser (every process under this launch: renderer, GPU process, the training worker's renderer).
//   open:  the /open page with transformers' packed fixture dropped, generating 48 tokens at a time, again and again
//   train: the Train page training (size=tiny, backend as given) without stopping
//   npm run build && nice npx tsx bench/soak-page.ts open|train [--minutes 5] [--every 15] [--backend cpu]
// Writes bench/results/soak-page-<page>.json.
import {execFileSync} from "node:child_process";
import {readFileSync, writeFileSync} from "node:fs";
import {parseArgs} from "node:util";
import type {Page} from "playwright-core";
import {launch} from "../test/e2e/browser.js";
import {serve} from "../test/e2e/server.js";

const {values: a, positionals} = parseArgs({
  allowPositionals: true,
  options: {
    minutes: {type: "string", default: "5"},
    every: {type: "string", default: "15"},
    backend: {type: "string", default: "cpu"},
    dist: {type: "string", default: "dist"},
  },
});
const which = positionals[0];
if (which !== "open" && which !== "train")
  throw new Error("usage: bench/soak-page.ts open|train [--minutes M] [--every S]");
const minutes = Number(a.minutes);
const every = Number(a.every) * 1000;
const tag = `--bitnet-soak-${process.pid}`; // finds this launch's browser process among others on the machine

/** RSS (MB) of the browser process carrying `tag` and all its descendants. */
function browserRssMB(): number {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid=,rss=,args="], {encoding: "utf8", maxBuffer: 1 << 24})
    .trim()
    .split("\n")
    .map((l) => {
      const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(l)!;
      return {pid: +m[1], ppid: +m[2], rss: +m[3], args: m[4]};
    });
  const root = rows.find((r) => r.args.includes(tag) && !r.args.includes("--type="));
  if (!root) return NaN;
  const tree = new Set([root.pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rows) if (!tree.has(r.pid) && tree.has(r.ppid)) tree.add(r.pid), (grew = true);
  }
  return +(rows.filter((r) => tree.has(r.pid)).reduce((s, r) => s + r.rss, 0) / 1024).toFixed(1);
}

const site = await serve(a.dist!);
const browser = await launch({webgpu: true, args: [tag]});
const page = await browser.newPage({viewport: {width: 1100, height: 900}});
const errors: string[] = [];
page.on("pageerror", (e) => errors.push(e.message));
page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
const cdp = await page.context().newCDPSession(page);
await cdp.send("Performance.enable");
interface Sample {
  seconds: number;
  work: number;
  heapMB: number;
  nodes: number;
  browserRssMB: number;
}
const samples: Sample[] = [];
const t0 = Date.now();
let work = 0; // tokens generated (open) or steps trained (train)
async function sample(): Promise<void> {
  await cdp.send("HeapProfiler.collectGarbage").catch(() => undefined);
  const {metrics} = await cdp.send("Performance.getMetrics");
  const m = (n: string) => metrics.find((x) => x.name === n)?.value ?? NaN;
  const s = {
    seconds: Math.round((Date.now() - t0) / 1000),
    work,
    heapMB: +(m("JSHeapUsedSize") / 2 ** 20).toFixed(1),
    nodes: m("Nodes"),
    browserRssMB: browserRssMB(),
  };
  samples.push(s);
  console.error(
    `${String(s.seconds).padStart(5)} s  ${which === "open" ? "tokens" : "steps"} ${String(work).padStart(6)}  heap ${s.heapMB} MB  nodes ${s.nodes}  browser rss ${s.browserRssMB} MB`,
  );
}

async function openPage(p: Page): Promise<() => Promise<void>> {
  await p.goto(`${site.url}/open`);
  await p.waitForSelector("#drop-zone[data-state=empty]");
  const files = ["config.json", "model.safetensors"].map((n) => [
    n,
    readFileSync(`data/fixtures/hf-packed/${n}`).toString("base64"),
  ]);
  await p.evaluate((list) => {
    const dt = new DataTransfer();
    for (const [name, b64] of list) {
      const bin = atob(b64);
      const u = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
      dt.items.add(new File([u], name));
    }
    const zone = document.querySelector("#drop-zone")!;
    zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
    zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
  }, files);
  await p.waitForSelector("#drop-zone[data-state=ready]", {timeout: 240_000});
  await p.fill("#open-prompt", "1 5 77");
  await p.fill("#open-tokens", "48");
  return async () => {
    await p.click("#open-generate");
    await p.waitForFunction(
      () => ["done", "error"].includes(document.querySelector(".open-output")?.getAttribute("data-state") ?? ""),
      null,
      {timeout: 240_000},
    );
    if ((await p.getAttribute(".open-output", "data-state")) !== "done")
      throw new Error(`generation failed: ${await p.textContent(".open-output")}`);
    work += (await p.getAttribute(".open-output", "data-token-ids"))!.split(",").length;
  };
}

async function trainPage(p: Page): Promise<() => Promise<void>> {
  await p.goto(`${site.url}/train?size=tiny&backend=${a.backend}&steps=2000`, {waitUntil: "load"});
  await p.locator(".train-dashboard[data-state=ready]").waitFor({timeout: 120_000});
  await p.getByRole("button", {name: "Start training"}).click();
  return async () => {
    await p.waitForTimeout(1000);
    if ((await p.locator(".train-dashboard").getAttribute("data-state")) !== "running")
      throw new Error(`training stopped: ${await p.locator(".train-status").textContent()}`);
    work = Number(await p.locator(".train-dashboard").getAttribute("data-step"));
  };
}

const step = which === "open" ? await openPage(page) : await trainPage(page);
await sample();
let next = Date.now() + every;
while (Date.now() - t0 < minutes * 60_000) {
  await step();
  if (Date.now() >= next) {
    await sample();
    next += every;
  }
}
await sample();
const first = samples[1] ?? samples[0];
const last = samples.at(-1)!;
const out = `bench/results/soak-page-${which}.json`;
writeFileSync(
  out,
  JSON.stringify(
    {
      page: which,
      backend: which === "train" ? a.backend : "webgpu (SwiftShader)",
      minutes,
      work,
      errors,
      heapGrowthMB: +(last.heapMB - first.heapMB).toFixed(1),
      browserRssGrowthMB: +(last.browserRssMB - first.browserRssMB).toFixed(1),
      samples,
    },
    null,
    2,
  ) + "\n",
);
console.error(
  `${which}: ${work} ${which === "open" ? "tokens" : "steps"} in ${last.seconds} s; heap ${first.heapMB} → ${last.heapMB} MB, browser rss ${first.browserRssMB} → ${last.browserRssMB} MB; errors ${errors.length}; wrote ${out}`,
);
await browser.close();
await site.close();
