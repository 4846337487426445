// Opening bitnet.cpp's GGUF (arch bitnet-25 / bitnet-b1.58, I2_S projections): every convention decided from
// the file and the owner's runtime (gguf-arch.ts), the I2_S byte layout from evidence or refused.
import {headDim} from "../config.js";
import {ggmlTypeName, parseGGUF} from "./gguf.js";
import type {GGUFHeader} from "./gguf.js";
import {ggufArch, ggufConfig, legacyBitnetLabFile, planGGUF} from "./gguf-model.js";
import {GGML_I2_S} from "./gguf.js";
import {GGML_TQ1_0} from "./tq.js";
import type {GGUFPlanEntry} from "./gguf-model.js";
import {ggufTokenizerJSON} from "./gguf-tokenizer.js";
import {I2S_LAYOUTS, I2S_LAYOUT_NAMES, i2sLayoutUnfit} from "./i2s.js";
import type {I2SLayout} from "./i2s.js";
import {evidenceLayers, layoutEvidence} from "./layout-evidence.js";
import type {LayoutEvidence} from "./layout-evidence.js";
import type {CheckpointFormat, OpenOptions, OpenedCheckpoint} from "./open-common.js";
import {firstWord, ggufInspection} from "./open-gguf-inspect.js";
import {ggufOpened} from "./open-gguf-read.js";
import {FormatError, readJSONFile} from "./source.js";
import {readI2SScale, scaleOutliers} from "./scale-range.js";
import type {ByteSource, FileSet} from "./source.js";

/** The file's I2_S layout cannot be decided: the message lists the choices and how to give one. */
export class I2SLayoutUndecided extends FormatError {
  constructor(
    readonly candidates: I2SLayout[],
    readonly evidence: string,
  ) {
    super(
      `GGUF: cannot tell which I2_S byte layout this file holds — the file does not record it, and ${evidence}. ` +
        `Choose it: --i2s-layout ${candidates.join("|")} on the command line, or the "I2_S layout" selector on the Open page ` +
        `(${candidates.map((c) => `${c} = ${I2S_LAYOUTS[c].maker}`).join("; ")}). A wrong choice gives garbage, not an error.`,
    );
  }
}

interface LayoutDecision {
  layout: I2SLayout;
  how: string;
  evidence?: LayoutEvidence;
}

async function decideLayout(
  src: ByteSource,
  h: GGUFHeader,
  plan: GGUFPlanEntry[],
  L: number,
  opts: OpenOptions,
): Promise<LayoutDecision> {
  const ternary = plan.filter((p) => p.kind === "ternary");
  const unfit = (l: I2SLayout) =>
    ternary.map((p) => ({p, why: i2sLayoutUnfit(l, p.shape[0], p.shape[1] as number)})).find((x) => x.why);
  const candidates = I2S_LAYOUT_NAMES.filter((l) => !unfit(l));
  const ruledOut = I2S_LAYOUT_NAMES.filter((l) => unfit(l)).map(
    (l) => `${l} (${unfit(l)!.p.info.name}: ${unfit(l)!.why})`,
  );
  if (opts.i2sLayout) {
    const u = unfit(opts.i2sLayout);
    if (u) throw new FormatError(`GGUF: the ${opts.i2sLayout} I2_S layout cannot hold ${u.p.info.name}: ${u.why}`);
    return {layout: opts.i2sLayout, how: `set by you (${opts.i2sLayout})`};
  }
  if (candidates.length === 0)
    throw new FormatError(`GGUF: no I2_S layout fits every projection: ${ruledOut.join("; ")}`);
  const byArch = ggufArch(h).i2sLayout;
  if (byArch) {
    if (unfit(byArch.layout))
      throw new FormatError(`GGUF: the ${byArch.layout} I2_S layout cannot hold ${unfit(byArch.layout)!.p.info.name}`);
    return byArch;
  }
  const recorded = h.metadata.get("bitnet_lab.i2s_layout");
  if (typeof recorded === "string" && (candidates as string[]).includes(recorded)) {
    return {
      layout: recorded as I2SLayout,
      how: `recorded in the file by its writer (bitnet_lab.i2s_layout = "${recorded}")`,
    };
  }
  const sizes = ruledOut.length ? `sizes rule out ${ruledOut.join("; ")}` : "";
  if (candidates.length === 1) return {layout: candidates[0], how: `the only layout the tensor sizes allow: ${sizes}`};
  const byName = new Map(plan.map((p) => [p.info.name, p]));
  const read = (name: string) => {
    const p = byName.get(name);
    if (!p || p.kind !== "ternary") throw new FormatError(`GGUF: ${name} is missing for the layout evidence`);
    return src.read(h.dataOffset + p.info.offset, p.info.bytes);
  };
  const F = byName.get("blk.0.ffn_up.weight")!.shape[0];
  const C = byName.get("blk.0.ffn_up.weight")!.shape[1] as number;
  const ffns = [];
  for (const l of evidenceLayers(L)) {
    ffns.push({
      layer: l,
      F,
      C,
      up: await read(`blk.${l}.ffn_up.weight`),
      gate: await read(`blk.${l}.ffn_gate.weight`),
      down: await read(`blk.${l}.ffn_down.weight`),
    });
  }
  const ev = layoutEvidence(ffns, candidates);
  if (!ev.layout) throw new I2SLayoutUndecided(candidates, ev.how + (sizes ? `; ${sizes}` : ""));
  return {layout: ev.layout, how: `decided from the weights: ${ev.how}${sizes ? `; ${sizes}` : ""}`, evidence: ev};
}

