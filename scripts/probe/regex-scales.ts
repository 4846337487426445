// Probe families from issue 22: tokenizer Split regex complexity, absurd scales.
import {readFileSync} from "node:fs";
import {join} from "node:path";
import fc from "fast-check";
import {parseSafetensorsHeader} from "../../src/lib/safetensors.js";
import {BYTE_LEVEL_REGEX, LLAMA3_REGEX, Tokenizer} from "../../src/lib/tokenizer.js";
import {NonFiniteLogitsError} from "../../src/lib/backend.js";
import {ggufFromWeights} from "../../src/lib/formats/gguf-model.js";
import {parseGGUF} from "../../src/lib/formats/gguf.js";
import {writeGGUF} from "../../src/lib/formats/gguf-write.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {FormatError, mapFileSet, memorySource, type ByteSource} from "../../src/lib/formats/source.js";
import {createCpuSession} from "../../src/lib/model.js";

import type {Bucket} from "./common.js";

// ---------------------------------------------------------------- issue 22: regex complexity

export const LLAMA3_TOK = "data/fixtures/hf-tokenizers/llama3-style-tokenizer.json";
export const EVIL_PATTERNS = [
  "(?:[^0]|[^1]|.)*0|\\s+|.",
  "(a+)+$|.",
  "(a|aa)*b|.",
  "(\\s*)*x|\\s+|.",
  "(.*a){12}|.",
  "(?:\\p{L}+)+!|.",
  "(?:x+x+)+y|.",
  "(\\w|\\d)*$|.",
];
export const regexArb = fc.oneof(
  fc.constantFrom(
    ...EVIL_PATTERNS,
    LLAMA3_REGEX,
    BYTE_LEVEL_REGEX,
    LLAMA3_REGEX + "|x",
    LLAMA3_REGEX.replace("{1,3}", "+"),
    BYTE_LEVEL_REGEX.replace("+(?!\\S)", "*(?!\\S)"),
  ),
  fc
    .array(fc.constantFrom("(", ")", "(?:", "*", "+", "?", "|", ".", "a", "\\s", "\\p{L}", "[^0]", "{2,}", "$"), {
      minLength: 1,
      maxLength: 14,
    })
    .map((a) => a.join("")),
);
// 33 characters, as in the issue: no "0" or "1" for (?:[^0]|[^1]|.)*0 to end on, so it backtracks 3^33 ways.
export const ADVERSARIAL = "a".repeat(25) + " ".repeat(8);

export function judgeRegex(pattern: string): Bucket {
  const j = JSON.parse(readFileSync(LLAMA3_TOK, "utf8"));
  j.pre_tokenizer.pretokenizers[0].pattern.Regex = pattern;
  let tok: Tokenizer;
  try {
    tok = Tokenizer.fromJSON(j);
  } catch (e) {
    if (e instanceof Error && /^tokenizer(\.json)?: /.test(e.message)) return "handled";
    throw e;
  }
  // Accepted: it must be one of the known patterns, and fast (the family's clock counts a slow one as hung).
  if (tok.preTokenizer !== "llama3" && tok.preTokenizer !== "gpt2") return "silent";
  tok.encode(ADVERSARIAL);
  return "harmless";
}

// ---------------------------------------------------------------- issue 22: scale ranges

export interface ScaleCase {
  format: "weight_scale" | "i2s";
  tensor: number;
  value: number;
}
export const scaleArb: fc.Arbitrary<ScaleCase> = fc.record({
  format: fc.constantFrom("weight_scale" as const, "i2s" as const),
  tensor: fc.nat(),
  value: fc.oneof(
    fc.constantFrom(3e38, 1e30, 1e-30, 1e-38, 1e20, 1e12, 1e-12),
    fc.double({min: 1e7, max: 3e38, noNaN: true}),
    fc.double({min: 1e-38, max: 1e-7, noNaN: true}),
  ),
});
let packedCache: Map<string, Uint8Array> | undefined;
/** data/fixtures/hf-packed's files, read once. */
export function packedFiles(): Map<string, Uint8Array> {
  packedCache ??= new Map(
    ["config.json", "model.safetensors"].map((n) => [
      n,
      new Uint8Array(readFileSync(join("data/fixtures/hf-packed", n))),
    ]),
  );
  return packedCache;
}
export let packedGGUF: Uint8Array | undefined;

export async function judgeScale(c: ScaleCase): Promise<Bucket> {
  let files: Map<string, ByteSource>;
  let name: string;
  if (c.format === "weight_scale") {
    const st = packedFiles().get("model.safetensors")!.slice();
    const h = parseSafetensorsHeader(st);
    const scales = h.tensors.filter((t) => t.name.endsWith(".weight_scale"));
    const t = scales[c.tensor % scales.length];
    name = t.name.replace(/_scale$/, "");
    const dv = new DataView(st.buffer, h.dataOffset + t.begin);
    if (t.dtype === "F32") dv.setFloat32(0, c.value, true);
    else dv.setUint16(0, new Uint16Array(new Float32Array([c.value]).buffer)[1], true); // bf16: the high half
    files = new Map([
      ["config.json", memorySource(packedFiles().get("config.json")!, "config.json")],
      ["model.safetensors", memorySource(st, "model.safetensors")],
    ]);
  } else {
    if (!packedGGUF) {
      const w = await (
        await openCheckpoint(
          mapFileSet("hf-packed", new Map([...packedFiles()].map(([n, b]) => [n, memorySource(b, n)]))),
        )
      ).load();
      const {kvs, tensors} = ggufFromWeights(w);
      const parts: Uint8Array[] = [];
      await writeGGUF(kvs, tensors, (ch) => void parts.push(ch.slice()));
      packedGGUF = new Uint8Array(Buffer.concat(parts));
    }
    const g = packedGGUF.slice();
    const h = await parseGGUF(memorySource(g));
    const tern = h.tensors.filter((t) => t.type === 36);
    const t = tern[c.tensor % tern.length];
    name = t.name;
    new DataView(g.buffer).setFloat32(h.dataOffset + t.offset + t.n / 4, c.value, true);
    files = new Map([["m.gguf", memorySource(g, "m.gguf")]]);
  }
  let opened;
  try {
    opened = await openCheckpoint(mapFileSet("probe", files));
  } catch (e) {
    if (e instanceof FormatError) return "handled"; // e.g. a scale that flips the convention evidence
    throw e;
  }
  if (opened.inspection.warnings.some((w) => w.includes(name))) return "handled";
  // Not flagged: then running it must not print garbage as an answer — non-finite logits must throw.
  const s = createCpuSession(await opened.load());
  try {
    await s.append([1, 5, 9]);
    return "silent"; // an absurd scale neither flagged nor refused
  } catch (e) {
    if (e instanceof NonFiniteLogitsError) return "handled";
    throw e;
  }
}
