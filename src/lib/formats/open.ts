// Opening a checkpoint someone brings: detect the format from the files, decide every convention from
// what the files say (and say how it was decided), validate all headers and shapes, and only then read
// tensors — one at a time, so a 2B4T checkpoint is never one buffer.
//
// Formats read:
//   hf-packed  config.json + model.safetensors (or shards): U8 [out/4, in] row-block packed ternary with a
//              per-tensor weight_scale; linear_class "autobitlinear" multiplies (y = W̃x · weight_scale,
//              microsoft/bitnet-b1.58-2B-4T), "bitlinear" divides (weight_scale = 1/mean|W|, Falcon-E).
//   hf-latent  bf16/f32 master weights with quantization_mode "online" (…-2B-4T-bf16): ternarized at load
//              with the library's absmean quantizer, exactly as transformers does on every forward.
//   hf-fp      no quantization_config: a float model.
//   gguf-i2s   bitnet.cpp's GGUF (arch bitnet-25 / bitnet-b1.58) with I2_S projections (open-gguf.ts).
import {tensorNames} from "../config.js";
import type {BitNetConfig} from "../config.js";
import {expectedTensors, parseConfig} from "../checkpoint.js";
import type {ExpectedTensor} from "../checkpoint.js";
import {packedRows, unpackTernary} from "../pack.js";
import {quantizeWeightsAbsmean} from "../quant.js";
import {DTYPE_BYTES, toFloat32} from "../safetensors.js";
import {
  FORMAT_NAMES,
  archInfo,
  engineBytes,
  finite,
  firstDifference,
  floatWord,
  packedByteWord,
  params,
  rowSource,
  tensorAccess,
  tokenizerInfo,
} from "./open-common.js";
import {detectFamily} from "../architecture.js";
import {describePseudo, detectPseudoTernary} from "./pseudo.js";
import {AS_BITNET_HINT, AS_BITNET_HOW, asOnlineBitNet} from "./as-bitnet.js";
import type {
  CheckpointFormat,
  Inspection,
  LoadedTensor,
  OpenOptions,
  OpenedCheckpoint,
  ScaleConvention,
  TensorSummary,
} from "./open-common.js";
import {openGGUFFile} from "./open-gguf.js";
import {INDEX_FILE, openSafetensorsSet} from "./safetensors-files.js";
import type {TensorRef} from "./safetensors-files.js";
import {FormatError, readJSONFile} from "./source.js";
import type {FileSet} from "./source.js";
import {scaleOutliers} from "./scale-range.js";

export * from "./open-common.js";

// ------------------------------------------------------------------ HF

const multiplyLabel = (v: ScaleConvention) => (v === "multiply" ? "weight_scale" : "1/weight_scale");

/** `lc` is linear_class as config.json spells it (undefined when absent: parseConfig fills in a default). */
function decideScale(lc: unknown, scales: number[], override?: ScaleConvention): Inspection["scale"] {
  const sorted = [...scales].sort((a, b) => a - b);
  const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : NaN;
  let value: ScaleConvention;
  let how: string;
  if (override) {
    value = override;
    how = `set by you (overriding config.json's linear_class ${JSON.stringify(lc ?? null)})`;
  } else if (lc === "autobitlinear") {
    value = "multiply";
    how =
      'config.json quantization_config.linear_class = "autobitlinear": transformers\' AutoBitLinear multiplies the output by weight_scale (weight_scale = mean|W|)';
  } else if (lc === "bitlinear") {
    value = "divide";
    how =
      'config.json quantization_config.linear_class = "bitlinear": transformers\' BitLinear divides the output by weight_scale (weight_scale = 1/mean|W|, Falcon-E style)';
  } else {
    value = "divide";
    how = 'config.json gives no linear_class; transformers then uses "bitlinear", which divides by weight_scale';
  }
  // A latent weight's mean|W| is far below 1 in every trained or initialized model we know, so the stored
  // scales' magnitude is independent evidence for the convention.
  const looksInverse = median > 1;
  const evidence = `median weight_scale ${median.toPrecision(4)} over ${scales.length} projections: ${looksInverse ? "above 1, like 1/mean|W| (a dividing scale)" : "below 1, like mean|W| (a multiplying scale)"}`;
  const factor = value === "multiply" ? median * median : 1 / (median * median);
  const otherWay = `with the other convention (${value === "multiply" ? "divide" : "multiply"}) every projection's output would be scaled by ≈ ${factor.toPrecision(3)}× (weight_scale${value === "multiply" ? "⁻²" : "²"}): ${factor > 1 ? "activations blow up" : "activations shrink toward zero"} and the output is garbage`;
  return {value, how, median, evidence, otherWay};
}

