// bitnet.cpp's I2_S tensor layouts (src/ggml-bitnet-mad.cpp, quantize_i2_s, microsoft/BitNet 16da220), as data:
//   2-bit codes 0 → −1, 1 → 0, 2 → +1 (3 is unused); one f32 scale (the ternary tensor's max |w|, so
//   W = scale · code) right after the n/4 code bytes, then padding to n/4 + 32 bytes ("32B for alignment").
//   Three byte layouts exist, chosen at bitnet.cpp's compile time; the file records none of them:
//   x86   AVX/SSSE3 with ACT_PARALLEL (include/gemm-config.h's default; the released 2B4T file): the flat
//         row-major elements in blocks of 128 in 32 bytes, element j of a block in byte j % 32 at shift
//         6 − 2·⌊j/32⌋;
//   arm   ARM NEON: blocks of 64 in 16 bytes, byte j % 16, shift 6 − 2·⌊j/16⌋;
//   rows  x86 without ACT_PARALLEL (quantize_i2_s "1x4"): rows in groups of 4, one byte per column holding
//         rows 4g, 4g+1, 4g+2, 4g+3 at shifts 6, 4, 2, 0 (byte g·cols + c).
// All three decode any bytes to valid codes with the same multiset, so a wrong choice is silent garbage:
// open.ts decides the layout from evidence (i2sLayoutEvidence) or refuses.
import {FormatError} from "./source.js";

export type I2SLayout = "x86" | "arm" | "rows";

export const I2S_LAYOUT_NAMES: readonly I2SLayout[] = ["x86", "arm", "rows"];

export const I2S_LAYOUTS: Readonly<Record<I2SLayout, {name: string; maker: string}>> = {
  x86: {
    name: "x86: 128-element blocks of 32 bytes, shifts 6,4,2,0",
    maker: "bitnet.cpp built for x86 (AVX2/SSSE3, ACT_PARALLEL — the default, and the released ggml-model-i2_s.gguf)",
  },
  arm: {
    name: "ARM: 64-element blocks of 16 bytes, shifts 6,4,2,0",
    maker: "bitnet.cpp built for ARM NEON (Apple silicon, aarch64 Linux)",
  },
  rows: {
    name: "rows: 4 rows per byte (one byte per column, rows 4g…4g+3 at shifts 6,4,2,0)",
    maker: "bitnet.cpp built for x86 without ACT_PARALLEL",
  },
};

/** I2_S code → ternary value. */
export const I2S_CODE_TABLE: readonly (number | null)[] = [-1, 0, 1, null];

/** Bytes of an I2_S tensor of n elements: n/4 code bytes + 32 (scale and alignment). */
export function i2sBytes(n: number): number {
  return n / 4 + 32;
}

/** Why `layout` cannot hold a [rows, cols] tensor (bitnet.cpp would leave a tail unwritten), or null. */
export function i2sLayoutUnfit(layout: I2SLayout, rows: number, cols: number): string | null {
  const n = rows * cols;
  if (layout === "x86" && n % 128 !== 0) return `${n} elements is not a multiple of the x86 block (128)`;
  if (layout === "arm" && n % 64 !== 0) return `${n} elements is not a multiple of the ARM block (64)`;
  if (layout === "rows" && rows % 4 !== 0) return `${rows} rows is not a multiple of 4`;
  return null;
}

/** Byte and shift of flat element e (row-major [rows, cols]) under a layout. */
function place(layout: I2SLayout, e: number, cols: number): [number, number] {
  if (layout === "rows") {
    const r = Math.floor(e / cols),
      c = e - r * cols;
    return [(r >> 2) * cols + c, 6 - 2 * (r & 3)];
  }
  const [block, group] = layout === "x86" ? [128, 32] : [64, 16];
  const j = e % block;
  return [Math.floor(e / block) * (block / 4) + (j % group), 6 - 2 * Math.floor(j / group)];
}

