// The trained flat weights as the reference model's ModelWeights (trainer.ts exportWeights).
import type {BitNetConfig} from "../config.js";
import {ternarize} from "../checkpoint.js";
import {roundClip} from "../quant.js";
import type {ModelWeights, Tensor as LibTensor} from "../tensor.js";
import type {FlatEntry, FlatLayout} from "./flat.js";

/** BitLinear weights ternarized by the reference's own absmean quantizer (checkpoint.ts ternarize, identical to the
 *  forward's) — or, with `gammas` (γ in its storage format, one per ternary entry), the codes the forward trained
 *  with (quant.ts's absmean arithmetic, this γ); everything else float. An fp model keeps every projection in
 *  `float`; `latent` keeps the float projections instead. */
export function weightsFromFlat(
  c: BitNetConfig,
  layout: FlatLayout,
  ternary: readonly FlatEntry[],
  flat: Float32Array,
  gammas: Float32Array | undefined,
  latent: boolean,
): ModelWeights {
  const float = new Map<string, LibTensor>();
  for (const e of layout.entries)
    float.set(e.name, {shape: [...e.shape], data: flat.slice(e.offset, e.offset + e.size)});
  const w: ModelWeights = {config: c, float, ternary: new Map()};
  if (latent) return w;
  if (!gammas) return ternarize(w);
  ternary.forEach((e, i) => {
    const f = float.get(e.name)!;
    const s = Math.fround(1 / gammas[i]);
    const codes = new Int8Array(f.data.length);
    for (let j = 0; j < codes.length; j++) codes[j] = roundClip(Math.fround(f.data[j] * s), -1, 1);
    w.ternary.set(e.name, {shape: [e.shape[0], e.shape[1]], codes, gamma: 1 / s});
    float.delete(e.name);
  });
  return w;
}
