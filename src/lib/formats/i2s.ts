// bitnet.cpp's I2_S tensor layout (src/ggml-bitnet-mad.cpp, quantize_i2_s), as facts, not code:
//   2-bit codes 0 → −1, 1 → 0, 2 → +1 (3 is unused) over the tensor's flat row-major elements;
//   one f32 scale (the ternary tensor's max |w|, so W = scale · code) right after the n/4 code bytes, then
//   padding to n/4 + 32 bytes ("32B for alignment");
//   x86 (AVX/SSSE3 builds, "activation parallel", the released 2B4T file): blocks of 128 elements in 32
//   bytes, element j of a block in byte j % 32 at bit shift 6 − 2·⌊j/32⌋ (shifts 6, 4, 2, 0);
//   ARM NEON builds: blocks of 64 elements in 16 bytes, byte j % 16, shift 6 − 2·⌊j/16⌋.
// The file does not say which layout it holds: both decode to valid codes, with columns permuted inside
// each block. The reader takes the layout as a stated choice (x86 unless told otherwise) and says so.
import {FormatError} from "./source.js";

export type I2SLayout = "x86" | "arm";

export const I2S_LAYOUTS: Readonly<Record<I2SLayout, {block: number; groupBytes: number; name: string}>> = {
  x86: {block: 128, groupBytes: 32, name: "x86: 128-element blocks of 32 bytes, shifts 6,4,2,0"},
  arm: {block: 64, groupBytes: 16, name: "ARM: 64-element blocks of 16 bytes, shifts 6,4,2,0"},
};

/** I2_S code → ternary value. */
export const I2S_CODE_TABLE: readonly (number | null)[] = [-1, 0, 1, null];

/** Bytes of an I2_S tensor of n elements: n/4 code bytes + 32 (scale and alignment). */
export function i2sBytes(n: number): number {
  return n / 4 + 32;
}

function checkN(n: number, layout: I2SLayout, what: string): void {
  const b = I2S_LAYOUTS[layout].block;
  if (n % b !== 0) throw new FormatError(`${what}: ${n} elements is not a multiple of the ${layout} I2_S block (${b}); bitnet.cpp would leave the tail unwritten`);
}

/** Decodes an I2_S tensor (n elements, flat row-major) into ternary codes and its scale. */
export function decodeI2S(bytes: Uint8Array, n: number, layout: I2SLayout, what = "I2_S tensor"): {codes: Int8Array; scale: number} {
  checkN(n, layout, what);
  if (bytes.length !== i2sBytes(n)) throw new FormatError(`${what}: ${bytes.length} bytes, I2_S of ${n} elements needs ${i2sBytes(n)}`);
  const {block, groupBytes} = I2S_LAYOUTS[layout];
  const codes = new Int8Array(n);
  const blockBytes = block / 4;
  for (let b = 0; b < n / block; b++) {
    const base = b * blockBytes;
    const out = b * block;
    for (let g = 0; g < 4; g++) {
      const shift = 6 - 2 * g;
      for (let p = 0; p < groupBytes; p++) {
        const v = (bytes[base + p] >> shift) & 3;
        if (v === 3) throw new FormatError(`${what}: invalid I2_S code 3 at byte ${base + p}, shift ${shift} (element ${out + g * groupBytes + p})`);
        codes[out + g * groupBytes + p] = v - 1;
      }
    }
  }
  const scale = new DataView(bytes.buffer, bytes.byteOffset + n / 4, 4).getFloat32(0, true);
  if (!(scale > 0 && Number.isFinite(scale))) throw new FormatError(`${what}: I2_S scale ${scale} after the codes is not a positive finite number`);
  return {codes, scale};
}

/** Encodes ternary codes with their scale as I2_S (the inverse of decodeI2S; padding bytes are zero). */
export function encodeI2S(codes: Int8Array, scale: number, layout: I2SLayout, what = "I2_S tensor"): Uint8Array {
  const n = codes.length;
  checkN(n, layout, what);
  const {block, groupBytes} = I2S_LAYOUTS[layout];
  const out = new Uint8Array(i2sBytes(n));
  const blockBytes = block / 4;
  for (let e = 0; e < n; e++) {
    const v = codes[e];
    if (v !== -1 && v !== 0 && v !== 1) throw new FormatError(`${what}: value ${v} at ${e} is not ternary`);
    const j = e % block;
    out[Math.floor(e / block) * blockBytes + (j % groupBytes)] |= (v + 1) << (6 - 2 * Math.floor(j / groupBytes));
  }
  new DataView(out.buffer).setFloat32(n / 4, scale, true);
  return out;
}
