// Opening a Hugging Face checkpoint (open.ts detects it): config.json parsed (and, when asked, a float Llama read as
// BitNet), sentence-transformers pooling beside it, the safetensors set planned against the config
// (open-hf-plan.ts), the scale convention decided with its evidence, the inspection the Open page shows, and the
// OpenedCheckpoint that reads tensors one at a time (open-hf-read.ts).
import type {BitNetConfig} from "../config.js";
import {parseConfig} from "../checkpoint.js";
import {detectFamily} from "../architecture.js";
import {AS_BITNET_HOW, asOnlineBitNet} from "./as-bitnet.js";
import {FORMAT_NAMES, archInfo, engineBytes, params, tokenizerInfo} from "./open-common.js";
import type {CheckpointFormat, Inspection, OpenOptions, OpenedCheckpoint, TensorSummary} from "./open-common.js";
import {firstProjection, hfScale, planHF, type HFPlanEntry} from "./open-hf-plan.js";
import {hfOpened} from "./open-hf-read.js";
import {INDEX_FILE, openSafetensorsSet, type SafetensorsSet} from "./safetensors-files.js";
import {FormatError, readJSONFile} from "./source.js";
import type {ByteSource, FileSet} from "./source.js";

export async function openHF(files: FileSet, opts: OpenOptions): Promise<OpenedCheckpoint> {
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
  const {plan, format} = planHF(files, set, config, warnings);
  const {scale, scaleOf} = await hfScale(plan, format, configJSON, opts.scale, warnings);
  // The family (names only: behaviour comes from the config fields parseConfig filled).
  const family = opts.asBitNet ? {...detectFamily(configJSON), how: AS_BITNET_HOW} : detectFamily(configJSON);
  const {pseudo, word} = await firstProjection(plan, format, scale, family, warnings);
  const {inspection, tokenizerJSON} = await inspectHF({
    files,
    cfgSrc,
    configJSON,
    config,
    set,
    plan,
    format,
    scale,
    family,
    pooling,
    pseudo,
    word,
    warnings,
  });
  return hfOpened({config, plan, format, scale, scaleOf, inspection, tokenizerJSON, label: files.label, warnings});
}

/** What the Open page shows of an HF checkpoint: files, tensors, bits per weight, every decision with its reason. */
async function inspectHF(x: {
  files: FileSet;
  cfgSrc: ByteSource;
  configJSON: unknown;
  config: BitNetConfig;
  set: SafetensorsSet;
  plan: readonly HFPlanEntry[];
  format: CheckpointFormat;
  scale: Inspection["scale"];
  family: Inspection["family"];
  pooling: {value: "none" | "last-token-l2"; how: string};
  pseudo: Inspection["pseudo"];
  word: Inspection["word"];
  warnings: string[];
}): Promise<{inspection: Inspection; tokenizerJSON: unknown}> {
  const {files, cfgSrc, configJSON, config, set, plan, format, scale, family, pooling, pseudo, word, warnings} = x;
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
  return {inspection, tokenizerJSON};
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
