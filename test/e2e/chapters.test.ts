// Chapters 1–4 in real Chromium with WebGPU on SwiftShader: each page computes from the model it loaded
// (checked against the same model read here in Node), its URL state round-trips, a bad link value is
// reported by name, `hide` hides controls, exercises reveal and check a guess, axe-core finds no serious or
// critical violation, and the page fits a 375 px screen. Screenshots go to test-results/screenshots/.
import {existsSync, mkdirSync, readFileSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser, Page} from "playwright-core";
import {axeViolations, CHROMIUM, keyboardGaps, launch, shrunkCharts, watch} from "./browser.js";
import type {PageLog} from "./browser.js";
import {serve} from "./server.js";
import {defaultConfig, tensorNames} from "../../src/lib/config.js";
import {readCheckpoint} from "../../src/lib/checkpoint.js";
import {randomWeights} from "../../src/lib/init.js";
import type {ModelWeights} from "../../src/lib/tensor.js";
import {forwardFull} from "../../src/lib/model.js";
import type {ForwardTrace} from "../../src/lib/model.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {moments} from "../../src/lib/chapters/stats.js";
import {layerSparsity, meanSparsity, nextTokenLoss} from "../../src/lib/chapters/sparsity.js";

const shots = "test-results/screenshots";

// The built site (BITNET_LAB_DIST lets a developer point at another build).
const DIST = process.env.BITNET_LAB_DIST ?? "dist";
let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(`${DIST}/ternary.html`))
    throw new Error("dist/ is missing: run `npm run build` first (npm run test:e2e does)");
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (see .ci/run)`);
  mkdirSync(shots, {recursive: true});
  site = await serve(DIST);
  browser = await launch({webgpu: true});
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
});

/** Opens a page, scrolls through it so cells waiting on visibility() run, and waits for `ready`. */
async function open(
  path: string,
  ready: string,
  width = 1200,
  banner = true,
  using = browser,
): Promise<{page: Page; log: PageLog}> {
  const page = await using.newPage({viewport: {width, height: 900}, reducedMotion: "reduce"});
  const log = watch(page, site.url);
  await page.goto(site.url + path, {waitUntil: "networkidle"});
  if (banner) await page.locator("[data-webgpu]").first().waitFor({timeout: 60_000});
  const target = page.locator(ready).first();
  for (let i = 0; i < 120 && !(await target.count()); i++) {
    await page.mouse.wheel(0, 700);
    await page.waitForTimeout(250);
  }
  await target.waitFor({timeout: 120_000});
  return {page, log};
}

/** The model the page ran: the shipped one from data/models, or the random stand-in it announces (seeded
 *  from the URL's seed). */
async function sameModel(
  page: Page,
  name: string,
  variant: "b1.58" | "a4.8" | "v2",
  seed: number,
  shape: Record<string, unknown> = {},
): Promise<ModelWeights> {
  const standIn = (await page.locator('[data-model-shipped="false"]').count()) > 0;
  if (standIn) return randomWeights(defaultConfig(variant, shape), seed);
  const dir = `data/models/${name}`;
  return readCheckpoint(
    JSON.parse(readFileSync(`${dir}/config.json`, "utf8")),
    new Uint8Array(readFileSync(`${dir}/model.safetensors`)),
  ).weights;
}

async function reveal(page: Page, n: number, guess: string | null, choice?: string): Promise<string | undefined> {
  const ex = page.locator(".exercise").nth(n);
  await ex.scrollIntoViewIfNeeded();
  if (choice !== undefined) await ex.locator(`input[type=radio][value="${choice}"]`).check();
  else await ex.locator("input[type=number]").fill(guess ?? "");
  await ex.getByRole("button", {name: "Lock in my guess"}).click();
  expect(await ex.getAttribute("data-state")).toBe("locked");
  await ex.getByRole("button", {name: "Reveal the answer"}).click();
  await expect.poll(() => ex.getAttribute("data-state"), {timeout: 60_000}).toBe("revealed");
  expect(await ex.locator(".explain").textContent()).not.toBe("");
  return (await ex.getAttribute("data-verdict")) ?? undefined;
}

const control = (page: Page, param: string) => page.locator(`.lab-control[data-param="${param}"]`).first();

describe("chapter 1: ternary weights", () => {
  it("shows the loaded model's real codes, decodes a packed byte, multiplies without multiplying; URL state, exercises, axe", async () => {
    const {page, log} = await open(
      "/ternary?layer=1&matrix=down&prow=3&pcol=5&seed=7&backend=cpu",
      ".exercise >> nth=3",
    );
    // State from the link reached the controls.
    expect(await control(page, "layer").locator("select option:checked").textContent()).toBe("1");
    expect(await control(page, "matrix").locator("select option:checked").textContent()).toMatch(/W_down/);
    // The shares on the page are the model's codes, recounted here from the same model.
    expect(await control(page, "seed").locator("input").inputValue()).toBe("7");
    const w = await sameModel(page, "b1.58", "b1.58", 7);
    const codes = w.ternary.get(tensorNames.layer(1).down)!.codes;
    const count = (v: number) => codes.reduce((s, c) => s + (c === v ? 1 : 0), 0) / codes.length;
    const bars = page.locator("svg.ternary-shares").first().locator('rect[data-set="shipped codes"]');
    const shares = await bars.evaluateAll((rs) =>
      rs.map((r) => [Number(r.getAttribute("data-code")), Number(r.getAttribute("data-share"))]),
    );
    expect(shares.map((s) => s[0])).toEqual([-1, 0, 1]);
    expect(shares.reduce((a, s) => a + s[1], 0)).toBeCloseTo(1, 5);
    for (const [code, share] of shares) expect(share).toBeCloseTo(count(code), 5);
    // The bit ledger and the counted product agree with the model.
    expect(await page.locator('[data-check="ledger"]').getAttribute("class")).toMatch(/\bok\b/);
    expect(await page.locator('[data-check="matvec"]').getAttribute("class")).toMatch(/\bok\b/);
    expect(await page.locator('[data-stat="muls"] dd').textContent()).toMatch(/^0/);
    // A control change is written to the URL.
    await control(page, "matrix").locator("select").selectOption({label: "W_up"});
    await expect.poll(() => page.evaluate(() => location.search)).toMatch(/matrix=up/);
    expect(await page.evaluate(() => location.search)).toMatch(/layer=1/);
    // Exercise 1: the zero share, answered exactly from the model → right; exercise 4 with a wrong guess → wrong.
    const upCodes = w.ternary.get(tensorNames.layer(1).up)!.codes;
    const zeroPct = (100 * upCodes.reduce((s, c) => s + (c === 0 ? 1 : 0), 0)) / upCodes.length;
    await page.locator(".exercise").first().waitFor();
    expect(await reveal(page, 0, zeroPct.toFixed(2))).toBe("right");
    expect(await reveal(page, 3, "1000")).toBe("wrong");
    await page.screenshot({path: `${shots}/chapter-ternary.png`, fullPage: true});
    expect(await axeViolations(page, site.url)).toEqual([]);
    expect(log.errors).toEqual([]);
    expect(log.failed).toEqual([]);
    expect(log.foreign).toEqual([]);
    await page.close();
  });

  it("reports bad link values by name and hides controls a teacher hid", async () => {
    const {page, log} = await open(
      "/ternary?layer=99&matrix=nope&bogus=1&hide=matrix,k&backend=cpu",
      '[data-check="matvec"]',
    );
    const notice = page.locator(".url-notice");
    await expect
      .poll(() => notice.locator("li").allTextContents())
      .toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^layer: /),
          expect.stringMatching(/^matrix: "nope"/),
          expect.stringMatching(/^bogus: /),
        ]),
      );
    expect(await notice.textContent()).toMatch(/hides 2 controls \(matrix, k\)/);
    expect(await control(page, "matrix").isHidden()).toBe(true);
    expect(await control(page, "k").isHidden()).toBe(true);
    expect(await control(page, "layer").isVisible()).toBe(true);
    // The share panel builds a link with the current state and the chosen hidden controls.
    await page.locator(".share-panel summary").click();
    const link = await page.locator(".share-link").inputValue();
    expect(new URL(link).searchParams.get("hide")).toBe("matrix,k");
    expect(log.errors).toEqual([]);
    await page.close();
  });
});

describe("chapter 2: activations", () => {
  it("computes outlier channels and the error split from the model's activations; URL state, exercises, axe", async () => {
    const {page, log} = await open("/activations?site=ffn&layer=1&backend=cpu", ".exercise >> nth=2");
    expect(await control(page, "site").locator("select option:checked").textContent()).toMatch(/FFN input/);
    const maxOverMean = await page.locator('[data-stat="max-over-mean"] dd').textContent();
    expect(Number(/^[\d.]+/.exec(maxOverMean!)?.[0])).toBeGreaterThan(1);
    expect(await page.locator("figure.lab-figure svg").count()).toBeGreaterThanOrEqual(4);
    await control(page, "layer").locator("select").selectOption({label: "2"});
    await expect.poll(() => page.evaluate(() => location.search)).toMatch(/layer=2/);
    await page.locator(".exercise", {hasText: "In layer 2"}).first().waitFor(); // the exercises re-rendered for layer 2
    expect(["right", "wrong"]).toContain(await reveal(page, 1, "1"));
    expect(["right", "wrong"]).toContain(await reveal(page, 2, null, "300"));
    await page.screenshot({path: `${shots}/chapter-activations.png`, fullPage: true});
    expect(await axeViolations(page, site.url)).toEqual([]);
    expect(log.errors).toEqual([]);
    expect(log.failed).toEqual([]);
    await page.close();
  });
});

describe("chapter 3: Hadamard", () => {
  it("lowers the kurtosis of the W_down input, keeps the full-precision output, animates the butterfly; exercises, axe", async () => {
    const {page, log} = await open("/hadamard?layer=1&backend=cpu", ".exercise >> nth=2");
    const kurt = page.locator('tr[data-stat="kurtosis"] td');
    const [before, after] = (await kurt.evaluateAll((tds) =>
      tds.map((td) => Number(td.getAttribute("data-value"))),
    )) as number[];
    expect(before).toBeGreaterThan(3);
    expect(after).toBeLessThan(before);
    expect(await page.locator('[data-stat="invariance"] dd').textContent()).toMatch(/✓/);
    // The butterfly steps (reduced motion: Play is disabled, Step works).
    const fig = page.locator(".butterfly-figure");
    await fig.scrollIntoViewIfNeeded();
    expect(await fig.getByRole("button", {name: "Play"}).isDisabled()).toBe(true);
    await fig.getByRole("button", {name: "Step"}).click();
    await fig.getByRole("button", {name: "Step"}).click();
    expect(await fig.locator("svg").getAttribute("data-stage")).toBe("2");
    // The transform's cost on the GPU (SwiftShader here), with the engine's kernels.
    const measure = page.getByRole("button", {name: "Measure on my GPU"});
    await measure.scrollIntoViewIfNeeded();
    await measure.click();
    await page.locator('[data-stat="gpu-hadamard"]').waitFor({timeout: 120_000});
    expect(await page.locator('[data-stat="gpu-hadamard"] dd').textContent()).toMatch(/µs/);
    // Kurtosis exercise: the right choice is the one the page measured.
    const choice = after < before * 0.9 ? "lower" : after > before * 1.1 ? "higher" : "same";
    expect(await reveal(page, 0, null, choice)).toBe("right");
    await control(page, "site").locator("select").selectOption({label: "attention output → W_o"});
    await expect.poll(() => page.evaluate(() => location.search)).toMatch(/site=o/);
    await page.screenshot({path: `${shots}/chapter-hadamard.png`, fullPage: true});
    expect(await axeViolations(page, site.url)).toEqual([]);
    expect(log.errors).toEqual([]);
    expect(log.failed).toEqual([]);
    await page.close();
  });
});

describe("chapter 4: sparsity", () => {
  it("measures per-component sparsity of the a4.8 model next to Table 2; K and KV sweeps; exercises, axe", async () => {
    const {page, log} = await open("/sparsity?size=3B&kv=4&backend=cpu", ".exercise >> nth=2");
    expect(await control(page, "size").locator("select option:checked").textContent()).toBe("3B");
    expect(await control(page, "kv").locator("select option:checked").textContent()).toBe("4");
    await page.locator('[data-stat="kv-kl"]').waitFor();
    const overall = await page.locator('[data-stat="overall"] dd').textContent();
    expect(overall).toMatch(/^\d+(\.\d)?%/);
    // Exercise 2: the W_o input keeps K = 50%, so at least half of it is zero.
    expect(await reveal(page, 1, "50")).toBe("right");
    await control(page, "kv").locator("select").selectOption({label: "8"});
    await expect.poll(() => page.evaluate(() => location.search)).toMatch(/kv=8/);
    await page.screenshot({path: `${shots}/chapter-sparsity.png`, fullPage: true});
    expect(await axeViolations(page, site.url)).toEqual([]);
    expect(log.errors).toEqual([]);
    expect(log.failed).toEqual([]);
    await page.close();
  });
});

// Every chapter with the GPU forced (?backend=webgpu, SwiftShader here): the views are drawn from the engine's
// inspection pass, the page names that backend, its GPU-vs-CPU check shows PASS, and the numbers it shows equal the CPU
// reference's, recomputed here in Node on the same model and prompt.
const PROMPT = "The state of the Union is strong.";
function reference(name: string, w: ModelWeights): ForwardTrace {
  const tok = Tokenizer.fromJSON(JSON.parse(readFileSync(`data/models/${name}/tokenizer.json`, "utf8")));
  const ids = tok.encode(PROMPT, {bos: true});
  return forwardFull(w, ids, {trace: true}).trace!;
}
const number = (s: string | null) => Number(/[-−]?[\d.]+(e[-−]?\d+)?/.exec(s ?? "")?.[0].replace("−", "-"));
const close = (got: number, want: number, rel = 1e-2) =>
  expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.max(1e-6, Math.abs(want)) + 5e-3 * Math.abs(want));

async function drawnFromGpu(page: Page): Promise<void> {
  const live = page.locator("[data-live]").first();
  expect(await live.getAttribute("data-live")).toBe("webgpu");
  expect(await page.locator(".live-source").first().textContent()).toMatch(
    /Computed (on your GPU|with WebGPU on your CPU \(a software renderer\)).*WebGPU on/,
  );
  const check = page.locator('[data-check="gpu-cpu"]').first();
  await check.waitFor({timeout: 120_000});
  expect(await check.getAttribute("data-pass")).toBe("true");
  expect(await check.textContent()).toMatch(/^PASS .*0 of [\d,]+ activation codes differ/);
}

describe("every chapter's views from the GPU (backend=webgpu)", () => {
  const q = `backend=webgpu&prompt=${encodeURIComponent(PROMPT)}`;
  it("ternary: the counted product uses the GPU's activation codes and matches", async () => {
    const {page, log} = await open(`/ternary?${q}&layer=1&matrix=v`, '[data-check="matvec"]');
    await drawnFromGpu(page);
    expect(await page.locator('[data-check="matvec"]').getAttribute("class")).toMatch(/\bok\b/);
    expect(await page.locator('[data-check="matvec"]').textContent()).toMatch(
      /your GPU's forward pass computed .*as your GPU computed them/,
    );
    expect(log.errors).toEqual([]);
    await page.close();
  });
  it("activations: the outlier statistics equal the CPU reference's", async () => {
    const {page, log} = await open(`/activations?${q}&site=down&layer=2`, '[data-stat="kurtosis"]');
    await drawnFromGpu(page);
    const w = await sameModel(page, "b1.58", "b1.58", 1);
    const x = reference("b1.58", w).layers[2].linears.down.input;
    const mo = moments(x);
    close(number(await page.locator('[data-stat="kurtosis"] dd').textContent()), mo.kurtosis);
    close(number(await page.locator('[data-stat="max-over-mean"] dd').textContent()), mo.maxOverMean);
    expect(log.errors).toEqual([]);
    await page.close();
  });
  it("hadamard: before/after kurtosis of v2's own rotation equal the CPU reference's", async () => {
    const {page, log} = await open(`/hadamard?${q}&layer=1&site=down`, 'tr[data-stat="kurtosis"]');
    await drawnFromGpu(page);
    const w = await sameModel(page, "v2-a4", "v2", 1, {bitnet_activation_bits: 4});
    const lt = reference("v2-a4", w).layers[1].linears.down;
    const [before, after] = (await page
      .locator('tr[data-stat="kurtosis"] td')
      .evaluateAll((tds) => tds.map((td) => Number(td.getAttribute("data-value"))))) as number[];
    close(before, moments(lt.input).kurtosis);
    close(after, moments(lt.rotated!).kurtosis);
    expect(log.errors).toEqual([]);
    await page.close();
  });
  it("sparsity: the per-component shares equal the CPU reference's", async () => {
    const {page, log} = await open(`/sparsity?${q}`, '[data-stat="overall"]');
    await drawnFromGpu(page);
    const w = await sameModel(page, "a4.8", "a4.8", 1);
    const mean = meanSparsity(layerSparsity(reference("a4.8", w), w.config));
    close(number(await page.locator('[data-stat="overall"] dd').textContent()), 100 * mean.overall);
    close(number(await page.locator('[data-stat="down"] dd').textContent()), 100 * mean.down);
    // the 3-bit KV cache (BOS in 4) as the GPU stored it: its K error equals the reference's
    const ref = reference("a4.8", w);
    expect(await page.locator('[data-stat="gpu-kv-bits"] dd').textContent()).toMatch(/^4 \/ 3 bits/);
    close(
      number(await page.locator('[data-stat="gpu-kv-k"] dd').textContent()),
      ref.layers.reduce((a, l) => a + l.kv!.keyMeanAbsError, 0) / ref.layers.length,
    );
    // the K and KV-bits sweeps are drawn from the GPU (the engine's sweep sessions), named so, and checked against the CPU
    for (const sw of ["k", "kv"]) {
      const chart = page.locator(`[data-sweep="${sw}"]`);
      await chart.waitFor({timeout: 300_000});
      expect(await chart.getAttribute("data-live")).toBe("webgpu");
      const check = page.locator(`[data-check="sweep-${sw}"]`);
      await check.waitFor({timeout: 120_000});
      expect(await check.textContent()).toMatch(
        /^PASS GPU against the CPU reference at [35] settings: max \|Δ\| of the KL/,
      );
    }
    expect(await page.locator("[data-sweep-source]").first().textContent()).toMatch(
      /^Computed with WebGPU on your CPU \(a software renderer\)\. The K sweep is drawn from WebGPU on a software renderer on your CPU \(/,
    );
    // strict: with exact attention (W_o's top-K input is the reference's f32 bits) every setting agrees on SwiftShader
    for (const sw of ["k", "kv"])
      expect(await page.locator(`[data-check="sweep-${sw}"]`).getAttribute("data-pass")).toBe("true");
    // the K = 100% baseline's loss (the GPU's logits, no top-K) equals the CPU reference's on the same 24 tokens
    const tok = Tokenizer.fromJSON(JSON.parse(readFileSync("data/models/a4.8/tokenizer.json", "utf8")));
    const sweepIds = tok.encode(PROMPT, {bos: true}).slice(0, 24);
    const base = forwardFull({...w, config: {...w.config, bitnet_topk_ratio: 1}}, sweepIds).logits;
    const note = await page.locator('[data-stat="k-loss"]').textContent();
    close(
      number(/K = 100%: ([\d.]+)/.exec(note ?? "")?.[1] ?? ""),
      nextTokenLoss(base, sweepIds, w.config.vocab_size),
      1e-3,
    );
    expect(log.errors).toEqual([]);
    await page.close();
  });
});

describe("the same chapters without WebGPU", () => {
  let nogpu: Browser;
  beforeAll(async () => {
    nogpu = await launch({webgpu: false});
  });
  afterAll(async () => {
    await nogpu?.close();
  });
  for (const [path, ready] of [
    ["/ternary", '[data-check="matvec"]'],
    ["/activations", '[data-stat="kurtosis"]'],
    ["/hadamard", 'tr[data-stat="kurtosis"]'],
    ["/sparsity", '[data-stat="overall"]'],
    ["/forward", "svg.heatmap"],
  ] as const) {
    it(`${path} draws from the CPU reference and says so, even when WebGPU is asked for`, async () => {
      const {page, log} = await open(`${path}?backend=webgpu`, ready, 1200, true, nogpu);
      expect(await page.locator("[data-live]").first().getAttribute("data-live")).toBe("cpu");
      expect(await page.locator(".live-source").first().textContent()).toMatch(
        /Computed on the CPU.*WebGPU was asked for, but this browser has none/,
      );
      expect(await page.locator('[data-check="gpu-cpu"]').first().getAttribute("data-pass")).toBe("none");
      if (path === "/sparsity") {
        // the K and KV-bits sweeps come from the CPU reference too, and say so
        for (const sw of ["k", "kv"]) {
          await page.locator(`[data-sweep="${sw}"]`).waitFor({timeout: 120_000});
          expect(await page.locator(`[data-sweep="${sw}"]`).getAttribute("data-live")).toBe("cpu");
          expect(await page.locator(`[data-check="sweep-${sw}"]`).getAttribute("data-pass")).toBe("none");
        }
        expect(await page.locator("[data-sweep-source]").first().textContent()).toMatch(
          /^Computed on the CPU\. The K sweep is drawn from the CPU reference.*WebGPU was asked for, but this browser has none/,
        );
      }
      expect(log.errors).toEqual([]);
      await page.close();
    });
  }
});

describe("components gallery (not in the sidebar)", () => {
  it("renders every view alone without errors, and its exercise checks an answer", async () => {
    const {page, log} = await open("/components-gallery", ".exercise >> nth=1", 1200, false);
    expect(await page.locator("figure.lab-figure").count()).toBe(8); // shares, grid, histogram, lines, bars, channels, error split, butterfly
    expect(await page.locator(".bit-ledger").count()).toBe(1);
    // the kernel lab's checks table: a pass, a mismatch and an error row, and a status that counts the failures
    const checks = page.locator('.lab-checks[data-checks="fail"]');
    expect(await checks.locator("tbody tr").allTextContents()).toEqual([
      expect.stringMatching(/agrees.*0 of 58 \(bits\)0PASS/),
      expect.stringMatching(/does not.*3 of 58 \(bits\)2\.4e-7FAIL/),
      expect.stringMatching(/could not run.*FAIL: pipeline failed to compile/),
    ]);
    expect(await checks.locator('[role="status"]').textContent()).toBe("2 of 3 kernel checks FAILED on this device.");
    expect(await reveal(page, 0, "42")).toBe("right");
    expect(await reveal(page, 1, null, "no")).toBe("wrong");
    expect(log.errors).toEqual([]);
    expect(log.failed).toEqual([]);
    await page.close();
  });
});

describe("at 375 px", () => {
  for (const [path, ready] of [
    ["/ternary", '[data-check="matvec"]'],
    ["/activations", ".exercise >> nth=2"],
    ["/hadamard", '[data-stat="cpu-ms"]'],
    ["/sparsity", '[data-stat="kv-kl"]'],
  ] as const) {
    it(`${path} fits the screen without sideways scrolling; charts legible, controls keyboard-reachable, no moderate axe finding`, async () => {
      const {page, log} = await open(`${path}?backend=cpu`, ready, 375);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow).toBeLessThanOrEqual(1);
      expect(await shrunkCharts(page)).toEqual([]);
      expect(await axeViolations(page, site.url, "main", "moderate")).toEqual([]); // heading levels, landmarks (formula regions)
      expect(await keyboardGaps(page)).toEqual([]);
      await page.screenshot({path: `${shots}/chapter-${path.slice(1)}-375.png`, fullPage: true});
      expect(log.errors).toEqual([]);
      await page.close();
    });
  }
});
