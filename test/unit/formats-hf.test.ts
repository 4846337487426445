import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import fc from "fast-check";
import {tensorNames} from "../../src/lib/config.js";
import {validateWeights} from "../../src/lib/checkpoint.js";
import {forwardFull} from "../../src/lib/model.js";
import {parseSafetensorsHeader, writeSafetensors} from "../../src/lib/safetensors.js";
import type {DType} from "../../src/lib/safetensors.js";
import {Tokenizer} from "../../src/lib/tokenizer.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import type {OpenOptions} from "../../src/lib/formats/open.js";
import {FormatError, mapFileSet, memorySource} from "../../src/lib/formats/source.js";
import type {ByteSource} from "../../src/lib/formats/source.js";
import {pathFileSet} from "../../src/node/files.js";
import {textCodec} from "../../src/node/runtime.js";
import {ggufTokenizerJSON, ggufTokenizerKVs} from "../../src/lib/formats/gguf-tokenizer.js";
import type {GGUFHeader} from "../../src/lib/formats/gguf.js";

// Fixtures written by transformers 5.17 itself (scripts/hf_fixtures.py on the GPU host): the same bf16 master
// weights as save_pretrained (online), packed by transformers' pack_weights with weight_scale = mean|W|
// (autobitlinear, multiplies) and = 1/mean|W| (bitlinear, divides), with transformers' logits for each.
const FX = "data/fixtures";
const logitsOf = (name: string) =>
  JSON.parse(readFileSync(`${FX}/${name}/logits.json`, "utf8")) as {
    ok: boolean;
    sequences: number[][];
    logits: number[][][];
    linear_class: string;
  };
// Measured worst |Δlogit| over all positions and tokens: 8.1e-6 (logits up to ±54), float32 summation order.
// 1e-4 leaves room for that and still catches one INT8 activation code or one weight code off (≥ 1e-3 here).
const TOLERANCE = 1e-4;

function files(map: Record<string, Uint8Array>, label = "test folder") {
  return mapFileSet(
    label,
    new Map(Object.entries(map).map(([k, v]) => [k, memorySource(v, k)] as [string, ByteSource])),
  );
}
const read = (p: string) => new Uint8Array(readFileSync(p));
const folder = (name: string, patch?: (c: Record<string, unknown>) => void) => {
  const config = JSON.parse(readFileSync(`${FX}/${name}/config.json`, "utf8"));
  patch?.(config);
  return {
    "config.json": new TextEncoder().encode(JSON.stringify(config)),
    "model.safetensors": read(`${FX}/${name}/model.safetensors`),
  };
};

async function worstDiff(name: string, opts: OpenOptions = {}) {
  const o = await openCheckpoint(await pathFileSet(`${FX}/${name}`), opts);
  const w = await o.load();
  validateWeights(w);
  const ref = logitsOf(name);
  expect(ref.ok).toBe(true);
  let worst = 0;
  let argmaxAgree = 0,
    positions = 0;
  ref.sequences.forEach((seq, s) => {
    const got = forwardFull(w, seq).logits;
    const V = w.config.vocab_size;
    ref.logits[s].forEach((row, p) => {
      let a = 0,
        b = 0;
      for (let v = 0; v < V; v++) {
        worst = Math.max(worst, Math.abs(row[v] - got[p * V + v]));
        if (row[v] > row[a]) a = v;
        if (got[p * V + v] > got[p * V + b]) b = v;
      }
      positions++;
      if (a === b) argmaxAgree++;
    });
  });
  return {o, w, worst, argmaxAgree, positions};
}

