// Views of chapter 6 (train your own): the training dashboard — Start / Pause / Resume / Reset, live numbers,
// the loss of both models, latent weights against their ternary codes, the flip rate, γ per layer and the
// LR/WD schedule — and the export panel (download the checkpoint, keep it for the forward-pass page).
// The page's main thread stays free for clicks while a run trains (in a worker): the live numbers are updated in
// place at most NUMBERS_MS apart, the charts at most once a second, each chart in its own task (so no single task
// holds a click for long), only charts that changed and are on screen (the rest when they scroll into view), and
// the schedule chart only when its "now" mark has moved visibly.
import type {LinearName} from "../lib/config.js";
import type {StepStats} from "../lib/train/trainer.js";
import type {Tokenizer} from "../lib/tokenizer.js";
import {
  bucketMean,
  headMean,
  layerGammas,
  makeTrainedRecord,
  scheduleCurve,
  tailMean,
  ternaryBins,
  type TrainedRecord,
  type TrainRunView,
} from "../lib/chapters/train.js";
import {modelConfigAt} from "../lib/train/config.js";
import {ternaryShares} from "../lib/chapters/ternary.js";
import {fmt, MINUS, pct} from "../lib/chapters/format.js";
import {histogramChart, lineChart, progressBar, statCards} from "./charts.js";
import type {LineSeries} from "./charts.js";
import {breakable, h, prefersReducedMotion} from "./dom.js";
import {TERNARY_COLOR} from "./ternary-views.js";

export interface ChartFlags {
  loss: boolean;
  weights: boolean;
  flips: boolean;
  gamma: boolean;
  schedule: boolean;
}

export const CHART_LABELS: Record<keyof ChartFlags, string> = {
  loss: "Loss of both models",
  weights: "Latent weights and their codes",
  flips: "Flip rate",
  gamma: "γ per layer",
  schedule: "LR / weight-decay schedule",
};

export interface DashboardOptions {
  /** Makes a fresh run (the same settings): called at start and by Reset. */
  makeRun: () => TrainRunView;
  /** The tfjs backend the run trains on (shown in the numbers). */
  backend: string;
  show: ChartFlags;
  gammaProjection: LinearName | "mean";
  /** Called after every step and state change (exercises and the export panel read the run). */
  onUpdate?: (run: TrainRunView) => void;
  /** Called after Reset (the page drops the autosaved run). */
  onReset?: () => void;
}

const STEP_TABLE_POINTS = 150;
/** The live numbers (step, loss, tokens/s …) are rewritten at most this often. */
const NUMBERS_MS = 250;
/** The schedule chart's "now" mark is redrawn when it has moved this share of the run. */
const SCHEDULE_MARK_SHARE = 0.02;
type ChartKey = keyof ChartFlags;
const CHART_KEYS: ChartKey[] = ["loss", "weights", "flips", "gamma", "schedule"];

/** Time for a number of milliseconds, e.g. "1 min 05 s". */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

export class TrainDashboard {
  readonly element: HTMLElement;
  run: TrainRunView;
  private readonly opts: DashboardOptions;
  private show: ChartFlags;
  private gammaProjection: LinearName | "mean";
  private readonly buttons: Record<"start" | "pause" | "resume" | "reset", HTMLButtonElement>;
  private readonly status: HTMLElement;
  private readonly numbers: HTMLElement;
  private readonly progress: ReturnType<typeof progressBar>;
  private readonly slots: Record<keyof ChartFlags, HTMLElement>;
  private lastRender = 0;
  private renderTimer: ReturnType<typeof setTimeout> | null = null;
  private numbersTimer: ReturnType<typeof setTimeout> | null = null;
  private lastNumbers = 0;
  /** Charts whose data changed since they were drawn. */
  private readonly stale = new Set<ChartKey>();
  /** Charts near the viewport (all of them where IntersectionObserver is missing). */
  private readonly onScreen = new Set<ChartKey>(CHART_KEYS);
  private readonly seen: IntersectionObserver | null;
  /** The step the schedule chart's "now" mark was drawn at. */
  private scheduleStep = -1;
  /** The stat cards of the live numbers, updated in place. */
  private cards: Map<string, HTMLElement> | null = null;
  private elapsedMs = 0;
  private disposed = false;
  private readonly listeners = new Set<(run: TrainRunView) => void>();
  private readonly resize: ResizeObserver | null;
  private lastWidth = 0;

