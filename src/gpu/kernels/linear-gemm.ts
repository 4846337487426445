// Prefill as a tiled GEMM (issue 25): ternary weights × INT8 activations for M tokens, the weight and activation
// tiles staged in workgroup memory so each weight is fetched from L2 once per BM tokens (not once per MT = 8 as in
// linearWGSL's prefill) and each activation once per BN rows.
//
// A workgroup computes BN rows × BM tokens. Per K step (BK weight vec4s = 64·BK weights of each row) its threads
// copy, coalesced, the packed 2-bit weight tile (BN·BK vec4) and the i8 activation tile (BM·4·BK vec4) into
// workgroup memory; the next step's tile is already loaded into registers while this one is computed (one buffer,
// register prefetch: the tiles fit the default 16 KB). Each thread then owns RN consecutive rows × RM consecutive
// tokens (the names linearWGSL's epilogue expects: rows r0 + r, tokens m0 + m, accumulators a{r}_{m}) and per 16
// weights does RN·RM·4 dot4I8Packed on codes c = w + 1 against the activation words, exactly linear.ts' layout.
// The integer sums are exact, so the epilogue (linear-stages.ts, shared: store, residual, GLU with the float-float
// scaleOut) gives the MT > 1 kernel's bits.
//
// Workgroup-memory layout: 16-weight planes q = 0 … 4·BK−1; in each plane a thread's RN rows (RM tokens) lie TN
// (TM) apart — row tn·RN + r at r·TN + tn — so the lanes of a warp read consecutive words (no bank conflicts); the
// planes are padded by one element so the staging stores of consecutive lanes fall into different banks too.
import {type Epilogue, type LinearParts, linearDeclsWGSL, linearEpilogueWGSL} from "./linear-stages.js";

export interface GemmShape {
  /** Rows per workgroup tile. */
  BN: number;
  /** Tokens per workgroup tile. */
  BM: number;
  /** K step: weight vec4s (64 weights each) of every row staged at once. */
  BK: number;
  /** Rows per thread (even for GLU epilogues: gate and up rows are interleaved in pairs). */
  RN: number;
  /** Tokens per thread. */
  RM: number;
  /** Decode the weights to i8 lanes when staging (4× the workgroup memory of the weight tile) instead of in the
   *  inner loop: the loop is then loads and dot4I8Packed only, and each word is decoded once per tile, not once
   *  per thread that reads it. */
  unpack?: boolean;
}

export interface GemmConfig extends GemmShape {
  epilogue: Epilogue;
}

/** Named tile shapes (the bench sweeps them; tuning.prefill.gemm picks one). Workgroup memory in the comment. */
export const GEMM_SHAPES = {
  /** 128 threads, 12.2 KB. */
  n128m64: {BN: 128, BM: 64, BK: 2, RN: 8, RM: 8},
  /** 128 threads, 10.2 KB: more workgroups for the 2560-row projections. */
  n64m64: {BN: 64, BM: 64, BK: 2, RN: 4, RM: 8},
  /** 256 threads, 10.3 KB. */
  n128m128: {BN: 128, BM: 128, BK: 1, RN: 8, RM: 8},
  /** 256 threads, 20.6 KB (needs a device limit above the default 16 KB). */
  n128m128k2: {BN: 128, BM: 128, BK: 2, RN: 8, RM: 8},
  /** 256 threads, 10.2 KB, 16 accumulators per thread (more resident workgroups). */
  n64m64r4: {BN: 64, BM: 64, BK: 2, RN: 4, RM: 4},
  /** 128 threads, 12.4 KB, weights decoded when staged. */
  n128m64u: {BN: 128, BM: 64, BK: 1, RN: 8, RM: 8, unpack: true},
  /** 128 threads, 8.3 KB, weights decoded when staged. */
  n64m64u: {BN: 64, BM: 64, BK: 1, RN: 4, RM: 8, unpack: true},
  /** 256 threads, 16.5 KB (just over the default 16 KB), weights decoded when staged. */
  n128m128u: {BN: 128, BM: 128, BK: 1, RN: 8, RM: 8, unpack: true},
} as const satisfies Record<string, GemmShape>;

export type GemmShapeName = keyof typeof GEMM_SHAPES;