async function openHF(files: FileSet, opts: OpenOptions): Promise<OpenedCheckpoint> {
  const cfgSrc = files.get("config.json");
  if (!cfgSrc)
    throw new FormatError(`${files.label}: a Hugging Face checkpoint needs config.json next to the safetensors`);
  const fileJSON = await readJSONFile(cfgSrc);
  const configJSON = opts.asBitNet ? asOnlineBitNet(fileJSON, files.label) : fileJSON;
  let config: BitNetConfig;
  try {
    config = parseConfig(configJSON);
  } catch (e) {
    throw new FormatError(e instanceof Error ? e.message : String(e));
  }
  const pooling = await decidePooling(files);
  if (pooling.value !== "none") config.bitnet_pooling = pooling.value;
  const set = await openSafetensorsSet(files);
  const warnings: string[] = [];
  if (opts.i2sLayout)
    warnings.push(`an I2_S layout (${opts.i2sLayout}) was given, but this is not a GGUF file: ignored`);
  const expected = expectedTensors(config);
  const qmode = config.quantization_config?.quantization_mode;
  const plan: {e: ExpectedTensor; ref: TensorRef; packed: boolean; scale?: TensorRef}[] = [];
  const missing: string[] = [];
  const used = new Set<string>();
  const FLOAT = ["F32", "F16", "BF16", "F64"];
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  for (const e of expected) {
    // the RMSNorm inside a BitLinear is `<proj>.rms_norm.weight` in transformers' AutoBitLinear and
    // `<proj>.norm.weight` in Microsoft's BitNet-embedding export (BitNet docs/bitnet-embeddings-i2s-guide.md §3.1)
    const alt = e.name.endsWith(".rms_norm.weight") ? e.name.replace(/\.rms_norm\.weight$/, ".norm.weight") : "";
    const name = !set.tensors.has(e.name) && alt && set.tensors.has(alt) ? alt : e.name;
    const ref = set.tensors.get(name);
    if (!ref) {
      missing.push(e.name);
      continue;
    }
    used.add(name);
    if (e.kind === "float" || config.bitnet_variant === "fp" || FLOAT.includes(ref.dtype)) {
      if (!FLOAT.includes(ref.dtype))
        throw new FormatError(`${ref.file}: ${e.name} is ${ref.dtype}, expected a float type`);
      if (!same(ref.shape, e.shape))
        throw new FormatError(`${ref.file}: ${e.name} has shape [${ref.shape}], expected [${e.shape}]`);
      plan.push({e, ref, packed: false});
      continue;
    }
    const [out, inp] = e.shape as [number, number];
    if (ref.dtype !== "U8" && ref.dtype !== "I8")
      throw new FormatError(`${ref.file}: ${e.name} is ${ref.dtype}, expected U8 (packed) or a float type (latent)`);
    if (!config.quantization_config)
      throw new FormatError(`${ref.file}: ${e.name} is packed but config.json has no quantization_config`);
    if (!same(ref.shape, [packedRows(out), inp])) {
      const hint = same(ref.shape, [out, inp])
        ? " — one code per byte, not 4: not the transformers packing"
        : same(ref.shape, [out, inp / 4])
          ? " — packed along the input dimension, not transformers' row blocks"
          : "";
      throw new FormatError(
        `${ref.file}: packed ${e.name} has shape [${ref.shape}], expected [${packedRows(out)}, ${inp}] (4 rows per byte)${hint}`,
      );
    }
    const sn = e.name.replace(/\.weight$/, ".weight_scale");
    const scale = set.tensors.get(sn);
    if (!scale) throw new FormatError(`${ref.file}: packed ${e.name} has no ${sn}`);
    if (!FLOAT.includes(scale.dtype) || !(scale.shape.length === 0 || same(scale.shape, [1])))
      throw new FormatError(`${scale.file}: ${sn} is ${scale.dtype} [${scale.shape}], expected one float ([] or [1])`);
    used.add(sn);
    plan.push({e, ref, packed: true, scale});
  }
  if (missing.length)
    throw new FormatError(
      `${files.label}: missing ${missing.length} tensor(s) for this config.json: ${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ", …" : ""}`,
    );
  if (config.tie_word_embeddings && set.tensors.has(tensorNames.lmHead)) {
    used.add(tensorNames.lmHead);
    warnings.push(
      `${tensorNames.lmHead} is stored but tie_word_embeddings is true: ignored, the embedding is the head`,
    );
  }
  const unknown = [...set.tensors.keys()].filter((n) => !used.has(n));
  if (unknown.length)
    throw new FormatError(
      `${files.label}: ${unknown.length} tensor(s) this config does not use: ${unknown.slice(0, 4).join(", ")}`,
    );
  const nPacked = plan.filter((p) => p.packed).length;
  const nLatent = plan.filter((p) => !p.packed && p.e.kind === "linear").length;
  if (nPacked && nLatent)
    throw new FormatError(
      `${files.label}: ${nPacked} projections are packed and ${nLatent} are float: a mixed checkpoint is refused`,
    );
  const format: CheckpointFormat = config.bitnet_variant === "fp" ? "hf-fp" : nPacked ? "hf-packed" : "hf-latent";
  if (format === "hf-latent" && qmode !== "online")
    warnings.push(
      `float projections with quantization_mode ${JSON.stringify(qmode ?? null)}: ternarized at load like "online" (transformers would expect packed weights)`,
    );
  if (format === "hf-packed" && qmode === "online")
    throw new FormatError(
      `${files.label}: config.json says quantization_mode "online" (float master weights) but the projections are packed U8`,
    );

  let scale: Inspection["scale"];
  const scaleOf = new Map<string, number>();
  if (format === "hf-packed") {
    for (const p of plan)
      if (p.scale) {
        const v = toFloat32(await p.scale.read(), p.scale.dtype)[0];
        if (!(v > 0 && Number.isFinite(v)))
          throw new FormatError(`${p.scale.file}: ${p.scale.name} = ${v}, expected a positive finite scale`);
        scaleOf.set(p.e.name, v);
      }
    const rawLC = ((configJSON as {quantization_config?: {linear_class?: unknown}}).quantization_config ?? {})
      .linear_class;
    scale = decideScale(rawLC, [...scaleOf.values()], opts.scale);
    const strong = scale!.value === "multiply" ? scale!.median > 8 : scale!.median < 1 / 8;
    if (strong && !opts.scale) {
      throw new FormatError(
        `scale convention mismatch: ${scale!.how}, but the ${scale!.evidence}. ${scale!.otherWay.replace(/^with the other convention/, "Read the other way")}; here it is the chosen way that looks wrong. If the file is right, fix config.json's linear_class (${scale!.value === "multiply" ? '"bitlinear"' : '"autobitlinear"'}) or override the convention (the Open page's selector; \`--scale\` of bitnet-lab convert).`,
      );
    }
    // An override against strong evidence is obeyed, but said: every projection is then off by ≈ scale².
    if (strong && opts.scale)
      warnings.push(
        `the scale convention "${scale!.value}" was set by you against the evidence (${scale!.evidence}): if the file follows its linear_class instead, every projection's output is off by ≈ ${(scale!.value === "multiply" ? scale!.median ** 2 : 1 / scale!.median ** 2).toPrecision(3)}× and the output is garbage`,
      );
    if (rawLC === undefined)
      warnings.push(
        "config.json has no linear_class: the scale convention follows transformers' default (divide); check the evidence line",
      );
    warnings.push(...scaleOutliers([...scaleOf], "weight_scale"));
  }

  // The family (names only: behaviour comes from the config fields parseConfig filled) and, for float projections,
  // whether they are pseudo-quantized — checked on the first projection here, reported per tensor by `load`.
  const family = opts.asBitNet ? {...detectFamily(configJSON), how: AS_BITNET_HOW} : detectFamily(configJSON);
  const first = plan.find((p) => p.e.kind === "linear")!;
  let pseudo: Inspection["pseudo"];
  let word: Inspection["word"];
  if (first.packed) {
    const [out, inp] = first.e.shape as [number, number];
    const b = await first.ref.readRange(0, 1);
    word = packedByteWord(first.e.name, b[0], out, inp, 0, multiplyLabel(scale!.value));
  } else {
    const bytes = await first.ref.read();
    const data = toFloat32(bytes, first.ref.dtype);
    const [out, inp] = first.e.shape as [number, number];
    const pt = detectPseudoTernary(data, out, inp);
    if (pt) {
      pseudo = {
        tensor: first.e.name,
        axis: pt.axis,
        groups: pt.groups.length,
        alphas: pt.groups.map((g) => g.alpha),
        description: describePseudo(pt, first.e.name),
      };
      if (format === "hf-latent")
        warnings.push(
          `${first.e.name} is pseudo-quantized (values ±α, 0) but config.json asks for online ternarization: transformers re-quantizes with absmean, which keeps these codes and scales them by mean|W| = α · (nonzero share), not α — run as transformers does`,
        );
    }
    let k = 0;
    while (k < data.length - 1 && data[k] === 0) k++;
    const size = DTYPE_BYTES[first.ref.dtype];
    word = floatWord(
      first.e.name,
      bytes.subarray(k * size, (k + 1) * size),
      first.ref.dtype,
      k * size,
      data[k],
      pt ? (pt.groups.length === 1 ? pt.groups[0].alpha : Math.abs(data[k])) : undefined,
    );
    if (!pt && family.value === "llama-float") warnings.push(AS_BITNET_HINT);
  }
  const tokSrc = files.get("tokenizer.json");
  const tokenizerJSON = tokSrc ? await readJSONFile(tokSrc) : undefined;
  const pc = params(config);
  const projBytes = plan
    .filter((p) => p.e.kind === "linear")
    .reduce((a, p) => a + p.ref.bytes + (p.scale?.bytes ?? 0), 0);
  const totalBytes = set.files.reduce((a, f) => a + f.bytes, 0);
  const tensors: TensorSummary[] = plan.map((p) => ({
    name: p.e.name,
    dtype: p.ref.dtype,
    shape: [...p.e.shape],
    bytes: p.ref.bytes + (p.scale?.bytes ?? 0),
    role: p.packed ? "ternary" : p.e.kind === "linear" ? "latent" : "float",
  }));
  const inspection: Inspection = {
    format,
    formatName: FORMAT_NAMES[format],
    architecture: ((configJSON as {architectures?: string[]}).architectures ?? ["BitNetForCausalLM"]).join(", "),
    config,
    files: [
      {name: "config.json", bytes: cfgSrc.size},
      ...set.files.map((f) => ({name: f.name, bytes: f.bytes})),
      ...(files.get(INDEX_FILE) ? [{name: INDEX_FILE, bytes: files.get(INDEX_FILE)!.size}] : []),
      ...(tokSrc ? [{name: "tokenizer.json", bytes: tokSrc.size}] : []),
    ],
    tensors,
    parameters: pc,
    bitsPerWeight: {projections: pc.linear ? (projBytes * 8) / pc.linear : 0, overall: (totalBytes * 8) / pc.total},
    scale,
    rope: {
      value: "rotate-half",
      how: "Hugging Face checkpoints store W_q/W_k unpermuted; transformers' BitNet applies rotate_half (pairs i and i + d/2)",
    },
    runtime: {
      name: "transformers",
      rope: "neox",
      ropeTheta: config.rope_theta,
      source: "transformers' BitNet attention: apply_rotary_pos_emb with rotate_half",
    },
    family,
    arch: archInfo(config),
    pooling: pooling.value !== "none" || pooling.how !== "" ? pooling : undefined,
    pseudo,
    word,
    codeTable: pseudo
      ? `none stored: float values that are code · α (${pseudo.axis === "tensor" ? "one α per tensor" : `α per ${pseudo.axis === "rows" ? "row" : "column"} group`}); code = sign(value)`
      : format === "hf-packed"
        ? "2-bit code = w + 1: 0 → −1, 1 → 0, 2 → +1 (3 invalid); byte bits 2i..2i+1 hold row block i (rows i·out/4 … (i+1)·out/4 − 1)"
        : format === "hf-latent"
          ? "none stored: codes = RoundClip(W / mean|W|, −1, 1) computed at load (absmean, b1.58 eq. 1–3)"
          : "none (float projections)",
    tokenizer: tokenizerJSON ? tokenizerInfo(tokenizerJSON, "tokenizer.json") : undefined,
    gpuBytes: (ctx) => engineBytes(config, ctx),
    warnings,
  };
  const multiply = scale?.value === "multiply";
  const loadOne = async (p: (typeof plan)[number]): Promise<LoadedTensor> => {
    const bytes = await p.ref.read();
    if (p.packed) {
      const [out, inp] = p.e.shape as [number, number];
      let codes: Int8Array;
      try {
        codes = unpackTernary(bytes, out, inp);
      } catch (err) {
        throw new FormatError(`${p.ref.file}: ${p.e.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const ws = scaleOf.get(p.e.name)!;
      return {name: p.e.name, ternary: {shape: [out, inp], codes, gamma: multiply ? ws : 1 / ws}};
    }
    const data = finite(toFloat32(bytes, p.ref.dtype), `${p.ref.file}: ${p.e.name}`);
    if (p.e.kind === "linear" && config.bitnet_variant !== "fp") {
      const q = quantizeWeightsAbsmean(data); // ternarize now, so the float master never accumulates
      return {
        name: p.e.name,
        ternary: {shape: [p.e.shape[0], p.e.shape[1] as number], codes: q.codes, gamma: 1 / q.scale},
      };
    }
    return {name: p.e.name, float: {shape: [...p.e.shape], data}};
  };
  const access = tensorAccess(config, plan, (p) => p.e.name, loadOne, files.label);
  const opened: OpenedCheckpoint = {
    inspection,
    tokenizerJSON,
    ...access,
    async load(onProgress) {
      const w = await access.load(onProgress);
      // Float projections' scales (mean|W|) are known only once read: flagged here, beside the inspection's.
      if (format === "hf-latent")
        warnings.push(
          ...scaleOutliers(
            [...w.ternary].map(([n, t]) => [n, t.gamma] as const),
            "mean |W|",
          ),
        );
      return w;
    },
    ...(format === "hf-latent" && {
      loadFloat: (onProgress) =>
        tensorAccess(
          {...config, bitnet_variant: "fp"},
          plan,
          (p) => p.e.name,
          async (p) => ({
            name: p.e.name,
            float: {shape: [...p.e.shape], data: finite(toFloat32(await p.ref.read(), p.ref.dtype), p.e.name)},
          }),
          files.label,
        ).load(onProgress),
    }),
    rowSource() {
      const byName = new Map(plan.map((p) => [p.e.name, p]));
      return rowSource(
        (name) => opened.tensor(name),
        (name, row0, rows) => {
          const p = byName.get(name);
          if (!p || p.packed || (p.e.kind === "linear" && config.bitnet_variant !== "fp")) return undefined;
          const cols = p.e.shape.length > 1 ? (p.e.shape[1] as number) : p.e.shape[0];
          const size = DTYPE_BYTES[p.ref.dtype];
          return p.ref
            .readRange(row0 * cols * size, rows * cols * size)
            .then((b) => finite(toFloat32(b, p.ref.dtype), `${p.ref.file}: ${name}`));
        },
      );
    },
    async goldenRows(name, rows) {
      const p = plan.find((x) => x.e.name === name);
      if (!p || p.e.kind !== "linear")
        throw new FormatError(`goldenRows: ${name} is not a projection of this checkpoint`);
      const [out, inp] = p.e.shape as [number, number];
      const n = Math.min(rows, out);
      const chosen = new Float32Array(n * inp);
      const other = new Float32Array(n * inp);
      const bytes = await p.ref.read();
      if (p.packed) {
        const codes = unpackTernary(bytes, out, inp);
        const ws = scaleOf.get(name)!;
        const [a, b] = multiply ? [ws, 1 / ws] : [1 / ws, ws];
        for (let k = 0; k < n * inp; k++) {
          chosen[k] = codes[k] * a;
          other[k] = codes[k] * b;
        }
        return {
          chosen,
          other,
          otherLabel: multiply ? "divide" : "multiply",
          cols: inp,
          firstDiff: firstDifference(chosen, other),
        };
      }
      const data = toFloat32(bytes, p.ref.dtype);
      const q = quantizeWeightsAbsmean(data);
      for (let k = 0; k < n * inp; k++) {
        chosen[k] = q.codes[k] / q.scale;
        other[k] = data[k];
      }
      return {chosen, other, otherLabel: "latent (unquantized)", cols: inp, firstDiff: firstDifference(chosen, other)};
    },
    async storedRows(name) {
      // HF rows are stored in the order transformers multiplies them: the reader's rows are the stored rows
      const t = await opened.tensor(name);
      if (t.ternary) {
        const data = new Float32Array(t.ternary.codes.length);
        const g = t.ternary.gamma;
        for (let k = 0; k < data.length; k++) data[k] = t.ternary.codes[k] * g;
        return {data, shape: t.ternary.shape};
      }
      if (t.float.shape.length !== 2) throw new FormatError(`storedRows: ${name} is not a matrix`);
      return {data: t.float.data, shape: t.float.shape as [number, number]};
    },
  };
  return opened;
}

// ------------------------------------------------------------------ detection

/** Opens whatever `files` holds: a .gguf file, or an HF folder (config.json + model.safetensors or shards). */
export async function openCheckpoint(files: FileSet, opts: OpenOptions = {}): Promise<OpenedCheckpoint> {
  const names = files.names();
  const ggufs = names.filter((n) => n.toLowerCase().endsWith(".gguf"));
  if (ggufs.length > 1)
    throw new FormatError(`${files.label}: ${ggufs.length} GGUF files (${ggufs.join(", ")}): open one at a time`);
  if (ggufs.length === 1) return openGGUFFile(files.get(ggufs[0])!, opts, files);
  const onnx = names.filter((n) => n.toLowerCase().endsWith(".onnx"));
  if (onnx.length) throw await onnxRefusal(files, onnx[0]);
  // A lone file that is GGUF by content (renamed): sniff the magic.
  for (const n of names) {
    const s = files.get(n)!;
    if (s.size >= 4 && !n.endsWith(".json")) {
      const m = await s.read(0, 4);
      if (m[0] === 0x47 && m[1] === 0x47 && m[2] === 0x55 && m[3] === 0x46) return openGGUFFile(s, opts, files);
    }
  }
  if (names.includes("model.safetensors") || names.includes(INDEX_FILE)) return openHF(files, opts);
  const st = names.filter((n) => n.endsWith(".safetensors"));
  if (st.length)
    throw new FormatError(
      `${files.label}: safetensors files (${st.slice(0, 3).join(", ")}) but no model.safetensors or ${INDEX_FILE}; drop the whole model folder`,
    );
  if (names.includes("config.json"))
    throw new FormatError(`${files.label}: config.json but no weights (model.safetensors, ${INDEX_FILE} or a .gguf)`);
  throw new FormatError(
    `${files.label}: no checkpoint found (expected a .gguf file, or a folder with config.json and model.safetensors / ${INDEX_FILE}); got ${names.slice(0, 5).join(", ") || "nothing"}`,
  );
}

/** ONNX Runtime exports (e.g. ternary models quantized with ORT's MatMulNBits) are named and refused: the file is an
 *  ONNX graph (protobuf), not a checkpoint, and MatMulNBits stores 2/4/8-bit unsigned codes in blocks along the
 *  input with an f32/f16 scale and a zero point per block — asymmetric, per block, where this project runs ternary
 *  codes with one scale per tensor. The graph's node list comes first in the file, so the op is looked for there. */
async function onnxRefusal(files: FileSet, name: string): Promise<FormatError> {
  const src = files.get(name)!;
  const head = await src.read(0, Math.min(src.size, 1 << 20));
  const text = new TextDecoder("latin1").decode(head);
  const nbits = text.includes("MatMulNBits");
  return new FormatError(
    `${files.label}: ${name} is an ONNX Runtime model${nbits ? " whose projections are MatMulNBits nodes" : ""}: not read. ` +
      "ONNX graphs are not checkpoints this project opens (no config.json, weights inside a protobuf graph), and ORT's MatMulNBits keeps " +
      "2/4/8-bit unsigned codes with a scale and a zero point per block of the input — asymmetric and per block, not ternary codes with one scale per tensor. " +
      "Open the Hugging Face checkpoint the ONNX file was exported from instead.",
  );
}

/** sentence-transformers' pipeline beside the weights: modules.json naming Pooling (+ Normalize) and
 *  1_Pooling/config.json giving the mode. Only last-token pooling with Normalize is run (BitNet-embedding's). */
async function decidePooling(files: FileSet): Promise<{value: "none" | "last-token-l2"; how: string}> {
  const mod = files.get("modules.json");
  if (!mod) return {value: "none", how: ""};
  const modules = (await readJSONFile(mod)) as {type?: string; path?: string}[];
  if (!Array.isArray(modules))
    throw new FormatError(`${files.label}: modules.json must be a list of sentence-transformers modules`);
  const pool = modules.find((m) => typeof m.type === "string" && m.type.endsWith(".Pooling"));
  const normalize = modules.some((m) => typeof m.type === "string" && m.type.endsWith(".Normalize"));
  if (!pool) return {value: "none", how: "modules.json lists no Pooling module"};
  const cfgName = `${pool.path ?? "1_Pooling"}/config.json`;
  const pc = files.get(cfgName);
  if (!pc)
    throw new FormatError(
      `${files.label}: modules.json names a Pooling module but ${cfgName} is not among the files (drop or open the whole folder)`,
    );
  const p = (await readJSONFile(pc)) as Record<string, unknown>;
  const modes = Object.entries(p)
    .filter(([k, v]) => k.startsWith("pooling_mode_") && v === true)
    .map(([k]) => k.slice("pooling_mode_".length));
  if (modes.length !== 1 || modes[0] !== "lasttoken" || !normalize) {
    throw new FormatError(
      `${files.label}: sentence-transformers pooling ${JSON.stringify(modes)}${normalize ? " + Normalize" : " without Normalize"} is not supported (only last-token pooling + Normalize, BitNet-embedding's)`,
    );
  }
  return {
    value: "last-token-l2",
    how: `modules.json: Transformer → Pooling → Normalize; ${cfgName}: pooling_mode_lasttoken`,
  };
}
