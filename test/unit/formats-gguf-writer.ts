// An independent GGUF I2_S writer for tests, written from the facts of bitnet.cpp's C source and its
// converter (microsoft/BitNet src/ggml-bitnet-mad.cpp quantize_i2_s, the ACT_PARALLEL x86 path, and
// utils/convert-hf-to-gguf-bitnet.py), NOT from this project's reader or writer:
//   - GGUF v3: magic "GGUF", version, tensor count, kv count (u64), kvs, tensor infos, data at 32-byte
//     alignment; tensor dims in ggml order (columns first).
//   - I2_S: the float tensor W (ternary · scale), scale = max|W| over the tensor (as double);
//     per element q = 1 if |w| < 1e-6, else 2 if w·scale > 0, else 0; for block i of 128 elements and
//     j in 0..127: byte[i·32 + j%32] |= q << (6 − 2·⌊j/32⌋); the f32 scale at byte n/4; size n/4 + 32.
//   - Q/K rows NOT permuted for the BitNet archs (convert-ms-to-gguf-bitnet.py comments every permute_lazy out;
//     llama.cpp runs bitnet-25 with NEOX RoPE); permuteForGGUF is the LlamaModel.permute of the `llama` arch
//     (reshape(heads, 2, d/2, in).swapaxes(1, 2)), used here to build the wrongly permuted files the old writer made.
//   - norms F32, embedding F16 (the converter's default for I2_S files).

import {tensorNames} from "../../src/lib/config.js";
import type {ModelWeights} from "../../src/lib/tensor.js";

type KV = [string, "u32" | "f32" | "str" | "bool" | "strs" | "i32s", unknown];
type KVRow = KV;

export interface BitNet25Options {
  /** Add tokenizer.ggml.* from this tokenizer.json (its vocab and merges). */
  tokenizer?: boolean;
  tokenizerJSON?: unknown;
  arch?: string;
  projType?: "i2s" | "f16";
  permuteQK?: boolean;
  extra?: KVRow[];
  noFreqBase?: boolean;
  pre?: string;
  bosType?: number;
  allF32?: boolean;
}

export interface IndepTensor {
  name: string;
  /** [out, in] for matrices, [n] for vectors; data row-major. */
  shape: number[];
  data: Float32Array;
  kind: "i2s" | "f32" | "f16";
}

function halfBits(v: number): number {
  // Straightforward float → half with round-to-nearest-even via scaling; exact for the test values.
  if (v === 0) return Object.is(v, -0) ? 0x8000 : 0;
  const sign = v < 0 ? 0x8000 : 0;
  let a = Math.abs(v);
  let e = Math.floor(Math.log2(a));
  if (e < -14) return sign | Math.round(a / 2 ** -24); // subnormal
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return sign | ((e + 15) << 10) | m;
}

