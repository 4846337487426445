// Ternary weight packing exactly as Hugging Face transformers' integrations/bitnet.py (pack_weights /
// unpack_weights): 4 values per uint8, stored as value + 1 ∈ {0, 1, 2}, packed along the OUTPUT (row)
// dimension. A [rows, cols] matrix becomes [R, cols] bytes with R = ceil(rows / 4); row block i (rows
// i·R … i·R + R − 1) lives in bits 2i … 2i+1 of each byte, so unpacked row i·R + p = ((byte[p] >> 2i) & 3) − 1.
//
// rows not divisible by 4: the last block is padded with code 0 (stored as 1). transformers' own
// pack_weights leaves padding bits at 0 (which would read back as −1), and its BitLinear buffer has
// floor(out/4) rows, so it cannot load such a matrix at all: the released models all have out % 4 == 0.
// Our reader ignores the padding rows, whatever they hold.

export function packedRows(rows: number): number {
  return Math.ceil(rows / 4);
}

/** Packs ternary codes [rows, cols] (row-major) into [ceil(rows/4), cols] bytes. */
export function packTernary(codes: Int8Array, rows: number, cols: number): Uint8Array {
  if (codes.length !== rows * cols) throw new Error(`packTernary: ${codes.length} codes for shape [${rows}, ${cols}]`);
  const R = packedRows(rows);
  const out = new Uint8Array(R * cols);
  for (let i = 0; i < 4; i++) {
    const shift = 2 * i;
    for (let p = 0; p < R; p++) {
      const row = i * R + p;
      const o = p * cols;
      if (row >= rows) {
        for (let c = 0; c < cols; c++) out[o + c] |= 1 << shift; // padding: code 0
        continue;
      }
      const src = row * cols;
      for (let c = 0; c < cols; c++) {
        const v = codes[src + c];
        if (v !== -1 && v !== 0 && v !== 1) throw new Error(`packTernary: value ${v} at [${row}, ${c}] is not ternary`);
        out[o + c] |= (v + 1) << shift;
      }
    }
  }
  return out;
}

/** Unpacks [ceil(rows/4), cols] bytes into ternary codes [rows, cols]. Rejects the unused code 3. */
export function unpackTernary(packed: Uint8Array, rows: number, cols: number): Int8Array {
  const R = packedRows(rows);
  if (packed.length !== R * cols)
    throw new Error(
      `unpackTernary: ${packed.length} bytes, shape [${rows}, ${cols}] needs [${R}, ${cols}] = ${R * cols}`,
    );
  const out = new Int8Array(rows * cols);
  for (let i = 0; i < 4; i++) {
    const shift = 2 * i;
    for (let p = 0; p < R; p++) {
      const row = i * R + p;
      if (row >= rows) break;
      const o = p * cols;
      const dst = row * cols;
      for (let c = 0; c < cols; c++) {
        const v = (packed[o + c] >> shift) & 3;
        if (v === 3)
          throw new Error(
            `unpackTernary: invalid 2-bit code 3 at packed [${p}, ${c}] bits ${shift}–${shift + 1} (row ${row})`,
          );
        out[dst + c] = v - 1;
      }
    }
  }
  return out;
}
