// Opening bitnet.cpp's GGUF (arch bitnet-25 / bitnet-b1.58, I2_S projections): every convention decided from
// the file and the owner's runtime (gguf-arch.ts), the I2_S byte layout from evidence or refused.
import {headDim} from "../config.js";
import {toFloat32, DTYPE_BYTES} from "../safetensors.js";
import {ggmlTypeName, parseGGUF} from "./gguf.js";
import type {GGUFHeader} from "./gguf.js";
import {decodeTernary, ggufArch, ggufConfig, legacyBitnetLabFile, loadGGUFTensor, planGGUF} from "./gguf-model.js";
import {GGML_I2_S} from "./gguf.js";
import {GGML_TQ1_0, GGML_TQ2_0, TQ_BYTES, tqByteFields} from "./tq.js";
import type {GGUFPlanEntry} from "./gguf-model.js";
import {ggufTokenizerJSON} from "./gguf-tokenizer.js";
import {I2S_CODE_TABLE, I2S_LAYOUTS, I2S_LAYOUT_NAMES, i2sLayoutUnfit} from "./i2s.js";
import {FAMILIES, type FamilyId} from "../architecture.js";
import type {I2SLayout} from "./i2s.js";
import {evidenceLayers, layoutEvidence} from "./layout-evidence.js";
import type {LayoutEvidence} from "./layout-evidence.js";
import {
  FORMAT_NAMES,
  archInfo,
  engineBytes,
  finite,
  firstDifference,
  params,
  rowSource,
  tensorAccess,
  tokenizerInfo,
} from "./open-common.js";
import type {Inspection, LoadedTensor, OpenOptions, OpenedCheckpoint} from "./open-common.js";
import {FormatError, readJSONFile} from "./source.js";
import {readI2SScale, scaleOutliers} from "./scale-range.js";
import type {ByteSource, FileSet} from "./source.js";

