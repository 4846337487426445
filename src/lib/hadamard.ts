// The normalized Hadamard transform of BitNet v2's H-BitLinear (v2 §2: X_r = H·LN(X), H orthogonal).
//
// Construction, for a length n = 2^k · m (the trainer and the WebGPU kernels reproduce exactly this; read
// it from hadamardPlan(n)):
// - n = 2^k ("sylvester"): H_n = (1/√2)[[H, H], [H, −H]] recursively, applied as the fast Walsh–Hadamard
//   transform in O(n log n). Symmetric, so H is its own inverse.
// - otherwise ("kronecker"): H = (H_m/√m) ⊗ (H_b/√b), b = n/m a power of two, where H_m is a Hadamard
//   matrix of the smallest order m = odd(n)·2^j (j ≥ 2) that Paley's constructions give: Paley I for
//   m = q+1, q a prime power ≡ 3 (mod 4); Paley II for m = 2(q+1), q a prime power ≡ 1 (mod 4), both over
//   the finite field GF(q) (for q = p^k, k > 1: polynomials over GF(p) modulo the first primitive
//   polynomial of degree k, so the quadratic character is the parity of the discrete logarithm). With
//   index i = a·b + c (a < m, c < b) it is an FWHT inside each contiguous block of b, then H_m across the m
//   blocks at stride b. This is a true n×n Hadamard matrix (every entry ±1/√n), so it spreads an outlier
//   over all n outputs. BitNet b1.58 2B4T needs 2560 = 20·128 (Paley I, q = 19) and 6912 = 108·64
//   (Paley I, q = 107); the lab's 688 = 344·2 and LLaMA-7B's 11008 = 344·32 use Paley I over GF(7³)
//   (q = 343). Paley I matrices are not symmetric: the inverse is the transpose (opts.transpose).
// - no Paley order up to MAX_PALEY_ORDER divides n ("block-diagonal"): H = I_m ⊗ (H_b/√b) with b = 2^k
//   the largest power of two dividing n: orthogonal, but it mixes only inside blocks of b (e.g. 2·3 = 6,
//   or 2·q' with q' a prime power whose multiples 4q', 8q', … all miss Paley, like 92 = 23·4). Odd n > 1
//   has no orthogonal ±1 structure to use and is rejected.

export interface HadamardPlan {
  n: number;
  kind: "sylvester" | "kronecker" | "block-diagonal";
  /** Length of each contiguous block that gets an FWHT (a power of two). */
  block: number;
  /** Number of blocks (n / block); the order of the cross-block matrix for "kronecker". */
  m: number;
  /** How the order-m matrix is built ("none" when m = 1, "identity" for block-diagonal). */
  construction: "none" | "paley1" | "paley2" | "identity";
  /** The Paley field order q (a prime power p^k), when construction is paley1/paley2. */
  q?: number;
  /** Whether H = Hᵀ (then H is an involution). */
  symmetric: boolean;
  /** The overall normalization: y = norm · (M ⊗ H_b) x with ±1 matrices M, H_b. */
  norm: number;
}

/** Largest m of a Paley cross-block matrix we use: the cross-block step costs m multiply-adds per value. */
export const MAX_PALEY_ORDER = 1024;

function isPrime(q: number): boolean {
  if (q < 2 || !Number.isInteger(q)) return false;
  if (q % 2 === 0) return q === 2;
  for (let d = 3; d * d <= q; d += 2) if (q % d === 0) return false;
  return true;
}

/** q = p^k with p prime, or undefined. */
export function primePower(q: number): {p: number; k: number} | undefined {
  if (!Number.isInteger(q) || q < 2) return undefined;
  let p = 2;
  while (p * p <= q && q % p !== 0) p++;
  if (q % p !== 0) p = q; // q itself is prime
  let k = 0;
  let r = q;
  while (r % p === 0) {
    r /= p;
    k++;
  }
  return r === 1 && isPrime(p) ? {p, k} : undefined;
}

/** The Paley construction of order m, if any: prime fields first (the constructions this module had
 *  before prime powers, kept so existing plans do not change), then proper prime powers. */
function paleyFor(m: number): {construction: "paley1" | "paley2"; q: number} | undefined {
  if (m % 4 !== 0) return undefined;
  const q1 = m - 1;
  const q2 = m / 2 - 1;
  for (const field of [isPrime, (q: number) => primePower(q) !== undefined]) {
    if (field(q1) && q1 % 4 === 3) return {construction: "paley1", q: q1};
    if (field(q2) && q2 % 4 === 1) return {construction: "paley2", q: q2};
  }
  return undefined;
}

const planCache = new Map<number, HadamardPlan>();

