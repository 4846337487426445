// llama.cpp's ternary types TQ1_0 and TQ2_0 (ggml-common.h block_tq1_0 / block_tq2_0; gguf-py quants.py), as
// data: blocks of 256 elements along a row, one f16 scale d per block at the block's end, value = d · code,
// code ∈ {−1, 0, +1}.
//   TQ2_0  66 bytes: qs[64], d. Byte b = 32h + j (h = 0, 1) holds elements 128h + 32s + j at bits 2s..2s+1
//          (s = 0..3, low bits first); 2-bit value v → code v − 1 (3 is unused).
//   TQ1_0  54 bytes: qs[48], qh[4], d. Five trits per byte in base 3, stored as ⌈t · 256 / 243⌉ so that the
//          n-th trit is the top "digit" of (byte · 3ⁿ mod 256) · 3 >> 8: bytes 0..31 hold elements 32n + j
//          (n = 0..4), bytes 32..47 hold 160 + 16n + j, qh's four bytes hold 240 + 4n + j (n = 0..3).
// Scales are per block. A ternary model converted to TQ keeps one scale per tensor (every block with a nonzero
// weight stores the same d): `decodeTQ` returns the block scales and `oneScale` checks that, so the project's
// per-tensor ternary representation holds the file exactly — or says which blocks differ.
import {f16BitsToF32} from "../half.js";
import {FormatError} from "./source.js";

export const GGML_TQ1_0 = 34;
export const GGML_TQ2_0 = 35;
export const TQ_BLOCK = 256;
export const TQ_BYTES: Readonly<Record<number, number>> = {[GGML_TQ1_0]: 54, [GGML_TQ2_0]: 66};
export const TQ_NAMES: Readonly<Record<number, "TQ1_0" | "TQ2_0">> = {[GGML_TQ1_0]: "TQ1_0", [GGML_TQ2_0]: "TQ2_0"};

/** The trit (0, 1, 2) at power n of a TQ1_0 byte. */
export function tq1Trit(byte: number, n: number): number {
  const pow = [1, 3, 9, 27, 81][n];
  return (((byte * pow) & 0xff) * 3) >> 8;
}

/** Where each byte's values go inside a block: [byte][k] = element index, for TQ1_0 (5 or 4 per byte) or TQ2_0 (4). */
function blockMap(type: number): number[][] {
  if (type === GGML_TQ2_0)
    return Array.from({length: 64}, (_, b) => [0, 1, 2, 3].map((s) => 128 * (b >> 5) + 32 * s + (b & 31)));
  const m: number[][] = [];
  for (let b = 0; b < 32; b++) m.push([0, 1, 2, 3, 4].map((n) => 32 * n + b));
  for (let b = 0; b < 16; b++) m.push([0, 1, 2, 3, 4].map((n) => 160 + 16 * n + b));
  for (let b = 0; b < 4; b++) m.push([0, 1, 2, 3].map((n) => 240 + 4 * n + b));
  return m;
}
const MAPS: Record<number, number[][]> = {[GGML_TQ1_0]: blockMap(GGML_TQ1_0), [GGML_TQ2_0]: blockMap(GGML_TQ2_0)};

/** Decodes a TQ1_0/TQ2_0 tensor [rows, cols] into codes (row-major) and per-block scales (rows · cols/256). */
export function decodeTQ(
  bytes: Uint8Array,
  rows: number,
  cols: number,
  type: number,
  what = "TQ tensor",
): {codes: Int8Array; scales: Float32Array} {
  const size = TQ_BYTES[type];
  if (!size) throw new FormatError(`${what}: ggml type ${type} is not TQ1_0 or TQ2_0`);
  if (cols % TQ_BLOCK !== 0)
    throw new FormatError(
      `${what}: rows of ${cols} values are not a multiple of ${TQ_NAMES[type]}'s block of ${TQ_BLOCK}`,
    );
  const nb = (rows * cols) / TQ_BLOCK;
  if (bytes.length !== nb * size)
    throw new FormatError(`${what}: ${bytes.length} bytes, ${TQ_NAMES[type]} of ${rows}×${cols} needs ${nb * size}`);
  const codes = new Int8Array(rows * cols);
  const scales = new Float32Array(nb);
  const map = MAPS[type];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let blk = 0; blk < nb; blk++) {
    const base = blk * size,
      out = blk * TQ_BLOCK;
    scales[blk] = f16BitsToF32(dv.getUint16(base + size - 2, true));
    for (let b = 0; b < map.length; b++) {
      const byte = bytes[base + b];
      const els = map[b];
      for (let k = 0; k < els.length; k++) {
        const v = type === GGML_TQ2_0 ? (byte >> (2 * k)) & 3 : tq1Trit(byte, k);
        if (v === 3)
          throw new FormatError(
            `${what}: invalid TQ2_0 code 3 in block ${blk}, byte ${b}, bits ${2 * k}..${2 * k + 1}`,
          );
        codes[out + els[k]] = v - 1;
      }
    }
  }
  return {codes, scales};
}

/** The one scale every block with a nonzero code carries, or a FormatError naming the blocks that differ. */
export function oneScale(codes: Int8Array, scales: Float32Array, what: string): number {
  let d = 0,
    first = -1;
  const distinct = new Set<number>();
  for (let blk = 0; blk < scales.length; blk++) {
    let any = false;
    for (let i = blk * TQ_BLOCK; i < (blk + 1) * TQ_BLOCK && !any; i++) any = codes[i] !== 0;
    if (!any) continue;
    distinct.add(scales[blk]);
    if (first < 0) {
      first = blk;
      d = scales[blk];
    }
  }
  if (distinct.size > 1) {
    throw new FormatError(
      `${what}: its ${scales.length} blocks carry ${distinct.size} different scales (e.g. ${[...distinct].slice(0, 3).join(", ")}): not one ternary scale per tensor — a float model quantized to TQ, which this project does not run as ternary`,
    );
  }
  if (!(d > 0 && Number.isFinite(d))) throw new FormatError(`${what}: no block has a positive finite scale`);
  return d;
}

/** Byte `b` of a block decoded: which elements it holds and their codes (the inspector's bit-by-bit view). */
export function tqByteFields(type: number, byte: number, b: number): {bits: string; meaning: string}[] {
  const els = MAPS[type][b];
  if (type === GGML_TQ2_0) {
    return [3, 2, 1, 0].map((s) => {
      const v = (byte >> (2 * s)) & 3;
      return {
        bits: v.toString(2).padStart(2, "0"),
        meaning: `bits ${2 * s + 1}..${2 * s}: element ${els[s]} of the block: ${v} → code ${v === 3 ? "invalid" : v - 1}`,
      };
    });
  }
  return els.map((e, n) => {
    const t = tq1Trit(byte, n);
    return {
      bits: `×3^${n}`,
      meaning: `trit ${n} = ((${byte} · ${3 ** n}) mod 256) · 3 >> 8 = ${t}: element ${e} of the block → code ${t - 1}`,
    };
  });
}
