// The "Open a checkpoint" page in Chromium: a fixture dropped on the inspector (a DataTransfer of Files, as a
// drag from the desktop delivers) reports the right conventions, passes the golden check on WebGPU
// (SwiftShader), generates; a wrong-convention file gets the specific error; a GGUF file is read too.
import {execFileSync} from "node:child_process";
import {existsSync, mkdtempSync, readFileSync, rmSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser} from "playwright-core";
import {axeViolations, launch, watch, dropFiles, openSettled} from "./browser.js";
import type {DroppedFiles} from "./browser.js";
import {serve} from "./server.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";

let site: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
const tmp = mkdtempSync(join(tmpdir(), "bitnet-inspector-"));
const gguf = join(tmp, "ggml-model-i2_s.gguf");
beforeAll(async () => {
  if (!existsSync("dist/open.html")) throw new Error("dist/ is missing: run `npm run build` first");
  execFileSync("node", ["bin/bitnet-lab.js", "convert", "data/fixtures/hf-packed", "--to", "gguf", "--out", gguf]);
  site = await serve("dist");
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  rmSync(tmp, {recursive: true, force: true});
});

type Files = DroppedFiles;
const folder = (dir: string, patch?: (c: Record<string, unknown>) => void): Files => {
  const cfg = JSON.parse(readFileSync(`${dir}/config.json`, "utf8"));
  patch?.(cfg);
  return {
    "config.json": Buffer.from(JSON.stringify(cfg)),
    "model.safetensors": readFileSync(`${dir}/model.safetensors`),
  };
};

const drop = dropFiles;

const settled = openSettled;

