// Correctly rounded division in WGSL, for the few places where the GPU must reproduce the reference's float64
// arithmetic bit for bit (quantization scales, the KV-cache step, K/V projection outputs): WGSL's f32 division
// may be off by 2.5 ulp, and a scale that differs in its last bit moves codes that sit on a rounding edge.

/** WGSL: RN_f32(N / d) for N = (hi·2^32 + lo)·2^ne (any 64-bit integer mantissa) and a positive normal f32 d,
 *  by long division: 26 quotient bits, then the remainder and any unread numerator bits as the sticky bit. */
export const exactDivWGSL = /* wgsl */ `
// A zero the compiler cannot see: each kernel sets OPQ from a uniform at run time. Or-ing it into a float's bits
// forces that value to be materialized as rounded, so algebra like (a + b) − a = b cannot erase the rounding error
// TwoSum measures (NVIDIA's Vulkan compiler does exactly that to the plain formula).
var<private> OPQ: u32;
fn opq(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) | OPQ); }
// a + b = s + e exactly (Knuth's TwoSum)
fn twoSum(a: f32, b: f32) -> vec2<f32> {
  let s = opq(a + b);
  let bb = opq(s - a);
  return vec2<f32>(s, (a - opq(s - bb)) + (b - bb));
}
fn exactDiv(nHi: u32, nLo: u32, ne: i32, d: f32) -> f32 {
  let db = bitcast<u32>(d);
  let dm = (db & 0x7fffffu) | 0x800000u;
  let de = i32((db >> 23u) & 0xffu) - 150;
  var L = 0i;
  if (nHi != 0u) { L = 64 - i32(countLeadingZeros(nHi)); } else { L = 32 - i32(countLeadingZeros(nLo)); }
  var r = 0u;
  var q = 0u;
  var i = L - 1;
  var rest = false;
  loop {
    if (i < 0) { break; }
    if (q >= 0x2000000u) {
      // bits i … 0 are not needed for the quotient: they shift the exponent and feed the sticky bit
      let k = u32(i + 1);
      if (k >= 32u) { rest = nLo != 0u || (nHi & select((1u << (k - 32u)) - 1u, 0xffffffffu, k >= 64u)) != 0u; }
      else { rest = (nLo & ((1u << k) - 1u)) != 0u; }
      break;
    }
    var bit = 0u;
    if (i >= 32) { bit = (nHi >> u32(i - 32)) & 1u; } else { bit = (nLo >> u32(i)) & 1u; }
    r = (r << 1u) | bit;
    q = q << 1u;
    if (r >= dm) { r -= dm; q |= 1u; }
    i--;
  }
  let up = i + 1;
  var f = 0;
  while (q < 0x2000000u) {
    r = r << 1u;
    q = q << 1u;
    if (r >= dm) { r -= dm; q |= 1u; }
    f++;
  }
  let sticky = r != 0u || rest;
  let k = 32u - countLeadingZeros(q);
  let s = k - 24u;
  var keep = q >> s;
  let rem = q & ((1u << s) - 1u);
  let half = 1u << (s - 1u);
  if (rem > half || (rem == half && (sticky || (keep & 1u) == 1u))) { keep++; }
  var e = i32(s) - f + ne - de + up;
  if (keep == 0x1000000u) { keep = keep >> 1u; e++; }
  let biased = e + 23 + 127;
  return bitcast<f32>((u32(biased) << 23u) | (keep & 0x7fffffu));
}
// RN_f32((s + e) / d) for s > 0 and |e| ≤ ulp(s)/2 (an exact two-term sum): the numerator as one integer.
fn exactDivSum(s: f32, e: f32, d: f32) -> f32 {
  let sb = bitcast<u32>(s);
  let ms = (sb & 0x7fffffu) | 0x800000u;
  let es = i32((sb >> 23u) & 0xffu) - 150;
  if (e == 0.0) { return exactDiv(0u, ms, es, d); }
  let eb = bitcast<u32>(abs(e));
  var me = eb & 0x7fffffu;
  var ee = -149;
  if ((eb >> 23u) != 0u) { me = me | 0x800000u; ee = i32(eb >> 23u) - 150; }
  let gap = es - ee;
  if (gap > 40) { return exactDiv(0u, ms, es, d); }
  // N = ms·2^gap ± me at exponent ee (64-bit arithmetic in two words)
  let g = u32(gap);
  var hi = 0u;
  var lo = ms << g;
  if (g >= 32u) { hi = ms << (g - 32u); lo = 0u; } else if (g > 0u) { hi = ms >> (32u - g); }
  if (e > 0.0) {
    let nlo = lo + me;
    if (nlo < lo) { hi++; }
    lo = nlo;
  } else {
    if (lo < me) { hi--; }
    lo = lo - me;
  }
  return exactDiv(hi, lo, ee, d);
}`;

