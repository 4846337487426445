import {describe, expect, it} from "vitest";
import fc from "fast-check";
import {
  CheckpointError,
  configToJSON,
  parseConfig,
  readCheckpoint,
  ternarize,
  validateWeights,
  writeCheckpoint,
} from "../../src/lib/checkpoint.js";
import {defaultConfig, tensorNames} from "../../src/lib/config.js";
import {randomWeights} from "../../src/lib/init.js";
import {forwardFull} from "../../src/lib/model.js";
import {packTernary, packedRows, unpackTernary} from "../../src/lib/pack.js";
import {
  SafetensorsError,
  fromFloat32,
  parseSafetensorsHeader,
  toFloat32,
  writeSafetensors,
} from "../../src/lib/safetensors.js";

const small = {
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 16,
};

describe("HF ternary packing", () => {
  it("unpacks transformers' docstring example", () => {
    // integrations/bitnet.py unpack_weights docstring: [[0b10100001, 0b00011000], [0b10010000, 0b00001010]]
    const packed = new Uint8Array([0b10100001, 0b00011000, 0b10010000, 0b00001010]);
    expect(Array.from(unpackTernary(packed, 8, 2))).toEqual([0, -1, -1, 1, -1, 1, -1, 1, 1, 0, 0, -1, 1, -1, 1, -1]);
    expect(Array.from(packTernary(unpackTernary(packed, 8, 2), 8, 2))).toEqual(Array.from(packed));
  });

  it("round-trips random shapes, padding rows that are not a multiple of 4", () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 13}), fc.integer({min: 1, max: 9}), fc.integer(), (rows, cols, seed) => {
        const codes = new Int8Array(rows * cols);
        let s = seed;
        for (let i = 0; i < codes.length; i++) {
          s = (Math.imul(s, 1103515245) + 12345) | 0;
          codes[i] = ((s >>> 16) % 3) - 1;
        }
        const p = packTernary(codes, rows, cols);
        expect(p.length).toBe(packedRows(rows) * cols);
        expect(Array.from(unpackTernary(p, rows, cols))).toEqual(Array.from(codes));
      }),
    );
    // padding rows are stored as code 0 (value + 1 = 1)
    expect(Array.from(packTernary(new Int8Array([1, -1, 0]), 3, 1))).toEqual([2 | (0 << 2) | (1 << 4) | (1 << 6)]);
  });

  it("rejects the unused code 3 and non-ternary values", () => {
    expect(() => unpackTernary(new Uint8Array([0b11]), 4, 1)).toThrow(/invalid 2-bit code 3/);
    expect(() => packTernary(new Int8Array([2, 0, 0, 0]), 4, 1)).toThrow(/not ternary/);
  });
});