export async function openGGUFFile(src: ByteSource, opts: OpenOptions, extra: FileSet): Promise<OpenedCheckpoint> {
  const h: GGUFHeader = await parseGGUF(src);
  const arch = ggufArch(h);
  const config = ggufConfig(h);
  const plan = planGGUF(h, config);
  const d = headDim(config);
  const warnings: string[] = [];
  if (opts.scale)
    warnings.push(
      `a weight_scale convention (${opts.scale}) was given, but a GGUF I2_S scale always multiplies: ignored`,
    );
  if (opts.asBitNet) warnings.push('"run as BitNet" was asked, but a GGUF file states each tensor\'s type: ignored');
  const legacy = legacyBitnetLabFile(h);
  const permuted = arch.permutedQK || legacy;
  if (legacy)
    warnings.push(
      "written by BitNet Lab's converter before 2026-12, which permuted W_q/W_k rows for a RoPE bitnet.cpp does not use: this reader undoes that, but bitnet.cpp runs this file wrongly — reconvert it",
    );
  if (!h.metadata.has(`${arch.arch}.rope.freq_base`))
    warnings.push(
      `no ${arch.arch}.rope.freq_base in the file: RoPE θ = ${arch.defaults.ropeFreqBase}, llama.cpp's default (src/llama.cpp:5540); ${arch.embedding ? "BitNet-embedding-0.6B was trained with 1000000 (Microsoft's converter writes θ only from a top-level rope_theta in config.json, line 361: a transformers-5 config nests it in rope_parameters)" : "the 2B4T model was trained with 500000"}`,
    );
  const ternaryType = plan.find((p) => p.kind === "ternary")!.info.type;
  const isI2S = ternaryType === GGML_I2_S;
  // The I2_S byte layout is a question only for I2_S files; TQ1_0/TQ2_0 have one layout (tq.ts).
  const {
    layout,
    how: layoutHow,
    evidence,
  } = isI2S
    ? await decideLayout(src, h, plan, config.num_hidden_layers, opts)
    : {layout: undefined, how: "", evidence: undefined};
  if (!isI2S)
    warnings.push(
      `activations: the file does not say how ${arch.arch}'s ternary projections are fed; run as b1.58 (per-token INT8, as the HF checkpoints these files are converted from were trained); llama.cpp multiplies ${ggmlTypeName(ternaryType)} blocks with Q8_K (per-256-block INT8) activations`,
    );
  const {json: tokJSON, note: tokNote} = ggufTokenizerJSON(h);
  if (tokNote) warnings.push(tokNote);
  const folderTok = extra.get("tokenizer.json");
  const tokenizerJSON = tokJSON ?? (folderTok ? await readJSONFile(folderTok) : undefined);
  if (!tokenizerJSON) warnings.push("no tokenizer.ggml.* vocabulary in the file and no tokenizer.json beside it");
  const i2sScales: [string, number][] = [];
  for (const p of plan)
    if (p.kind === "ternary")
      i2sScales.push([p.info.name, await readI2SScale(src, h.dataOffset + p.info.offset + p.info.n / 4)]);
  warnings.push(
    ...scaleOutliers(
      i2sScales.filter(([, v]) => v > 0 && Number.isFinite(v)),
      "I2_S scale",
    ),
  );
  const ropeHow = permuted
    ? `stored in adjacent-pair order (${legacy ? "this project's old writer" : `${arch.arch}'s converters`}), un-permuted at load to the rotate-half order the model runs`
    : `${arch.arch}: llama.cpp runs it with rotate-half (NEOX) RoPE and the vendor's converters store W_q/W_k in transformers' row order, so rows are read as stored (${arch.source})`;
  const word = await firstWord(src, h, plan, ternaryType, isI2S, layout);
  const format: CheckpointFormat = isI2S ? "gguf-i2s" : ternaryType === GGML_TQ1_0 ? "gguf-tq1_0" : "gguf-tq2_0";
  const inspection = ggufInspection({
    src,
    h,
    arch,
    config,
    plan,
    ternaryType,
    isI2S,
    format,
    word,
    permuted,
    ropeHow,
    decision: layout ? {layout, how: layoutHow, evidence} : undefined,
    tokenizerJSON,
    tokenizerFromFile: !!tokJSON,
    warnings,
  });
  return ggufOpened({src, h, config, plan, layout, permuted, d, inspection, tokenizerJSON});
}
