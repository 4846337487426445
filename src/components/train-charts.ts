// The training dashboard's charts (train-views.ts): the loss of both models (smoothed), latent weights against
// their ternary codes, the flip rate, γ per layer and the LR/WD schedule with the run's "now" mark.
import type {LinearName} from "../lib/config.js";
import type {StepStats} from "../lib/train/trainer.js";
import type {TrainRunView} from "../lib/chapters/train.js";
import {bucketMean, layerGammas, scheduleCurve, ternaryBins} from "../lib/chapters/train-series.js";
import {modelConfigAt} from "../lib/train/config.js";
import {ternaryShares} from "../lib/chapters/ternary.js";
import {fmt, MINUS, pct} from "../lib/chapters/format.js";
import {histogramChart, lineChart, statCards} from "./charts.js";
import type {LineSeries} from "./charts.js";
import {h} from "./dom.js";
import {TERNARY_COLOR} from "./ternary-views.js";

const STEP_TABLE_POINTS = 150;

function waiting(text: string): HTMLElement {
  return h("p", {class: "train-waiting"}, text);
}

/** Exponential moving average with a bias correction (no dip toward 0 at the start), span ≈ 2/α − 1 points. */
export function smooth(points: {x: number; y: number}[], alpha: number): {x: number; y: number}[] {
  let m = 0;
  let w = 0;
  return points.map((p) => {
    m = (1 - alpha) * m + alpha * p.y;
    w = (1 - alpha) * w + alpha;
    return {x: p.x, y: m / w};
  });
}

/** Training loss per step of both models and their validation loss, smoothed (the two raw curves overlapped point
 *  for point), the fp twin dashed, a dozen markers per curve; and under it the gap b1.58 − fp, which is what the
 *  reader compares. */
export function lossChart(r: TrainRunView, width: number): HTMLElement {
  // Two points at least: a chart of one-point series draws nothing (and Plot warns about it).
  if (r.points.length < 2) return waiting("The loss curves appear here once training starts.");
  const alpha = Math.min(1, 2 / (Math.max(2, Math.round(r.points.length / 20)) + 1));
  const b = smooth(
    bucketMean(
      r.points.map((p) => ({x: p.step, y: p.bitnetLoss})),
      STEP_TABLE_POINTS,
    ),
    alpha,
  );
  const f = smooth(
    bucketMean(
      r.points.map((p) => ({x: p.step, y: p.fpLoss})),
      STEP_TABLE_POINTS,
    ),
    alpha,
  );
  const series: LineSeries[] = [
    {name: "b1.58 (train, smoothed)", points: b},
    {name: "fp twin (train, smoothed)", points: f, dash: "6,4"},
  ];
  if (r.evals.length) {
    series.push({name: "b1.58 (validation)", points: r.evals.map((e) => ({x: e.step, y: e.bitnet}))});
    series.push({name: "fp twin (validation)", points: r.evals.map((e) => ({x: e.step, y: e.fp})), dash: "2,3"});
  }
  // "What breaks for ternary": b1.58 with the reader's changes, trained on the same batches.
  const changed = r.points.filter((p) => p.changedLoss !== undefined);
  if (changed.length >= 2) {
    series.push({
      name: "b1.58 with your changes (train, smoothed)",
      points: smooth(
        bucketMean(
          changed.map((p) => ({x: p.step, y: p.changedLoss!})),
          STEP_TABLE_POINTS,
        ),
        alpha,
      ),
      dash: "1,2",
    });
    const ev = r.evals.filter((e) => e.changed !== undefined);
    if (ev.length)
      series.push({name: "b1.58 with your changes (validation)", points: ev.map((e) => ({x: e.step, y: e.changed!}))});
  }
  const el = lineChart(series, {
    width,
    height: 260,
    xLabel: "step",
    yLabel: "cross-entropy (nats/token)",
    maxMarkers: 12,
    caption: `Loss of the b1.58 model and its full-precision twin${changed.length >= 2 ? ", and of b1.58 with your changes," : ""} trained on the same batches (training loss smoothed: a moving average over about ${Math.round(2 / alpha - 1)} ${r.points.length > STEP_TABLE_POINTS ? "spans of steps" : "steps"}); validation on the held-out years`,
    source: "computed live in this browser",
    yFormat: (v) => fmt(v, 3),
  });
  el.classList.add("train-loss");
  const gap = lineChart(
    [
      {
        name: "b1.58 − fp (train, smoothed)",
        points: b.map((p, i) => ({x: p.x, y: p.y - (f[i]?.y ?? NaN)})).filter((p) => Number.isFinite(p.y)),
      },
      ...(r.evals.length
        ? [
            {
              name: "b1.58 − fp (validation)",
              points: r.evals.map((e) => ({x: e.step, y: e.bitnet - e.fp})),
              dash: "2,3",
            },
          ]
        : []),
    ],
    {
      width,
      height: 170,
      xLabel: "step",
      yLabel: "gap (nats/token)",
      maxMarkers: 12,
      ruleY: [0],
      caption:
        "The gap: how much higher the b1.58 model's loss is than its full-precision twin's (above 0: ternary costs loss)",
      source: "computed live in this browser",
      yFormat: (v) => fmt(v, 2),
    },
  );
  gap.classList.add("train-loss-gap");
  gap.setAttribute("data-chart", "loss-gap");
  return h("div", {class: "train-loss-pair"}, el, gap);
}

