// The family fixtures every chapter is checked on (test/unit/chapters-families.test.ts, test/gpu/chapters-families.test.ts):
// how each opens and what the chapters should make of it.
import {readdirSync} from "node:fs";
import type {OpenOptions} from "../../src/lib/formats/open-common.js";

export interface ChapterFixture {
  /** Path under data/fixtures. */
  name: string;
  opts?: OpenOptions;
  /** What the ternary chapter shows: codes as loaded, codes recovered from ±α values, or a refusal (a float model);
   *  "ternary": either of the first two (a fixture added later, not yet listed). */
  ternary: "codes" | "pseudo" | "refused" | "ternary";
  /** An embedding model: the forward chapter refuses generation. */
  embedding?: boolean;
}

const LISTED: readonly ChapterFixture[] = [
  {name: "fam-llama-legacy", ternary: "codes"},
  {name: "fam-llama-autobitlinear", ternary: "codes"},
  {name: "fam-llama-online", ternary: "codes"},
  {name: "fam-1bitllm", ternary: "codes"},
  {name: "fam-trilm-unpacked", ternary: "pseudo"},
  {name: "fam-gguf-tq2_0.gguf", ternary: "codes"},
  {name: "fam-gguf-tq1_0.gguf", ternary: "codes"},
  {name: "fam-qwen3-embedding", ternary: "codes", embedding: true},
  {name: "vendor/c-llama.i2_s.x86.gguf", opts: {i2sLayout: "x86"}, ternary: "codes"},
  {name: "fam-falcone-prequantized", ternary: "refused"},
  {name: "fam-falcone-prequantized", opts: {asBitNet: true}, ternary: "codes"},
];

export const fixtureLabel = (f: ChapterFixture) => `${f.name}${f.opts?.asBitNet ? " (run as BitNet)" : ""}`;

// A family fixture added later (data/fixtures/fam-*) is checked too, expected to carry ternary codes or ±α values.
const extra = readdirSync("data/fixtures")
  .filter((n) => /^fam-/.test(n) && !/provenance|\.json$/.test(n) && n !== "fam-gguf-src")
  .filter((n) => !LISTED.some((f) => f.name === n))
  .map((name): ChapterFixture => ({name, ternary: "ternary", embedding: /embedding/.test(name)}));

export const CHAPTER_FIXTURES: readonly ChapterFixture[] = [...LISTED, ...extra];

/** The fixtures whose computation differs on the GPU (the engine sees only the loaded weights, so families that differ
 *  only in how their files are read run the same kernels): a Llama body with codes, a float (pseudo-quantized) model,
 *  the per-projection-norm + QK-norm body, and any family fixture added later. */
export const GPU_CHAPTER_FIXTURES = CHAPTER_FIXTURES.filter(
  (f) =>
    ["fam-llama-legacy", "fam-trilm-unpacked", "fam-qwen3-embedding"].includes(f.name) ||
    !LISTED.some((x) => x.name === f.name),
);