/** Threads per workgroup. */
export const gemmThreads = (s: GemmShape) => (s.BN / s.RN) * (s.BM / s.RM);

/** Bytes of workgroup memory (weight planes of BN + 1 u32, activation planes of BM + 1 vec4). */
export const gemmWorkgroupBytes = (s: GemmShape) => (s.unpack ? 64 : 16) * s.BK * (s.BN + 1) + 64 * s.BK * (s.BM + 1);

/** Workgroup grid for N rows and M tokens. */
export function gemmGrid(s: GemmShape, N: number, M: number): [number, number] {
  return [Math.ceil(N / s.BN), Math.ceil(M / s.BM)];
}

/** Throws a specific error for a shape the kernel cannot run (or, given the limits, the device cannot). */
export function checkGemm(c: GemmConfig, limits?: {maxWG: number; maxBytes: number}): void {
  const {BN, BM, BK, RN, RM} = c;
  for (const [k, v] of Object.entries({BN, BM, BK, RN, RM}))
    if (!Number.isInteger(v) || v < 1) throw new Error(`gemmWGSL: ${k} must be a positive integer, got ${v}`);
  if (BN % RN || BM % RM) throw new Error(`gemmWGSL: RN ${RN} must divide BN ${BN} and RM ${RM} divide BM ${BM}`);
  if (c.epilogue.startsWith("glu") && RN % 2) throw new Error("gemmWGSL: GLU epilogues need an even RN");
  if (limits && gemmThreads(c) > limits.maxWG)
    throw new Error(`gemmWGSL: ${gemmThreads(c)} threads per workgroup exceed the device's ${limits.maxWG}`);
  if (limits && gemmWorkgroupBytes(c) > limits.maxBytes)
    throw new Error(
      `gemmWGSL: ${gemmWorkgroupBytes(c)} bytes of workgroup memory exceed the device's ${limits.maxBytes}`,
    );
}

/** WGSL of the ternary prefill GEMM. Bindings and uniform are linearWGSL's ternary ones: [P, W, X, xmeta, wscale,
 *  Y], P = {N, Kv, M, xStride, yStride, yOffset, xOffset}; rows ≥ N and tokens ≥ M of the edge tiles are clamped
 *  on read and skipped on write, K steps past Kv read zeros. */