/** Calls f(element, code 0..3) for every element of the tensor, in byte order (fast paths per layout). */
function forEachCode(
  bytes: Uint8Array,
  rows: number,
  cols: number,
  layout: I2SLayout,
  f: (e: number, v: number) => void,
): void {
  const n = rows * cols;
  if (layout === "rows") {
    for (let g = 0; g < rows / 4; g++) {
      for (let c = 0; c < cols; c++) {
        const b = bytes[g * cols + c];
        const e = 4 * g * cols + c;
        f(e, (b >> 6) & 3);
        f(e + cols, (b >> 4) & 3);
        f(e + 2 * cols, (b >> 2) & 3);
        f(e + 3 * cols, b & 3);
      }
    }
    return;
  }
  const [block, group] = layout === "x86" ? [128, 32] : [64, 16];
  const blockBytes = block / 4;
  for (let blk = 0; blk < n / block; blk++) {
    const base = blk * blockBytes,
      out = blk * block;
    for (let p = 0; p < group; p++) {
      const b = bytes[base + p];
      f(out + p, (b >> 6) & 3);
      f(out + group + p, (b >> 4) & 3);
      f(out + 2 * group + p, (b >> 2) & 3);
      f(out + 3 * group + p, b & 3);
    }
  }
}

function check(bytes: Uint8Array, rows: number, cols: number, layout: I2SLayout, what: string): void {
  const unfit = i2sLayoutUnfit(layout, rows, cols);
  if (unfit) throw new FormatError(`${what}: ${unfit}; bitnet.cpp's ${layout} I2_S layout cannot hold it`);
  const n = rows * cols;
  if (bytes.length !== i2sBytes(n))
    throw new FormatError(`${what}: ${bytes.length} bytes, I2_S of ${n} elements needs ${i2sBytes(n)}`);
}

/** Decodes an I2_S tensor [rows, cols] (row-major) into ternary codes and its scale. */
export function decodeI2S(
  bytes: Uint8Array,
  rows: number,
  cols: number,
  layout: I2SLayout,
  what = "I2_S tensor",
): {codes: Int8Array; scale: number} {
  check(bytes, rows, cols, layout, what);
  const n = rows * cols;
  const codes = new Int8Array(n);
  let bad = -1;
  forEachCode(bytes, rows, cols, layout, (e, v) => {
    if (v === 3 && bad < 0) bad = e;
    codes[e] = v - 1;
  });
  if (bad >= 0) {
    const [byte, shift] = place(layout, bad, cols);
    throw new FormatError(`${what}: invalid I2_S code 3 at byte ${byte}, shift ${shift} (element ${bad})`);
  }
  const scale = new DataView(bytes.buffer, bytes.byteOffset + n / 4, 4).getFloat32(0, true);
  if (!(scale > 0 && Number.isFinite(scale)))
    throw new FormatError(`${what}: I2_S scale ${scale} after the codes is not a positive finite number`);
  return {codes, scale};
}

/** Encodes ternary codes [rows, cols] with their scale as I2_S (the inverse of decodeI2S; padding is zero). */
export function encodeI2S(
  codes: Int8Array,
  rows: number,
  cols: number,
  scale: number,
  layout: I2SLayout,
  what = "I2_S tensor",
): Uint8Array {
  const n = rows * cols;
  if (codes.length !== n) throw new FormatError(`${what}: ${codes.length} codes for a [${rows}, ${cols}] tensor`);
  const unfit = i2sLayoutUnfit(layout, rows, cols);
  if (unfit) throw new FormatError(`${what}: ${unfit}; the ${layout} I2_S layout cannot hold it`);
  const out = new Uint8Array(i2sBytes(n));
  for (let e = 0; e < n; e++) {
    const v = codes[e];
    if (v !== -1 && v !== 0 && v !== 1) throw new FormatError(`${what}: value ${v} at ${e} is not ternary`);
    const [byte, shift] = place(layout, e, cols);
    out[byte] |= (v + 1) << shift;
  }
  new DataView(out.buffer).setFloat32(n / 4, scale, true);
  return out;
}

/** Non-zero codes per row and per column of an I2_S tensor read under `layout` (no Int8Array of the whole
 *  tensor): the statistics the layout evidence compares. */
export function i2sNonZeros(
  bytes: Uint8Array,
  rows: number,
  cols: number,
  layout: I2SLayout,
): {perRow: Float64Array; perCol: Float64Array} {
  const perRow = new Float64Array(rows),
    perCol = new Float64Array(cols);
  forEachCode(bytes, rows, cols, layout, (e, v) => {
    if (v !== 1) {
      const r = Math.floor(e / cols);
      perRow[r]++;
      perCol[e - r * cols]++;
    }
  });
  return {perRow, perCol};
}
