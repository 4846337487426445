// Opening a Hugging Face checkpoint (open-hf.ts), the reading side: the OpenedCheckpoint's tensors one at a time
// (packed codes unpacked with the decided scale convention, latent projections ternarized at load), the float
// masters of a latent checkpoint, row reads, and the rows the golden checks compare.
import type {BitNetConfig} from "../config.js";
import {unpackTernary} from "../pack.js";
import {quantizeWeightsAbsmean} from "../quant.js";
import {DTYPE_BYTES, toFloat32} from "../safetensors.js";
import {finite, firstDifference, rowSource, tensorAccess} from "./open-common.js";
import type {CheckpointFormat, Inspection, LoadedTensor, OpenedCheckpoint} from "./open-common.js";
import type {HFPlanEntry} from "./open-hf-plan.js";
import {scaleOutliers} from "./scale-range.js";
import {FormatError} from "./source.js";

/** One tensor as the forward wants it: packed codes unpacked with γ from weight_scale (multiplied or divided by the
 *  convention), a latent projection ternarized now (absmean), anything else float. */
export async function loadHFTensor(
  p: HFPlanEntry,
  config: BitNetConfig,
  scaleOf: ReadonlyMap<string, number>,
  multiply: boolean,
): Promise<LoadedTensor> {
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
}

/** The OpenedCheckpoint of a planned HF checkpoint; `warnings` is the inspection's list (load adds to it). */
export function hfOpened(x: {
  config: BitNetConfig;
  plan: readonly HFPlanEntry[];
  format: CheckpointFormat;
  scale: Inspection["scale"];
  scaleOf: ReadonlyMap<string, number>;
  inspection: Inspection;
  tokenizerJSON: unknown;
  label: string;
  warnings: string[];
}): OpenedCheckpoint {
  const {config, plan, format, scale, scaleOf, inspection, tokenizerJSON, warnings} = x;
  const multiply = scale?.value === "multiply";
  const loadOne = (p: HFPlanEntry) => loadHFTensor(p, config, scaleOf, multiply);
  const access = tensorAccess(config, plan, (p) => p.e.name, loadOne, x.label);
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
          x.label,
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
