// The released ternary families on the Open page in Chromium (WebGPU on SwiftShader): the inspector names the family,
// how it was decided, what runs, and decodes one stored word; the golden check passes; a Llama-architecture BitNet
// folder is kept for the chapters and the forward page generates with it; an embedding model (a folder chosen with
// the folder picker, so 1_Pooling/config.json comes along) gets the embeddings view with transformers' cosine.
import {existsSync, readFileSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {Browser, Page} from "playwright-core";
import {launch, watch, dropFiles, openSettled} from "./browser.js";
import {serve} from "./server.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";

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

/** The Open page's embeddings view on the fixture's two sequences (as ids) gives transformers' cosine. */
async function expectReferenceCosine(page: Page, fixture: string): Promise<void> {
  const ref = JSON.parse(readFileSync(`${FX}/${fixture}/logits.json`, "utf8")) as {
    sequences: number[][];
    embeddings: number[][];
  };
  await page.fill("#open-embed-a", ref.sequences[0].join(" "));
  await page.fill("#open-embed-b", ref.sequences[1].join(" "));
  await page.click("#open-embed");
  await page.waitForSelector("#open-embeddings[data-state=done]", {timeout: 120_000});
  const want = ref.embeddings[0].reduce((s, v, i) => s + v * ref.embeddings[1][i], 0);
  expect(Math.abs(Number(await page.getAttribute(".embeddings-view", "data-cosine")) - want)).toBeLessThan(1e-5);
}

const drop = dropFiles;
const settled = openSettled;

describe("released ternary families on the Open page", () => {
  it("Llama-architecture BitNet (legacy config): family, runs-as and one stored word shown; ready on WebGPU; the chapters generate with it", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    const tok = Tokenizer.train("the state of the union is strong and the people are free to speak", 300);
    await drop(page, {
      "config.json": readFileSync(`${FX}/fam-llama-legacy/config.json`),
      "model.safetensors": readFileSync(`${FX}/fam-llama-legacy/model.safetensors`),
      "tokenizer.json": Buffer.from(JSON.stringify(tok.toJSON())),
    });
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("ready");
    expect(await page.getAttribute("[data-family]", "data-family")).toBe("llama-bitnet");
    expect(await page.textContent("tr[data-key=family]")).toMatch(/no linear_class: a legacy config/);
    expect(await page.textContent("tr[data-key=runs-as]")).toMatch(
      /SiLU GLU, no sub-norms, untied float LM head, head_dim 32/,
    );
    expect(await page.textContent("tr[data-key=word]")).toMatch(/row 96, column 0: code \d/);
    expect(await page.textContent("tr[data-key=scale]")).toMatch(/weight_scale divides/);
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
    expect(log.errors).toEqual([]);
    await page.close();
  });

  it("a llama-arch TQ2_0 GGUF: un-permuted W_q/W_k, golden check ready on WebGPU", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await drop(page, {"fam-gguf-tq2_0.gguf": readFileSync(`${FX}/fam-gguf-tq2_0.gguf`)});
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("ready");
    expect(await page.getAttribute(".format-inspection", "data-format")).toBe("gguf-tq2_0");
    expect(await page.getAttribute("[data-rope]", "data-rope")).toBe("interleaved-pairs");
    expect(await page.textContent("tr[data-key=word]")).toMatch(/element 96 of the block/);
    expect(log.errors).toEqual([]);
    await page.close();
  });

  it("BitNet-embedding-270M style (Gemma3 body): every Gemma fact named, golden check ready on WebGPU, cosine as transformers'", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await page.setInputFiles("#open-folder", `${FX}/fam-gemma3-embedding`);
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("ready");
    expect(await page.getAttribute("[data-family]", "data-family")).toBe("gemma3-embedding");
    expect(await page.textContent("tr[data-key=runs-as]")).toMatch(
      /GELU-tanh GLU.*sandwich.*1 \+ w.*√hidden.*query_pre_attn_scalar.*2 of 3 layers sliding-window.*θ 10000 \/ 1000000/,
    );
    await expectReferenceCosine(page, "fam-gemma3-embedding");
    // on the GPU: the 10- and 6-token texts run past the 4-key window (the attention kernels mask it)
    expect(await page.getAttribute(".embeddings-view", "data-backend")).toBe("webgpu");
    expect(log.errors).toEqual([]);
    await page.close();
  });

  it("an embedding model chosen as a folder: pooling named, embeddings view with transformers' cosine", async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await page.setInputFiles("#open-folder", `${FX}/fam-qwen3-embedding`);
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("ready");
    expect(await page.getAttribute("[data-family]", "data-family")).toBe("bitnet-embedding");
    expect(await page.textContent("tr[data-key=runs-as]")).toMatch(
      /an RMSNorm inside each BitLinear, RMSNorm on each q\/k head.*L2-normalized/,
    );
    await expectReferenceCosine(page, "fam-qwen3-embedding");
    // computed on the GPU (pooling + L2 in the engine), with the file's float master weights beside it
    expect(await page.getAttribute(".embeddings-view", "data-backend")).toBe("webgpu");
    expect(Number(await page.getAttribute(".embeddings-float", "data-float-cosine"))).toBeGreaterThan(-1);
    expect(await page.textContent(".embeddings-float")).toMatch(
      /float master weights \(projections unquantized, WebGPU\)/,
    );
    expect(log.errors).toEqual([]);
    await page.close();
  });

  it('Falcon-E prequantized: a float Llama as the files say; checked "run a float Llama as BitNet", llama-bitnet named as asked', async () => {
    const page = await browser.newPage();
    const log = watch(page, site.url);
    await page.goto(`${site.url}/open`);
    await page.waitForSelector("#drop-zone[data-state=empty]");
    await page.setInputFiles("#open-folder", `${FX}/fam-falcone-prequantized`);
    await settled(page);
    expect(await page.getAttribute("[data-family]", "data-family")).toBe("llama-float");
    await page.check("#open-as-bitnet");
    await page.waitForSelector("[data-family=llama-bitnet]", {timeout: 60_000});
    await settled(page);
    expect(await page.getAttribute("#drop-zone", "data-state")).toBe("ready");
    expect(await page.textContent("body")).toMatch(
      /asked to run as BitNet \(onebitllms' replace_linear_with_bitnet_linear/,
    );
    expect(log.errors).toEqual([]);
    await page.close();
  });
});
