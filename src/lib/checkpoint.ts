// Hugging Face folder checkpoints, bytes in and bytes out (Node folder I/O lives in src/node/modeldir.ts):
//   config.json        BitNetConfig (transformers' fields + this project's bitnet_* fields)
//   model.safetensors  packed ternary projections (uint8, 4 per byte, see pack.ts) + `weight_scale`, or
//                      latent float projections for training; embeddings and norms in F32/BF16/F16
//   tokenizer.json     passed through as opaque JSON
//
// weight_scale semantics. transformers has two layer classes for packed weights (integrations/bitnet.py):
// - linear_class "bitlinear" (what we write, and what microsoft/bitnet-b1.58-2B-4T ships): BitLinear
//   computes y = (W̃ · x_q) / (s_x · weight_scale), so weight_scale = 1/γ — the stored scale is "inverted"
//   (llama.cpp's converter says so too: it dequantizes packed BitNet weights as W̃ / weight_scale). We
//   write weight_scale = s = 1/max(γ, ε) as F32 [1], the very multiplier of the absmean quantizer.
// - linear_class "autobitlinear", mode "offline": y = F.linear(x̃, W̃) · weight_scale, so weight_scale = γ.
// The reader honours both. Latent checkpoints of quantized variants carry quantization_config
// {linear_class "autobitlinear", quantization_mode "online"} (like microsoft's -bf16 release), so
// transformers ternarizes them on the fly exactly like ternarize() here; fp models carry none.

import {headDim, tensorNames} from "./config.js";
import type {BitNetConfig, LinearName} from "./config.js";
import {packTernary, packedRows, unpackTernary} from "./pack.js";
import {quantizeWeightsAbsmean} from "./quant.js";
import {validateModelConfig} from "./variant.js";
import {fromFloat32, parseSafetensorsHeader, tensorBytes, toFloat32, writeSafetensors} from "./safetensors.js";
import type {DType, SafetensorsHeader, TensorEntry} from "./safetensors.js";
import type {ModelWeights, Tensor, TernaryTensor} from "./tensor.js";
import {CheckpointError, configToJSON, fail, parseConfig} from "./checkpoint-config.js";

export {
  CheckpointError,
  configToJSON,
  LAB_MODEL_TYPE_PREFIX,
  parseConfig,
  transformersComputes,
} from "./checkpoint-config.js";

// ---------------------------------------------------------------- expected tensors

export interface ExpectedTensor {
  name: string;
  shape: [number, number] | [number];
  /** A projection (BitLinear when the variant quantizes) or a float tensor (embedding, norm, head). */
  kind: "linear" | "float";
  linear?: LinearName;
  layer?: number;
}

