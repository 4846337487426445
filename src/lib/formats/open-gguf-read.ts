// Opening bitnet.cpp's GGUF (open-gguf.ts), the reading side: the OpenedCheckpoint's tensors one at a time (codes
// decoded under the decided I2_S layout or TQ block format, W_q/W_k un-permuted where stored in pair order), row
// reads of float tensors, and the rows the golden checks compare (the other layout, or the stored row order).
import type {BitNetConfig} from "../config.js";
import {toFloat32, DTYPE_BYTES} from "../safetensors.js";
import type {GGUFHeader} from "./gguf.js";
import {decodeTernary, loadGGUFTensor} from "./gguf-model.js";
import type {GGUFPlanEntry} from "./gguf-model.js";
import {I2S_LAYOUT_NAMES, i2sLayoutUnfit} from "./i2s.js";
import type {I2SLayout} from "./i2s.js";
import {finite, firstDifference, rowSource, tensorAccess} from "./open-common.js";
import type {Inspection, LoadedTensor, OpenedCheckpoint} from "./open-common.js";
import {FormatError} from "./source.js";
import type {ByteSource} from "./source.js";

const GGUF_FLOAT: Record<number, "F32" | "F16" | "BF16"> = {0: "F32", 1: "F16", 30: "BF16"};

/** The OpenedCheckpoint of a planned GGUF file. */
export function ggufOpened(x: {
  src: ByteSource;
  h: GGUFHeader;
  config: BitNetConfig;
  plan: readonly GGUFPlanEntry[];
  layout: I2SLayout | undefined;
  permuted: boolean;
  d: number;
  inspection: Inspection;
  tokenizerJSON: unknown;
}): OpenedCheckpoint {
  const {src, h, config, plan, layout, permuted, d, inspection, tokenizerJSON} = x;
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