/** How the transform of length n is built (see the module comment). Throws for unsupported n. */
export function hadamardPlan(n: number): HadamardPlan {
  const cached = planCache.get(n);
  if (cached) return cached;
  if (!Number.isInteger(n) || n < 1) throw new Error(`hadamard: length must be a positive integer, got ${n}`);
  let v = 0;
  while (((n >> v) & 1) === 0) v++;
  const odd = n / 2 ** v;
  let plan: HadamardPlan | undefined;
  if (odd === 1) {
    plan = {n, kind: "sylvester", block: n, m: 1, construction: "none", symmetric: true, norm: 1 / Math.sqrt(n)};
  } else {
    for (let j = 2; j <= v && odd * 2 ** j <= MAX_PALEY_ORDER; j++) {
      const m = odd * 2 ** j;
      const p = paleyFor(m);
      if (p) {
        plan = {
          n,
          kind: "kronecker",
          block: n / m,
          m,
          construction: p.construction,
          q: p.q,
          symmetric: p.construction === "paley2",
          norm: 1 / Math.sqrt(n),
        };
        break;
      }
    }
    if (!plan && v >= 1) {
      const block = 2 ** v;
      plan = {
        n,
        kind: "block-diagonal",
        block,
        m: n / block,
        construction: "identity",
        symmetric: true,
        norm: 1 / Math.sqrt(block),
      };
    }
  }
  if (!plan) {
    throw new Error(
      `hadamard: no orthogonal Hadamard construction for odd length ${n} (supported: 2^k, 2^k·m with a Paley order m such as 12, 20, 28, 44, 108, and other even lengths block-diagonally)`,
    );
  }
  planCache.set(n, plan);
  return plan;
}

const matrixCache = new Map<string, Int8Array>();

/** GF(q), q = p^k, with elements numbered by their coefficient digits in base p (element e = Σ c_i·p^i
 *  stands for Σ c_i·x^i): `sub` is digit-wise subtraction mod p and `chi` the quadratic character
 *  (0 at 0, +1 on nonzero squares, −1 elsewhere). For k = 1 this is the integers mod p. */
interface FiniteField {
  q: number;
  sub(a: number, b: number): number;
  chi: Int8Array;
}

function finiteField(q: number): FiniteField {
  const pp = primePower(q);
  if (!pp) throw new Error(`hadamard: ${q} is not a prime power`);
  const {p, k} = pp;
  const chi = new Int8Array(q).fill(-1);
  chi[0] = 0;
  if (k === 1) {
    for (let x = 1; x < q; x++) chi[(x * x) % q] = 1;
    return {q, sub: (a, b) => (((a - b) % q) + q) % q, chi};
  }
  const digits = (e: number) => Array.from({length: k}, (_, i) => Math.floor(e / p ** i) % p);
  const num = (d: number[]) => d.reduce((s, c, i) => s + c * p ** i, 0);
  // x^k ≡ −Σ f_i x^i: try the monic polynomials of degree k in order until x generates all q − 1 units.
  for (let f = 0; f < q; f++) {
    const fd = digits(f);
    const seen = new Uint8Array(q);
    let e = 1; // the element 1
    let order = 0;
    while (!seen[e]) {
      seen[e] = 1;
      order++;
      const d = digits(e);
      const top = d[k - 1];
      const next = [0, ...d.slice(0, k - 1)].map((c, i) => (((c - top * fd[i]) % p) + p) % p);
      e = num(next);
      if (e === 0) break; // f has the root 0: not irreducible
    }
    if (order !== q - 1 || e !== 1) continue;
    // chi(x^j) = (−1)^j: walk the powers again.
    e = 1;
    for (let j = 0; j < q - 1; j++) {
      chi[e] = j % 2 === 0 ? 1 : -1;
      const d = digits(e);
      const top = d[k - 1];
      e = num([0, ...d.slice(0, k - 1)].map((c, i) => (((c - top * fd[i]) % p) + p) % p));
    }
    const sub = (a: number, b: number) => {
      let r = 0;
      for (let i = 0, w = 1; i < k; i++, w *= p)
        r += (((((Math.floor(a / w) % p) - (Math.floor(b / w) % p)) % p) + p) % p) * w;
      return r;
    };
    return {q, sub, chi};
  }
  throw new Error(`hadamard: no primitive polynomial of degree ${k} over GF(${p}) found`);
}

/** The unnormalized ±1 matrix (row-major, order m) that a plan mixes blocks with: Paley I/II, or
 *  Sylvester for a power of two. The WebGPU kernels upload exactly this. */
