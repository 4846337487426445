// The records of a training run's log: what Trainer.step and Trainer.evaluate return, what the state file keeps
// (state.ts validates them on resume) and what the training page plots.

export interface StepResult {
  /** Steps done after this one. */
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
  wd: number;
  /** LR/WD stage of the two-stage schedule (1 or 2). */
  lrStage: 1 | 2;
  /** Activation stage index (0 = the config's own bits; k = after stages[k−1]) and its bits. */
  actStage: number;
  activationBits: 8 | 4;
  tokens: number;
  ms: number;
  tokensPerSecond: number;
  stats?: StepStats;
}

/** Per-step statistics for the training page's plots. */
export interface StepStats {
  /** γ = mean|W| of each BitLinear weight (by tensor name) before this step's update. */
  gamma: Record<string, number>;
  /** Fraction of ternary codes that changed in this step's update, per BitLinear weight and overall. */
  flipFraction: Record<string, number>;
  flipOverall: number;
  /** A fixed sample of one weight's latent values and their ternary codes after the update. */
  sample: {name: string; latent: Float32Array; codes: Int8Array; gamma: number};
}

export interface EvalResult {
  step: number;
  loss: number;
  perplexity: number;
  tokens: number;
}

/** One line of the training log. */
export type LogRecord = ({kind: "step"} & Omit<StepResult, "stats">) | ({kind: "eval"} & EvalResult);
