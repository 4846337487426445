// "What breaks for ternary" (Train page, issue 24): changes to the papers' b1.58 recipe whose effect public ternary
// training has measured, each with its source. With any change set, the page trains a third model — b1.58 with the
// changes — on the same seed and batches as the unchanged b1.58 and the fp twin, so the reader's own loss curves show
// the effect. DOM-free: the settings, the changed training config, the sources, and the numbers the view prints.
import type {TrainConfig} from "../train/config.js";
import {FORMAT_SPECS, SCALE_FORMATS, type ScaleFormat} from "../train/scale-format.js";

export type WdChoice = "two-stage" | "constant" | "off";
export const WD_CHOICES: readonly WdChoice[] = ["two-stage", "constant", "off"];
export const EMA_CHOICES = ["off", "0.9", "0.99", "0.999"] as const;
export type EmaChoice = (typeof EMA_CHOICES)[number];

export interface TernaryChanges {
  /** Train at the full-precision baseline's learning rate: the peaks divided by LOW_LR_DIVISOR. */
  lowLr: boolean;
  /** Weight decay: the papers' 0.1 → 0 at half-way, 0.1 throughout, or none. */
  wd: WdChoice;
  /** EMA of the latent weights (its decay), evaluated and exported instead of the trained weights. */
  ema: EmaChoice;
  /** Percent of the steps trained in full precision before switching to ternary (0: ternary from the start). */
  late: number;
  /** The format γ is kept in. */
  scale: ScaleFormat;
}

/** The papers' recipe: the b1.58 run as the page trains it without changes. */
export const PAPER_RECIPE: Readonly<TernaryChanges> = {
  lowLr: false,
  wd: "two-stage",
  ema: "off",
  late: 0,
  scale: "f32",
};

/** a4.8 Table 7 at 700M: BitNet's peak LR 1.5e-3 against the LLaMA baseline's 2.5e-4. */
export const LOW_LR_DIVISOR = 6;

export const LATE_MAX = 90;

/** Which settings differ from the papers' recipe (in BREAKS order). */
export function changedKeys(c: TernaryChanges): (keyof TernaryChanges)[] {
  return BREAKS.map((b) => b.key).filter((k) => c[k] !== PAPER_RECIPE[k]);
}

export function hasChanges(c: TernaryChanges | undefined): c is TernaryChanges {
  return c !== undefined && changedKeys(c).length > 0;
}

/** Checks settings that came from outside (a link, a saved run); throws naming the field. */
export function checkChanges(c: TernaryChanges): void {
  if (typeof c.lowLr !== "boolean") throw new Error(`ternary changes: lowLr must be true or false`);
  if (!WD_CHOICES.includes(c.wd)) throw new Error(`ternary changes: wd must be one of ${WD_CHOICES.join(", ")}`);
  if (!EMA_CHOICES.includes(c.ema)) throw new Error(`ternary changes: ema must be one of ${EMA_CHOICES.join(", ")}`);
  if (!Number.isInteger(c.late) || c.late < 0 || c.late > LATE_MAX)
    throw new Error(`ternary changes: late must be an integer percent in [0, ${LATE_MAX}], got ${c.late}`);
  if (!SCALE_FORMATS.includes(c.scale))
    throw new Error(`ternary changes: scale must be one of ${SCALE_FORMATS.join(", ")}`);
}

/** The b1.58 config with the changes applied (same seed, batches, shape and steps; its own name). */
export function changedConfig(bitnet: TrainConfig, c: TernaryChanges): TrainConfig {
  checkChanges(c);
  const k = c.lowLr ? 1 / LOW_LR_DIVISOR : 1;
  const lr = {
    ...bitnet.lr,
    stage1: [bitnet.lr.stage1[0] * k, bitnet.lr.stage1[1] * k] as [number, number],
    stage2: [bitnet.lr.stage2[0] * k, bitnet.lr.stage2[1] * k] as [number, number],
  };
  const wd0 = bitnet.weightDecay[0];
  const weightDecay: [number, number] =
    c.wd === "two-stage" ? [...bitnet.weightDecay] : c.wd === "constant" ? [wd0, wd0] : [0, 0];
  const out: TrainConfig = {...bitnet, name: `${bitnet.name}-changed`, lr, weightDecay};
  if (c.ema !== "off") out.ema = Number(c.ema);
  if (c.late > 0) out.ternaryFrom = c.late / 100;
  if (c.scale !== "f32") out.scaleFormat = c.scale;
  return out;
}

export interface BreakSource {
  /** The citation as printed: work, section/table, what it reports. */
  text: string;
  href: string;
}

export interface BreakToggle {
  key: keyof TernaryChanges;
  /** The control's label. */
  label: string;
  /** What the toggle does to the reader's changed run, in one plain sentence. */
  does: string;
  /** What was measured, with where. */
  sources: BreakSource[];
}

const PG = "https://github.com/openai/parameter-golf/pull/";

/** The effects, in the order the page lists them. Every entry cites where the effect was measured; effects without a
 *  published measurement are not offered. */
