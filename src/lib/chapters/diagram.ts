// What the model diagram draws (components/model-diagram.ts), DOM-free: one decoder block's parts in order, each with
// its kind, whether this variant has it, the chapter that explains it, and — from a live trace — the value shown on
// hover. Read from the variant table (variant.ts sitePlan/kvPlan), so the picture is what the model computes.
import type {BitNetConfig} from "../config.js";
import type {ForwardTrace} from "../model.js";
import {kvPlan, type Site, type SiteInput, sitePlan} from "../variant.js";

export type PartKind =
  | "norm"
  | "quantizer"
  | "hadamard"
  | "topk"
  | "bitlinear"
  | "attention"
  | "glu"
  | "kv"
  | "residual"
  | "embedding"
  | "head"
  | "block";

export interface DiagramPart {
  id: string;
  kind: PartKind;
  /** Short label drawn in the box. */
  label: string;
  /** One plain sentence: what it does. */
  what: string;
  /** The chapter that explains it (a page path without extension). */
  chapter: string;
  /** Which row of the block: 0 attention half, 1 FFN half. */
  row: 0 | 1;
  site?: Site;
}

const QNAME: Record<string, string> = {
  "absmax-int8": "INT8 absmax",
  "absmean-int4": "INT4 absmean",
  "topk-int8": "top-K + INT8",
};

/** The parts at one BitLinear input site, in order: sub-norm, Hadamard, top-K, quantizer (as sitePlan puts them), the
 *  projection. */
function siteParts(c: BitNetConfig, p: SiteInput, s: Site, row: 0 | 1, linear: string, linears: string): DiagramPart[] {
  const parts: DiagramPart[] = [];
  if (p.subNorm)
    parts.push({
      id: `${s}-subnorm`,
      kind: "norm",
      label: "sub-norm",
      what: "RMSNorm inside the block (BitNet's sub-LN), so the quantizer sees a steady scale",
      chapter: "forward",
      row,
      site: s,
    });
  if (p.hadamard)
    parts.push({
      id: `${s}-hadamard`,
      kind: "hadamard",
      label: "Hadamard",
      what: "rotates the vector so a few huge values spread out before 4-bit rounding (v2)",
      chapter: "hadamard",
      row,
      site: s,
    });
  if (p.quantizer === "topk-int8")
    parts.push({
      id: `${s}-topk`,
      kind: "topk",
      label: `top-K ${Math.round(100 * (p.topK ?? 1))}%`,
      what: "keeps only the largest entries, zeroing the rest (a4.8)",
      chapter: "sparsity",
      row,
      site: s,
    });
  if (p.quantizer !== "none")
    parts.push({
      id: `${s}-quant`,
      kind: "quantizer",
      label: p.quantizer === "topk-int8" ? "INT8" : `${QNAME[p.quantizer]}`,
      what: `rounds the activations to ${p.bits}-bit integers`,
      chapter: "activations",
      row,
      site: s,
    });
  parts.push({
    id: `${s}-linear`,
    kind: "bitlinear",
    label: linear,
    what:
      c.bitnet_variant === "fp"
        ? `${linears}: a float matrix product`
        : `${linears}: BitLinear, weights −1, 0 or +1 times one scale`,
    chapter: c.bitnet_variant === "fp" ? "forward" : "ternary",
    row,
    site: s,
  });
  return parts;
}

/** The parts of one decoder block for this config, in computation order per half; absent parts are left out. */
export function blockParts(c: BitNetConfig): DiagramPart[] {
  const plan = sitePlan(c);
  const kv = kvPlan(c);
  const parts: DiagramPart[] = [];
  const site = (s: Site, row: 0 | 1, linear: string, linears: string) =>
    parts.push(...siteParts(c, plan[s], s, row, linear, linears));
  parts.push({
    id: "attn-norm",
    kind: "norm",
    label: "RMSNorm",
    what: "normalizes the residual stream before attention",
    chapter: "forward",
    row: 0,
  });
  site("qkv", 0, "W_q W_k W_v", "the query, key and value projections");
  if (kv.bits < 16)
    parts.push({
      id: "kv",
      kind: "kv",
      label: `KV ${kv.bits}-bit`,
      what: `keys and values stored in ${kv.bits} bits (BOS in ${kv.bosBits})`,
      chapter: "sparsity",
      row: 0,
    });
  parts.push({
    id: "attention",
    kind: "attention",
    label: "attention",
    what: "each token mixes in earlier tokens' values (RoPE positions, softmax)",
    chapter: "forward",
    row: 0,
  });
  site("o", 0, "W_o", "the attention output projection");
  parts.push({
    id: "attn-residual",
    kind: "residual",
    label: "+",
    what: "adds the result back into the residual stream",
    chapter: "forward",
    row: 0,
  });
  parts.push({
    id: "ffn-norm",
    kind: "norm",
    label: "RMSNorm",
    what: "normalizes the residual stream before the FFN",
    chapter: "forward",
    row: 1,
  });
  site("gate_up", 1, "W_gate W_up", "the gate and up projections");
  parts.push({
    id: "glu",
    kind: "glu",
    label: c.hidden_act === "relu2" ? "ReLU² GLU" : c.hidden_act === "gelu_tanh" ? "GELU GLU" : "SiLU GLU",
    what:
      c.hidden_act === "relu2"
        ? "gate² × up; the square of a ReLU makes most values exactly 0"
        : c.hidden_act === "gelu_tanh"
          ? "GELU-tanh(gate) × up (Gemma)"
          : "SiLU(gate) × up",
    chapter: c.hidden_act === "relu2" ? "sparsity" : "forward",
    row: 1,
  });
  site("down", 1, "W_down", "the down projection");
  parts.push({
    id: "ffn-residual",
    kind: "residual",
    label: "+",
    what: "adds the result back into the residual stream",
    chapter: "forward",
    row: 1,
  });
  return parts;
}