describe("safetensors", () => {
  it("writes aligned, readable files and converts BF16/F16", () => {
    const bytes = writeSafetensors([
      {name: "u", dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3])},
      {name: "f", dtype: "F32", shape: [2], data: fromFloat32(new Float32Array([1.5, -2]), "F32")},
      {name: "b", dtype: "BF16", shape: [2], data: fromFloat32(new Float32Array([1.00390625, -3]), "BF16")},
    ]);
    const h = parseSafetensorsHeader(bytes);
    expect(h.dataOffset % 8).toBe(0);
    const f = h.tensors.find((t) => t.name === "f")!;
    expect(f.begin % 4).toBe(0); // wider dtypes first
    expect(Array.from(toFloat32(bytes.subarray(h.dataOffset + f.begin, h.dataOffset + f.end), "F32"))).toEqual([
      1.5, -2,
    ]);
    const b = h.tensors.find((t) => t.name === "b")!;
    // 1.00390625 = 1 + 2^-8 is a tie between bf16 neighbours 1 and 1 + 2^-7: rounds to even (1).
    expect(Array.from(toFloat32(bytes.subarray(h.dataOffset + b.begin, h.dataOffset + b.end), "BF16"))).toEqual([
      1, -3,
    ]);
    const half = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]); // F16 1, −2, smallest subnormal
    expect(Array.from(toFloat32(half, "F16"))).toEqual([1, -2, Math.fround(2 ** -24)]);
  });

  const header = (obj: unknown, data = 0): Uint8Array => {
    const hb = new TextEncoder().encode(JSON.stringify(obj));
    const out = new Uint8Array(8 + hb.length + data);
    new DataView(out.buffer).setUint32(0, hb.length, true);
    out.set(hb, 8);
    return out;
  };

  it("rejects malformed headers with specific errors", () => {
    expect(() => parseSafetensorsHeader(new Uint8Array(5))).toThrow(/shorter than the 8-byte header length/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setUint32(0, 1e9, true);
    expect(() => parseSafetensorsHeader(huge)).toThrow(/exceeds the 100000000-byte limit/);
    const past = new Uint8Array(16);
    new DataView(past.buffer).setUint32(0, 100, true);
    expect(() => parseSafetensorsHeader(past)).toThrow(/runs past the end/);
    expect(() => parseSafetensorsHeader(header([1, 2]))).toThrow(/does not start with "\{"/);
    expect(() => parseSafetensorsHeader(header({a: 1}))).toThrow(/tensor "a": entry is not an object/);
    expect(() => parseSafetensorsHeader(header({a: {dtype: "Q4", shape: [1], data_offsets: [0, 1]}}, 1))).toThrow(
      /unknown dtype "Q4"/,
    );
    expect(() => parseSafetensorsHeader(header({a: {dtype: "U8", shape: [-1], data_offsets: [0, 1]}}, 1))).toThrow(
      /shape/,
    );
    expect(() => parseSafetensorsHeader(header({a: {dtype: "F32", shape: [2], data_offsets: [0, 4]}}, 4))).toThrow(
      /4 bytes, but F32 \[2\] needs 8/,
    );
    expect(() => parseSafetensorsHeader(header({a: {dtype: "U8", shape: [4], data_offsets: [0, 4]}}, 2))).toThrow(
      /run past the 2-byte data section/,
    );
    expect(() =>
      parseSafetensorsHeader(
        header(
          {a: {dtype: "U8", shape: [2], data_offsets: [0, 2]}, b: {dtype: "U8", shape: [2], data_offsets: [1, 3]}},
          3,
        ),
      ),
    ).toThrow(/overlaps/);
    expect(() => parseSafetensorsHeader(header({a: {dtype: "U8", shape: [2], data_offsets: [1, 3]}}, 3))).toThrow(
      /hole of 1 bytes/,
    );
    expect(() => parseSafetensorsHeader(header({a: {dtype: "U8", shape: [2], data_offsets: [0, 2]}}, 5))).toThrow(
      /trailing bytes/,
    );
    const bad = header({});
    bad[9] = 0xff; // invalid UTF-8 inside the JSON
    expect(() => parseSafetensorsHeader(bad)).toThrow(/UTF-8|JSON/);
  });
});

describe("config.json", () => {
  it("round-trips every field and fills defaults for foreign configs", () => {
    const c = defaultConfig("a4.8", {...small, head_dim: 8});
    expect(parseConfig(JSON.parse(JSON.stringify(configToJSON(c))))).toEqual(c);
    // The released 2B4T config has no bitnet_* fields: b1.58 with sub-norms, because quantization_config is there.
    const hf = parseConfig({
      model_type: "bitnet",
      vocab_size: 10,
      hidden_size: 8,
      intermediate_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      quantization_config: {quant_method: "bitnet", linear_class: "bitlinear"},
    });
    expect(hf).toMatchObject({
      bitnet_variant: "b1.58",
      bitnet_sub_norms: true,
      hidden_act: "relu2",
      rope_theta: 500000,
      num_key_value_heads: 2,
      tie_word_embeddings: false,
    });
    expect(parseConfig({...configToJSON(c), rope_theta: undefined}).rope_theta).toBe(c.rope_theta); // from rope_parameters
  });

  it("writes an fp model without sub-norms as a LLaMA config and reads it back", () => {
    const c = defaultConfig("fp", small);
    const j = configToJSON(c);
    expect(j).toMatchObject({
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      mlp_bias: false,
      attention_bias: false,
    });
    expect(j.quantization_config).toBeUndefined();
    expect(parseConfig(j)).toEqual(c);
    // A foreign LLaMA config (no bitnet_* fields): fp, no sub-norms, SwiGLU.
    const {bitnet_variant: _v, bitnet_sub_norms: _s, hidden_act: _a, ...foreign} = j;
    expect(parseConfig(foreign)).toMatchObject({bitnet_variant: "fp", bitnet_sub_norms: false, hidden_act: "silu"});
    expect(() => parseConfig({...j, bitnet_sub_norms: true})).toThrow(/model_type "llama"/);
    expect(() => parseConfig({...configToJSON(defaultConfig("b1.58", small)), model_type: "llama"})).toThrow(
      /model_type "llama"/,
    );
  });

  it("rejects inconsistent configs", () => {
    const j = configToJSON(defaultConfig("b1.58", small));
    expect(() => parseConfig({...j, hidden_act: "gelu"})).toThrow(/hidden_act/);
    expect(() => parseConfig({...j, num_key_value_heads: 3})).toThrow(/not a multiple of num_key_value_heads/);
    expect(() => parseConfig({...j, hidden_size: 15})).toThrow(/not divisible by num_attention_heads/);
    expect(() => parseConfig({...j, bitnet_variant: "b2"})).toThrow(/bitnet_variant/);
    expect(() => parseConfig({...j, bitnet_kv_bits: 5})).toThrow(/bitnet_kv_bits/);
    expect(() => parseConfig({...j, quantization_config: {quant_method: "gptq"}})).toThrow(/quant_method/);
    expect(() => parseConfig({...j, model_type: "gpt2"})).toThrow(/model_type/);
    expect(() => parseConfig({...j, model_type: "llama"})).toThrow(/model_type/);
    expect(() => parseConfig({...j, vocab_size: 0})).toThrow(/vocab_size/);
    expect(() => parseConfig("x")).toThrow(/JSON object/);
    expect(() => parseConfig({...j, rope_scaling: {rope_type: "llama3", factor: 8}})).toThrow(
      /RoPE type "llama3" is not supported/,
    );
  });
});

