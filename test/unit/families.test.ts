import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {architectureOf, detectFamily} from "../../src/lib/architecture.js";
import {parseConfig, validateWeights} from "../../src/lib/checkpoint.js";
import {tensorNames} from "../../src/lib/config.js";
import {embedTokens, forwardFull} from "../../src/lib/model.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {alphaAt, detectPseudoTernary} from "../../src/lib/formats/pseudo.js";
import {toFloat32} from "../../src/lib/safetensors.js";
import {pathFileSet} from "../../src/node/files.js";

// Reduced-size checkpoints of the Llama-architecture ternary families written by transformers 5.17's own classes
// (scripts/family_fixtures.py, CPU; provenance in data/fixtures/fam-provenance.json), with transformers' logits.
// Shape: 2 layers, hidden 96, head_dim 32 ≠ 96/4, 4 heads / 2 KV, FFN 160 SiLU, vocab 512, untied head, θ 1000042.
const FX = "data/fixtures";
type Ref = {ok: boolean; sequences: number[][]; logits: number[][][]; linear_class: string};
const logitsOf = (name: string) => JSON.parse(readFileSync(`${FX}/${name}/logits.json`, "utf8")) as Ref;
// Measured worst |Δlogit| (logits up to ±18; the table in README.md): float32 summation order only. 1e-4 still
// catches one INT8 activation code or one weight code off (≥ 1e-3 at this size).
const TOLERANCE = 1e-4;

