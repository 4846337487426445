import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {architectureOf} from "../../src/lib/architecture.js";
import {configToJSON, parseConfig, validateWeights} from "../../src/lib/checkpoint.js";
import {argmax} from "../../src/lib/generate.js";
import {embedTokens, forwardFull} from "../../src/lib/model.js";
import type {ModelWeights} from "../../src/lib/tensor.js";
import {openCheckpoint} from "../../src/lib/formats/open.js";
import {pathFileSet} from "../../src/node/files.js";

// Bodies other than Llama's, written by transformers 5.17's own classes (scripts/family_body_fixtures.py, CPU;
// provenance in data/fixtures/fam-body-provenance.json), with transformers' logits and embeddings.
// fam-gemma3-embedding: Gemma3ForCausalLM (gemma3_text) + bitnet quantizer autobitlinear/online/use_rms_norm; 3 layers
// (sliding, sliding, full; window 4 < the 10-token sequence), hidden 96, 4 heads / 1 KV head of 32, FFN 160,
// query_pre_attn_scalar 24, θ 10000 / 1e6, tied, last-token pooling + L2.
const DIR = "data/fixtures/fam-gemma3-embedding";
type Ref = {
  ok: boolean;
  sequences: number[][];
  logits: number[][][];
  embeddings: number[][];
  logits_without_window_last: number[];
};
const ref = JSON.parse(readFileSync(`${DIR}/logits.json`, "utf8")) as Ref;
const raw = JSON.parse(readFileSync(`${DIR}/config.json`, "utf8")) as Record<string, unknown>;
// Measured worst |Δlogit| 1.4e-6 (logits up to ±6): float32 rounding only. 1e-4 catches one activation code off, a
// norm without its 1 + w, or a missing sliding window (transformers moves the last logits by 2.2 without it).
const TOLERANCE = 1e-4;

/** The CPU reference's logits against the reference code's over every sequence: worst |Δ| and argmax agreement. */
function agreement(w: ModelWeights, r: Pick<Ref, "sequences" | "logits">) {
  let worst = 0,
    agree = 0,
    positions = 0;
  const V = w.config.vocab_size;
  r.sequences.forEach((seq, s) => {
    const got = forwardFull(w, seq).logits;
    r.logits[s].forEach((row, p) => {
      const mine = got.subarray(p * V, (p + 1) * V);
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(row[v] - mine[v]));
      positions++;
      if (argmax(mine) === argmax(Float32Array.from(row))) agree++;
    });
  });
  return {worst, agree, positions};
}

