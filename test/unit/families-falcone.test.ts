import {readFileSync} from "node:fs";
import {describe, expect, it, vi} from "vitest";
import {main} from "../../src/cli/main.js";
import {forwardFull} from "../../src/lib/model.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {logitsAgreement} from "../../src/lib/verify.js";
import {pathFileSet} from "../../src/node/files.js";

// Falcon-E's "prequantized" revision (scripts/falcone_prequantized_fixture.py): a plain LlamaForCausalLM holding the
// latent bf16 master weights, which onebitllms' replace_linear_with_bitnet_linear runs as BitNet. The files cannot
// say so: opened as they are it is a float Llama (transformers' own logits); asked to run as BitNet (asBitNet,
// `--as-bitnet`) it is ternarized at load and agrees with onebitllms' BitNetLinear (a CPU transcription of its
// kernels) and transformers' AutoBitLinear online.
const FX = "data/fixtures/fam-falcone-prequantized";
const ref = JSON.parse(readFileSync(`${FX}/logits.json`, "utf8")) as {
  sequences: number[][];
  logits: number[][][];
  float_logits: number[][][];
  transformers_online_logits: number[][][];
};

async function ours(asBitNet: boolean) {
  const o = await openCheckpoint(await pathFileSet(FX), {asBitNet});
  const w = await o.load();
  const V = w.config.vocab_size;
  const logits = ref.sequences.map((s) => {
    const l = forwardFull(w, s).logits;
    return Array.from({length: s.length}, (_, p) => Array.from(l.subarray(p * V, (p + 1) * V)));
  });
  return {o, w, logits};
}

describe("Falcon-E prequantized: latent master weights in a plain Llama checkpoint", () => {
  it("as the files say: a float Llama, not pseudo-quantized (the values are latent), transformers' float logits", async () => {
    const {o, w, logits} = await ours(false);
    expect(o.inspection.family.value).toBe("llama-float");
    expect(o.inspection.format).toBe("hf-fp");
    expect(o.inspection.pseudo).toBeUndefined();
    expect(o.inspection.warnings.join(" ")).toMatch(/Falcon-E's prequantized revision.*--as-bitnet/);
    expect(w.config.bitnet_variant).toBe("fp");
    const a = logitsAgreement(logits, ref.float_logits);
    expect(a.max).toBeLessThan(1e-4);
    expect(a.argmax).toBe(a.positions);
  });

  it("run as BitNet: named as asked, ternarized at load; = transformers' AutoBitLinear online, and onebitllms' up to its one rounding tie", async () => {
    const {o, w, logits} = await ours(true);
    expect(o.inspection.family.value).toBe("llama-bitnet");
    expect(o.inspection.family.how).toMatch(/asked to run as BitNet \(onebitllms' replace_linear_with_bitnet_linear/);
    expect(o.inspection.format).toBe("hf-latent");
    expect(w.config.bitnet_variant).toBe("b1.58");
    // Two rounding edges in these 16 positions, both measured: onebitllms rounds half up (floor(x·s + 0.5)),
    // transformers and this project half to even, and sequence 1 has an activation at exactly −63.5 (layer 0 q/k/v
    // input, position 6); in sequence 2 layer 0's gate/up input at position 4 is −8.49999 in transformers' float32
    // sums, 7·10⁻⁶ from the edge, and lands on the other side in ours. Before them: exact to float32 sums; after
    // them: one INT8 code moves the later logits by ≤ 0.14, argmax unchanged.
    const upTo = (l: number[][][], a: number, b: number) => [l[0].slice(0, a), l[1].slice(0, b)];
    const tf = logitsAgreement(upTo(logits, 10, 4), upTo(ref.transformers_online_logits, 10, 4));
    expect(tf.max, JSON.stringify(tf)).toBeLessThan(1e-4);
    const ob = logitsAgreement(upTo(logits, 6, 4), upTo(ref.logits, 6, 4));
    expect(ob.max, JSON.stringify(ob)).toBeLessThan(1e-4);
    for (const r of [ref.logits, ref.transformers_online_logits]) {
      const all = logitsAgreement(logits, r);
      expect(all.max).toBeLessThan(0.2);
      expect(all.argmax).toBe(all.positions);
    }
    // and it is a different model from the float reading
    expect(logitsAgreement(logits, ref.float_logits).max).toBeGreaterThan(1);
  });

  it("the request is refused by name where it does not apply", async () => {
    await expect(openCheckpoint(await pathFileSet("data/fixtures/fam-llama-legacy"), {asBitNet: true})).rejects.toThrow(
      /"run as BitNet" is for float Llama checkpoints; this config.json already says how its projections are quantized/,
    );
    await expect(
      openCheckpoint(await pathFileSet("data/fixtures/fam-qwen3-embedding"), {asBitNet: true}),
    ).rejects.toThrow(/model_type "qwen3"/);
    const g = await openCheckpoint(await pathFileSet("data/fixtures/fam-gguf-tq2_0.gguf"), {asBitNet: true});
    expect(g.inspection.warnings.join(" ")).toMatch(
      /"run as BitNet" was asked, but a GGUF file states each tensor's type: ignored/,
    );
  });

  it("on the command line: --as-bitnet names the request in inspect's family line", async () => {
    let out = "";
    vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void (out += a.join(" ") + "\n"));
    vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
    try {
      expect(await main(["inspect", FX, "--as-bitnet"])).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
    expect(out).toMatch(/family: Llama-architecture BitNet .* asked to run as BitNet/);
  });
});