export function permuteForGGUF(data: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const d = rows / heads;
  const out = new Float32Array(data.length);
  // out[h][j][i] = in[h][i][j] with in viewed as [heads, 2, d/2, cols]
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < d / 2; j++) {
        const src = h * d + i * (d / 2) + j;
        const dst = h * d + j * 2 + i;
        out.set(data.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

export function quantizeI2S(src: Float32Array): Uint8Array {
  const n = src.length;
  let max = 0;
  for (let i = 0; i < n; i++) max = Math.max(max, Math.abs(src[i]));
  const q = new Uint8Array(n);
  for (let i = 0; i < n; i++) q[i] = Math.abs(src[i]) < 1e-6 ? 1 : src[i] * max > 0 ? 2 : 0;
  const dst = new Uint8Array(n / 4 + 32);
  for (let i = 0; i < n / 128; i++)
    for (let j = 0; j < 128; j++) dst[i * 32 + (j % 32)] |= q[i * 128 + j] << (6 - 2 * Math.floor(j / 32));
  new DataView(dst.buffer).setFloat32(n / 4, max, true);
  return dst;
}

export function writeGGUFIndependently(kvs: KV[], tensors: IndepTensor[]): Uint8Array {
  const chunks: number[] = [];
  const u8 = (x: number) => chunks.push(x & 255);
  const u32 = (x: number) => {
    for (let k = 0; k < 4; k++) u8(x >>> (8 * k));
  };
  const u64 = (x: number) => {
    u32(x % 2 ** 32);
    u32(Math.floor(x / 2 ** 32));
  };
  const f32 = (x: number) => {
    const b = new Uint8Array(new Float32Array([x]).buffer);
    b.forEach(u8);
  };
  const str = (s: string) => {
    const b = new TextEncoder().encode(s);
    u64(b.length);
    b.forEach(u8);
  };
  u8(0x47);
  u8(0x47);
  u8(0x55);
  u8(0x46); // "GGUF"
  u32(3);
  u64(tensors.length);
  u64(kvs.length);
  for (const [k, t, v] of kvs) {
    str(k);
    if (t === "u32") {
      u32(4);
      u32(v as number);
    } else if (t === "f32") {
      u32(6);
      f32(v as number);
    } else if (t === "bool") {
      u32(7);
      u8(v ? 1 : 0);
    } else if (t === "str") {
      u32(8);
      str(v as string);
    } else if (t === "strs") {
      u32(9);
      u32(8);
      u64((v as string[]).length);
      for (const s of v as string[]) str(s);
    } else {
      u32(9);
      u32(5);
      u64((v as number[]).length);
      for (const x of v as number[]) u32(x >>> 0);
    }
  }
  const payloads = tensors.map((t) => {
    if (t.kind === "i2s") return quantizeI2S(t.data);
    if (t.kind === "f32") return new Uint8Array(new Float32Array(t.data).buffer);
    const b = new Uint8Array(t.data.length * 2);
    t.data.forEach((v, i) => {
      const h = halfBits(v);
      b[2 * i] = h & 255;
      b[2 * i + 1] = h >> 8;
    });
    return b;
  });
  let off = 0;
  tensors.forEach((t, i) => {
    str(t.name);
    u32(t.shape.length);
    for (const d of [...t.shape].reverse()) u64(d);
    u32(t.kind === "i2s" ? 36 : t.kind === "f32" ? 0 : 1);
    u64(off);
    off += Math.ceil(payloads[i].length / 32) * 32;
  });
  while (chunks.length % 32) u8(0);
  const out = new Uint8Array(chunks.length + off);
  out.set(chunks);
  let o = chunks.length;
  payloads.forEach((p) => {
    out.set(p, o);
    o += Math.ceil(p.length / 32) * 32;
  });
  return out;
}

/** A bitnet-25 GGUF of `w` as bitnet.cpp's converters lay it out (norms F32, embedding and ffn_sub_norm F16 unless
 *  allF32; Q/K rows unpermuted unless permuteQK, which builds the files this project's old writer made). */
export function bitnet25File(w: ModelWeights, opts: BitNet25Options = {}): Uint8Array {
  const c = w.config;
  const A = opts.arch ?? "bitnet-25";
  const kvs: KVRow[] = [
    ["general.architecture", "str", A],
    [`${A}.context_length`, "u32", c.max_position_embeddings],
    [`${A}.embedding_length`, "u32", c.hidden_size],
    [`${A}.block_count`, "u32", c.num_hidden_layers],
    [`${A}.feed_forward_length`, "u32", c.intermediate_size],
    [`${A}.attention.head_count`, "u32", c.num_attention_heads],
    [`${A}.attention.head_count_kv`, "u32", c.num_key_value_heads],
    ...(opts.noFreqBase ? [] : [[`${A}.rope.freq_base`, "f32", c.rope_theta] as KVRow]),
    ...(opts.extra ?? []),
    [`${A}.attention.layer_norm_rms_epsilon`, "f32", c.rms_norm_eps],
    [`${A}.rope.dimension_count`, "u32", c.hidden_size / c.num_attention_heads],
  ];
  if (opts.tokenizer) {
    const shipped = opts.tokenizerJSON as {model: {vocab: Record<string, number>; merges: unknown}};
    const vocab = shipped.model.vocab as Record<string, number>;
    const tokens = Object.entries(vocab)
      .sort((a, b) => a[1] - b[1])
      .map(([t]) => t);
    kvs.push(
      ["tokenizer.ggml.model", "str", "gpt2"],
      ["tokenizer.ggml.pre", "str", opts.pre ?? "gpt-2"],
      ["tokenizer.ggml.tokens", "strs", tokens],
      ["tokenizer.ggml.token_type", "i32s", tokens.map((_, i) => (i === 0 ? 3 : i < 3 ? (opts.bosType ?? 3) : 1))],
      ["tokenizer.ggml.merges", "strs", shipped.model.merges],
      ["tokenizer.ggml.bos_token_id", "u32", 1],
      ["tokenizer.ggml.eos_token_id", "u32", 2],
      ["tokenizer.ggml.add_bos_token", "bool", true],
    );
  }
  const ts: IndepTensor[] = [];
  const float = (hf: string, g: string, kind: "f32" | "f16") =>
    ts.push({name: g, shape: w.float.get(hf)!.shape, data: w.float.get(hf)!.data, kind: opts.allF32 ? "f32" : kind});
  const proj = (hf: string, g: string, heads?: number) => {
    const t = w.ternary.get(hf)!;
    let data: Float32Array = new Float32Array(t.codes.length);
    for (let i = 0; i < data.length; i++) data[i] = t.codes[i] * t.gamma;
    if (heads && opts.permuteQK) data = permuteForGGUF(data, t.shape[0], t.shape[1], heads);
    ts.push({name: g, shape: t.shape, data, kind: opts.projType ?? "i2s"});
  };
  float(tensorNames.embed, "token_embd.weight", "f16");
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const n = tensorNames.layer(l);
    float(n.inputNorm, `blk.${l}.attn_norm.weight`, "f32");
    proj(n.q, `blk.${l}.attn_q.weight`, c.num_attention_heads);
    proj(n.k, `blk.${l}.attn_k.weight`, c.num_key_value_heads);
    proj(n.v, `blk.${l}.attn_v.weight`);
    proj(n.o, `blk.${l}.attn_output.weight`);
    float(n.attnSubNorm, `blk.${l}.attn_sub_norm.weight`, "f32");
    float(n.postAttnNorm, `blk.${l}.ffn_norm.weight`, "f32");
    proj(n.gate, `blk.${l}.ffn_gate.weight`);
    proj(n.up, `blk.${l}.ffn_up.weight`);
    proj(n.down, `blk.${l}.ffn_down.weight`);
    float(n.ffnSubNorm, `blk.${l}.ffn_sub_norm.weight`, "f16");
  }
  float(tensorNames.finalNorm, "output_norm.weight", "f32");
  return writeGGUFIndependently(kvs, ts);
}