describe("the checkpoint inspector", () => {
  it("drops transformers' packed fixture: multiply convention from autobitlinear, rotate-half RoPE, golden check ready, generates on WebGPU", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    const files = folder("data/fixtures/hf-packed");

    await drop(page, files);
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("ready");
    expect(await page.getAttribute(".format-inspection", "data-format")).toBe("hf-packed");
    expect(await page.getAttribute("[data-scale]", "data-scale")).toBe("multiply");
    expect(await page.textContent("[data-key=scale]")).toMatch(/autobitlinear/);
    expect(await page.getAttribute("[data-rope]", "data-rope")).toBe("rotate-half");
    expect(await page.textContent("[data-key=other]")).toMatch(/scaled by/);
    expect(await page.textContent(".golden")).toMatch(/WebGPU: max \|Δlogit\| .* PASS/);
    // Issue 24: the prompt box's own text works with no tokenizer (UTF-8 bytes after BOS, as the CLI) — it gave
    // "token id NaN" on every shipped fixture
    expect(await page.getAttribute(".open-run", "data-codec")).toBe("bytes");
    expect(await page.inputValue("#open-prompt")).toBe("The capital of France is");
    await page.fill("#open-tokens", "4");
    await page.click("#open-generate");
    const finished = () =>
      page.waitForFunction(
        () => ["done", "error"].includes(document.querySelector(".open-output")?.getAttribute("data-state") ?? ""),
        null,
        {timeout: 240_000},
      );
    await finished();
    expect(await page.getAttribute(".open-output", "data-state"), (await page.textContent(".open-stats")) ?? "").toBe(
      "done",
    );
    expect(await page.getAttribute(".open-output", "data-prompt-ids")).toBe(
      [1, ...Buffer.from("The capital of France is")].join(","),
    );
    expect((await page.getAttribute(".open-output", "data-token-ids"))!.split(",")).toHaveLength(4);
    // token ids stay possible: "ids:" first
    await page.fill("#open-prompt", "ids: 1 5 77");
    await page.click("#open-generate");
    await page.waitForFunction(
      () => document.querySelector(".open-output")?.getAttribute("data-prompt-ids") === "1,5,77",
      null,
      {timeout: 240_000},
    );
    await finished();
    expect(await page.getAttribute(".open-output", "data-state")).toBe("done");
    expect(await page.textContent(".open-stats")).toMatch(/tokens\/s/);
    // the run panel is on the shared control kit: a labelled control grid and styled buttons
    expect(await page.locator(".open-run .control-grid .lab-control").count()).toBeGreaterThanOrEqual(3);
    expect(await page.getAttribute("#open-generate", "class")).toMatch(/lab-button/);
    expect(log.errors).toEqual([]);
    expect(log.foreign).toEqual([]);
    expect(await axeViolations(page, site.url)).toEqual([]);
    await page.close();
  });

  it("drops a GGUF I2_S file: rotate-half RoPE as bitnet.cpp runs it, the layout its writer recorded, ready on WebGPU", async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await drop(page, {"ggml-model-i2_s.gguf": readFileSync(gguf)});
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("ready");
    expect(await page.getAttribute(".format-inspection", "data-format")).toBe("gguf-i2s");
    expect(await page.getAttribute("[data-rope]", "data-rope")).toBe("rotate-half");
    expect(await page.getAttribute("[data-i2s]", "data-i2s")).toBe("x86");
    expect(await page.textContent("[data-key=i2s]")).toMatch(/recorded in the file/);
    expect(await page.textContent(".golden")).toMatch(/arm I2_S layout/);
    expect(await page.getAttribute("[data-golden=attention-rope]", "data-pass")).toBe("true");
    expect(await page.getAttribute("[data-golden=finite-logits]", "data-pass")).toBe("true");
    await page.close();
  });

  it("a vendor-made GGUF (bitnet.cpp's ARM quantizer) of an untrained model: refused with the layout choices, then read as chosen", async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await drop(page, {"b-ms.i2_s.arm.gguf": readFileSync("data/fixtures/vendor/b-ms.i2_s.arm.gguf")});
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("error");
    expect(await page.textContent("[role=alert]")).toMatch(/cannot tell which I2_S byte layout.*x86\|arm\|rows/);
    await page.selectOption("#open-layout", "arm");
    await page.waitForFunction(
      () => ["ready", "mismatch"].includes(document.querySelector("#drop-zone")?.getAttribute("data-state") ?? ""),
      null,
      {timeout: 240_000},
    );
    expect(await page.getAttribute("[data-i2s]", "data-i2s")).toBe("arm");
    expect(await page.getAttribute("[data-golden=attention-rope]", "data-pass")).toBe("true");
    await page.close();
  });

  it("a config whose linear_class contradicts the stored scales gets the specific error", async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await drop(
      page,
      folder(
        "data/fixtures/hf-packed",
        (c) => ((c.quantization_config as Record<string, string>).linear_class = "bitlinear"),
      ),
    );
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("error");
    expect(await page.textContent("[role=alert]")).toMatch(/scale convention mismatch: .*"bitlinear".*below 1/);
    // the override reads it (the inspection is enough here; the golden check is exercised above)
    await page.selectOption("#open-scale", "multiply");
    await page.waitForFunction(
      () => /set by you/.test(document.querySelector("[data-key=scale]")?.textContent ?? ""),
      null,
      {timeout: 60_000},
    );
    await page.close();
  });

  it("keeps the opened checkpoint for the chapters: the forward page offers it and generates with it", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    // a tokenizer small enough for the fixture's 1024-token vocabulary
    const tok = Tokenizer.train("the state of the union is strong and the people are free to speak", 300);
    await drop(page, {
      ...folder("data/fixtures/hf-packed"),
      "tokenizer.json": Buffer.from(JSON.stringify(tok.toJSON())),
    });
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("ready");
    await page.click("#open-keep");
    await page.waitForFunction(() =>
      /Kept in this browser/.test(document.querySelector(".open-keep")?.textContent ?? ""),
    );
    await page.goto(`${site.url}/forward?model=opened&prompt=the%20state&tokens=3&compare=false`);
    await page.waitForFunction(
      () => {
        const s = document.querySelector(".stream");
        return s && s.getAttribute("data-state") !== "running";
      },
      null,
      {timeout: 240_000},
    );
    expect(await page.textContent(".stream .stream-label")).toMatch(/your checkpoint/);
    expect(await page.getAttribute(".stream", "data-state")).not.toBe("error");
    expect(await page.locator("select[name=model] option", {hasText: "your checkpoint"}).count()).toBe(1);
    expect(log.errors).toEqual([]);
    await page.close();
  });

  it("a sharded folder and a broken shard set are told apart", async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    const f = folder("data/fixtures/hf-bitlinear");
    await drop(page, {
      "config.json": f["config.json"],
      "model.safetensors.index.json": Buffer.from(
        JSON.stringify({weight_map: {"model.embed_tokens.weight": "model-00001-of-00002.safetensors"}}),
      ),
    });
    await settled(page);
    expect(await page.textContent("[role=alert]")).toMatch(
      /lists shard "model-00001-of-00002.safetensors".*not among the files/,
    );
    await page.close();
  });
});