/** Every tensor a model of this config has, in checkpoint order. */
export function expectedTensors(config: BitNetConfig): ExpectedTensor[] {
  const C = config.hidden_size;
  const d = headDim(config);
  const qDim = config.num_attention_heads * d;
  const kvDim = config.num_key_value_heads * d;
  const F = config.intermediate_size;
  const out: ExpectedTensor[] = [{name: tensorNames.embed, shape: [config.vocab_size, C], kind: "float"}];
  const shapes: Record<LinearName, [number, number]> = {
    q: [qDim, C],
    k: [kvDim, C],
    v: [kvDim, C],
    o: [C, qDim],
    gate: [F, C],
    up: [F, C],
    down: [C, F],
  };
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const n = tensorNames.layer(i);
    const proj = (l: LinearName) => {
      out.push({name: n[l], shape: shapes[l], kind: "linear", linear: l, layer: i});
      if (config.bitnet_linear_norms)
        out.push({name: tensorNames.linearNorm(n[l]), shape: [shapes[l][1]], kind: "float", layer: i});
    };
    out.push({name: n.inputNorm, shape: [C], kind: "float", layer: i});
    for (const l of ["q", "k", "v", "o"] as const) proj(l);
    if (config.bitnet_qk_norm) {
      out.push({name: n.qNorm, shape: [d], kind: "float", layer: i});
      out.push({name: n.kNorm, shape: [d], kind: "float", layer: i});
    }
    if (config.bitnet_sub_norms) out.push({name: n.attnSubNorm, shape: [qDim], kind: "float", layer: i});
    out.push({name: n.postAttnNorm, shape: [C], kind: "float", layer: i});
    if (config.bitnet_gemma) {
      out.push({name: n.preFfnNorm, shape: [C], kind: "float", layer: i});
      out.push({name: n.postFfnNorm, shape: [C], kind: "float", layer: i});
    }
    for (const l of ["gate", "up", "down"] as const) proj(l);
    if (config.bitnet_sub_norms) out.push({name: n.ffnSubNorm, shape: [F], kind: "float", layer: i});
  }
  out.push({name: tensorNames.finalNorm, shape: [C], kind: "float"});
  if (!config.tie_word_embeddings) out.push({name: tensorNames.lmHead, shape: [config.vocab_size, C], kind: "float"});
  return out;
}

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Checks that weights hold exactly the tensors the config needs (projections float or ternary). */
export function validateWeights(w: ModelWeights): void {
  validateModelConfig(w.config, {prefix: "weights: config ", error: CheckpointError});
  const expected = expectedTensors(w.config);
  const names = new Set(expected.map((e) => e.name));
  for (const e of expected) {
    const f = w.float.get(e.name);
    const t = w.ternary.get(e.name);
    if (e.kind === "float") {
      if (!f) fail(`weights: missing tensor ${e.name}`);
      else if (!sameShape(f.shape, e.shape))
        fail(`weights: ${e.name} has shape ${fmt(f.shape)}, expected ${fmt(e.shape)}`);
      continue;
    }
    if (f && t) fail(`weights: ${e.name} is both float and ternary`);
    if (t) {
      if (w.config.bitnet_variant === "fp") fail(`weights: ${e.name} is ternary but the variant is fp`);
      if (!sameShape(t.shape, e.shape)) fail(`weights: ${e.name} has shape ${fmt(t.shape)}, expected ${fmt(e.shape)}`);
      if (t.codes.length !== e.shape[0] * (e.shape[1] ?? 1))
        fail(`weights: ${e.name} has ${t.codes.length} codes for shape ${fmt(e.shape)}`);
      if (!(t.gamma > 0 && Number.isFinite(t.gamma)))
        fail(`weights: ${e.name} has scale γ = ${t.gamma}, expected a positive number`);
    } else if (f) {
      if (!sameShape(f.shape, e.shape)) fail(`weights: ${e.name} has shape ${fmt(f.shape)}, expected ${fmt(e.shape)}`);
    } else fail(`weights: missing tensor ${e.name}`);
  }
  for (const n of [...w.float.keys(), ...w.ternary.keys()]) {
    if (!names.has(n) && !(n === tensorNames.lmHead && w.config.tie_word_embeddings))
      fail(`weights: unexpected tensor ${n}`);
  }
}

// ---------------------------------------------------------------- ternarize

/** Turns latent float projections into ternary ones with the absmean quantizer (b1.58 eq. 1–3):
 *  codes = RoundClip(W·s, −1, 1), s = 1/max(mean|W|, ε), γ = 1/s. Other tensors are shared, not copied.
 *  fp models are returned unchanged. */
export function ternarize(w: ModelWeights): ModelWeights {
  if (w.config.bitnet_variant === "fp") return w;
  const float = new Map(w.float);
  const ternary = new Map(w.ternary);
  for (const e of expectedTensors(w.config)) {
    if (e.kind !== "linear") continue;
    const f = float.get(e.name);
    if (!f) continue;
    const q = quantizeWeightsAbsmean(f.data);
    ternary.set(e.name, {shape: [e.shape[0], e.shape[1] as number], codes: q.codes, gamma: 1 / q.scale});
    float.delete(e.name);
  }
  return {config: w.config, float, ternary};
}

// ---------------------------------------------------------------- reader

export interface StoredTensor {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: number;
}

export interface LoadedCheckpoint {
  weights: ModelWeights;
  /** What the file holds, tensor by tensor (for `bitnet-lab inspect`). */
  stored: StoredTensor[];
  /** "packed": ternary uint8; "latent": float projections of a quantized variant; "fp": an fp model. */
  format: "packed" | "latent" | "mixed" | "fp";
  metadata: Record<string, string>;
  /** Tied checkpoints that also stored lm_head.weight: ignored (transformers ties it to the embedding). */
  warnings: string[];
}

