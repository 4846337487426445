// The KV cache: its layout, its buffers and the WGSL that reads it (split from attention.ts, issue 21).
//
// KV cache: per layer a K and a V buffer of u32 words. Each (position j, KV head g) vector of d values is
//   • bits 16: f32 (exactly the reference's float32 cache) or f16 pairs ("f16" storage, half the bytes);
//   • bits b < 16: codes of b bits packed LSB-first into ⌈d·b/32⌉ words (a code may straddle two words), plus a
//     (min, step) pair in a meta buffer — quant.ts quantizeKV: asymmetric min/max per vector, post-RoPE.
//   Position 0 lives in its own region at the buffer start, sized for the BOS bits (variant.ts kvPlan: the BOS
//   token keeps max(bitnet_kv_bos_bits, bitnet_kv_bits)). Whether position 0 holds the BOS token is known only
//   when the sequence starts, so it is a runtime flag (ST.plainStart = 1: position 0 is an ordinary token and
//   uses `bits`, inside the same region).

export interface KVFormat {
  /** Bits of every position but 0. */
  bits: number;
  /** Bits of position 0 when it holds the BOS token (= bits when the BOS token gets no special treatment). */
  bosBits: number;
  /** Storage of 16-bit vectors. */
  store16: "f32" | "f16";
}

/** u32 words of one vector of d values at `bits`. */
export function kvWords(d: number, bits: number, store16: "f32" | "f16"): number {
  if (bits >= 16) return store16 === "f32" ? d : Math.ceil(d / 2);
  return Math.ceil((d * bits) / 32);
}

/** Word offset of vector (j, g) and the words a layer's buffer needs for `maxPos` positions. */
export function kvLayout(f: KVFormat, d: number, KV: number) {
  const bosW = kvWords(d, f.bosBits, f.store16);
  const w = kvWords(d, f.bits, f.store16);
  return {
    bosWords: bosW,
    words: w,
    offset: (j: number, g: number) => (j === 0 ? g * bosW : KV * bosW + ((j - 1) * KV + g) * w),
    total: (maxPos: number) => KV * bosW + Math.max(0, maxPos - 1) * KV * w,
  };
}

/** One layer's KV cache for `maxPos` positions: K and V codes (kvLayout words) and their per-vector (min, step)
 *  pairs. `alloc` makes each buffer (a pool in the engine, a plain storage buffer in tests and benchmarks). */
export interface KVCacheBuffers<B> {
  K: B;
  V: B;
  Km: B;
  Vm: B;
}
export function kvCacheBuffers<B>(
  f: KVFormat,
  d: number,
  KV: number,
  maxPos: number,
  alloc: (bytes: number, name: "K" | "V" | "Kmeta" | "Vmeta") => B,
): KVCacheBuffers<B> {
  const codes = kvLayout(f, d, KV).total(maxPos) * 4;
  return {
    K: alloc(codes, "K"),
    V: alloc(codes, "V"),
    Km: alloc(maxPos * KV * 8, "Kmeta"),
    Vm: alloc(maxPos * KV * 8, "Vmeta"),
  };
}

export const quantized = (b: number) => b < 16;

/** Floats per (token, head, chunk) of split-attention partials: (max, sum, out[d]), or with exact (max, sum hi,
 *  sum lo, out hi[d], out lo[d]). */
export function attnPartStride(d: number, exact?: boolean): number {
  return exact ? 2 * d + 3 : d + 2;
}

/** A float64 cos/sin table as the exact RoPE reads it: f32 hi values, then the f32 remainders fround(x − hi),
 *  the halves L = ⌈n/4⌉·4 floats apart (so the buffer is 32·k bytes and arrayLength / 2 finds the lo half). The
 *  fast kernels read the hi half only. */
export function hiLoTable(t: ArrayLike<number>): Float32Array {
  const L = Math.ceil(t.length / 4) * 4;
  const o = new Float32Array(2 * L);
  for (let i = 0; i < t.length; i++) {
    o[i] = t[i];
    o[L + i] = t[i] - o[i];
  }
  return o;
}

/** WGSL (after exactDivWGSL and floatFloatWGSL): RN_f32(min + code·step) as the reference's float64 dequantization
 *  rounds it (an exact product and TwoSum, one rounding) — f32 alone rounds twice. */
export const kvDeqWGSL = /* wgsl */ `
fn kvDeq(mn: f32, c: f32, st: f32) -> f32 {
  let p = opq(c * st);
  let t = twoSum(mn, p);
  return t.x + (t.y + twoProdErr(c, st, p));
}`;

/** The step uniform of kernels that touch the KV cache; `plainStart` exists only when BOS has its own bits. */
export function stStructWGSL(f: KVFormat): string {
  return f.bosBits !== f.bits
    ? "struct ST { M: u32, P: u32, nC: u32, chunk: u32, plainStart: u32 }"
    : "struct ST { M: u32, P: u32, nC: u32, chunk: u32 }";
}

/** WGSL: fn <name>Load(j, g, e) -> f32 reading buffer `buf` (array<u32>) and `meta` (array<vec2<f32>>). */
export function kvLoadWGSL(
  name: string,
  buf: string,
  meta: string,
  f: KVFormat,
  d: number,
  KV: number,
  exact = false,
): string {
  const bosW = kvWords(d, f.bosBits, f.store16);
  const w = kvWords(d, f.bits, f.store16);
  const one = (bits: number, base: string) => {
    if (bits >= 16) {
      return f.store16 === "f32"
        ? `return bitcast<f32>(${buf}[${base} + e]);`
        : `let pr = unpack2x16float(${buf}[${base} + e / 2u]); return select(pr.x, pr.y, (e & 1u) == 1u);`;
    }
    const mask = (1 << bits) - 1;
    return `let bit = e * ${bits}u;
    let wi = ${base} + bit / 32u;
    let sh = bit % 32u;
    var code = ${buf}[wi] >> sh;
    if (sh + ${bits}u > 32u) { code = code | (${buf}[wi + 1u] << (32u - sh)); }
    let mm = ${meta}[j * ${KV}u + g];
    return ${exact ? `kvDeq(mm.x, f32(code & ${mask}u), mm.y)` : `mm.x + f32(code & ${mask}u) * mm.y`};`;
  };
  const pos0 =
    f.bosBits !== f.bits
      ? `if (st.plainStart != 0u) {
      ${one(f.bits, "base")}
    }
    ${one(f.bosBits, "base")}`
      : one(f.bosBits, "base");
  return `fn ${name}Load(j: u32, g: u32, e: u32) -> f32 {
  if (j == 0u) {
    let base = g * ${bosW}u;
    ${pos0}
  }
  let base = ${KV * bosW}u + ((j - 1u) * ${KV}u + g) * ${w}u;
  ${one(f.bits, "base")}
}`;
}
