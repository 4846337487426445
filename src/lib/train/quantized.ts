// What the trainer's forward multiplies with (trainer.ts): the flat latent weights ternarized with γ rounded to the
// config's scale format, or as they are in a full-precision phase; and their ternary codes for StepStats and export.
import {quantizedAt, type TrainConfig} from "./config.js";
import {flatCodes, flatGamma, quantizeFlat, type FlatConstants} from "./flat.js";
import {roundScale} from "./scale-format.js";
import type {TF, TfTensor} from "./tf.js";

/** γ = max(mean|W|, ε) per ternary tensor rounded to cfg.scaleFormat, [nTernary, 1]; undefined for fp32 (the
 *  forward then computes γ on the device). The rounding runs here, in roundScale, so every backend rounds alike. */
export async function storedGamma(
  tf: TF,
  k: FlatConstants,
  cfg: TrainConfig,
  source: TfTensor,
): Promise<TfTensor | undefined> {
  const fmt = cfg.scaleFormat;
  if (!fmt || fmt === "f32" || !k.seg) return undefined;
  const {gamma, gammaRows} = flatGamma(tf, k, source);
  gammaRows.dispose();
  const g = (await gamma.data()) as Float32Array;
  gamma.dispose();
  return tf.tensor2d(
    Float32Array.from(g, (v) => Math.max(roundScale(v, fmt), 1e-5)),
    [g.length, 1],
  );
}

/** Ternary codes of `source` with the γ the forward uses. */
export async function codesOf(tf: TF, k: FlatConstants, cfg: TrainConfig, source: TfTensor): Promise<TfTensor> {
  const gamma = await storedGamma(tf, k, cfg, source);
  const codes = flatCodes(tf, k, source, gamma);
  gamma?.dispose();
  return codes;
}

/** The weights a forward at `step` multiplies with: ternarized (γ rounded to cfg.scaleFormat), or the latent
 *  weights as they are in a full-precision phase (cfg.ternaryFrom), which also leaves activations unquantized. */
export async function forwardWeights(
  tf: TF,
  k: FlatConstants,
  cfg: TrainConfig,
  source: TfTensor,
  step: number,
): Promise<{Q: TfTensor; float: boolean}> {
  if (!quantizedAt(cfg, step)) return {Q: tf.clone(source), float: true};
  const gamma = await storedGamma(tf, k, cfg, source);
  const Q = quantizeFlat(tf, k, source, gamma);
  gamma?.dispose();
  return {Q, float: false};
}