  constructor(opts: DashboardOptions) {
    this.opts = opts;
    this.show = {...opts.show};
    this.gammaProjection = opts.gammaProjection;
    this.run = opts.makeRun();
    const btn = (label: string, cls = "") => h("button", {type: "button", class: `lab-button ${cls}`.trim()}, label);
    this.buttons = {
      start: btn("Start training", "primary"),
      pause: btn("Pause"),
      resume: btn("Resume", "primary"),
      reset: btn("Reset"),
    };
    this.buttons.start.addEventListener("click", () => this.start());
    this.buttons.resume.addEventListener("click", () => this.start());
    this.buttons.pause.addEventListener("click", () => void this.pause());
    this.buttons.reset.addEventListener("click", () => void this.reset());
    this.status = h("p", {class: "train-status", role: "status", "aria-live": "polite"});
    this.numbers = h("div", {class: "train-numbers"});
    this.progress = progressBar("Not started");
    this.slots = {
      loss: h("div", {class: "train-slot", "data-chart": "loss"}),
      weights: h("div", {class: "train-slot", "data-chart": "weights"}),
      flips: h("div", {class: "train-slot", "data-chart": "flips"}),
      gamma: h("div", {class: "train-slot", "data-chart": "gamma"}),
      schedule: h("div", {class: "train-slot", "data-chart": "schedule"}),
    };
    this.element = h(
      "section",
      {class: "train-dashboard", "aria-label": "Training"},
      h(
        "div",
        {class: "train-buttons", role: "group", "aria-label": "Training controls"},
        this.buttons.start,
        this.buttons.pause,
        this.buttons.resume,
        this.buttons.reset,
      ),
      this.status,
      this.progress,
      this.numbers,
      h("div", {class: "train-charts"}, Object.values(this.slots)),
    );
    if (opts.onUpdate) this.listeners.add(opts.onUpdate);
    // Redraw at the new width when the page is resized (phone rotation, sidebar toggled).
    this.resize =
      typeof ResizeObserver === "function"
        ? new ResizeObserver(() => {
            if (Math.abs(this.width() - this.lastWidth) <= 8) return;
            for (const k of CHART_KEYS) this.stale.add(k);
            this.scheduleRender();
          })
        : null;
    this.resize?.observe(this.element);
    // Off-screen charts are not redrawn while training; one that scrolls into view is drawn then.
    this.seen =
      typeof IntersectionObserver === "function"
        ? new IntersectionObserver(
            (entries) => {
              for (const e of entries) {
                const k = (e.target as HTMLElement).dataset.chart as ChartKey;
                if (e.isIntersecting) this.onScreen.add(k);
                else this.onScreen.delete(k);
              }
              if ([...this.stale].some((k) => this.onScreen.has(k))) this.scheduleRender();
            },
            {rootMargin: "200px"},
          )
        : null;
    if (this.seen) {
      this.onScreen.clear();
      for (const el of Object.values(this.slots)) this.seen.observe(el);
    }
    this.setVisible(this.show);
    this.refresh();
  }

