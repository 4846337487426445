// The 2B4T-shaped ternary linear stack the GPU benchmark times: its shape, weights and dispatches (split from
// benchmark.ts, issue 21).
import {defaultConfig, type BitNetConfig, type Variant} from "../../lib/config.js";
import {gpuFill} from "../engine/gpu-fill.js";
import {bindGroup, pipelineChecked, storageBuffer, uniformBuffer, type Dispatch} from "../gpu.js";
import {
  linearGrid,
  linearWGSL,
  rowVec4s,
  type Epilogue,
  type LinearConfig,
  type LinearKind,
} from "../kernels/linear.js";

/** BitNet b1.58 2B4T's shape (2B4T report / HF config): hidden 2560, FFN 6912, 30 layers, 20 heads / 5 KV heads of 128,
 *  vocab 128256 tied, ReLU², RoPE θ 500000. `quick` shrinks it for SwiftShader. */
export function model2B4T(variant: Variant = "b1.58", quick = false, maxPos = 4096): BitNetConfig {
  const big = {
    vocab_size: 128256,
    hidden_size: 2560,
    intermediate_size: 6912,
    num_hidden_layers: 30,
    num_attention_heads: 20,
    num_key_value_heads: 5,
    head_dim: 128,
  };
  const small = {
    vocab_size: 1000,
    hidden_size: 256,
    intermediate_size: 704,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 64,
  };
  return defaultConfig(variant, {
    ...(quick ? small : big),
    max_position_embeddings: maxPos,
    rope_theta: 500000,
    hidden_act: "relu2",
    tie_word_embeddings: true,
    bitnet_kv_bits: 16,
    bitnet_kv_bos_bits: 0,
  });
}

export interface Mat {
  N: number;
  K: number;
  ep: Epilogue;
}

/** Per-token linear stack of a layer: fused QKV, O, gate|up (GLU epilogue), down. */
export function layerMats(c: BitNetConfig): Mat[] {
  const d = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  const hd = c.num_attention_heads * d;
  return [
    {N: (c.num_attention_heads + 2 * c.num_key_value_heads) * d, K: c.hidden_size, ep: "store"},
    {N: c.hidden_size, K: hd, ep: "residual"},
    {N: 2 * c.intermediate_size, K: c.hidden_size, ep: c.hidden_act === "relu2" ? "glu-relu2" : "glu-silu"},
    {N: c.hidden_size, K: c.intermediate_size, ep: "residual"},
  ];
}

/** Allocates and fills (on the GPU) one weight buffer per matrix of every layer. */
export async function stackWeights(
  device: GPUDevice,
  c: BitNetConfig,
  kind: LinearKind,
  seed: number,
): Promise<{mats: Mat[]; W: GPUBuffer[]; bytes: number}> {
  const mats: Mat[] = [];
  const W: GPUBuffer[] = [];
  let bytes = 0;
  for (let l = 0; l < c.num_hidden_layers; l++) {
    for (const m of layerMats(c)) {
      const b = rowVec4s(kind, m.K) * 16 * m.N;
      const buf = storageBuffer(device, b, `${kind}.L${l}`);
      await gpuFill(
        device,
        buf,
        b / 4,
        kind === "ternary" ? 0 : kind === "f32" ? 1 : 2,
        seed + W.length * 7919,
        1 / Math.sqrt(m.K),
      );
      mats.push(m);
      W.push(buf);
      bytes += b;
    }
  }
  return {mats, W, bytes};
}

/** The dispatch list of one token through the stack with a given kernel shape. `independent`: each GEMV writes
 *  its own output (no barriers); otherwise all write one buffer, so every GEMV waits for the previous one as in
 *  a real decode step. */
export async function stackDispatches(
  device: GPUDevice,
  kind: LinearKind,
  st: {mats: Mat[]; W: GPUBuffer[]},
  cfgFor: (ep: Epilogue, K: number) => LinearConfig,
  independent: boolean,
  scratch: GPUBuffer[],
): Promise<Dispatch[]> {
  const maxK = Math.max(...st.mats.map((m) => m.K));
  const maxN = Math.max(...st.mats.map((m) => m.N));
  const xWords = kind === "ternary" ? 16 * Math.ceil(maxK / 64) : 8 * Math.ceil(maxK / 8);
  const X = storageBuffer(device, xWords * 4);
  await gpuFill(device, X, xWords, kind === "ternary" ? 0 : 1, 99, 1);
  const meta = storageBuffer(device, new Uint32Array([0x42fe0000, 0, 0, 0]));
  const ws = storageBuffer(device, new Float32Array(2 * maxN).fill(0.02));
  const shared = storageBuffer(device, maxN * 4);
  scratch.push(X, meta, ws, shared);
  const list: Dispatch[] = [];
  for (let i = 0; i < st.mats.length; i++) {
    const m = st.mats[i];
    const cfg = cfgFor(m.ep, m.K);
    const pl = await pipelineChecked(device, linearWGSL(cfg), `${kind}-${m.ep}`);
    const Y = independent ? storageBuffer(device, m.N * 4) : shared;
    if (independent) scratch.push(Y);
    const xStride = kind === "ternary" ? 4 * Math.ceil(m.K / 64) : 2 * Math.ceil(m.K / 8);
    const P = uniformBuffer(device, new Uint32Array([m.N, rowVec4s(kind, m.K), 1, xStride, m.N, 0, 0, 0]));
    scratch.push(P);
    const binds = kind === "ternary" ? [P, st.W[i], X, meta, ws, Y] : [P, st.W[i], X, Y];
    list.push({pipeline: pl, bind: bindGroup(device, pl, binds), grid: linearGrid(cfg, m.N, 1)});
  }
  return list;
}
