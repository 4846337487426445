// The trainer's per-step statistics for the plots (trainer.ts, StepOptions.stats): γ and the share of codes that
// flipped since the last statistics, per ternary tensor, and a strided sample of one weight's latent values and codes.
import {flatGamma, type FlatConstants, type FlatLayout} from "./flat.js";
import type {StepStats} from "./log.js";
import type {TF, TfTensor, Variable} from "./tf.js";

export interface StatsInputs {
  P: Variable;
  k: FlatConstants;
  layout: FlatLayout;
  /** The weight whose latent values and codes are sampled. */
  sampleName: string;
  /** Whether the model in force is quantized (otherwise only the latent sample is taken). */
  quantized: boolean;
  /** The codes at the last statistics (flip fractions compare against them). */
  prevCodes: TfTensor | undefined;
  codes: (source: TfTensor) => Promise<TfTensor>;
  storedGamma: (source: TfTensor) => Promise<TfTensor | undefined>;
}

/** StepStats, and the codes they were taken at (the next call's `prevCodes`; the caller disposes the old ones). */
export async function collectStats(tf: TF, s: StatsInputs): Promise<{stats: StepStats; codes?: TfTensor}> {
  const gamma: Record<string, number> = {};
  const flipFraction: Record<string, number> = {};
  let flipOverall = 0;
  const e = s.layout.byName.get(s.sampleName)!;
  const SAMPLE = 512;
  const stride = Math.max(1, Math.floor(e.size / SAMPLE));
  const n = Math.min(SAMPLE, Math.floor(e.size / stride));
  const idx = tf.range(e.offset, e.offset + n * stride, stride, "int32");
  const latentT = tf.gather(s.P, idx);
  const sample = {name: s.sampleName, latent: new Float32Array(0), codes: new Int8Array(0), gamma: 0};
  let codes: TfTensor | undefined;
  if (s.quantized) {
    const next = await s.codes(s.P);
    const stored = await s.storedGamma(s.P);
    const [gT, flT, codesT] = tf.tidy(() => {
      const gm = stored ? tf.clone(stored) : flatGamma(tf, s.k, s.P).gamma;
      const changed = tf.sum(tf.cast(tf.notEqual(next, s.prevCodes!), "float32"), 1, true); // [R, 1]
      const fl = tf.div(tf.matMul(s.k.seg!, changed), s.k.counts!);
      return [gm, fl, tf.gather(next.reshape([s.layout.total]), idx)];
    });
    stored?.dispose();
    const [gv, fv, cv] = await Promise.all([gT.data(), flT.data(), codesT.data()]);
    tf.dispose([gT, flT, codesT]);
    let total = 0;
    s.k.ternary.forEach((t, i) => {
      gamma[t.name] = gv[i];
      flipFraction[t.name] = fv[i];
      flipOverall += fv[i] * t.size;
      total += t.size;
    });
    flipOverall /= Math.max(1, total);
    sample.codes = Int8Array.from(cv);
    sample.gamma = gamma[s.sampleName] ?? 0;
    codes = next;
  }
  sample.latent = Float32Array.from(await latentT.data());
  tf.dispose([latentT, idx]);
  return {stats: {gamma, flipFraction, flipOverall, sample}, codes};
}