/** Values from a live pass for the hover text, by part id (mean over layers and tokens). */
export function partValues(c: BitNetConfig, trace: ForwardTrace | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  // A one-layer GPU pass fills only the layer on show: the rest are skipped.
  const layers = (trace?.layers ?? []).filter((l) => l && l.linears);
  if (!layers.length) return out;
  const L = layers.length;
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  const mean = (f: (l: ForwardTrace["layers"][number]) => number | undefined) => {
    const xs = layers.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
  };
  const plan = sitePlan(c);
  const first: Record<Site, "q" | "o" | "gate" | "down"> = {qkv: "q", o: "o", gate_up: "gate", down: "down"};
  for (const s of ["qkv", "o", "gate_up", "down"] as const) {
    const z = mean((l) => l.linears[first[s]]?.sparsity);
    if (z !== undefined) {
      const text = `${pct(z)} of its inputs are 0 on your prompt (mean over ${L} layer${L === 1 ? "" : "s"})`;
      out[`${s}-linear`] = text;
      if (plan[s].quantizer !== "none") out[`${s}-quant`] = `${plan[s].bits}-bit codes; ${text}`;
      if (plan[s].quantizer === "topk-int8") out[`${s}-topk`] = text;
    }
  }
  const grow = mean((l) => {
    const a = l.residualNorm?.input,
      b = l.residualNorm?.output;
    if (!a || !b) return undefined;
    let s = 0;
    for (let i = 0; i < a.length; i++) s += b[i] / Math.max(a[i], 1e-12);
    return a.length ? s / a.length : undefined;
  });
  if (grow !== undefined)
    out["ffn-residual"] = out["attn-residual"] =
      `the residual stream's norm grows ${grow.toFixed(2)}× per layer on average`;
  const kvErr = mean((l) => l.kv?.keyMeanAbsError);
  if (kvErr !== undefined) out.kv = `mean |error| of the stored keys: ${kvErr.toPrecision(3)}`;
  return out;
}

/** What the memory chapter shows on hover: the bytes each part stores for a model shape at the chosen bits — the
 *  projections per site over all layers, the embedding / LM head, and the KV cache. Counts and bytes come from the
 *  cost model (src/lib/cost); `bytes` formats them. */
export function memoryPartValues(
  m: {
    perLayer: Record<"q" | "k" | "v" | "o" | "gate" | "up" | "down", number>;
    layers: number;
    weightBits: number;
    embeddingBytes: number;
    kvBytes: number;
    context: number;
  },
  bytes: (n: number) => string,
): Record<string, string> {
  const p = m.perLayer;
  const site = (n: number, names: string) =>
    `${names}: ${bytes((n * m.layers * m.weightBits) / 8)} over ${m.layers} layers at ${m.weightBits} bits per weight`;
  return {
    "qkv-linear": site(p.q + p.k + p.v, "W_q, W_k, W_v"),
    "o-linear": site(p.o, "W_o"),
    "gate_up-linear": site(p.gate + p.up, "W_gate, W_up"),
    "down-linear": site(p.down, "W_down"),
    embedding: `${bytes(m.embeddingBytes)} for the embedding and LM head, kept at 16 bits`,
    "lm-head": `${bytes(m.embeddingBytes)} for the embedding and LM head, kept at 16 bits`,
    kv: `${bytes(m.kvBytes)} of KV cache for ${m.context.toLocaleString("en-US")} tokens`,
    attention: `reads a KV cache of ${bytes(m.kvBytes)} for ${m.context.toLocaleString("en-US")} tokens`,
  };
}