/** WGSL float-float helpers (after exactDivWGSL, which defines opq and twoSum), written once for every kernel that
 *  reproduces the reference's float64 arithmetic: hi12 (a 12-bit-mantissa half), twoProdErr (the exact rounding
 *  error of an f32 product: every partial product of the halves is exact, whether or not the compiler fuses
 *  multiply-adds), addFF (float-float addition) and mulNormFF (float-float times a float-float constant, rounded). */
export const floatFloatWGSL = /* wgsl */ `
fn hi12(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) & 0xfffff000u); }
// the rounding error of the f32 product p = a·b
fn twoProdErr(a: f32, b: f32, p: f32) -> f32 {
  let ah = hi12(a);
  let al = a - ah;
  let bh = hi12(b);
  let bl = b - bh;
  return (((ah * bh - p) + ah * bl) + al * bh) + al * bl;
}
// RN_f32(127 / d) for a positive normal d with 127/d normal (the INT8 absmax step s = 127 / max(γ, ε)), the same
// bits as exactDiv(0u, 127u, 0, d) without its 26-step long division: start from the f32 quotient (within a few
// ulps), take the residual ρ = 127 − c·d exactly (c·d as a product and its error; 127 − fround(c·d) is exact, both
// being within a factor 2), and step c to the neighbour on the quotient's side while |ρ| exceeds d·gap/2 (the gap on
// that side halves below a power of two); an exact midpoint goes to the even mantissa. Where the f32 quotient is
// too far off to converge in a few steps (seen for d > 1e33 on SwiftShader), exactDiv decides.
fn div127(d: f32) -> f32 {
  var c = 127.0 / d;
  var done = false;
  for (var it = 0; it < 6; it++) {
    let p = opq(c * d);
    let rr = twoSum(opq(127.0 - p), -twoProdErr(c, d, p));
    done = true;
    if (rr.x == 0.0 && rr.y == 0.0) { break; }
    let cb = bitcast<u32>(c);
    let up = rr.x > 0.0 || (rr.x == 0.0 && rr.y > 0.0);
    let E = i32((cb >> 23u) & 0xffu);
    let gapE = select(select(E, E - 1, (cb & 0x7fffffu) == 0u), E, up);
    let half = ldexp(d, gapE - 151);
    let a = select(-rr, rr, up);
    if (a.x < half || (a.x == half && a.y < 0.0)) { break; }
    let next = bitcast<f32>(select(cb - 1u, cb + 1u, up));
    if (a.x == half && a.y == 0.0) {
      if ((cb & 1u) == 1u) { c = next; }
      break;
    }
    c = next;
    done = false;
  }
  if (!done) { c = exactDiv(0u, 127u, 0, d); }
  return c;
}
// float-float addition (hi, lo)
fn addFF(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let t = twoSum(a.x, b.x);
  let e = t.y + a.y + b.y;
  let h = opq(t.x + e);
  return vec2<f32>(h, e - opq(h - t.x));
}
// RN_f32((a.x + a.y)·(nh + nl)) for a float-float a and a float-float constant (nh, nl): the exact product of the
// high parts plus the cross terms, rounded once (the Hadamard rotation's final · norm)
fn mulNormFF(a: vec2<f32>, nh: f32, nl: f32) -> f32 {
  let p = opq(a.x * nh);
  return p + (twoProdErr(a.x, nh, p) + (a.x * nl + a.y * nh));
}`;