/** Histogram of a sample of latent weights with bins split at ±γ/2, coloured by the code they round to. */
export function weightsView(stats: StepStats | undefined, width: number): HTMLElement {
  if (!stats || !stats.sample.codes.length) return waiting("The latent weights appear here after the first step.");
  const {latent, codes, gamma, name} = stats.sample;
  const bins = ternaryBins(latent, gamma);
  const sh = ternaryShares(codes);
  const el = h(
    "div",
    {class: "train-weights"},
    histogramChart(bins, {
      width,
      height: 220,
      xLabel: "latent weight",
      caption: `${latent.length} latent weights of ${name} and the ternary code each rounds to (${MINUS}1 left of ${MINUS}γ/2, 0 between, +1 right of +γ/2; γ = ${fmt(gamma, 3)})`,
      source: "StepStats.sample, computed live (values beyond ±2γ are counted in the end bins)",
      rules: [
        {x: -gamma / 2, label: `${MINUS}γ/2`},
        {x: gamma / 2, label: "+γ/2"},
      ],
      binColor: (b) => TERNARY_COLOR[(b as ReturnType<typeof ternaryBins>[number]).code],
      labels: [
        {x: -1.25 * gamma, text: `${MINUS}1`},
        {x: 0, text: "0"},
        {x: 1.25 * gamma, text: "+1"},
      ],
    }),
    statCards([
      {id: "share-neg", label: `${MINUS}1`, value: pct(sh.neg / sh.total, 1)},
      {id: "share-zero", label: "0", value: pct(sh.zero / sh.total, 1)},
      {id: "share-pos", label: "+1", value: pct(sh.pos / sh.total, 1)},
      {id: "gamma", label: "γ = mean|W|", value: fmt(gamma, 4)},
    ]),
  );
  return el;
}

/** Fraction of all ternary codes that changed in each step's update. */
export function flipChart(r: TrainRunView, width: number): HTMLElement {
  if (r.points.length < 2) return waiting("The flip rate appears here once training starts.");
  const pts = bucketMean(
    r.points.map((p) => ({x: p.step, y: 100 * p.flip})),
    STEP_TABLE_POINTS,
  );
  const positive = pts.every((p) => p.y > 0);
  const el = lineChart([{name: "codes flipped", points: pts}], {
    width,
    height: 220,
    xLabel: "step",
    yLabel: `codes flipped (%${positive ? ", log scale" : ""})`,
    logY: positive,
    caption: "Share of the model's ternary codes that changed in each step's update (every BitLinear weight)",
    source: "StepStats.flipOverall, computed live",
    yFormat: (v) => fmt(v, 2),
  });
  el.classList.add("train-flips");
  return el;
}

/** γ = mean|W| of each layer's projections over the steps. */
export function gammaChart(r: TrainRunView, proj: LinearName | "mean", width: number): HTMLElement {
  if (r.points.length < 2) return waiting("γ per layer appears here once training starts.");
  const L = modelConfigAt(r.configs.bitnet, 0).num_hidden_layers;
  const per = r.points.map((p) => ({step: p.step, g: layerGammas(p.gamma, L, proj)}));
  const series = Array.from({length: L}, (_, l) => ({
    name: `layer ${l}`,
    points: bucketMean(
      per.map((p) => ({x: p.step, y: p.g[l]})),
      STEP_TABLE_POINTS,
    ),
  }));
  const el = lineChart(series, {
    width,
    height: 220,
    xLabel: "step",
    yLabel: "γ = mean|W|",
    caption: `γ of ${proj === "mean" ? "each layer (mean over its seven projections)" : `W_${proj} in each layer`}, the scale that dequantizes the ternary codes`,
    source: "StepStats.gamma, computed live",
    yFormat: (v) => fmt(v, 3),
  });
  el.classList.add("train-gamma");
  return el;
}

/** The learning rate and weight decay of both models over the run, with the current step marked. */
export function scheduleCharts(r: TrainRunView, width: number): HTMLElement {
  const b = scheduleCurve(r.configs.bitnet);
  const f = scheduleCurve(r.configs.fp);
  const c = r.configs.changed ? scheduleCurve(r.configs.changed) : null;
  const now = Math.min(r.step, r.steps - 1);
  const cur = b.reduce((best, p) => (Math.abs(p.step - now) < Math.abs(best.step - now) ? p : best), b[0]);
  const lr = lineChart(
    [
      {name: "b1.58 LR", points: b.map((p) => ({x: p.step, y: p.lr}))},
      {name: "fp LR", points: f.map((p) => ({x: p.step, y: p.lr}))},
      ...(c ? [{name: "your changes LR", points: c.map((p) => ({x: p.step, y: p.lr})), dash: "1,2"}] : []),
    ],
    {
      width,
      height: 200,
      xLabel: "step",
      yLabel: "learning rate",
      caption: `Learning rate: b1.58's two stages (drop at half-way) against the fp baseline's single decay; ● now = step ${r.step}`,
      source: "scheduleAt (src/lib/train/config.ts) · b1.58 FAQ, a4.8 Table 7",
      marks: [{x: cur.step, y: cur.lr, label: "● now"}],
      yFormat: (v) => fmt(v, 2),
    },
  );
  const wd = lineChart(
    [
      {name: "b1.58 WD", points: b.map((p) => ({x: p.step, y: p.wd}))},
      {name: "fp WD", points: f.map((p) => ({x: p.step, y: p.wd}))},
      ...(c ? [{name: "your changes WD", points: c.map((p) => ({x: p.step, y: p.wd})), dash: "1,2"}] : []),
    ],
    {
      width,
      height: 160,
      xLabel: "step",
      yLabel: "weight decay",
      caption: "Weight decay: 0.1 then 0 for b1.58 (stage two lets the latent weights settle), a constant 0.1 for fp",
      source: "b1.58 FAQ, a4.8 Table 7",
      marks: [{x: cur.step, y: cur.wd, label: "● now"}],
      yFormat: (v) => fmt(v, 2),
    },
  );
  const el = h("div", {class: "train-schedule"}, lr, wd);
  return el;
}