describe("BitNet-embedding-270M style: Gemma3 body (fixture by transformers' Gemma3ForCausalLM + bitnet quantizer)", () => {
  it("family, architecture and pooling named; logits and embeddings match transformers'", async () => {
    const o = await openCheckpoint(await pathFileSet(DIR));
    const ins = o.inspection;
    expect(ins.family.value).toBe("gemma3-embedding");
    expect(ins.family.how).toMatch(/model_type "gemma3_text" with a bitnet quantization_config, .*use_rms_norm = true/);
    expect(ins.format).toBe("hf-latent");
    expect(ins.arch).toMatchObject({
      activation: "gelu_tanh",
      norms: {perProjection: true, qk: true, subNorms: false, unitOffset: true, sandwich: true},
      head: {tied: true},
      headDim: 32,
      embedScale: Math.fround(Math.sqrt(96)),
      attention: {scale: 1 / Math.sqrt(24), scaleFrom: "query_pre_attn_scalar^-1/2", window: [4, 4, undefined]},
      rope: {theta: 1e6, thetaPerLayer: [10000, 10000, 1e6]},
      pooling: "last-token-l2",
    });
    expect(ins.arch.summary).toMatch(
      /GELU-tanh GLU, .*sandwich.*1 \+ w.*√hidden.*query_pre_attn_scalar.*2 of 3 layers sliding-window \(4 keys\)/,
    );
    const w = await o.load();
    validateWeights(w);
    expect(ref.ok).toBe(true);
    const {worst, agree, positions} = agreement(w, ref);
    const V = w.config.vocab_size;
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
      `fam-gemma3-embedding: logits max |Δ| ${worst.toExponential(2)}, argmax ${agree}/${positions}; embedding max |Δ| ${worstE.toExponential(2)}, 1 − cos ${worstCos.toExponential(2)}`,
    );
    expect(agree).toBe(positions);
    expect(worst).toBeLessThan(TOLERANCE);
    expect(worstE).toBeLessThan(1e-5);
    expect(worstCos).toBeLessThan(1e-9);
    // the window is what transformers ran: without it the last logits are transformers' unwindowed ones
    const noWindow = forwardFull(
      {...w, config: {...w.config, bitnet_gemma: {...w.config.bitnet_gemma!, sliding_window: 1000}}},
      ref.sequences[0],
    ).logits.subarray((ref.sequences[0].length - 1) * V);
    let worstNW = 0;
    for (let v = 0; v < V; v++) worstNW = Math.max(worstNW, Math.abs(noWindow[v] - ref.logits_without_window_last[v]));
    expect(worstNW).toBeLessThan(TOLERANCE);
  });

  it("reads the per-projection norms under Microsoft's export name `<proj>.norm.weight` as well", async () => {
    const {mapFileSet, memorySource} = await import("../../src/lib/formats/source.js");
    const bytes = new Uint8Array(readFileSync(`${DIR}/model.safetensors`));
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n)).replaceAll(".rms_norm.weight", ".norm.weight");
    // ".norm.weight" is 4 bytes shorter per name: pad the JSON with spaces to keep the data offsets
    const json = new TextEncoder().encode(header.padEnd(n, " "));
    const renamed = new Uint8Array(bytes);
    renamed.set(json, 8);
    const files = mapFileSet(
      "renamed",
      new Map([
        ["config.json", memorySource(new Uint8Array(readFileSync(`${DIR}/config.json`)), "config.json")],
        ["model.safetensors", memorySource(renamed, "model.safetensors")],
      ]),
    );
    expect(header).toContain("q_proj.norm.weight");
    const w = await (await openCheckpoint(files)).load();
    const got = forwardFull(w, ref.sequences[1]).logits;
    const want = ref.logits[1].flat();
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it("reads Gemma3TextConfig's defaults and legacy keys; refuses what it does not run, by name", () => {
    const {layer_types: _lt, rope_parameters: _rp, sliding_window: _sw, query_pre_attn_scalar: _q, ...bare} = raw;
    const c = parseConfig({...bare, num_hidden_layers: 6, rope_theta: 500000, rope_local_base_freq: 20000});
    expect(c.bitnet_gemma).toEqual({
      query_pre_attn_scalar: 256,
      sliding_window: 4096,
      sliding: [true, true, true, true, true, false], // sliding_window_pattern 6
      rope_local_theta: 20000,
    });
    expect(c.rope_theta).toBe(500000);
    expect(architectureOf(c).rope.thetaPerLayer).toEqual([20000, 20000, 20000, 20000, 20000, 500000]);
    expect(() => parseConfig({...raw, model_type: "gemma3"})).toThrow(/multimodal Gemma3.*gemma3_text/);
    expect(() => parseConfig({...raw, final_logit_softcapping: 30})).toThrow(
      /final_logit_softcapping 30: tanh soft-capping/,
    );
    expect(() => parseConfig({...raw, use_bidirectional_attention: true})).toThrow(/use_bidirectional_attention true/);
    expect(() => parseConfig({...raw, hidden_activation: "silu"})).toThrow(/gelu_pytorch_tanh/);
    expect(() => parseConfig({...raw, layer_types: ["sliding_attention"]})).toThrow(/layer_types must list 3/);
    expect(() => parseConfig({...raw, layer_types: ["sliding_attention", "x", "full_attention"]})).toThrow(
      /layer_types\[1\]/,
    );
    expect(() => parseConfig({...raw, rope_parameters: {sliding_attention: {rope_type: "linear", factor: 8}}})).toThrow(
      /rope_parameters.sliding_attention.rope_type "linear"/,
    );
  });

  it("the engine plan runs sliding-window layers to max_position_embeddings and refuses the body without per-projection norms", async () => {
    const {engineRefusal, makePlan} = await import("../../src/gpu/engine.js");
    const c = parseConfig(raw);
    // the window is a mask in the attention kernels (attention.ts keyStart), not a cap on the session
    expect(makePlan(c, "f32").maxPositions).toBe(128);
    expect(engineRefusal(c)).toBeUndefined();
    expect(engineRefusal({...c, bitnet_linear_norms: false})).toMatch(/GELU-tanh GLU without an RMSNorm inside/);
    expect(() => makePlan({...c, bitnet_linear_norms: false}, "f32")).toThrow(
      /webgpu: sandwich norms or a GELU-tanh GLU without an RMSNorm inside each BitLinear/,
    );
  });

  it("convert --to hf writes Gemma3ForCausalLM, which reads back equal", async () => {
    const c = (await (await openCheckpoint(await pathFileSet(DIR))).load()).config;
    const j = configToJSON(c);
    expect(j).toMatchObject({
      architectures: ["Gemma3ForCausalLM"],
      model_type: "gemma3_text",
      hidden_activation: "gelu_pytorch_tanh",
      query_pre_attn_scalar: 24,
      sliding_window: 4,
      layer_types: ["sliding_attention", "sliding_attention", "full_attention"],
      rope_parameters: {sliding_attention: {rope_theta: 10000}, full_attention: {rope_theta: 1e6}},
    });
    const back = parseConfig(j);
    expect(back).toEqual({...c, quantization_config: back.quantization_config, bitnet_pooling: c.bitnet_pooling});
  });
});

