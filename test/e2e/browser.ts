// Headless Debian Chromium driven by playwright-core, with WebGPU on SwiftShader (no GPU needed).
import {chromium, type Browser, type Page} from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const BASE_FLAGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"];
const WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-vulkan=swiftshader",
  "--use-webgpu-adapter=swiftshader", "--enable-unsafe-swiftshader"];

export async function launch({webgpu = true} = {}): Promise<Browser> {
  // playwright-core gives every launch a fresh temporary --user-data-dir of its own.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...BASE_FLAGS, ...(webgpu ? WEBGPU_FLAGS : ["--disable-features=Vulkan", "--disable-unsafe-webgpu"])],
  });
}

export interface PageLog {
  errors: string[]; // console errors and uncaught exceptions
  failed: string[]; // failed requests and HTTP errors
  foreign: string[]; // requests to any host but the local server
}

/** Records everything that would show a broken or leaky page. */
export function watch(page: Page, origin: string): PageLog {
  const log: PageLog = {errors: [], failed: [], foreign: []};
  page.on("console", (m) => { if (m.type() === "error") log.errors.push(m.text()); });
  page.on("pageerror", (e) => log.errors.push(`uncaught: ${e.message}`));
  page.on("requestfailed", (r) => log.failed.push(`${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => { if (r.status() >= 400) log.failed.push(`${r.url()} (HTTP ${r.status()})`); });
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith("data:") && !u.startsWith("blob:")) log.foreign.push(u);
  });
  return log;
}

import {readFileSync} from "node:fs";
import {createRequire} from "node:module";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's serious and critical violations (WCAG 2.1 A/AA + best practice) in the page's main content, or in the whole document (Framework's shell too),
 *  as "rule: help (n nodes)" lines. axe is injected from node_modules through a routed local URL (the CSP
 *  allows only the site's own origin). */
export async function axeViolations(page: Page, origin: string, scope: "main" | "document" = "main"): Promise<string[]> {
  await page.route("**/__axe.min.js", (route) => route.fulfill({contentType: "text/javascript", body: AXE_SOURCE}));
  await page.addScriptTag({url: `${origin}/__axe.min.js`});
  const result = await page.evaluate(async (whole) => {
    const axe = (window as unknown as {axe: {run(ctx: unknown, opts: unknown): Promise<{violations: {id: string; impact: string; help: string; nodes: unknown[]}[]}>}}).axe;
    return axe.run(whole ? document : {include: [["#observablehq-main"]]}, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
  }, scope === "document");
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.length} nodes: ${v.nodes.slice(0, 3).map((n) => JSON.stringify((n as {target: unknown}).target)).join(", ")})`);
}