describe("HF checkpoints written by transformers", () => {
  it("packed, autobitlinear: weight_scale multiplies (decided from config.json, confirmed by magnitude); logits match transformers", async () => {
    const {o, worst, argmaxAgree, positions} = await worstDiff("hf-packed");
    const ins = o.inspection;
    expect(ins.format).toBe("hf-packed");
    expect(ins.scale!.value).toBe("multiply");
    expect(ins.scale!.how).toMatch(/autobitlinear/);
    expect(ins.scale!.evidence).toMatch(/below 1/);
    expect(ins.scale!.otherWay).toMatch(/scaled by/);
    expect(ins.rope.value).toBe("rotate-half");
    expect(ins.bitsPerWeight.projections).toBeCloseTo(2, 2);
    expect(argmaxAgree).toBe(positions);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it("packed, bitlinear (Falcon-E style): weight_scale divides; logits match transformers' BitLinear", async () => {
    const {o, worst, argmaxAgree, positions} = await worstDiff("hf-bitlinear");
    expect(o.inspection.scale!.value).toBe("divide");
    expect(o.inspection.scale!.evidence).toMatch(/above 1/);
    expect(argmaxAgree).toBe(positions);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it("bf16 master weights (online): ternarized at load with the library's absmean, equal codes to transformers' pack_weights", async () => {
    const {o, w, worst} = await worstDiff("hf-bf16");
    expect(o.inspection.format).toBe("hf-latent");
    expect(o.inspection.codeTable).toMatch(/computed at load/);
    expect(worst).toBeLessThan(TOLERANCE);
    const packed = await (await openCheckpoint(await pathFileSet(`${FX}/hf-packed`))).load();
    for (const [name, t] of packed.ternary)
      expect(Array.from(w.ternary.get(name)!.codes), name).toEqual(Array.from(t.codes));
  });

  it("golden rows: the chosen convention and the other one differ by weight_scale² per weight", async () => {
    const o = await openCheckpoint(await pathFileSet(`${FX}/hf-packed`));
    const g = await o.goldenRows(tensorNames.layer(0).q, 2);
    expect(g.otherLabel).toBe("divide");
    let k = 0;
    while (g.chosen[k] === 0) k++;
    // chosen = code · ws, other = code / ws: their product is code² = 1 and their ratio ws² ≈ 0.0025
    expect(g.other[k] * g.chosen[k]).toBeCloseTo(1, 5);
    expect(Math.abs(g.chosen[k] / g.other[k])).toBeLessThan(0.01);
  });

  it("a config whose linear_class contradicts the stored scales is refused with a specific error; an override reads it", async () => {
    const wrong = files(
      folder("hf-packed", (c) => ((c.quantization_config as Record<string, string>).linear_class = "bitlinear")),
    );
    await expect(openCheckpoint(wrong)).rejects.toThrow(
      /scale convention mismatch: .*"bitlinear".*median weight_scale 0\.0498/,
    );
    const o = await openCheckpoint(wrong, {scale: "multiply"});
    expect(o.inspection.scale!.how).toMatch(/set by you/);
    const wrong2 = files(
      folder("hf-bitlinear", (c) => ((c.quantization_config as Record<string, string>).linear_class = "autobitlinear")),
    );
    await expect(openCheckpoint(wrong2)).rejects.toThrow(/scale convention mismatch/);
    const none = files(
      folder("hf-bitlinear", (c) => delete (c.quantization_config as Record<string, string>).linear_class),
    );
    const on = await openCheckpoint(none);
    expect(on.inspection.scale!.how).toMatch(/no linear_class/);
    expect(on.inspection.warnings.join(" ")).toMatch(/transformers' default/);
  });

  it("names the packing mistakes people make", async () => {
    const f = folder("hf-packed");
    const h = parseSafetensorsHeader(f["model.safetensors"]);
    const entries = h.tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype as DType,
      shape: t.shape,
      data: f["model.safetensors"].subarray(h.dataOffset + t.begin, h.dataOffset + t.end),
    }));
    const q = entries.find((e) => e.name === tensorNames.layer(0).q)!;
    // packed along the input dimension instead of row blocks: [out, in/4]
    const colPacked = entries.map((e) => (e === q ? {...e, shape: [256, 64]} : e));
    await expect(openCheckpoint(files({...f, "model.safetensors": writeSafetensors(colPacked)}))).rejects.toThrow(
      /packed along the input dimension/,
    );
    const noScale = entries.filter((e) => e.name !== tensorNames.layer(0).q.replace(".weight", ".weight_scale"));
    await expect(openCheckpoint(files({...f, "model.safetensors": writeSafetensors(noScale)}))).rejects.toThrow(
      /has no .*weight_scale/,
    );
  });
});

describe("sharded safetensors (model.safetensors.index.json)", () => {
  const f = folder("hf-packed");
  const h = parseSafetensorsHeader(f["model.safetensors"]);
  const entries = h.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype as DType,
    shape: t.shape,
    data: f["model.safetensors"].subarray(h.dataOffset + t.begin, h.dataOffset + t.end),
  }));
  const half = Math.floor(entries.length / 2);
  const shardA = writeSafetensors(entries.slice(0, half));
  const shardB = writeSafetensors(entries.slice(half));
  const map: Record<string, string> = {};
  entries.forEach(
    (e, i) => (map[e.name] = i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors"),
  );
  const index = (m = map) => new TextEncoder().encode(JSON.stringify({metadata: {total_size: 0}, weight_map: m}));
  const sharded = (over: Record<string, Uint8Array | undefined> = {}) => {
    const all: Record<string, Uint8Array | undefined> = {
      "config.json": f["config.json"],
      "model.safetensors.index.json": index(),
      "model-00001-of-00002.safetensors": shardA,
      "model-00002-of-00002.safetensors": shardB,
      ...over,
    };
    return files(
      Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<string, Uint8Array>,
    );
  };

  it("reads shards into the same weights as the single file", async () => {
    const a = await (await openCheckpoint(sharded())).load();
    const b = await (await openCheckpoint(files(f))).load();
    for (const [n, t] of b.ternary) expect(Array.from(a.ternary.get(n)!.codes)).toEqual(Array.from(t.codes));
    expect(Array.from(forwardFull(a, [1, 2, 3]).logits)).toEqual(Array.from(forwardFull(b, [1, 2, 3]).logits));
  });

  it("refuses inconsistent shard sets specifically", async () => {
    await expect(openCheckpoint(sharded({"model-00002-of-00002.safetensors": undefined}))).rejects.toThrow(
      /lists shard "model-00002-of-00002.safetensors".*not among the files/,
    );
    const moved = {...map, [entries[0].name]: "model-00002-of-00002.safetensors"};
    await expect(openCheckpoint(sharded({"model.safetensors.index.json": index(moved)}))).rejects.toThrow(
      /does not hold it/,
    );
    const dropped = {...map};
    delete dropped[entries[1].name];
    await expect(openCheckpoint(sharded({"model.safetensors.index.json": index(dropped)}))).rejects.toThrow(
      /the index does not map/,
    );
    await expect(
      openCheckpoint(sharded({"model.safetensors.index.json": new TextEncoder().encode("{nope")})),
    ).rejects.toThrow(/not valid JSON/);
    await expect(
      openCheckpoint(sharded({"model.safetensors.index.json": index({x: "../etc/passwd"})})),
    ).rejects.toThrow(/same folder/);
    await expect(openCheckpoint(sharded({"model.safetensors": f["model.safetensors"]}))).rejects.toThrow(/ambiguous/);
    await expect(openCheckpoint(files({"config.json": f["config.json"]}))).rejects.toThrow(/no weights/);
    await expect(openCheckpoint(files({"notes.txt": new Uint8Array(3)}))).rejects.toThrow(/no checkpoint found/);
    // BitCPM-CANN style: config.json + pytorch_model.bin is named as a pickle, not "no weights"
    await expect(
      openCheckpoint(files({"config.json": f["config.json"], "pytorch_model.bin": new Uint8Array([0x80, 2, 0x7d])})),
    ).rejects.toThrow(/pytorch_model\.bin is a PyTorch pickle checkpoint: not read/);
  });

  it("fuzz: corrupting any byte of the index or a shard either loads a complete model or fails with a specific error", async () => {
    const names = [
      "model.safetensors.index.json",
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
    ];
    const bytes = [index(), shardA, shardB];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({min: 0, max: 2}),
        fc.nat(),
        fc.integer({min: 1, max: 255}),
        fc.boolean(),
        async (which, p, xor, headerBias) => {
          const src = bytes[which];
          const limit =
            headerBias && which > 0 ? Math.min(src.length, 8 + parseSafetensorsHeader(src).headerLength) : src.length;
          const bad = src.slice();
          bad[p % limit] ^= xor;
          try {
            validateWeights(await (await openCheckpoint(sharded({[names[which]]: bad}))).load());
          } catch (e) {
            expect(e instanceof FormatError || /config\.json/.test(String(e)), String(e)).toBe(true);
          }
        },
      ),
      {numRuns: 150},
    );
  });
});