describe("checkpoints", () => {
  const w = randomWeights(defaultConfig("b1.58", small), 3);
  const {config, safetensors} = writeCheckpoint(w);

  it("round-trips a packed model: same codes, same γ to float32, same logits", () => {
    const r = readCheckpoint(config, safetensors);
    expect(r.format).toBe("packed");
    for (const [name, t] of w.ternary) {
      const u = r.weights.ternary.get(name)!;
      expect(Array.from(u.codes)).toEqual(Array.from(t.codes));
      expect(Math.abs(u.gamma / t.gamma - 1)).toBeLessThan(1e-7);
    }
    const a = forwardFull(w, [1, 2, 3]).logits;
    const b = forwardFull(r.weights, [1, 2, 3]).logits;
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    expect(d).toBeLessThan(1e-4);
  });

  it("stores weight_scale = 1/γ for bitlinear and reads γ directly for autobitlinear", () => {
    const h = parseSafetensorsHeader(safetensors);
    const q = tensorNames.layer(0).q;
    const st = h.tensors.find((t) => t.name === q.replace(/weight$/, "weight_scale"))!;
    expect(st).toMatchObject({dtype: "F32", shape: [1]});
    const ws = toFloat32(safetensors.subarray(h.dataOffset + st.begin, h.dataOffset + st.end), "F32")[0];
    expect(ws).toBe(Math.fround(1 / w.ternary.get(q)!.gamma));
    const auto = readCheckpoint(
      {
        ...config,
        quantization_config: {quant_method: "bitnet", linear_class: "autobitlinear", quantization_mode: "offline"},
      },
      safetensors,
    );
    expect(auto.weights.ternary.get(q)!.gamma).toBe(ws);
  });

  it("writes latent checkpoints (F32 and BF16) that ternarize back to the same codes", () => {
    const latent = randomWeights(defaultConfig("b1.58", small), 4, {latent: true});
    const out = writeCheckpoint(latent, {format: "latent", floatDtype: "BF16"});
    expect(out.config.quantization_config).toEqual({
      quant_method: "bitnet",
      linear_class: "autobitlinear",
      quantization_mode: "online",
    });
    const r = readCheckpoint(out.config, out.safetensors);
    expect(r.format).toBe("latent");
    expect(r.weights.ternary.size).toBe(0);
    const x = latent.float.get(tensorNames.layer(0).up)!.data;
    const y = r.weights.float.get(tensorNames.layer(0).up)!.data;
    for (let i = 0; i < x.length; i++) expect(Math.abs(y[i] - x[i])).toBeLessThanOrEqual(Math.abs(x[i]) * 2 ** -8);
    // A ternary model written as latent (γ·W̃) ternarizes back to the same codes.
    const back = ternarize(
      readCheckpoint(...(Object.values(writeCheckpoint(w, {format: "latent"})) as [unknown, Uint8Array])).weights,
    );
    for (const [name, t] of w.ternary) expect(Array.from(back.ternary.get(name)!.codes)).toEqual(Array.from(t.codes));
    // fp models carry no quantization_config at all.
    const fp = writeCheckpoint(randomWeights(defaultConfig("fp", small), 1));
    expect(fp.config.quantization_config).toBeUndefined();
    expect(readCheckpoint(fp.config, fp.safetensors).format).toBe("fp");
  });

  it("rejects files that do not match the config, naming the tensor", () => {
    const entries = (mut: (name: string) => string | null) => {
      const h = parseSafetensorsHeader(safetensors);
      return writeSafetensors(
        h.tensors.flatMap((t) => {
          const n = mut(t.name);
          return n === null
            ? []
            : [
                {
                  name: n,
                  dtype: t.dtype,
                  shape: t.shape,
                  data: safetensors.subarray(h.dataOffset + t.begin, h.dataOffset + t.end),
                },
              ];
        }),
      );
    };
    const q = tensorNames.layer(0).q;
    expect(() =>
      readCheckpoint(
        config,
        entries((n) => (n === q ? null : n)),
      ),
    ).toThrow(/missing 1 tensor\(s\): model.layers.0.self_attn.q_proj.weight/);
    expect(() =>
      readCheckpoint(
        config,
        entries((n) => (n === tensorNames.finalNorm ? "model.extra.weight" : n)),
      ),
    ).toThrow(/missing|unexpected/);
    expect(() =>
      readCheckpoint(
        config,
        entries((n) => (n === q.replace(/weight$/, "weight_scale") ? null : n)),
      ),
    ).toThrow(/has no model.layers.0.self_attn.q_proj.weight_scale/);
    expect(() => readCheckpoint({...config, hidden_size: 32, num_attention_heads: 4}, safetensors)).toThrow(
      /has shape \[40, 16\], expected \[40, 32\]/,
    );
    expect(() => readCheckpoint({...config, quantization_config: undefined}, safetensors)).toThrow(
      /packed \(U8\) but config.json has no quantization_config/,
    );
    expect(() => readCheckpoint({...config, bitnet_variant: "fp"}, safetensors)).toThrow(
      /dtype U8, expected a float type/,
    );
    const extra = writeSafetensors([
      ...parseSafetensorsHeader(safetensors).tensors.map((t) => ({
        name: t.name,
        dtype: t.dtype,
        shape: t.shape,
        data: safetensors.subarray(
          parseSafetensorsHeader(safetensors).dataOffset + t.begin,
          parseSafetensorsHeader(safetensors).dataOffset + t.end,
        ),
      })),
      {name: "stray", dtype: "U8", shape: [1], data: new Uint8Array(1)},
    ]);
    expect(() => readCheckpoint(config, extra)).toThrow(/1 unexpected tensor\(s\) for this config: stray/);
  });

  const specific = (e: unknown) => e instanceof CheckpointError || e instanceof SafetensorsError;

  it("rejects every truncation and any appended bytes", () => {
    const cuts = [0, 4, 7, 8, 20, 100, safetensors.length - 1000, safetensors.length - 1];
    for (const n of cuts) {
      let err: unknown;
      try {
        readCheckpoint(config, safetensors.subarray(0, n));
      } catch (e) {
        err = e;
      }
      expect(specific(err), `cut at ${n}: ${String(err)}`).toBe(true);
    }
    const longer = new Uint8Array(safetensors.length + 3);
    longer.set(safetensors);
    expect(() => readCheckpoint(config, longer)).toThrow(/trailing bytes/);
  });

  it("survives random corruption: any byte changed either still loads or fails with a specific error", () => {
    const h = parseSafetensorsHeader(safetensors);
    fc.assert(
      fc.property(fc.integer({min: 0, max: safetensors.length - 1}), fc.integer({min: 1, max: 255}), (pos, xor) => {
        const bad = safetensors.slice();
        bad[pos] ^= xor;
        try {
          // Data bytes (or harmless header bytes such as padding) may change without an error, but what
          // loads must still be a complete, well-formed model.
          const r = readCheckpoint(config, bad);
          validateWeights(r.weights);
          if (pos < h.dataOffset) expect(r.weights.ternary.size).toBe(w.ternary.size);
        } catch (e) {
          expect(specific(e), String(e)).toBe(true);
        }
      }),
      {numRuns: 300},
    );
  });
});