const GGUF_FLOAT: Record<number, "F32" | "F16" | "BF16"> = {0: "F32", 1: "F16", 30: "BF16"};

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
      `no ${arch.arch}.rope.freq_base in the file: RoPE θ = ${arch.defaults.ropeFreqBase}, llama.cpp's default (src/llama.cpp:5540); the 2B4T model was trained with 500000`,
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
  const pc = params(config);
  const projBytes = plan.filter((p) => p.kind === "ternary").reduce((a, p) => a + p.info.bytes, 0);
  const loadOne = async (p: GGUFPlanEntry): Promise<LoadedTensor> => {
    const t = await loadGGUFTensor(src, h, p, layout, d, permuted);
    return t instanceof Float32Array
      ? {name: p.hf, float: {shape: [...p.shape], data: t}}
      : {name: p.hf, ternary: {shape: p.shape as [number, number], codes: t.codes, gamma: t.gamma}};
  };
  const readTernary = async (name: string, l: I2SLayout | undefined) => {
    const p = plan.find((x) => x.hf === name && x.kind === "ternary");
    if (!p) throw new FormatError(`${src.name}: ${name} is not a projection of this checkpoint`);
    const [out, inp] = p.shape as [number, number];
    return {p, out, inp, ...decodeTernary(await src.read(h.dataOffset + p.info.offset, p.info.bytes), p, l)};
  };
  const ropeHow = permuted
    ? `stored in adjacent-pair order (${legacy ? "this project's old writer" : `${arch.arch}'s converters`}), un-permuted at load to the rotate-half order the model runs`
    : `${arch.arch}: llama.cpp runs it with rotate-half (NEOX) RoPE and the vendor's converters store W_q/W_k in transformers' row order, so rows are read as stored (${arch.source})`;
  const firstProj = plan.find((p) => p.kind === "ternary");
  let word: Inspection["word"];
  if (firstProj && !isI2S) {
    const b0 = (await src.read(h.dataOffset + firstProj.info.offset, 1))[0];
    const size = TQ_BYTES[ternaryType];
    const dBytes = await src.read(h.dataOffset + firstProj.info.offset + size - 2, 2);
    word = {
      tensor: firstProj.hf,
      offset: 0,
      hex: b0.toString(16).padStart(2, "0"),
      bits: b0.toString(2).padStart(8, "0"),
      fields: tqByteFields(ternaryType, b0, 0),
      value: `byte 0 of block 0 (${size} bytes per 256 weights; the block's f16 scale d is its last two bytes, ${Array.from(dBytes, (x) => x.toString(16).padStart(2, "0")).join(" ")}); W = code · d`,
    };
  } else if (firstProj && layout) {
    const b0 = (await src.read(h.dataOffset + firstProj.info.offset, 1))[0];
    const cols = firstProj.shape[1] as number;
    const group = layout === "x86" ? 32 : layout === "arm" ? 16 : cols;
    word = {
      tensor: firstProj.hf,
      offset: 0,
      hex: b0.toString(16).padStart(2, "0"),
      bits: b0.toString(2).padStart(8, "0"),
      fields: [3, 2, 1, 0].map((i) => {
        const v = (b0 >> (2 * i)) & 3;
        const e = (3 - i) * group;
        return {
          bits: v.toString(2).padStart(2, "0"),
          meaning: `shift ${2 * i}: element ${e} (row ${Math.floor(e / cols)}, column ${e % cols}) under the ${layout} layout: code ${v} → ${I2S_CODE_TABLE[v] ?? "invalid"}`,
        };
      }),
      value: `four ternary weights; W = code · the tensor's f32 scale`,
    };
  }
  const format = isI2S ? "gguf-i2s" : ternaryType === GGML_TQ1_0 ? "gguf-tq1_0" : "gguf-tq2_0";
  const inspection: Inspection = {
    family: ((v: FamilyId) => ({
      value: v,
      family: FAMILIES[v],
      how: `GGUF general.architecture "${arch.arch}" (${arch.ffn === "relu2" ? "ReLU²" : "SiLU"}, ${arch.subNorms ? "sub-norms" : "no sub-norms"}) with ${ggmlTypeName(ternaryType)} projections`,
    }))(arch.subNorms ? "bitnet-2b4t" : "llama-bitnet"),
    arch: archInfo(config),
    word,
    format,
    formatName: FORMAT_NAMES[format],
    architecture: `${arch.arch} (GGUF v${h.version})`,
    config,
    files: [{name: src.name, bytes: src.size}],
    tensors: plan.map((p) => ({
      name: p.hf,
      dtype: ggmlTypeName(p.info.type),
      shape: [...p.shape],
      bytes: p.info.bytes,
      role: p.kind === "ternary" ? "ternary" : "float",
    })),
    parameters: pc,
    bitsPerWeight: {projections: (projBytes * 8) / pc.linear, overall: (src.size * 8) / pc.total},
    scale: undefined,
    rope: {value: permuted ? "interleaved-pairs" : "rotate-half", how: ropeHow},
    runtime: {
      name: isI2S ? "bitnet.cpp (llama.cpp)" : "llama.cpp",
      rope: arch.rope,
      ropeTheta: config.rope_theta,
      source: arch.source,
    },
    i2s: layout
      ? {
          value: layout,
          how: layoutHow,
          description: I2S_LAYOUTS[layout].name,
          maker: I2S_LAYOUTS[layout].maker,
          evidence: evidence && {z: evidence.z, layers: evidence.layers},
        }
      : undefined,
    codeTable: isI2S
      ? "I2_S code: 0 → −1, 1 → 0, 2 → +1 (3 invalid); W = code · scale, one f32 scale per tensor after the n/4 code bytes (+32 bytes)"
      : ternaryType === GGML_TQ2_0
        ? "TQ2_0: 256-weight blocks of 64 code bytes + f16 scale d; byte 32h + j holds elements 128h + 32s + j at bits 2s..2s+1; code = v − 1 (3 invalid); W = code · d, one d for every nonzero block (checked)"
        : "TQ1_0: 256-weight blocks of 48 + 4 base-3 bytes + f16 scale d; five trits per byte (trit n = (byte · 3ⁿ mod 256) · 3 >> 8); code = trit − 1; W = code · d, one d for every nonzero block (checked)",
    tokenizer: tokenizerJSON
      ? tokenizerInfo(tokenizerJSON, tokJSON ? "GGUF tokenizer.ggml.*" : "tokenizer.json")
      : undefined,
    gpuBytes: (ctx) => engineBytes(config, ctx),
    warnings,
  };
  const opened: OpenedCheckpoint = {
    inspection,
    tokenizerJSON,
    ...tensorAccess(config, plan, (p) => p.hf, loadOne, src.name),
    rowSource() {
      const byName = new Map(plan.map((p) => [p.hf, p]));
      return rowSource(
        (name) => opened.tensor(name),
        (name, row0, rows) => {
          const p = byName.get(name);
          if (!p || p.kind !== "float") return undefined;
          const cols = p.shape.length > 1 ? (p.shape[1] as number) : p.shape[0];
          const dt = GGUF_FLOAT[p.info.type];
          const size = DTYPE_BYTES[dt];
          return src
            .read(h.dataOffset + p.info.offset + row0 * cols * size, rows * cols * size)
            .then((b) => finite(toFloat32(b, dt), `${src.name}: ${p.info.name}`));
        },
      );
    },
    async goldenRows(name, rows) {
      const a = await readTernary(name, layout);
      if (!layout) {
        // TQ: one layout; the reading worth contrasting is the stored row order (adjacent pairs) vs the one the model runs
        const t = await loadOne(a.p);
        const n = Math.min(rows, a.out);
        const chosen = new Float32Array(n * a.inp),
          other = new Float32Array(n * a.inp);
        for (let k = 0; k < n * a.inp; k++) {
          chosen[k] = t.ternary!.codes[k] * t.ternary!.gamma;
          other[k] = a.codes[k] * a.scale;
        }
        return {
          chosen,
          other,
          otherLabel:
            permuted && a.p.rope ? "rows as stored (adjacent-pair order)" : "rows as stored (identical: not W_q/W_k)",
          cols: a.inp,
          firstDiff: firstDifference(chosen, other),
        };
      }
      // the alternative most worth seeing: the other layout that fits, x86 ↔ arm first
      const others = I2S_LAYOUT_NAMES.filter((l) => l !== layout && !i2sLayoutUnfit(l, a.out, a.inp));
      const otherLayout = others.find((l) => l !== "rows") ?? others[0];
      const n = Math.min(rows, a.out);
      const chosen = new Float32Array(n * a.inp);
      const other = new Float32Array(n * a.inp);
      for (let k = 0; k < n * a.inp; k++) chosen[k] = a.codes[k] * a.scale;
      if (otherLayout) {
        const b = await readTernary(name, otherLayout);
        for (let k = 0; k < n * a.inp; k++) other[k] = b.codes[k] * b.scale;
      }
      // rows as stored (before any legacy RoPE un-permutation), so layouts are compared like for like
      return {
        chosen,
        other,
        otherLabel: otherLayout ? `${otherLayout} I2_S layout` : "no other layout fits",
        cols: a.inp,
        firstDiff: firstDifference(chosen, other),
      };
    },
    async storedRows(name) {
      const a = await readTernary(name, layout);
      const data = new Float32Array(a.codes.length);
      for (let k = 0; k < data.length; k++) data[k] = a.codes[k] * a.scale;
      return {data, shape: [a.out, a.inp]};
    },
  };
  return opened;
}
