// Scales that are finite but absurd (issue 22.5): one projection's weight_scale of 1e30 among scales near 1
// loads without error and turns the logits into garbage or NaN. The inspector flags, by tensor name, a scale
// far from the median of the projections' scales, and any scale outside the range trained models use.
import type {ByteSource} from "./source.js";

/** A scale this many times above or below the projections' median is flagged. */
export const SCALE_SPREAD = 1000;
/** Ternary scales of trained models (mean|W|, 1/mean|W| or max|W|) lie well within this range. */
export const SCALE_RANGE: [number, number] = [1e-6, 1e6];

/** Warnings naming each projection whose scale is more than SCALE_SPREAD× from the median of all of them
 *  or outside SCALE_RANGE. `scales` are the stored values (whatever their convention). */
export function scaleOutliers(scales: ReadonlyArray<readonly [string, number]>, what = "scale"): string[] {
  if (!scales.length) return [];
  const sorted = scales.map(([, v]) => v).sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1];
  const out: string[] = [];
  const far: string[] = [];
  for (const [name, v] of scales) {
    const ratio = v / median;
    if (ratio > SCALE_SPREAD || ratio < 1 / SCALE_SPREAD)
      far.push(
        `${name} = ${v.toPrecision(3)} (${ratio > 1 ? `${ratio.toPrecision(2)}× above` : `${(1 / ratio).toPrecision(2)}× below`} the median)`,
      );
    else if (v < SCALE_RANGE[0] || v > SCALE_RANGE[1])
      out.push(
        `${name} ${what} ${v.toPrecision(3)} is outside the range trained models use [${SCALE_RANGE[0]}, ${SCALE_RANGE[1]}]: expect overflowing or meaningless logits`,
      );
  }
  if (far.length)
    out.unshift(
      `${far.length} projection ${what}(s) more than ${SCALE_SPREAD}× from the median ${median.toPrecision(3)} of the projections' ${what}s: ${far.slice(0, 4).join(", ")}${far.length > 4 ? ", …" : ""} — a corrupt or mis-scaled tensor; generation from it is garbage or fails`,
    );
  return out;
}

/** The f32 scale after an I2_S tensor's n/4 code bytes (4 bytes read per tensor). */
export async function readI2SScale(src: ByteSource, at: number): Promise<number> {
  const b = await src.read(at, 4);
  return new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
}
