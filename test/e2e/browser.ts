// Headless Debian Chromium driven by playwright-core, with WebGPU on SwiftShader (no GPU needed).
import {chromium, type Browser, type Page} from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const BASE_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-dev-shm-usage",
];
const WEBGPU_FLAGS = [
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-vulkan=swiftshader",
  "--use-webgpu-adapter=swiftshader",
  "--enable-unsafe-swiftshader",
];

export async function launch({webgpu = true, args = [] as string[]} = {}): Promise<Browser> {
  // playwright-core gives every launch a fresh temporary --user-data-dir of its own.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...BASE_FLAGS,
      ...(webgpu ? WEBGPU_FLAGS : ["--disable-features=Vulkan", "--disable-unsafe-webgpu"]),
      ...args,
    ],
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
  page.on("console", (m) => {
    if (m.type() === "error") log.errors.push(m.text());
  });
  page.on("pageerror", (e) => log.errors.push(`uncaught: ${e.message}`));
  page.on("requestfailed", (r) => log.failed.push(`${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => {
    if (r.status() >= 400) log.failed.push(`${r.url()} (HTTP ${r.status()})`);
  });
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith("data:") && !u.startsWith("blob:")) log.foreign.push(u);
  });
  return log;
}

import {readFileSync} from "node:fs";
import {createRequire} from "node:module";

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's serious and critical violations (with minImpact "moderate", the moderate ones too: heading levels,
 *  landmarks) (WCAG 2.1 A/AA + best practice) in the page's main content, or in the whole document (Framework's shell too),
 *  as "rule: help (n nodes)" lines. axe is injected from node_modules through a routed local URL (the CSP
 *  allows only the site's own origin). */
export async function axeViolations(
  page: Page,
  origin: string,
  scope: "main" | "document" = "main",
  minImpact: "serious" | "moderate" = "serious",
): Promise<string[]> {
  await page.route("**/__axe.min.js", (route) => route.fulfill({contentType: "text/javascript", body: AXE_SOURCE}));
  await page.addScriptTag({url: `${origin}/__axe.min.js`});
  const result = await page.evaluate(async (whole) => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            ctx: unknown,
            opts: unknown,
          ): Promise<{violations: {id: string; impact: string; help: string; nodes: unknown[]}[]}>;
        };
      }
    ).axe;
    return axe.run(whole ? document : {include: [["#observablehq-main"]]}, {
      runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
    });
  }, scope === "document");
  return result.violations
    .filter(
      (v) => v.impact === "serious" || v.impact === "critical" || (minImpact === "moderate" && v.impact === "moderate"),
    )
    .map(
      (v) =>
        `${v.id}: ${v.help} (${v.nodes.length} nodes: ${v.nodes
          .slice(0, 3)
          .map((n) => JSON.stringify((n as {target: unknown}).target))
          .join(", ")})`,
    );
}

/** Phone and keyboard (issue 14): every visible, enabled control in the page's main content that Tab does not reach,
 *  or that shows no focus ring when it does (radio groups count once). An empty list is a pass. */
export async function keyboardGaps(page: Page): Promise<string[]> {
  const ids = await page.evaluate(() => {
    const seen = new Set<string>();
    return [
      ...document.querySelectorAll<HTMLElement>(
        '#observablehq-main :is(a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"]))',
      ),
    ]
      .filter((e, i) => {
        e.dataset.kbd = String(i);
        const radio = e instanceof HTMLInputElement && e.type === "radio" ? e.name : "";
        if (
          (e as HTMLInputElement).disabled ||
          e.closest("[inert]") ||
          !e.checkVisibility({visibilityProperty: true}) ||
          (radio && seen.has(radio))
        )
          return false;
        if (radio) seen.add(radio);
        return true;
      })
      .map((e) => e.dataset.kbd!);
  });
  const ok = new Set<string>();
  const noRing = new Set<string>();
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  for (let i = 0; i < ids.length + 40; i++) {
    await page.keyboard.press("Tab");
    const f = await page.evaluate(() => {
      const e = document.activeElement as HTMLElement | null;
      if (!e?.dataset.kbd) return null;
      const s = getComputedStyle(e);
      const group =
        e instanceof HTMLInputElement && e.type === "radio"
          ? [...document.querySelectorAll<HTMLElement>(`input[name="${e.name}"]`)].map((r) => r.dataset.kbd!)
          : [e.dataset.kbd];
      return {group, ring: (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none"};
    });
    if (f) for (const id of f.group) (f.ring ? ok : noRing).add(id);
  }
  const describe = (id: string) =>
    page.evaluate((k) => {
      const e = document.querySelector(`[data-kbd="${k}"]`)!;
      return `${e.tagName.toLowerCase()}${e.getAttribute("name") ? `[name=${e.getAttribute("name")}]` : ""} "${(e.textContent || e.getAttribute("aria-label") || "").trim().slice(0, 30)}"`;
    }, id);
  const gaps: string[] = [];
  for (const id of ids)
    if (!ok.has(id)) gaps.push(`${noRing.has(id) ? "no focus ring" : "not reached by Tab"}: ${await describe(id)}`);
  return gaps;
}

/** Charts drawn wider than their column and scaled down to fit (a 360 px chart in a phone's 311 px column had 8.6 px
 *  text): each SVG chart in the main content shown under 90% of its drawn width (its 10 px labels under 9 px). */
export async function shrunkCharts(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll<SVGSVGElement>("#observablehq-main svg[viewBox]:not(.katex svg)")]
      .filter((svg) => svg.checkVisibility() && svg.viewBox.baseVal.width > 120)
      .map((svg) => ({svg, scale: svg.getBoundingClientRect().width / svg.viewBox.baseVal.width}))
      .filter(({scale}) => scale < 0.9)
      .map(
        ({svg, scale}) =>
          `${svg.getAttribute("aria-label")?.slice(0, 50) ?? svg.getAttribute("class")}: drawn ${svg.viewBox.baseVal.width} px, shown at ${(100 * scale).toFixed(0)}%`,
      ),
  );
}

/** Files dropped on the Open page's drop zone as a drag from the desktop delivers them (a DataTransfer of Files). */
export type DroppedFiles = Record<string, Buffer>;

export async function dropFiles(page: Page, files: DroppedFiles): Promise<void> {
  const payload = Object.entries(files).map(([name, b]) => [name, b.toString("base64")]);
  await page.evaluate((list) => {
    const dt = new DataTransfer();
    for (const [name, b64] of list) {
      const bin = atob(b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      dt.items.add(new File([bytes], name));
    }
    const zone = document.querySelector("#drop-zone")!;
    zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
    zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
  }, payload);
}

/** Waits until the Open page has settled on ready, mismatch or error. */
export const openSettled = (page: Page) =>
  page.waitForFunction(
    () =>
      ["ready", "mismatch", "error"].includes(document.querySelector("#drop-zone")?.getAttribute("data-state") ?? ""),
    null,
    {timeout: 240_000},
  );
