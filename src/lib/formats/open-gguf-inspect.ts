// Opening bitnet.cpp's GGUF (open-gguf.ts), what the Open page shows: the first projection's first byte read under the
// decided layout (I2_S) or block format (TQ1_0 / TQ2_0), and the inspection with every decision and its reason.
import type {BitNetConfig} from "../config.js";
import {ggmlTypeName} from "./gguf.js";
import type {GGUFHeader} from "./gguf.js";
import type {ggufArch} from "./gguf-model.js";
import {GGML_TQ2_0, TQ_BYTES, tqByteFields} from "./tq.js";
import type {GGUFPlanEntry} from "./gguf-model.js";
import {I2S_CODE_TABLE, I2S_LAYOUTS} from "./i2s.js";
import {FAMILIES, type FamilyId} from "../architecture.js";
import type {I2SLayout} from "./i2s.js";
import type {LayoutEvidence} from "./layout-evidence.js";
import {FORMAT_NAMES, archInfo, engineBytes, params, tokenizerInfo} from "./open-common.js";
import type {CheckpointFormat, Inspection} from "./open-common.js";
import type {ByteSource} from "./source.js";

/** Byte 0 of the first projection, field by field. */
export async function firstWord(
  src: ByteSource,
  h: GGUFHeader,
  plan: readonly GGUFPlanEntry[],
  ternaryType: number,
  isI2S: boolean,
  layout: I2SLayout | undefined,
): Promise<Inspection["word"]> {
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
  return word;
}

/** The inspection of an opened GGUF file (`warnings` is the list the opener keeps adding to). */
export function ggufInspection(x: {
  src: ByteSource;
  h: GGUFHeader;
  arch: ReturnType<typeof ggufArch>;
  config: BitNetConfig;
  plan: readonly GGUFPlanEntry[];
  ternaryType: number;
  isI2S: boolean;
  format: CheckpointFormat;
  word: Inspection["word"];
  permuted: boolean;
  ropeHow: string;
  decision: {layout: I2SLayout; how: string; evidence?: LayoutEvidence} | undefined;
  tokenizerJSON: unknown;
  tokenizerFromFile: boolean;
  warnings: string[];
}): Inspection {
  const {src, h, arch, config, plan, ternaryType, isI2S, format, word, permuted, ropeHow, warnings} = x;
  const layout = x.decision?.layout;
  const layoutHow = x.decision?.how ?? "";
  const evidence = x.decision?.evidence;
  const tokenizerJSON = x.tokenizerJSON;
  const pc = params(config);
  const projBytes = plan.filter((p) => p.kind === "ternary").reduce((a, p) => a + p.info.bytes, 0);
  return {
    family: ((v: FamilyId) => ({
      value: v,
      family: FAMILIES[v],
      how: arch.embedding
        ? `GGUF general.architecture "${arch.arch}" with blk.N.*_norm_in tensors (an RMSNorm inside each BitLinear), attn_q_norm/attn_k_norm and ${arch.arch}.pooling_type: Microsoft's BitNet-embedding conversion, ${ggmlTypeName(ternaryType)} projections`
        : `GGUF general.architecture "${arch.arch}" (${arch.ffn === "relu2" ? "ReLU²" : "SiLU"}, ${arch.subNorms ? "sub-norms" : "no sub-norms"}) with ${ggmlTypeName(ternaryType)} projections`,
    }))(arch.embedding ? "bitnet-embedding" : arch.subNorms ? "bitnet-2b4t" : "llama-bitnet"),
    arch: archInfo(config),
    word,
    pooling: config.bitnet_pooling
      ? {
          value: config.bitnet_pooling,
          how: `${arch.arch}.pooling_type = 3 (last token); L2 normalization is llama.cpp's embedding default, not recorded in the file`,
        }
      : undefined,
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
      ? tokenizerInfo(tokenizerJSON, x.tokenizerFromFile ? "GGUF tokenizer.ggml.*" : "tokenizer.json")
      : undefined,
    gpuBytes: (ctx) => engineBytes(config, ctx),
    warnings,
  };
}
