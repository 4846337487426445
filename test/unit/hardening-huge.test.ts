// Issue 22.3: multi-GB files. Sparse files (fs.truncate to a big size; no disk used) whose headers promise
// huge metadata arrays or a tensor above one buffer's limit must be refused with a message, fast — not abort
// the process (fs.read with a length ≥ 2³¹ is a native assert, exit 134) or build 3e9 elements one by one.
import {mkdtempSync, rmSync, truncateSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {runCli} from "../../scripts/probe.js";
import {defaultConfig} from "../../src/lib/config.js";
import {ggufFromWeights} from "../../src/lib/formats/gguf-model.js";
import {GGUFValueType} from "../../src/lib/formats/gguf.js";
import {writeGGUF} from "../../src/lib/formats/gguf-write.js";
import type {GGUFKV} from "../../src/lib/formats/gguf-write.js";
import {FormatError, blobSource} from "../../src/lib/formats/source.js";
import {randomWeights} from "../../src/lib/init.js";
import {fileSource} from "../../src/node/files.js";

const dir = mkdtempSync(join(tmpdir(), "bl-huge-"));
afterAll(() => rmSync(dir, {recursive: true, force: true}));

type Tensors = ReturnType<typeof ggufFromWeights>["tensors"];
/** The header bytes writeGGUF produces (its first chunk), without producing any tensor data. */
async function headerOf(kvs: GGUFKV[], tensors: Tensors): Promise<Uint8Array> {
  let header: Uint8Array | undefined;
  const stop = new Error("header only");
  await writeGGUF(
    kvs,
    tensors.map((t) => ({
      ...t,
      data: () => {
        throw stop;
      },
    })),
    (c) => void (header ??= c),
  ).catch((e) => {
    if (e !== stop) throw e;
  });
  return header!;
}

/** A GGUF header written for real, its data section left sparse (generously sized: every tensor as F32). */
async function sparseGGUF(path: string, kvs: GGUFKV[], tensors: Tensors): Promise<void> {
  const header = await headerOf(kvs, tensors);
  writeFileSync(path, header);
  const data = tensors.reduce((s, t) => s + t.dims.reduce((a, d) => a * d, 1) * 4 + 64, 0);
  truncateSync(path, header.length + data);
}

const SHAPE = {
  vocab_size: 300,
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 32,
};
const tiny = () =>
  ggufFromWeights(randomWeights(defaultConfig("b1.58", {...SHAPE, hidden_act: "relu2", bitnet_sub_norms: true}), 3), {
    embedding: "F32",
  });

describe("huge files (issue 22.3)", () => {
  it("a 3.1e9-element metadata array in a 3.2 GB sparse file is refused at once", async () => {
    const {kvs, tensors} = tiny();
    const path = join(dir, "array.gguf");
    // An empty U8 array whose count is then patched to 3.1e9: its elements are the sparse zeros that follow.
    const key = "tokenizer.ggml.scores";
    const header = await headerOf(
      [...kvs, {key, type: GGUFValueType.ARRAY, elementType: GGUFValueType.U8, value: []}],
      tensors,
    );
    const at = Buffer.from(header).indexOf(key) + key.length + 4 + 4; // after the key, its type, the element type
    new DataView(header.buffer, header.byteOffset).setBigUint64(at, 3_100_000_000n, true);
    writeFileSync(path, header);
    truncateSync(path, 3_200_000_000);
    const t0 = performance.now();
    const r = await runCli(["inspect", path]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/tokenizer\.ggml\.scores.*array of 3100000000 elements is more than any GGUF key holds/);
    expect(performance.now() - t0).toBeLessThan(5000);
  }, 20_000);

  it("a tensor above one buffer's limit (a 2 GiB F32 embedding) is refused by name, not a native abort", async () => {
    // Header of a tiny model whose embedding says vocab 2^22 × 128 F32 = 2 GiB.
    const {kvs, tensors} = tiny();
    const V = 1 << 22;
    const kv2 = kvs.map((k) => (k.key === "bitnet-25.vocab_size" ? {...k, value: V} : k));
    const t2 = tensors.map((t) => (t.name === "token_embd.weight" ? {...t, dims: [t.dims[0], V]} : t));
    const path = join(dir, "big-embd.gguf");
    await sparseGGUF(path, kv2, t2);
    const r = await runCli(["logits", path, "--tokens", "1,2"]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/token_embd\.weight|2147483648/);
    expect(r.err).toMatch(/more than one buffer can hold|larger than a single buffer/);
  }, 60_000);

  it("Node file reads past 2³¹ work; one read ≥ 2³¹ bytes is a FormatError", async () => {
    const path = join(dir, "sparse.bin");
    writeFileSync(path, "");
    truncateSync(path, 3_000_000_000);
    const src = fileSource(path, 3_000_000_000);
    expect(await src.read(2_999_999_990, 10)).toEqual(new Uint8Array(10));
    await expect(src.read(0, 2 ** 31)).rejects.toThrow(FormatError);
    await expect(src.read(0, 2 ** 31)).rejects.toThrow(/larger than a single buffer/);
  });

  it("Blob sources read large ranges in bounded slices and say so when a read is too large", async () => {
    // A fake Blob of 5 GB: slices are recorded, their bytes are the offsets' low bytes.
    const slices: number[] = [];
    const fake = {
      size: 5e9,
      slice(a: number, b: number) {
        slices.push(b - a);
        return {arrayBuffer: async () => Uint8Array.from({length: b - a}, (_, i) => (a + i) & 255).buffer};
      },
    } as unknown as Blob;
    const src = blobSource(fake, "fake.gguf", 1000);
    const got = await src.read(4e9, 2500);
    expect(slices).toEqual([1000, 1000, 500]);
    expect(got[0]).toBe(4e9 & 255);
    expect(got[2499]).toBe((4e9 + 2499) & 255);
    await expect(src.read(0, 2 ** 31)).rejects.toThrow(/larger than a single buffer/);
  });
});