// fam-minicpm-bitcpm: OpenBMB's own MiniCPMForCausalLM (github.com/OpenBMB/MiniCPM model/modeling_minicpm.py @ 5977a63)
// under transformers 5.17 with three shims that change no computation (scripts/family_body_fixtures.py); weights as
// BitCPM4 ships them: float16 projections that are ternary × α, no quantization_config.
describe("BitCPM4 style: MiniCPM body (fixture by OpenBMB's modeling_minicpm.py)", () => {
  const MDIR = "data/fixtures/fam-minicpm-bitcpm";
  const mref = JSON.parse(readFileSync(`${MDIR}/logits.json`, "utf8")) as Ref & {alphas_layer0: Record<string, number>};
  const mraw = JSON.parse(readFileSync(`${MDIR}/config.json`, "utf8")) as Record<string, unknown>;

  it("family, the three scales and the pseudo-quantized weights named; logits match OpenBMB's code", async () => {
    const o = await openCheckpoint(await pathFileSet(MDIR));
    const ins = o.inspection;
    expect(ins.family.value).toBe("minicpm");
    expect(ins.format).toBe("hf-fp");
    expect(ins.arch).toMatchObject({
      activation: "silu",
      embedScale: 12,
      residualScale: 1.4 / Math.sqrt(2),
      headDivisor: 3,
      head: {tied: true},
      headDim: 24,
      rope: {theta: 10000},
      weights: "float",
    });
    expect(ins.arch.summary).toMatch(
      /embedding × 12 \(scale_emb\), block outputs × 0.989949 \(scale_depth \/ √layers\), LM head input ÷ 3 \(hidden \/ dim_model_base\)/,
    );
    // BitCPM4's fake quantization recovered exactly: one α per tensor
    expect(ins.pseudo).toMatchObject({axis: "tensor", groups: 1});
    expect(ins.pseudo!.alphas[0]).toBe(mref.alphas_layer0["model.layers.0.self_attn.q_proj.weight"]);
    const w = await o.load();
    const {worst, agree, positions} = agreement(w, mref);
    console.log(`fam-minicpm-bitcpm: logits max |Δ| ${worst.toExponential(2)}, argmax ${agree}/${positions}`);
    expect(agree).toBe(positions);
    // logits ≤ 1.5 here; without scale_depth the worst |Δ| is > 0.01, without ÷ 3 the logits triple
    expect(worst).toBeLessThan(1e-5);
    const unscaled = forwardFull(
      {...w, config: {...w.config, bitnet_minicpm: {...w.config.bitnet_minicpm!, scale_depth: Math.sqrt(2)}}},
      mref.sequences[1],
    ).logits;
    let moved = 0;
    mref.logits[1].flat().forEach((v, i) => {
      moved = Math.max(moved, Math.abs(v - unscaled[i]));
    });
    expect(moved).toBeGreaterThan(1e-3);
  });

  it("reads MiniCPMConfig's defaults; refuses what OpenBMB's code computes differently, by name", () => {
    const {scale_emb: _a, scale_depth: _b, dim_model_base: _c, rope_theta: _t, tie_word_embeddings: _w, ...bare} = mraw;
    const c = parseConfig(bare);
    expect(c.bitnet_minicpm).toEqual({scale_emb: 1, scale_depth: 1, dim_model_base: 1});
    expect(c).toMatchObject({rope_theta: 10000, tie_word_embeddings: true});
    expect(architectureOf(c)).toMatchObject({embedScale: 1, residualScale: 1 / Math.sqrt(2), headDivisor: 96});
    const longrope = {rope_type: "longrope", long_factor: [1], short_factor: [1], original_max_position_embeddings: 64};
    expect(() => parseConfig({...mraw, rope_scaling: longrope})).toThrow(/RoPE type "longrope" is not supported/);
    expect(() => parseConfig({...mraw, sparse_config: {kernel_size: 32}})).toThrow(
      /sparse_config is set: MiniCPM4's sparse attention/,
    );
    expect(() => parseConfig({...mraw, pretraining_tp: 2})).toThrow(/pretraining_tp 2/);
    expect(() => parseConfig({...mraw, hidden_act: "gelu"})).toThrow(/must be "silu"/);
    expect(() => parseConfig({...mraw, scale_depth: -1})).toThrow(/scale_depth must be a positive number/);
  });

  it("convert --to hf writes MiniCPMForCausalLM with its three scales, which reads back equal", async () => {
    const c = (await (await openCheckpoint(await pathFileSet(MDIR))).load()).config;
    const j = configToJSON(c);
    expect(j).toMatchObject({
      architectures: ["MiniCPMForCausalLM"],
      model_type: "minicpm",
      scale_emb: 12,
      scale_depth: 1.4,
      dim_model_base: 32,
    });
    expect(j.bitnet_minicpm).toBeUndefined();
    expect(parseConfig(j)).toEqual(c);
  });
});