export async function familyAgreement(name: string) {
  const o = await openCheckpoint(await pathFileSet(`${FX}/${name}`));
  const w = await o.load();
  validateWeights(w);
  const ref = logitsOf(name);
  expect(ref.ok).toBe(true);
  let worst = 0,
    argmaxAgree = 0,
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

describe("Llama-architecture ternary families (fixtures by transformers' LlamaForCausalLM + bitnet quantizer)", () => {
  it("legacy config (quant_method bitnet only, Falcon3-1.58bit / HF1BitLLM): BitLinear divides; family, architecture and logits", async () => {
    const {o, w, worst, argmaxAgree, positions} = await familyAgreement("fam-llama-legacy");
    const ins = o.inspection;
    expect(ins.family.value).toBe("llama-bitnet");
    expect(ins.family.how).toMatch(/no linear_class: a legacy config/);
    expect(ins.format).toBe("hf-packed");
    expect(ins.scale!.value).toBe("divide");
    expect(ins.scale!.how).toMatch(/gives no linear_class/);
    expect(ins.scale!.evidence).toMatch(/above 1/);
    expect(ins.arch).toMatchObject({
      activation: "silu",
      norms: {subNorms: false},
      head: {tied: false},
      headDim: 32,
      headDimFrom: "config.head_dim",
      rope: {theta: 1000042},
    });
    expect(ins.arch.summary).toMatch(/SiLU GLU, no sub-norms, untied float LM head, head_dim 32/);
    expect(w.config).toMatchObject({
      bitnet_variant: "b1.58",
      bitnet_sub_norms: false,
      hidden_act: "silu",
      tie_word_embeddings: false,
      head_dim: 32,
    });
    // one stored byte decoded bit by bit: four codes from four row blocks
    expect(ins.word!.fields).toHaveLength(4);
    expect(ins.word!.fields[3].meaning).toMatch(/row 0, column 0: code \d → w = /);
    expect(ins.word!.fields[0].meaning).toMatch(/row 96, column 0/); // q: 128 rows in 4 blocks of 32
    expect(argmaxAgree).toBe(positions);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it("autobitlinear offline: weight_scale multiplies; logits match", async () => {
    const {o, worst, argmaxAgree, positions} = await familyAgreement("fam-llama-autobitlinear");
    expect(o.inspection.family.value).toBe("llama-bitnet");
    expect(o.inspection.scale!.value).toBe("multiply");
    expect(argmaxAgree).toBe(positions);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it("online fp16 master weights (Falcon-E bf16 revision style): ternarized at load; logits match", async () => {
    const {o, worst, argmaxAgree, positions} = await familyAgreement("fam-llama-online");
    expect(o.inspection.format).toBe("hf-latent");
    expect(o.inspection.pseudo).toBeUndefined();
    expect(o.inspection.word!.value).toMatch(/^F16 /);
    expect(argmaxAgree).toBe(positions);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it("1bitLLM config keys (weight_bits 1, input_bits 8, no quantization_config): named, quantized on the fly", async () => {
    const {o, w, worst, argmaxAgree, positions} = await familyAgreement("fam-1bitllm");
    expect(o.inspection.family.value).toBe("1bitllm");
    expect(o.inspection.family.how).toMatch(/weight_bits 1 and input_bits 8/);
    expect(o.inspection.format).toBe("hf-latent");
    expect(w.config.quantization_config).toEqual({
      quant_method: "bitnet",
      linear_class: "autobitlinear",
      quantization_mode: "online",
    });
    expect(argmaxAgree).toBe(positions);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it("TriLM-style unpacked fp16: a float model whose projections are detected as ternary × α per shard, recovered exactly", async () => {
    const {o, w, worst, argmaxAgree, positions} = await familyAgreement("fam-trilm-unpacked");
    const ins = o.inspection;
    expect(ins.family.value).toBe("llama-float");
    expect(ins.format).toBe("hf-fp");
    expect(ins.pseudo).toMatchObject({tensor: tensorNames.layer(0).q, axis: "rows", groups: 2});
    expect(ins.codeTable).toMatch(/code · α/);
    expect(ins.word!.value).toMatch(/= -?1 · α/);
    const prov = JSON.parse(readFileSync(`${FX}/fam-provenance.json`, "utf8")) as {
      trilm_scales: Record<string, {axis: string; groups: number; alphas: number[]}>;
    };
    // every layer-0 projection: the detector's axis, groups and α are the writer's, and value = code · α bit for bit
    for (const [name, s] of Object.entries(prov.trilm_scales)) {
      const t = w.float.get(name)!;
      const [out, inp] = t.shape as [number, number];
      const p = detectPseudoTernary(t.data, out, inp)!;
      expect(p, name).toBeDefined();
      expect(p.axis, name).toBe(s.axis);
      expect(
        p.groups.map((g) => g.alpha),
        name,
      ).toEqual(s.alphas.map((a) => Math.fround(a)));
      for (let r = 0; r < out; r++)
        for (let k = 0; k < inp; k++)
          if (t.data[r * inp + k] !== p.codes[r * inp + k] * alphaAt(p, r, k)) throw new Error(`${name}[${r},${k}]`);
    }
    expect(argmaxAgree).toBe(positions);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it("a float projection with trained values is not pseudo-ternary; a per-tensor one is", () => {
    const x = new Float32Array(64).map((_, i) => Math.sin(i));
    expect(detectPseudoTernary(x, 8, 8)).toBeUndefined();
    const y = x.map((v) => (v > 0.3 ? 0.25 : v < -0.3 ? -0.25 : 0));
    expect(detectPseudoTernary(y, 8, 8)).toMatchObject({axis: "tensor", groups: [{start: 0, length: 8, alpha: 0.25}]});
    expect(detectPseudoTernary(new Float32Array(64), 8, 8)).toBeUndefined();
    // bf16-stored scale: exact recovery through the float conversion
    const bytes = new Uint8Array([0x80, 0x3e, 0, 0, 0x80, 0xbe, 0x80, 0x3e]);
    expect(detectPseudoTernary(toFloat32(bytes, "BF16"), 2, 2)).toMatchObject({
      axis: "tensor",
      groups: [{alpha: 0.25}],
    });
  });
});

describe("BitNet-embedding style: Qwen3 body, an RMSNorm inside each BitLinear, last-token pooling + L2", () => {
  it("fam-qwen3-embedding: family, architecture and pooling named; logits and embeddings match transformers'", async () => {
    const {o, w, worst, argmaxAgree, positions} = await familyAgreement("fam-qwen3-embedding");
    const ins = o.inspection;
    expect(ins.family.value).toBe("bitnet-embedding");
    expect(ins.family.how).toMatch(
      /model_type "qwen3" with a bitnet quantization_config, quantization_config.use_rms_norm = true/,
    );
    expect(ins.format).toBe("hf-latent");
    expect(ins.arch).toMatchObject({
      norms: {perProjection: true, qk: true, subNorms: false},
      head: {tied: true},
      headDim: 32,
      pooling: "last-token-l2",
    });
    expect(ins.arch.summary).toMatch(/an RMSNorm inside each BitLinear, RMSNorm on each q\/k head/);
    expect(ins.pooling!.how).toMatch(/1_Pooling\/config.json: pooling_mode_lasttoken/);
    expect(w.config).toMatchObject({
      bitnet_linear_norms: true,
      bitnet_linear_norm_eps: 1e-6,
      bitnet_qk_norm: true,
      bitnet_pooling: "last-token-l2",
    });
    expect(argmaxAgree).toBe(positions);
    expect(worst).toBeLessThan(TOLERANCE);
    const ref = JSON.parse(readFileSync(`${FX}/fam-qwen3-embedding/logits.json`, "utf8")) as {
      sequences: number[][];
      embeddings: number[][];
    };
    let worstE = 0,
      worstCos = 0;
    ref.sequences.forEach((seq, s) => {
      const e = embedTokens(w, seq);
      let dot = 0;
      for (let i = 0; i < e.length; i++) {
        worstE = Math.max(worstE, Math.abs(e[i] - ref.embeddings[s][i]));
        dot += e[i] * ref.embeddings[s][i];
      }
      worstCos = Math.max(worstCos, 1 - dot);
    });
    console.log(
      `fam-qwen3-embedding: logits max |Δ| ${worst.toExponential(2)}, argmax ${argmaxAgree}/${positions}; embedding max |Δ| ${worstE.toExponential(2)}, 1 − cos ${worstCos.toExponential(2)}`,
    );
    expect(worstE).toBeLessThan(1e-5);
    expect(worstCos).toBeLessThan(1e-9);
  });

  it("the engine plan takes per-projection and QK norms, and refuses per-projection norms combined with sub-norms, by name", async () => {
    const {makePlan} = await import("../../src/gpu/engine.js");
    const w = await (await openCheckpoint(await pathFileSet(`${FX}/fam-qwen3-embedding`))).load();
    expect(makePlan(w.config, "f32").arch.norms).toMatchObject({perProjection: true, qk: true});
    expect(() => makePlan({...w.config, bitnet_sub_norms: true}, "f32")).toThrow(
      /webgpu: an RMSNorm inside each BitLinear together with sub-norms .* not run by the engine/,
    );
  });
});

describe("families that are named and refused", () => {
  const base = JSON.parse(readFileSync(`${FX}/fam-llama-legacy/config.json`, "utf8")) as Record<string, unknown>;
  it("an unknown model_type is named; use_rms_norm is read generically (Gemma3 and MiniCPM: families-bodies.test.ts)", () => {
    expect(() => parseConfig({...base, model_type: "mamba"})).toThrow(/model_type must be .*got "mamba"/);
    expect(detectFamily({model_type: "gemma3"}).value).toBe("gemma3-embedding");
    // use_rms_norm on a Llama body is the same architecture fact, read generically
    expect(parseConfig({...base, quantization_config: {quant_method: "bitnet", use_rms_norm: true}})).toMatchObject({
      bitnet_linear_norms: true,
      bitnet_linear_norm_eps: 1e-6,
    });
  });
  it("the architecture table is what the config says", () => {
    const c = parseConfig(base);
    expect(architectureOf(c)).toMatchObject({
      activation: "silu",
      head: {tied: false},
      headDim: 32,
      pooling: "none",
      weights: "ternary",
      norms: {perProjection: false, qk: false},
    });
    const {head_dim: _h, ...noHd} = base;
    expect(architectureOf(parseConfig({...noHd, num_attention_heads: 4, hidden_size: 96})).headDimFrom).toBe(
      "hidden_size / num_attention_heads",
    );
  });
});

describe("pseudo-quantized weights under a config that ternarizes online (Falcon-E prequantized style)", () => {
  it("keeps the config's runtime (absmean re-quantization keeps the codes, rescales to mean|W|) and says so", async () => {
    const {mapFileSet, memorySource} = await import("../../src/lib/formats/source.js");
    const cfg = JSON.parse(readFileSync(`${FX}/fam-trilm-unpacked/config.json`, "utf8")) as Record<string, unknown>;
    cfg.quantization_config = {quant_method: "bitnet", linear_class: "autobitlinear", quantization_mode: "online"};
    const files = mapFileSet(
      "t",
      new Map([
        ["config.json", memorySource(new TextEncoder().encode(JSON.stringify(cfg)), "config.json")],
        [
          "model.safetensors",
          memorySource(new Uint8Array(readFileSync(`${FX}/fam-trilm-unpacked/model.safetensors`)), "model.safetensors"),
        ],
      ]),
    );
    const o = await openCheckpoint(files);
    expect(o.inspection.format).toBe("hf-latent");
    expect(o.inspection.pseudo).toMatchObject({axis: "rows", groups: 2});
    expect(o.inspection.warnings.join(" ")).toMatch(
      /pseudo-quantized .* keeps these codes and scales them by mean\|W\|/,
    );
    const w = await o.load();
    const t = w.ternary.get(tensorNames.layer(0).q)!;
    const f = (await openCheckpoint(await pathFileSet(`${FX}/fam-trilm-unpacked`))).tensor(tensorNames.layer(0).q);
    const data = (await f).float!.data;
    for (let i = 0; i < data.length; i++) expect(Math.sign(data[i]) || 0).toBe(t.codes[i]);
  });
});

describe("writing a family's config.json for transformers (convert --to hf)", () => {
  it("no sub-norms → LlamaForCausalLM with the bitnet quantizer; QK norms → Qwen3ForCausalLM with use_rms_norm; both read back equal", async () => {
    const {configToJSON} = await import("../../src/lib/checkpoint.js");
    for (const dir of ["fam-llama-legacy", "fam-qwen3-embedding"]) {
      const c = (await (await openCheckpoint(await pathFileSet(`${FX}/${dir}`))).load()).config;
      const j = configToJSON(c);
      if (dir === "fam-llama-legacy")
        expect(j).toMatchObject({
          architectures: ["LlamaForCausalLM"],
          model_type: "llama",
          quantization_config: {quant_method: "bitnet", linear_class: "bitlinear"},
        });
      else
        expect(j).toMatchObject({
          architectures: ["Qwen3ForCausalLM"],
          model_type: "qwen3",
          quantization_config: {use_rms_norm: true, rms_norm_eps: 1e-6},
        });
      const back = parseConfig(j);
      expect(back).toEqual({
        ...c,
        quantization_config: back.quantization_config,
        ...(c.bitnet_pooling ? {bitnet_pooling: c.bitnet_pooling} : {}),
      });
    }
  });
});