export function gemmWGSL(c: GemmConfig): string {
  checkGemm(c);
  const {BN, BM, BK, RN, RM, epilogue} = c;
  const WG = gemmThreads(c);
  const TN = BN / RN;
  const TM = BM / RM;
  const Q = 4 * BK; // 16-weight planes per K step
  const WP = BN + 1;
  const XP = BM + 1;
  const rs = [...Array(RN).keys()];
  const ms = [...Array(RM).keys()];
  // the shared stages see a ternary kernel of R = RN rows × MT = RM tokens per thread with no K split
  const x: LinearParts = {
    c: {kind: "ternary", R: RN, T: 1, MT: RM, WG, sub: 0, epilogue},
    G: WG,
    ternary: true,
    accT: "i32",
    zero: "0i",
    rs,
    ms,
    Xn: "X",
  };
  const nW = Math.ceil((BN * BK) / WG); // staging loads per thread
  const nX = Math.ceil((BM * Q) / WG);
  const guard = (j: number, total: number) => ((j + 1) * WG > total ? `if (lid + ${j * WG}u < ${total}u) ` : "");
  const L: string[] = [...linearDeclsWGSL(x)];
  L.push(`var<workgroup> Ws: array<${c.unpack ? "vec4<u32>" : "u32"}, ${Q * WP}>;`);
  L.push(`var<workgroup> Xs: array<vec4<u32>, ${Q * XP}>;`);
  L.push(`@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  OPQ = p.N >> 31u;
  let t = 0u;
  let tn = lid % ${TN}u;
  let tm = lid / ${TN}u;
  let n0 = wid.x * ${BN}u;
  let mt0 = wid.y * ${BM}u;
  let r0 = n0 + tn * ${RN}u;
  let m0 = mt0 + tm * ${RM}u;
  let Kv = p.Kv;
  let nK = (Kv + ${BK - 1}u) / ${BK}u;`);
  // staging: element e of the weight tile is (plane position P = e / BK, vec4 kk = e % BK), P the row's place in
  // the permuted plane; of the activation tile (position e / Q, 16-weight plane e % Q): consecutive lanes read
  // consecutive vec4 of one row or token, and store into consecutive planes (one pad apart: different banks)
  for (let j = 0; j < nW; j++)
    L.push(`  let wP${j} = (lid + ${j * WG}u) / ${BK}u; let wk${j} = (lid + ${j * WG}u) % ${BK}u;
  let wr${j} = min(n0 + (wP${j} % ${TN}u) * ${RN}u + wP${j} / ${TN}u, p.N - 1u) * Kv;
  var pw${j} = vec4<u32>(0u);`);
  for (let j = 0; j < nX; j++)
    L.push(`  let xP${j} = (lid + ${j * WG}u) / ${Q}u; let xq${j} = (lid + ${j * WG}u) % ${Q}u;
  let xr${j} = min(mt0 + (xP${j} % ${TM}u) * ${RM}u + xP${j} / ${TM}u, p.M - 1u) * p.xStride + p.xOffset;
  var px${j} = vec4<u32>(0u);`);
  const load = (ks: string) => {
    const out: string[] = [];
    for (let j = 0; j < nW; j++)
      out.push(
        `    ${guard(j, BN * BK)}{ let kv = ${ks} * ${BK}u + wk${j}; pw${j} = select(vec4<u32>(0u), W[wr${j} + min(kv, Kv - 1u)], kv < Kv); }`,
      );
    for (let j = 0; j < nX; j++)
      out.push(
        `    ${guard(j, BM * Q)}{ let a = ${ks} * ${Q}u + xq${j}; px${j} = select(vec4<u32>(0u), X[xr${j} + min(a, 4u * Kv - 1u)], a < 4u * Kv); }`,
      );
    return out;
  };
  const lane = ["x", "y", "z", "w"];
  // a packed word as stored: itself, or (unpack) its 4 words of codes in the i8 lanes of activation words 0…3
  const word = (u: string) =>
    c.unpack ? `vec4<u32>(${[0, 2, 4, 6].map((b) => (b ? `(${u} >> ${b}u)` : u) + " & 0x03030303u").join(", ")})` : u;
  const store: string[] = [];
  for (let j = 0; j < nW; j++)
    store.push(
      `    ${guard(j, BN * BK)}{ let b = wk${j} * ${4 * WP}u + wP${j}; ${[0, 1, 2, 3].map((i) => `Ws[b + ${i * WP}u] = ${word(`pw${j}.${lane[i]}`)};`).join(" ")} }`,
    );
  for (let j = 0; j < nX; j++) store.push(`    ${guard(j, BM * Q)}{ Xs[xq${j} * ${XP}u + xP${j}] = px${j}; }`);
  for (const r of rs) for (const m of ms) L.push(`  var a${r}_${m} = 0i;`);
  L.push(`  if (nK > 0u) {`, ...load("0u"), `  }`);
  L.push(`  for (var ks = 0u; ks < nK; ks++) {
    workgroupBarrier();`);
  L.push(...store);
  L.push(`    workgroupBarrier();
    if (ks + 1u < nK) {`);
  L.push(...load("(ks + 1u)").map((s) => "  " + s));
  L.push(`    }
    for (var q = 0u; q < ${Q}u; q++) {`);
  L.push(`      let wb = q * ${WP}u + tn;`);
  for (const r of rs) L.push(`      let w${r} = Ws[wb + ${r * TN}u];`);
  L.push(`      let xb = q * ${XP}u + tm;`);
  for (const m of ms) L.push(`      let x${m} = Xs[xb + ${m * TM}u];`);
  // 4 weights of each word in the i8 lanes that match activation word s (see linear.ts' layout)
  for (let s = 0; s < 4; s++) {
    for (const r of rs)
      L.push(
        `      let c${r}_${s} = ${c.unpack ? `w${r}.${lane[s]}` : `${s ? `(w${r} >> ${2 * s}u)` : `w${r}`} & 0x03030303u`};`,
      );
    for (const r of rs) for (const m of ms) L.push(`      a${r}_${m} += dot4I8Packed(c${r}_${s}, x${m}.${lane[s]});`);
  }
  L.push(`    }
  }`);
  L.push(...linearEpilogueWGSL(x));
  return L.join("\n");
}
