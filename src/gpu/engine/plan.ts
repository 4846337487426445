// What the engine runs for a config: shapes, and per BitLinear input site the variant table's answer
// (src/lib/variant.ts) in the kernels' terms. Nothing here touches the GPU.
import type {BitNetConfig} from "../../lib/config.js";
import {architectureOf, type Architecture} from "../../lib/architecture.js";
import {topKCount} from "../../lib/quant.js";
import {kvPlan, sitePlan, validateModelConfig, type KVPlan, type SiteInput, type SitePlan} from "../../lib/variant.js";
import type {Epilogue, LinearKind} from "../kernels/linear.js";
import type {QuantKind} from "../kernels/normquant.js";

/** Positions per attention chunk (flash-decoding split), and the most chunks a prefill token uses. */
export const CHUNK = 64;
export const NC_PREFILL = 8;

export interface Plan {
  c: BitNetConfig;
  /** The architecture table's answer (activation, head, head_dim, RoPE θ): what the blocks are. */
  arch: Architecture;
  C: number;
  H: number;
  KV: number;
  d: number;
  F: number;
  V: number;
  L: number;
  qkvN: number;
  kind: LinearKind;
  sites: SitePlan;
  attnIn: QuantKind;
  oIn: QuantKind;
  ffnIn: QuantKind;
  downIn: QuantKind;
  /** K of W_o's top-K (undefined when off or when K keeps every entry). */
  oTopK?: number;
  /** Attention (RoPE, scores, softmax, · V, the split combine) in float-float, rounded once to the reference's f32
   *  bits: on where a last-bit difference of the attention output decides more than a rounding edge — W_o's top-K
   *  mask (a4.8), whose flipped element moves the logits by ~0.3. Elsewhere the fast f32 kernels. */
  exactAttention: boolean;
  /** W_o's top-K reads K from the step uniform (every top-K site whose prologue combines attention), so a session
   *  can change K without compiling (WebGPUSession.setTopKRatio); oNeed is the K it starts with (dim: keep all). */
  oTopKRuntime: boolean;
  oNeed: number;
  hadamard: boolean;
  glu: Epilogue;
  kv: KVPlan;
  /** Positions a session may hold: max_position_embeddings (sliding-window layers included). */
  maxPositions: number;
}

/** The kernels' quantizer for a site: top-K is a separate prologue step (oTopK), its codes are INT8. */
export function quantKind(s: SiteInput): QuantKind {
  return s.quantizer === "none" ? "none" : s.bits === 4 ? "int4" : "int8";
}

/** What the architecture table describes but the engine's kernels do not do, named (undefined: the engine runs it).
 *  makePlan refuses these; pages use it to send such a model to the CPU reference instead. */
export function engineRefusal(c: BitNetConfig): string | undefined {
  const arch = architectureOf(c);
  if (arch.norms.perProjection && (arch.norms.subNorms || sitePlan(c).o.hadamard))
    return "an RMSNorm inside each BitLinear together with sub-norms or H-BitLinear";
  // Gemma3's sandwich norms and GELU-tanh GLU run on the per-projection path (a separate GLU step, o/down stored then
  // normalized into the residual: blocks.ts); the fused GLU epilogues of linear.ts know SiLU and ReLU² only
  if ((arch.norms.sandwich || arch.activation === "gelu_tanh") && !arch.norms.perProjection)
    return "sandwich norms or a GELU-tanh GLU without an RMSNorm inside each BitLinear";
  return undefined;
}

export function makePlan(c: BitNetConfig, dense: "f32" | "f16"): Plan {
  validateModelConfig(c, {prefix: "webgpu: config "});
  const arch = architectureOf(c);
  // refused by name, never run wrongly
  const why = engineRefusal(c);
  if (why) throw new Error(`webgpu: ${why} (architecture.ts) is not run by the engine: use the CPU reference`);
  // arch.pooling: append() returns logits for any model; an embedding model's vector is WebGPUSession.embedding
  // (engine/pooling.ts), made lazily on first use
  const d = arch.headDim;
  const sites = sitePlan(c);
  let oTopK: number | undefined;
  if (sites.o.quantizer === "topk-int8") {
    const K = topKCount(sites.o.dim, sites.o.topK!);
    if (K < sites.o.dim) oTopK = K;
  }
  const oTopKRuntime = sites.o.quantizer === "topk-int8" && !sites.o.hadamard;
  if (sites.o.hadamard !== sites.down.hadamard)
    throw new Error("webgpu: Hadamard on one of o/down only is not supported");
  return {
    c,
    arch,
    C: c.hidden_size,
    H: c.num_attention_heads,
    KV: c.num_key_value_heads,
    d,
    F: c.intermediate_size,
    V: c.vocab_size,
    L: c.num_hidden_layers,
    qkvN: (c.num_attention_heads + 2 * c.num_key_value_heads) * d,
    kind: c.bitnet_variant === "fp" ? dense : "ternary",
    sites,
    attnIn: quantKind(sites.qkv),
    oIn: quantKind(sites.o),
    ffnIn: quantKind(sites.gate_up),
    downIn: quantKind(sites.down),
    oTopK,
    exactAttention: oTopK !== undefined,
    oTopKRuntime,
    oNeed: oTopK ?? sites.o.dim,
    hadamard: sites.o.hadamard,
    glu: arch.activation === "relu2" ? "glu-relu2" : "glu-silu",
    kv: kvPlan(c),
    // sliding-window layers mask their keys in the attention kernels (attention.ts keyStart), so no cap here
    maxPositions: c.max_position_embeddings,
  };
}

/** Activation words per token for a K-long input to a linear of this kind. */
export function actWords(kind: LinearKind, K: number): number {
  return kind === "ternary" ? 16 * Math.ceil(K / 64) : 8 * Math.ceil(K / 8);
}