describe("tokenizers agree with Hugging Face's", () => {
  const fx = JSON.parse(readFileSync(`${FX}/hf-tokenizers/tokenizers.json`, "utf8"));

  it("the shipped tokenizer.json: transformers' encode (BOS from the template) = the CLI's codec (issue 11.9)", () => {
    const shipped = JSON.parse(readFileSync("data/models/b1.58/tokenizer.json", "utf8"));
    const codec = textCodec(shipped, {vocab_size: 4096, bos_token_id: 1, eos_token_id: 2});
    const tok = Tokenizer.fromJSON(shipped);
    fx.shipped.prompts.forEach((p: string, i: number) => {
      expect(codec.encode(p), JSON.stringify(p)).toEqual(fx.shipped.with_special[i]);
      expect(tok.encode(p)).toEqual(fx.shipped.without_special[i]);
    });
  });

  it("a Llama-3-style tokenizer.json (Split regex, ignore_merges, 256 added specials, BOS template) = the tokenizers library", () => {
    const j = JSON.parse(readFileSync(`${FX}/hf-tokenizers/llama3-style-tokenizer.json`, "utf8"));
    const tok = Tokenizer.fromJSON(j);
    expect(tok.vocabSize).toBe(4096 + 256);
    expect(tok.bosId).toBe(fx.llama3_style.bos);
    expect(tok.preTokenizer).toBe("llama3");
    fx.llama3_style.prompts.forEach((p: string, i: number) => {
      expect(tok.encode(p, {addSpecialTokens: true}), JSON.stringify(p)).toEqual(fx.llama3_style.with_special[i]);
      expect(tok.encode(p)).toEqual(fx.llama3_style.without_special[i]);
      expect(tok.decode(tok.encode(p))).toBe(p);
    });
    // the same vocabulary as GGUF tokenizer.ggml.* (pre "llama-bpe", control tokens, add_bos_token) encodes the same
    const kvs = ggufTokenizerKVs(j, {bos: tok.bosId, eos: tok.eosId});
    expect(kvs.find((k) => k.key === "tokenizer.ggml.pre")!.value).toBe("llama-bpe");
    const md = new Map(kvs.map((k) => [k.key, k.elementType === 5 ? Int32Array.from(k.value as number[]) : k.value]));
    const fromGGUF = Tokenizer.fromJSON(ggufTokenizerJSON({metadata: md} as unknown as GGUFHeader).json);
    fx.llama3_style.prompts.forEach((p: string, i: number) =>
      expect(fromGGUF.encode(p, {addSpecialTokens: true}), JSON.stringify(p)).toEqual(fx.llama3_style.with_special[i]),
    );
    // the instruct chat prompt: BOS, "User: …<|eot_id|>", then "Assistant: "
    const chat = tok.encodeChat([{role: "user", content: "Hi"}]);
    expect(chat[0]).toBe(tok.bosId);
    expect(chat).toContain(tok.pieceToId("<|eot_id|>"));
    expect(tok.decode(chat)).toBe("User: HiAssistant: ");
  });
});