export const BREAKS: readonly BreakToggle[] = [
  {
    key: "lowLr",
    label: "Train at the full-precision learning rate",
    does: `Your changed run's learning rate is divided by ${LOW_LR_DIVISOR} — the gap between BitNet's and the LLaMA baseline's peak learning rates at 700M.`,
    sources: [
      {
        text: "BitNet (arXiv 2310.11453) §2.2, Training: 1-bit models need a large learning rate; BitNet converges where the FP16 Transformer diverges",
        href: "https://arxiv.org/abs/2310.11453",
      },
      {
        text: "BitNet a4.8 (arXiv 2411.04965) Table 7: peak LR 1.5e-3 for BitNet against 2.5e-4 for LLaMA at 700M",
        href: "https://arxiv.org/abs/2411.04965",
      },
      {
        text: "openai/parameter-golf PR #367, README “What Worked for Ternary: Higher Learning Rate”: ternary trained best at LR 0.04 against 0.02–0.025 for int6",
        href: `${PG}367`,
      },
    ],
  },
  {
    key: "wd",
    label: "Weight decay",
    does: "Two-stage is the papers' 0.1 then 0 from half-way; constant keeps 0.1 for the whole run (the fp twin's recipe); off uses none.",
    sources: [
      {
        text: "BitNet b1.58 Training Tips, Code and FAQ and a4.8 (arXiv 2411.04965) Table 7: weight decay 0.1 → 0 at the learning-rate drop",
        href: "https://arxiv.org/abs/2411.04965",
      },
      {
        text: "BitNet b1.58 2B4T report (arXiv 2504.12285), pre-training, weight-decay schedule: cosine to 0.1 in stage one, disabled in stage two so the weights settle",
        href: "https://arxiv.org/abs/2504.12285",
      },
      {
        text: "openai/parameter-golf PR #367, README “What Broke the Network: Weight Decay”: decay 0.04 throughout made the ternary model plateau (val loss 2.4 against 2.0)",
        href: `${PG}367`,
      },
    ],
  },
  {
    key: "ema",
    label: "EMA of the weights",
    does: "Your changed run keeps an exponential moving average of its latent weights and validates the average, ternarized — the model an EMA recipe would ship. Training itself is untouched.",
    sources: [
      {
        text: "openai/parameter-golf PR #760 description: EMA is incompatible with ternary weights (+0.52 bits per byte)",
        href: `${PG}760`,
      },
      {
        text: "openai/parameter-golf PR #367, README “Negative Results Summary”: EMA/SWA helped int6 (+0.005) and broke ternary — an average of ternary-trained weights is not a ternary-trained model",
        href: `${PG}367`,
      },
    ],
  },
  {
    key: "late",
    label: "Full precision first, then ternary",
    does: "Your changed run trains with unquantized weights and activations for this share of the steps, then switches to ternary weights and INT8 activations.",
    sources: [
      {
        text: "Nielsen, Schneider-Kamp & Galke, Continual Quantization-Aware Pre-Training (arXiv 2502.11895, ACL Findings 2025), RQ1–RQ2: 16-bit first, then 1.58-bit, beats 1.58-bit from the start on 11 tasks; the switch causes a loss spike",
        href: "https://arxiv.org/abs/2502.11895",
      },
      {
        text: "openai/parameter-golf PR #666: full precision for the first 30% of training, ternary STE for the rest",
        href: `${PG}666`,
      },
    ],
  },
  {
    key: "scale",
    label: "Precision of the scale γ",
    does: "Your changed run rounds each weight scale γ to this format wherever it uses it, in training and in validation, so it trains with the γ a checkpoint in this format would store.",
    sources: [
      {
        text: "openai/parameter-golf PR #139 and PR #367 README “fp16 Scale Simulation During Training”: scales trained in fp32 but stored in fp16 round the codes differently (a 0.05 bits-per-byte gap); training with γ in fp16 closed it to 0.0016",
        href: `${PG}367`,
      },
    ],
  },
];

/** Plain words for one setting's value. */
export function describeSetting(key: keyof TernaryChanges, c: TernaryChanges): string {
  switch (key) {
    case "lowLr":
      return c.lowLr ? `learning rate ÷ ${LOW_LR_DIVISOR}` : "the papers' learning rate";
    case "wd":
      return c.wd === "two-stage"
        ? "weight decay 0.1 → 0"
        : c.wd === "constant"
          ? "weight decay 0.1 throughout"
          : "no weight decay";
    case "ema":
      return c.ema === "off" ? "no EMA" : `EMA (decay ${c.ema}) evaluated`;
    case "late":
      return c.late ? `full precision for the first ${c.late}% of steps` : "ternary from the first step";
    case "scale":
      return c.scale === "f32" ? "γ in fp32" : `γ in ${FORMAT_SPECS[c.scale].label.split(" (")[0]}`;
  }
}

/** One line naming every change from the papers' recipe ("" when there is none). */
export function changesSummary(c: TernaryChanges): string {
  return changedKeys(c)
    .map((k) => describeSetting(k, c))
    .join(", ");
}

export interface BreaksResult {
  /** Steps compared (points with both losses). */
  steps: number;
  /** Mean training loss over the last `window` steps: unchanged b1.58, changed, fp. */
  base: number;
  changed: number;
  fp: number;
  window: number;
  /** Latest validation losses, when the run has evaluated. */
  val: {step: number; base: number; changed: number; fp: number} | null;
}

/** The numbers under the chart: the last `window` steps' mean training losses and the latest validation. */
export function breaksResult(
  points: readonly {bitnetLoss: number; fpLoss: number; changedLoss?: number}[],
  evals: readonly {step: number; bitnet: number; fp: number; changed?: number}[],
  window = 20,
): BreaksResult | null {
  const pts = points.filter((p) => p.changedLoss !== undefined);
  if (!pts.length) return null;
  const tail = pts.slice(Math.max(0, pts.length - window));
  const mean = (f: (p: (typeof pts)[number]) => number) => tail.reduce((a, p) => a + f(p), 0) / tail.length;
  const ev = [...evals].reverse().find((e) => e.changed !== undefined);
  return {
    steps: pts.length,
    base: mean((p) => p.bitnetLoss),
    changed: mean((p) => p.changedLoss!),
    fp: mean((p) => p.fpLoss),
    window: tail.length,
    val: ev ? {step: ev.step, base: ev.bitnet, changed: ev.changed!, fp: ev.fp} : null,
  };
}