/** A float64 constant as an f32 pair hi + lo (hi = fround(x), lo = fround(x − hi)): a float-float constant. */
export function f32Pair(x: number): [number, number] {
  const hi = Math.fround(x);
  return [hi, Math.fround(x - hi)];
}

/** WGSL expression of an f32 value, bit exact. */
export const f32Lit = (x: number): string => `bitcast<f32>(${new Uint32Array(new Float32Array([x]).buffer)[0]}u)`;

const ffLit = (x: number) => {
  const [h, l] = f32Pair(x);
  return `vec2<f32>(${f32Lit(h)}, ${f32Lit(l)})`;
};

// ln 2 = L1 + L2 + L3: L1 keeps 16 significant bits, so k·L1 is exact for |k| < 2^8
const LN2_1 = (() => {
  const e = Math.floor(Math.log2(Math.LN2));
  return Math.floor(Math.LN2 * 2 ** (15 - e)) / 2 ** (15 - e);
})();
const LN2_2 = Math.fround(Math.LN2 - LN2_1);
const LN2_3 = Math.fround(Math.LN2 - LN2_1 - LN2_2);
/** Taylor terms of exp on |r| ≤ ln2/2: degree 13 leaves 0.35^14/14! < 2^-60. */
const EXP_DEG = 13;

/** WGSL float-float arithmetic beyond addition, for kernels that reproduce float64 softmax (after exactDivWGSL and
 *  floatFloatWGSL): mulFF (float-float × float-float), mulFF1 (float-float × f32), expFF (exp of a float-float, to
 *  ~2^-46 relative; 0 below −100, where the reference's exp is < 2^-144) and divFFRound (RN_f32(a / b) of two
 *  float-floats, b > 0: one f32 quotient and one correction, rounded once). Every intermediate that a compiler could
 *  fold algebraically passes through opq. */
export const floatFloatMathWGSL = /* wgsl */ `
fn mulFF1(a: vec2<f32>, b: f32) -> vec2<f32> {
  let p = opq(a.x * b);
  let e = twoProdErr(a.x, b, p) + a.y * b;
  let h = opq(p + e);
  return vec2<f32>(h, e - opq(h - p));
}
fn mulFF(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let p = opq(a.x * b.x);
  let e = twoProdErr(a.x, b.x, p) + (a.x * b.y + a.y * b.x);
  let h = opq(p + e);
  return vec2<f32>(h, e - opq(h - p));
}
fn expFF(x: vec2<f32>) -> vec2<f32> {
  if (x.x < -100.0) { return vec2<f32>(0.0, 0.0); }
  let k = round(x.x * ${f32Lit(1 / Math.LN2)});
  // r = x − k·ln2 in float-float (k·L1 exact)
  var r = addFF(vec2<f32>(x.x, 0.0), vec2<f32>(opq(-k * ${f32Lit(LN2_1)}), 0.0));
  r = addFF(r, vec2<f32>(x.y, 0.0));
  let p2 = opq(-k * ${f32Lit(LN2_2)});
  r = addFF(r, vec2<f32>(p2, twoProdErr(-k, ${f32Lit(LN2_2)}, p2) - k * ${f32Lit(LN2_3)}));
  // Horner: Σ r^i / i!
  var s = ${ffLit(1 / factorial(EXP_DEG))};
${Array.from({length: EXP_DEG}, (_, i) => EXP_DEG - 1 - i)
  .map((i) => `  s = addFF(mulFF(s, r), ${ffLit(1 / factorial(i))});`)
  .join("\n")}
  let ki = i32(k);
  return vec2<f32>(ldexp(s.x, ki), ldexp(s.y, ki));
}
fn divFFRound(a: vec2<f32>, b: vec2<f32>) -> f32 {
  let q1 = opq(a.x / b.x);
  let p = opq(q1 * b.x);
  let r = ((opq(a.x - p) - twoProdErr(q1, b.x, p)) + a.y) - q1 * b.y;
  return q1 + r / b.x;
}`;

function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}
