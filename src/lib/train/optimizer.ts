// The trainer's update (trainer.ts): decoupled AdamW on the flat buffer with global-norm clipping, and the
// exponential moving average of the weights that evaluation and export read (cfg.ema).
import type {TrainConfig} from "./config.js";
import {ROW, type FlatConstants, type FlatLayout} from "./flat.js";
import type {TF, TfTensor, Variable} from "./tf.js";

/** Decoupled AdamW (Loshchilov & Hutter; PyTorch's AdamW) on the flat buffer:
 *  p ← p(1 − lr·wd·[matrix]) − lr·m̂/(√v̂ + ε); gradients clipped to a global L2 norm first. `step` is the number of
 *  updates done before this one. Returns the norm. */
export function adamWStep(
  tf: TF,
  s: {P: Variable; m: Variable; v: Variable; k: FlatConstants; layout: FlatLayout},
  opt: TrainConfig["optimizer"],
  grad: TfTensor,
  lr: number,
  wd: number,
  step: number,
): TfTensor {
  const {
    betas: [b1, b2],
    eps,
    gradClip,
  } = opt;
  const t = step + 1;
  const R = s.layout.rows;
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.sum(tf.square(grad.reshape([R, ROW])), 1)));
    const scale = gradClip > 0 ? tf.minimum(1, tf.div(gradClip, tf.add(norm, 1e-6))) : tf.scalar(1);
    const gs = tf.mul(grad, scale);
    s.m.assign(tf.add(tf.mul(s.m, b1), tf.mul(gs, 1 - b1)));
    s.v.assign(tf.add(tf.mul(s.v, b2), tf.mul(tf.square(gs), 1 - b2)));
    const upd = tf.div(
      tf.mul(s.m, 1 / (1 - Math.pow(b1, t))),
      tf.add(tf.sqrt(tf.mul(s.v, 1 / (1 - Math.pow(b2, t)))), eps),
    );
    const decay = tf.sub(1, tf.mul(s.k.decayRows, lr * wd)).reshape([R, 1]);
    const P = tf.mul(s.P.reshape([R, ROW]), decay).reshape([s.layout.total]);
    s.P.assign(tf.sub(P, tf.mul(upd, lr)));
    return norm;
  });
}

/** ema ← β·ema + (1 − β)·P after each update (cfg.ema = β). */
export function emaStep(tf: TF, ema: Variable | undefined, P: Variable, beta: number | undefined): void {
  if (!ema || beta === undefined) return;
  ema.assign(tf.tidy(() => tf.add(tf.mul(ema, beta), tf.mul(P, 1 - beta))));
}
