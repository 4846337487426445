// Bits per value for each part of a model. Weight formats from the papers' notes (bitnet-papers.md §6.2, §8 #29).

/** Storage formats for the linear (projection) weights. */
export const WEIGHT_FORMATS = {
  fp32: {bits: 32, label: "FP32"},
  fp16: {bits: 16, label: "FP16 / BF16"},
  int8: {bits: 8, label: "INT8"},
  int4: {bits: 4, label: "INT4"},
  i2: {bits: 2, label: "2-bit packed ternary (I2_S, TQ2_0, HF packing)"},
  tl2: {bits: 5 / 3, label: "TL2: 5 bits per 3 weights"},
  ideal: {bits: Math.log2(3), label: "log₂3 (ternary information content)"},
} as const;
export type WeightFormat = keyof typeof WEIGHT_FORMATS;

/** How the matrix products are computed, which decides their energy (BitNet paper eq. 16–18): floating-point or
 *  INT8 multiply-accumulates, or ternary weights (additions only, at the activations' format). */
export type Arithmetic = "fp32" | "fp16" | "int8" | "ternary";

export interface Precision {
  label: string;
  /** Bits per linear weight in memory. */
  weightBits: number;
  /** Embedding and LM head stay at their own precision ("the embedding remains full precision", b1.58 §3). */
  embeddingBits: number;
  /** Bits of the activations entering the linear layers (8: INT8 absmax; 4: INT4 absmean). */
  activationBits: number;
  /** KV-cache bits. */
  kvBits: number;
  /** fp16/fp32/int8: multiply-accumulate; ternary: additions only (plus a scale per row and per token). */
  arithmetic: Arithmetic;
}

export const PRECISIONS = {
  fp16: {label: "FP16 LLaMA", weightBits: 16, embeddingBits: 16, activationBits: 16, kvBits: 16, arithmetic: "fp16"},
  "b1.58": {
    label: "BitNet b1.58 (W1.58A8, 2-bit packed)",
    weightBits: 2,
    embeddingBits: 16,
    activationBits: 8,
    kvBits: 16,
    arithmetic: "ternary",
  },
  "b1.58-ideal": {
    label: "BitNet b1.58 at log₂3 bits",
    weightBits: Math.log2(3),
    embeddingBits: 16,
    activationBits: 8,
    kvBits: 16,
    arithmetic: "ternary",
  },
  "a4.8": {
    label: "BitNet a4.8 (W1.58A4, 3-bit KV)",
    weightBits: 2,
    embeddingBits: 16,
    activationBits: 4,
    kvBits: 3,
    arithmetic: "ternary",
  },
  "v2-a4": {
    label: "BitNet v2 (W1.58A4)",
    weightBits: 2,
    embeddingBits: 16,
    activationBits: 4,
    kvBits: 16,
    arithmetic: "ternary",
  },
} as const satisfies Record<string, Precision>;
export type PrecisionId = keyof typeof PRECISIONS;

export function precision(id: PrecisionId, override: Partial<Precision> = {}): Precision {
  return {...PRECISIONS[id], ...override};
}

export function isPrecisionId(s: string): s is PrecisionId {
  return Object.prototype.hasOwnProperty.call(PRECISIONS, s);
}

/** A precision from the three bit-widths a reader picks. Ternary (≤ 2-bit) weights compute with additions; 8/4-bit
 *  weights with ≤ 8-bit activations use INT8 multiply-accumulates; otherwise weights are dequantized to FP16. */
export function customPrecision(
  weightBits: number,
  activationBits: number,
  kvBits: number,
  embeddingBits = 16,
): Precision {
  for (const [k, v] of Object.entries({weightBits, activationBits, kvBits, embeddingBits})) {
    if (!(Number.isFinite(v) && v > 0 && v <= 32)) throw new Error(`${k} must be in (0, 32], got ${v}`);
  }
  const arithmetic: Arithmetic =
    weightBits <= 2 ? "ternary" : weightBits >= 32 ? "fp32" : weightBits <= 8 && activationBits <= 8 ? "int8" : "fp16";
  const w = Math.abs(weightBits - Math.log2(3)) < 1e-9 ? "1.58" : String(weightBits);
  return {
    label: `W${w}A${activationBits}, ${kvBits}-bit KV`,
    weightBits,
    embeddingBits,
    activationBits,
    kvBits,
    arithmetic,
  };
}
