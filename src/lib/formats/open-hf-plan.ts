// Opening a Hugging Face checkpoint (open-hf.ts), the deciding steps: which stored tensor serves each tensor the
// config expects (packed U8 + weight_scale, or float), the format that makes, the scale convention with its
// evidence, and what the first projection's bytes say (a packed byte, or a float that may be pseudo-ternary).
import type {BitNetConfig} from "../config.js";
import {expectedTensors, type ExpectedTensor} from "../checkpoint.js";
import {tensorNames} from "../config.js";
import {packedRows} from "../pack.js";
import {DTYPE_BYTES, toFloat32} from "../safetensors.js";
import {AS_BITNET_HINT} from "./as-bitnet.js";
import {floatWord, packedByteWord} from "./open-common.js";
import type {CheckpointFormat, Inspection, ScaleConvention} from "./open-common.js";
import {describePseudo, detectPseudoTernary} from "./pseudo.js";
import type {SafetensorsSet, TensorRef} from "./safetensors-files.js";
import {scaleOutliers} from "./scale-range.js";
import {FormatError} from "./source.js";
import type {FileSet} from "./source.js";

/** One tensor the config expects, the stored tensor that holds it, and (packed) its weight_scale. */
export interface HFPlanEntry {
  e: ExpectedTensor;
  ref: TensorRef;
  packed: boolean;
  scale?: TensorRef;
}

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

/** Matches the config's expected tensors to the stored ones (shapes, dtypes, scales checked) and decides the format. */
export function planHF(
  files: FileSet,
  set: SafetensorsSet,
  config: BitNetConfig,
  warnings: string[],
): {plan: HFPlanEntry[]; format: CheckpointFormat} {
  const expected = expectedTensors(config);
  const qmode = config.quantization_config?.quantization_mode;
  const plan: HFPlanEntry[] = [];
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

  return {plan, format};
}

/** A packed checkpoint's weight_scale per projection and the convention they are read with (decideScale). */
export async function hfScale(
  plan: readonly HFPlanEntry[],
  format: CheckpointFormat,
  configJSON: unknown,
  override: ScaleConvention | undefined,
  warnings: string[],
): Promise<{scale: Inspection["scale"]; scaleOf: Map<string, number>}> {
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
    scale = decideScale(rawLC, [...scaleOf.values()], override);
    const strong = scale!.value === "multiply" ? scale!.median > 8 : scale!.median < 1 / 8;
    if (strong && !override) {
      throw new FormatError(
        `scale convention mismatch: ${scale!.how}, but the ${scale!.evidence}. ${scale!.otherWay.replace(/^with the other convention/, "Read the other way")}; here it is the chosen way that looks wrong. If the file is right, fix config.json's linear_class (${scale!.value === "multiply" ? '"bitlinear"' : '"autobitlinear"'}) or override the convention (the Open page's selector; \`--scale\` of bitnet-lab convert).`,
      );
    }
    // An override against strong evidence is obeyed, but said: every projection is then off by ≈ scale².
    if (strong && override)
      warnings.push(
        `the scale convention "${scale!.value}" was set by you against the evidence (${scale!.evidence}): if the file follows its linear_class instead, every projection's output is off by ≈ ${(scale!.value === "multiply" ? scale!.median ** 2 : 1 / scale!.median ** 2).toPrecision(3)}× and the output is garbage`,
      );
    if (rawLC === undefined)
      warnings.push(
        "config.json has no linear_class: the scale convention follows transformers' default (divide); check the evidence line",
      );
    warnings.push(...scaleOutliers([...scaleOf], "weight_scale"));
  }

  return {scale, scaleOf};
}

/** The family (names only: behaviour comes from the config fields parseConfig filled) and, for float projections,
 *  whether they are pseudo-quantized — checked on the first projection here, reported per tensor by `load`. */
export async function firstProjection(
  plan: readonly HFPlanEntry[],
  format: CheckpointFormat,
  scale: Inspection["scale"],
  family: Inspection["family"],
  warnings: string[],
): Promise<{pseudo: Inspection["pseudo"]; word: Inspection["word"]}> {
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
  return {pseudo, word};
}