const FLOAT_DTYPES: readonly DType[] = ["F32", "F16", "BF16", "F64"];

/** Reads config.json (parsed) and model.safetensors (bytes) into ModelWeights, validating every tensor's
 *  name, dtype and shape against the config before converting anything. */
export function readCheckpoint(configJSON: unknown, safetensors: Uint8Array): LoadedCheckpoint {
  const config = parseConfig(configJSON);
  const header: SafetensorsHeader = parseSafetensorsHeader(safetensors);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const expected = expectedTensors(config);
  const used = new Set<string>();
  const warnings: string[] = [];
  const missing: string[] = [];
  const plan: {e: ExpectedTensor; packed: boolean}[] = [];
  const scaleName = (n: string) => n.replace(/\.weight$/, ".weight_scale");
  for (const e of expected) {
    const t = byName.get(e.name);
    if (!t) {
      missing.push(e.name);
      continue;
    }
    used.add(e.name);
    if (e.kind === "float" || config.bitnet_variant === "fp") {
      if (!FLOAT_DTYPES.includes(t.dtype))
        fail(
          `model.safetensors: ${e.name} has dtype ${t.dtype}, expected a float type (${FLOAT_DTYPES.join("/")})${e.kind === "linear" ? " for an fp model" : ""}`,
        );
      if (!sameShape(t.shape, e.shape))
        fail(`model.safetensors: ${e.name} has shape ${fmt(t.shape)}, expected ${fmt(e.shape)}`);
      plan.push({e, packed: false});
      continue;
    }
    const [out, inp] = e.shape as [number, number];
    if (t.dtype === "U8" || t.dtype === "I8") {
      if (!config.quantization_config)
        fail(`model.safetensors: ${e.name} is packed (${t.dtype}) but config.json has no quantization_config`);
      if (!sameShape(t.shape, [packedRows(out), inp]))
        fail(
          `model.safetensors: packed ${e.name} has shape ${fmt(t.shape)}, expected [${packedRows(out)}, ${inp}] (4 rows per byte)`,
        );
      const sn = scaleName(e.name);
      const s = byName.get(sn);
      if (!s) fail(`model.safetensors: packed ${e.name} has no ${sn}`);
      else {
        if (!FLOAT_DTYPES.includes(s.dtype))
          fail(`model.safetensors: ${sn} has dtype ${s.dtype}, expected a float type`);
        if (!(s.shape.length === 0 || sameShape(s.shape, [1])))
          fail(`model.safetensors: ${sn} has shape ${fmt(s.shape)}, expected a single value ([] or [1])`);
      }
      used.add(sn);
      plan.push({e, packed: true});
    } else if (FLOAT_DTYPES.includes(t.dtype)) {
      if (!sameShape(t.shape, e.shape))
        fail(`model.safetensors: latent ${e.name} has shape ${fmt(t.shape)}, expected ${fmt(e.shape)}`);
      if (byName.has(scaleName(e.name)))
        fail(`model.safetensors: latent (${t.dtype}) ${e.name} must not have a ${scaleName(e.name)}`);
      plan.push({e, packed: false});
    } else fail(`model.safetensors: ${e.name} has dtype ${t.dtype}, expected U8 (packed) or a float type (latent)`);
  }
  if (missing.length)
    fail(
      `model.safetensors: missing ${missing.length} tensor(s): ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}`,
    );
  if (config.tie_word_embeddings && byName.has(tensorNames.lmHead)) {
    const t = byName.get(tensorNames.lmHead)!;
    if (!sameShape(t.shape, [config.vocab_size, config.hidden_size]))
      fail(
        `model.safetensors: ${tensorNames.lmHead} has shape ${fmt(t.shape)}, expected [${config.vocab_size}, ${config.hidden_size}]`,
      );
    used.add(tensorNames.lmHead);
    warnings.push(
      `${tensorNames.lmHead} is stored but tie_word_embeddings is true: it is ignored, the embedding is used`,
    );
  }
  const unknown = header.tensors.filter((t) => !used.has(t.name)).map((t) => t.name);
  if (unknown.length)
    fail(
      `model.safetensors: ${unknown.length} unexpected tensor(s) for this config: ${unknown.slice(0, 5).join(", ")}${unknown.length > 5 ? ", …" : ""}`,
    );

  // Validated: now convert.
  const scaleIsInverse = config.quantization_config?.linear_class !== "autobitlinear";
  const float = new Map<string, Tensor>();
  const ternary = new Map<string, TernaryTensor>();
  let nPacked = 0;
  let nLatent = 0;
  for (const {e, packed} of plan) {
    const t = byName.get(e.name)!;
    const bytes = tensorBytes(safetensors, header, t);
    if (packed) {
      const [out, inp] = e.shape as [number, number];
      let codes: Int8Array;
      try {
        codes = unpackTernary(
          t.dtype === "I8" ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : bytes,
          out,
          inp,
        );
      } catch (err) {
        return fail(`model.safetensors: ${e.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const st = byName.get(scaleName(e.name))!;
      const ws = toFloat32(tensorBytes(safetensors, header, st), st.dtype)[0];
      if (!(ws > 0 && Number.isFinite(ws)))
        fail(`model.safetensors: ${scaleName(e.name)} = ${ws}, expected a positive finite scale`);
      ternary.set(e.name, {shape: [out, inp], codes, gamma: scaleIsInverse ? 1 / ws : ws});
      nPacked++;
    } else {
      const data = toFloat32(bytes, t.dtype);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]))
          fail(`model.safetensors: ${e.name} holds a non-finite value (${data[i]}) at flat index ${i}`);
      }
      float.set(e.name, {shape: [...e.shape], data});
      if (e.kind === "linear") nLatent++;
    }
  }
  const format = config.bitnet_variant === "fp" ? "fp" : nPacked && nLatent ? "mixed" : nPacked ? "packed" : "latent";
  const stored = header.tensors.map((t) => ({name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.end - t.begin}));
  return {weights: {config, float, ternary}, stored, format, metadata: header.metadata, warnings};
}

// ---------------------------------------------------------------- writer

export interface WriteOptions {
  /** "packed" (default for quantized variants): uint8 + weight_scale; "latent": float projections. */
  format?: "packed" | "latent";
  /** dtype of float tensors (embedding, norms, head, latent projections). Default F32. */
  floatDtype?: "F32" | "BF16";
  metadata?: Record<string, string>;
}

/** Serializes weights into config.json content and model.safetensors bytes. Packing a model whose
 *  projections are still latent ternarizes them first; writing a ternary model as latent stores γ·W̃
 *  (which ternarizes back to the same codes). */
export function writeCheckpoint(
  w: ModelWeights,
  opts: WriteOptions = {},
): {config: Record<string, unknown>; safetensors: Uint8Array} {
  validateWeights(w);
  const fp = w.config.bitnet_variant === "fp";
  const format = fp ? "latent" : (opts.format ?? "packed");
  const src = format === "packed" ? ternarize(w) : w;
  const fd = opts.floatDtype ?? "F32";
  const entries: TensorEntry[] = [];
  for (const e of expectedTensors(w.config)) {
    if (e.kind === "float") {
      const f = src.float.get(e.name)!;
      entries.push({name: e.name, dtype: fd, shape: [...e.shape], data: fromFloat32(f.data, fd)});
      continue;
    }
    const [out, inp] = e.shape as [number, number];
    if (format === "packed") {
      const t = src.ternary.get(e.name)!;
      entries.push({name: e.name, dtype: "U8", shape: [packedRows(out), inp], data: packTernary(t.codes, out, inp)});
      entries.push({
        name: e.name.replace(/\.weight$/, ".weight_scale"),
        dtype: "F32",
        shape: [1],
        data: fromFloat32(new Float32Array([1 / t.gamma]), "F32"),
      });
    } else {
      const f = src.float.get(e.name);
      let data: Float32Array;
      if (f) data = f.data;
      else {
        const t = src.ternary.get(e.name)!;
        data = new Float32Array(t.codes.length);
        for (let i = 0; i < data.length; i++) data[i] = t.codes[i] * t.gamma;
      }
      entries.push({name: e.name, dtype: fd, shape: [out, inp], data: fromFloat32(data, fd)});
    }
  }
  const config = configToJSON(w.config, {
    quantization: fp ? "none" : format,
    dtype: fd === "BF16" ? "bfloat16" : "float32",
  });
  return {config, safetensors: writeSafetensors(entries, {format: "pt", ...opts.metadata})};
}