  /** Registers a callback for every step and state change. */
  subscribe(fn: (run: TrainRunView) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notify(): void {
    for (const fn of this.listeners) fn(this.run);
  }

  start(): void {
    const run = this.run;
    if (run.running || run.done || this.disposed) return;
    let t = performance.now();
    const loop = run.run({
      onStep: () => {
        const now = performance.now();
        this.elapsedMs += now - t;
        t = now;
        this.markStale();
        this.queueNumbers();
        this.scheduleRender();
        this.notify();
      },
    });
    this.refresh();
    void loop.then(() => {
      if (run !== this.run || this.disposed) return;
      this.refresh();
    });
  }

  async pause(): Promise<void> {
    if (this.run.running) {
      this.buttons.pause.disabled = true;
      this.status.textContent = "Pausing after the step in flight…";
    }
    await this.run.pause();
    this.buttons.pause.disabled = false;
    this.refresh();
  }

  /** A fresh model (same settings): the old one stops after its step in flight and frees its tensors. */
  async reset(): Promise<void> {
    const old = this.run;
    old.dispose();
    this.opts.onReset?.();
    await old.pause();
    if (this.disposed) return;
    this.run = this.opts.makeRun();
    this.elapsedMs = 0;
    this.refresh();
  }

  /** Replaces the (not yet started) run with a restored one, e.g. an autosaved run the reader resumes. */
  adopt(run: TrainRunView, elapsedMs: number): void {
    this.run.dispose();
    this.run = run;
    this.elapsedMs = elapsedMs;
    this.refresh();
  }

  /** Training time so far (for the autosave). */
  get elapsed(): number {
    return this.elapsedMs;
  }

  /** Shows and hides charts; only a chart that appears (and is out of date) is drawn. */
  setVisible(show: ChartFlags): void {
    const before = this.show;
    this.show = {...show};
    for (const k of CHART_KEYS) this.slots[k].hidden = !show[k];
    const appeared = CHART_KEYS.filter(
      (k) => show[k] && (!before[k] || this.stale.has(k) || !this.slots[k].firstChild),
    );
    this.renderCharts(appeared);
  }

  setGammaProjection(p: LinearName | "mean"): void {
    if (p === this.gammaProjection && this.slots.gamma.firstChild) return;
    this.gammaProjection = p;
    this.renderCharts(["gamma"]);
  }

  /** Stops training and frees the tensors (the page's invalidation). */
  dispose(): void {
    this.disposed = true;
    if (this.renderTimer) clearTimeout(this.renderTimer);
    if (this.numbersTimer) clearTimeout(this.numbersTimer);
    this.resize?.disconnect();
    this.seen?.disconnect();
    this.run.dispose();
    this.listeners.clear();
  }

  /** Buttons, status line, numbers and charts for the run's current state. */
  refresh(): void {
    const r = this.run;
    const s = r.state;
    const b = this.buttons;
    b.start.hidden = !(s === "ready");
    b.pause.hidden = s !== "running";
    b.resume.hidden = s !== "paused";
    b.reset.disabled = s === "ready" || s === "disposed";
    this.element.dataset.state = s;
    this.status.textContent =
      s === "ready"
        ? `Ready: ${r.steps} steps of each model. Press Start training.`
        : s === "running"
          ? "Training… (changing a setting above starts over)"
          : s === "paused"
            ? `Paused at step ${r.step} of ${r.steps}.`
            : s === "done"
              ? `Done: ${r.steps} steps in ${duration(this.elapsedMs)}.`
              : s === "error"
                ? `Stopped: ${r.error}`
                : "Reset.";
    this.status.classList.toggle("error", s === "error");
    this.updateNumbers();
    // A state change (start, pause, done, reset) draws every shown chart at once, on screen or not.
    this.markStale();
    this.renderCharts();
    this.notify();
  }

  /** After new steps: the data charts are out of date; the schedule only when its mark has moved visibly. */
  private markStale(): void {
    for (const k of ["loss", "weights", "flips", "gamma"] as const) this.stale.add(k);
    const r = this.run;
    if (
      this.scheduleStep < 0 ||
      Math.abs(r.step - this.scheduleStep) >= Math.max(1, SCHEDULE_MARK_SHARE * r.steps) ||
      r.step >= r.steps
    )
      this.stale.add("schedule");
  }

  /** The live numbers at most every NUMBERS_MS. */
  private queueNumbers(): void {
    if (this.numbersTimer) return;
    this.numbersTimer = setTimeout(
      () => {
        this.numbersTimer = null;
        this.lastNumbers = performance.now();
        if (!this.disposed) this.updateNumbers();
      },
      Math.max(0, this.lastNumbers + NUMBERS_MS - performance.now()),
    );
  }

  private updateNumbers(): void {
    const r = this.run;
    const p = r.points;
    const last = p.at(-1);
    const ev = r.evals.at(-1);
    // Means over the first and last few steps only: O(1) per update, whatever the run's length.
    const head = p.slice(0, 3);
    const tail = (n: number) => p.slice(Math.max(0, p.length - n));
    const bl = (xs: typeof p) => xs.map((x) => x.bitnetLoss);
    const fl = (xs: typeof p) => xs.map((x) => x.fpLoss);
    this.element.dataset.step = String(r.step);
    this.element.dataset.firstLoss = p.length ? String(headMean(bl(head), 3)) : "";
    this.element.dataset.lastLoss = p.length ? String(tailMean(bl(tail(3)), 3)) : "";
    this.element.dataset.firstFpLoss = p.length ? String(headMean(fl(head), 3)) : "";
    this.element.dataset.lastFpLoss = p.length ? String(tailMean(fl(tail(3)), 3)) : "";
    this.element.dataset.tensors = last ? String(last.tensors) : "";
    this.progress.set(r.step / r.steps, `Step ${r.step} of ${r.steps}`);
    const recent = tail(10);
    const tps = last
      ? tailMean(
          recent.map((x) => x.tokensPerSecond),
          10,
        )
      : NaN;
    const cards = [
      {id: "backend", label: "Backend", value: this.opts.backend},
      {id: "step", label: "Step", value: `${r.step} / ${r.steps}`},
      {
        id: "bitnet-loss",
        label: "b1.58 loss",
        value: last ? fmt(tailMean(bl(recent), 10), 4) : "—",
        note: ev ? `validation ${fmt(ev.bitnet, 4)}` : "mean of the last 10 steps",
      },
      {
        id: "fp-loss",
        label: "fp loss",
        value: last ? fmt(tailMean(fl(recent), 10), 4) : "—",
        note: ev ? `validation ${fmt(ev.fp, 4)}` : "mean of the last 10 steps",
      },
      {
        id: "tokens-per-second",
        label: "Tokens/s",
        value: last ? fmt(tps, 3) : "—",
        note: r.configs.changed ? "all three models" : "both models",
      },
      {
        id: "time-left",
        label: "Time left",
        value:
          last && r.step < r.steps
            ? `≈ ${duration(
                tailMean(
                  recent.map((x) => x.ms),
                  10,
                ) *
                  (r.steps - r.step),
              )}`
            : "—",
        note: "at the recent pace",
      },
      {id: "flip", label: "Codes flipped", value: last ? pct(last.flip, 2) : "—", note: "in the last step"},
      {id: "tensors", label: "tfjs tensors", value: last ? String(last.tensors) : "—", note: "stays flat: no leak"},
    ];
    if (!this.cards) {
      this.numbers.replaceChildren(statCards(cards));
      this.cards = new Map(
        cards.map((c) => [c.id, this.numbers.querySelector<HTMLElement>(`[data-stat="${c.id}"] dd`)!]),
      );
    }
    // In place: only a card whose text changed is touched.
    for (const c of cards) {
      const dd = this.cards.get(c.id)!;
      const text = c.value + (c.note ?? "");
      if (dd.dataset.text === text) continue;
      dd.dataset.text = text;
      dd.replaceChildren(...breakable(c.value), ...(c.note ? [h("small", {}, c.note)] : []));
    }
  }

  /** At most one redraw cycle a second (three with reduced motion): the stale charts on screen, one per task. */
  private scheduleRender(): void {
    if (this.renderTimer || this.disposed) return;
    const every = prefersReducedMotion() ? 3000 : 1000;
    this.renderTimer = setTimeout(
      () => {
        this.renderTimer = null;
        this.lastRender = performance.now();
        this.renderStaleOnScreen();
      },
      Math.max(0, this.lastRender + every - performance.now()),
    );
  }

  private renderStaleOnScreen(): void {
    if (this.disposed) return;
    const next = CHART_KEYS.find((k) => this.stale.has(k) && this.show[k] && this.onScreen.has(k));
    if (!next) return;
    this.renderCharts([next]);
    // The next chart in a task of its own: a click waits for one chart at most.
    if (CHART_KEYS.some((k) => this.stale.has(k) && this.show[k] && this.onScreen.has(k))) {
      this.renderTimer = setTimeout(() => {
        this.renderTimer = null;
        this.renderStaleOnScreen();
      }, 0);
    }
  }

  private width(): number {
    return Math.max(280, Math.min(this.element.clientWidth || 640, 900));
  }

  /** Draws the given charts (default: every shown one) now. */
  renderCharts(which: readonly ChartKey[] = CHART_KEYS): void {
    const w = this.width();
    if (Math.abs(w - this.lastWidth) > 8) for (const k of CHART_KEYS) this.stale.add(k);
    this.lastWidth = w;
    const r = this.run;
    // Two columns when two 300-px charts fit (the grid in style.css uses the same rule).
    const half = w >= 2 * 300 + 24 ? Math.floor((w - 24) / 2) : w;
    for (const k of which) {
      if (!this.show[k]) continue;
      this.stale.delete(k);
      if (k === "loss") this.slots.loss.replaceChildren(lossChart(r, w));
      else if (k === "weights") this.slots.weights.replaceChildren(weightsView(r.lastStats, w));
      else if (k === "flips") this.slots.flips.replaceChildren(flipChart(r, half));
      else if (k === "gamma") this.slots.gamma.replaceChildren(gammaChart(r, this.gammaProjection, half));
      else {
        this.scheduleStep = r.step;
        this.slots.schedule.replaceChildren(scheduleCharts(r, half));
      }
    }
  }
}

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

// ---------------------------------------------------------------- export panel

export interface ExportOptions {
  getRun: () => TrainRunView;
  tokenizer: Tokenizer;
  /** Stores the record where the forward-pass page looks (IndexedDB). */
  save: (record: TrainedRecord) => Promise<void>;
  /** Where the forward-pass page is. */
  forwardHref: string;
}

/** "Download the checkpoint" (config.json, model.safetensors, tokenizer.json) and "Use on the forward-pass
 *  page". Both pause the training first; links are revoked when the panel is disposed. */
export function exportPanel(opts: ExportOptions): {element: HTMLElement; update(): void; dispose(): void} {
  const urls: string[] = [];
  const dl = h("button", {type: "button", class: "lab-button"}, "Download the b1.58 checkpoint");
  const use = h("button", {type: "button", class: "lab-button"}, "Use on the forward-pass page");
  const links = h("ul", {class: "download-links"});
  const status = h("p", {role: "status", "aria-live": "polite", class: "export-status"});
  const revoke = () => {
    for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  };

  async function record(): Promise<TrainedRecord> {
    const run = opts.getRun();
    const weights = await run.exportBitNet();
    const bl = run.points.map((p) => p.bitnetLoss);
    return makeTrainedRecord(weights, opts.tokenizer, {
      size: run.settings.size,
      steps: run.step,
      seed: run.settings.seed,
      lr: run.settings.lr,
      loss: tailMean(bl, 10),
      fpLoss: tailMean(
        run.points.map((p) => p.fpLoss),
        10,
      ),
      valLoss: run.evals.at(-1)?.bitnet ?? null,
      tokensSeen: run.tokensSeen,
      savedAt: new Date().toISOString(),
    });
  }

  const busy = async (btn: HTMLButtonElement, what: string, failed: string, fn: () => Promise<void>) => {
    btn.disabled = true;
    status.textContent = what;
    try {
      await fn();
    } catch (e) {
      status.textContent = `${failed}: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      update();
    }
  };

  dl.addEventListener("click", () =>
    busy(dl, "Exporting…", "Could not export", async () => {
      const rec = await record();
      revoke();
      const files: [string, BlobPart, string][] = [
        ["config.json", JSON.stringify(rec.config, null, 2), "application/json"],
        ["model.safetensors", rec.safetensors as Uint8Array<ArrayBuffer>, "application/octet-stream"],
        ["tokenizer.json", JSON.stringify(rec.tokenizer), "application/json"],
      ];
      links.replaceChildren(
        ...files.map(([name, data, type]) => {
          const blob = new Blob([data], {type});
          const url = URL.createObjectURL(blob);
          urls.push(url);
          return h(
            "li",
            {},
            h("a", {href: url, download: name}, name),
            ` (${blob.size.toLocaleString("en-US")} bytes)`,
          );
        }),
      );
      status.textContent = `Exported the b1.58 model after ${rec.meta.steps} steps. Put the three files in one folder: it is a Hugging Face checkpoint that \`npx bitnet-lab generate <folder>\` runs.`;
    }),
  );

  use.addEventListener("click", () =>
    busy(use, "Saving…", "Could not save in this browser", async () => {
      const rec = await record();
      await opts.save(rec);
      status.replaceChildren(
        `Saved in this browser (step ${rec.meta.steps}). `,
        h("a", {href: opts.forwardHref}, "Open the forward-pass page"),
        " to run it layer by layer.",
      );
    }),
  );

  function update(): void {
    const run = opts.getRun();
    const ok = run.step > 0 && run.state !== "disposed";
    dl.disabled = !ok;
    use.disabled = !ok;
    if (!ok && !status.textContent) status.textContent = "Train at least one step to export.";
    else if (ok && status.textContent === "Train at least one step to export.") status.textContent = "";
  }

  update();
  return {
    element: h("div", {class: "export-panel"}, h("div", {class: "train-buttons"}, dl, use), status, links),
    update,
    dispose: revoke,
  };
}
