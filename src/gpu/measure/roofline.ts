// What a decode step moves, kind by kind (the roofline: bytes, time, fraction of the copy ceiling), and the peers'
// numbers from the same run beside ours (../shared/peers harnesses: microsoft/BitNet's W2A8 CUDA kernel and decode
// model, cuBLAS bf16, 0xBitNet's WGSL ternary GEMV).
import {headDim, type BitNetConfig} from "../../lib/config.js";
import type {StepKind} from "../engine/types.js";

/** Kinds of decode dispatches as the bench groups them (by step tag). */
export const ROOFLINE_KINDS: {kind: string; tags: StepKind[]}[] = [
  {kind: "embedding", tags: ["embed"]},
  {
    kind: "norm/quant prologues (unfused)",
    tags: ["norm-quant", "final-norm", "hadamard-mix", "qk-norm", "glu", "norm-add"],
  },
  {kind: "ternary linears (fused: with their prologue)", tags: ["linear", "norm-quant+linear"]},
  {kind: "RoPE + KV write", tags: ["rope-kv"]},
  {kind: "attention", tags: ["attention", "rope+attention"]},
  {kind: "LM head", tags: ["lm-head"]},
  {kind: "argmax", tags: ["argmax"]},
];

export interface RooflineRow {
  kind: string;
  dispatches: number;
  /** Bytes this kind must read + write per token (weights, KV cache, activations; the minimum, not cache traffic). */
  bytes: number;
  ms: number;
  GBps: number;
  ofCopy: number;
}

/** Minimum bytes per decode token of each kind at context `ctx` (2-bit weights, f16 embedding rows and KV). */
export function decodeBytes(
  c: BitNetConfig,
  ctx: number,
  o: {lmHead: "f16" | "f32"; kv16: "f16" | "f32"},
): Record<string, number> {
  const C = c.hidden_size;
  const F = c.intermediate_size;
  const d = headDim(c);
  const hd = c.num_attention_heads * d;
  const kvd = c.num_key_value_heads * d;
  const L = c.num_hidden_layers;
  const row = o.lmHead === "f16" ? 2 : 4;
  const kvB = o.kv16 === "f16" ? 2 : 4;
  const packed = (n: number, k: number) => n * Math.ceil(k / 64) * 16; // 2-bit rows padded to 64
  const lin = L * (packed(hd + 2 * kvd, C) + packed(C, hd) + packed(2 * F, C) + packed(C, F));
  // each site reads its float input and writes int8 codes; the GLU output and qkv are written once and read once
  const act = L * (4 * (C + hd + C + F) + (C + hd + C + F) + 4 * (hd + 2 * kvd) + 4 * 2 * F);
  return {
    embedding: C * row + C * 4,
    "norm/quant prologues (unfused)": L * 4 * (C + hd + C + F) * 2,
    "ternary linears (fused: with their prologue)": lin + act,
    "RoPE + KV write": L * 2 * kvd * kvB,
    attention: L * 2 * ctx * kvd * kvB + L * 4 * hd,
    "LM head": c.vocab_size * C * row + c.vocab_size * 4,
    argmax: c.vocab_size * 4,
  };
}

export function rooflineRows(
  times: {kind: string; dispatches: number; ms: number}[],
  bytes: Record<string, number>,
  copyGBps: number,
): RooflineRow[] {
  return times.map((t) => {
    const b = bytes[t.kind] ?? 0;
    const GBps = b / (t.ms * 1e6);
    return {kind: t.kind, dispatches: t.dispatches, bytes: b, ms: t.ms, GBps, ofCopy: GBps / copyGBps};
  });
}

/** The peers' results as the harnesses print them, gathered in one JSON: {torch, w2a8Cpp, e2e, wgsl} (any may be
 *  missing). */
export interface PeerResults {
  torch?: {
    cublas_bf16?: {graphMs?: {median: number}};
    w2a8?: {graphMs?: {median: number}; eagerPythonMs?: {median: number}};
    lm_head_bf16?: {median: number};
    floor_packed_at_copy_ms?: number;
    [k: string]: unknown;
  };
  w2a8Cpp?: {graphMs?: number; eagerMs?: number};
  e2e?: {decode?: {context: number; graphMsPerToken: number}[]};
  wgsl?: {gemv?: Record<string, {msPerToken: number}>; [k: string]: unknown};
}

export interface PeerComparison {
  what: string;
  peer: string;
  peerMs: number;
  oursMs: number;
  /** peerMs / oursMs: > 1 means we are faster. */
  speedup: number;
}

export function comparePeers(
  p: PeerResults,
  ours: {stackMs: number; decodeMs?: {context: number; ms: number}[]; lmHeadMs?: number},
): PeerComparison[] {
  const out: PeerComparison[] = [];
  const add = (what: string, peer: string, peerMs: number | undefined, oursMs: number | undefined) => {
    if (peerMs && oursMs && Number.isFinite(peerMs) && Number.isFinite(oursMs))
      out.push({what, peer, peerMs, oursMs, speedup: peerMs / oursMs});
  };
  add(
    "ternary linear stack",
    "microsoft/BitNet W2A8, CUDA graph (torch)",
    p.torch?.w2a8?.graphMs?.median,
    ours.stackMs,
  );
  add("ternary linear stack", "microsoft/BitNet W2A8, CUDA graph (C++)", p.w2a8Cpp?.graphMs, ours.stackMs);
  add("ternary linear stack", "microsoft/BitNet W2A8, eager (C++)", p.w2a8Cpp?.eagerMs, ours.stackMs);
  add("ternary linear stack", "0xBitNet ternary_gemv.wgsl, one pass", p.wgsl?.gemv?.onePass?.msPerToken, ours.stackMs);
  add("ternary linear stack", "cuBLAS bf16 F.linear, CUDA graph", p.torch?.cublas_bf16?.graphMs?.median, ours.stackMs);
  add(
    "ternary linear stack",
    "packed bytes at the CUDA copy ceiling (floor)",
    p.torch?.floor_packed_at_copy_ms,
    ours.stackMs,
  );
  for (const d of ours.decodeMs ?? []) {
    const peer = p.e2e?.decode?.find((x) => x.context === d.context);
    add(
      `end-to-end decode @${d.context}`,
      "microsoft/BitNet decode model (W2A8 + CUDA graph per step)",
      peer?.graphMsPerToken,
      d.ms,
    );
  }
  add("LM head", "cuBLAS bf16 128256×2560", p.torch?.lm_head_bf16?.median, ours.lmHeadMs);
  return out;
}