export function hadamardMatrix(order: number): Int8Array {
  const key = String(order);
  const cached = matrixCache.get(key);
  if (cached) return cached;
  let H: Int8Array;
  if (order >= 1 && (order & (order - 1)) === 0) {
    H = new Int8Array(order * order);
    for (let i = 0; i < order; i++) {
      for (let j = 0; j < order; j++) H[i * order + j] = popcount(i & j) % 2 === 0 ? 1 : -1;
    }
  } else {
    const p = paleyFor(order);
    if (!p) throw new Error(`hadamard: no Paley or Sylvester construction of order ${order}`);
    const q = p.q;
    const field = finiteField(q);
    const jac = (i: number, j: number) => field.chi[field.sub(j, i)]; // Jacobsthal matrix Q_ij = χ(a_j − a_i)
    if (p.construction === "paley1") {
      // H = I + S, S = [[0, 1ᵀ], [−1, Q]] skew-symmetric with S·Sᵀ = q·I, so H·Hᵀ = (q+1)·I.
      const m = q + 1;
      H = new Int8Array(m * m);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          let s: number;
          if (i === 0) s = j === 0 ? 0 : 1;
          else if (j === 0) s = -1;
          else s = jac(i - 1, j - 1);
          H[i * m + j] = (i === j ? 1 : 0) + s;
        }
      }
    } else {
      // C = [[0, 1ᵀ], [1, Q]] (symmetric conference matrix); each 0 → [[1, −1], [−1, −1]], each ±1 → ±[[1, 1], [1, −1]].
      const c = q + 1;
      const m = 2 * c;
      H = new Int8Array(m * m);
      for (let i = 0; i < c; i++) {
        for (let j = 0; j < c; j++) {
          const cij = i === j ? 0 : i === 0 || j === 0 ? 1 : jac(i - 1, j - 1);
          const blk = cij === 0 ? [1, -1, -1, -1] : [cij, cij, cij, -cij];
          H[2 * i * m + 2 * j] = blk[0];
          H[2 * i * m + 2 * j + 1] = blk[1];
          H[(2 * i + 1) * m + 2 * j] = blk[2];
          H[(2 * i + 1) * m + 2 * j + 1] = blk[3];
        }
      }
    }
  }
  matrixCache.set(key, H);
  return H;
}

function popcount(x: number): number {
  let c = 0;
  while (x) {
    x &= x - 1;
    c++;
  }
  return c;
}

/** Unnormalized fast Walsh–Hadamard transform of x[offset … offset+len), len a power of two, in place. */
export function fwhtInPlace(x: Float64Array | Float32Array, offset: number, len: number): void {
  for (let h = 1; h < len; h *= 2) {
    for (let i = offset; i < offset + len; i += 2 * h) {
      for (let j = i; j < i + h; j++) {
        const a = x[j];
        const b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
}

/** Applies the normalized transform H (or Hᵀ = H⁻¹ with transpose) to every row of n values of x, in
 *  place. Computed in float64 per row, whatever the storage type. */
export function hadamardTransform(x: Float32Array | Float64Array, n: number, opts: {transpose?: boolean} = {}): void {
  const plan = hadamardPlan(n);
  if (x.length % n !== 0) throw new Error(`hadamard: ${x.length} values are not a whole number of rows of ${n}`);
  const row = new Float64Array(n);
  const mix = plan.kind === "kronecker" ? hadamardMatrix(plan.m) : undefined;
  const col = mix ? new Float64Array(plan.m) : undefined;
  const {block, m, norm} = plan;
  for (let r = 0; r < x.length; r += n) {
    for (let i = 0; i < n; i++) row[i] = x[r + i];
    for (let a = 0; a < m; a++) fwhtInPlace(row, a * block, block);
    if (mix && col) {
      for (let c = 0; c < block; c++) {
        for (let a = 0; a < m; a++) col[a] = row[a * block + c];
        for (let a = 0; a < m; a++) {
          let s = 0;
          if (opts.transpose) for (let b = 0; b < m; b++) s += mix[b * m + a] * col[b];
          else for (let b = 0; b < m; b++) s += mix[a * m + b] * col[b];
          row[a * block + c] = s;
        }
      }
    }
    for (let i = 0; i < n; i++) x[r + i] = row[i] * norm;
  }
}

/** The explicit normalized n×n matrix of hadamardPlan(n), row-major (for tests and small pages). */
export function explicitHadamard(n: number): Float64Array {
  const plan = hadamardPlan(n);
  const out = new Float64Array(n * n);
  const Hb = hadamardMatrix(plan.block);
  const M = plan.kind === "kronecker" ? hadamardMatrix(plan.m) : undefined;
  for (let i = 0; i < n; i++) {
    const ai = Math.floor(i / plan.block);
    const ci = i % plan.block;
    for (let j = 0; j < n; j++) {
      const aj = Math.floor(j / plan.block);
      const cj = j % plan.block;
      const outer = M ? M[ai * plan.m + aj] : ai === aj ? 1 : 0;
      out[i * n + j] = outer * Hb[ci * plan.block + cj] * plan.norm;
    }
  }
  return out;
}
