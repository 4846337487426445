// Views of chapter 6 (train your own): the training dashboard — Start / Pause / Resume / Reset, live numbers,
// the loss of both models, latent weights against their ternary codes, the flip rate, γ per layer and the
// LR/WD schedule (the charts: train-charts.ts; the numbers: train-numbers.ts; the export panel: train-export.ts).
// The page's main thread stays free for clicks while a run trains (in a worker): the live numbers are updated in
// place at most NUMBERS_MS apart, the charts at most once a second, each chart in its own task (so no single task
// holds a click for long), only charts that changed and are on screen (the rest when they scroll into view), and
// the schedule chart only when its "now" mark has moved visibly.
import type {LinearName} from "../lib/config.js";
import type {TrainRunView} from "../lib/chapters/train.js";
import {progressBar, statCards} from "./charts.js";
import {breakable, h, prefersReducedMotion} from "./dom.js";
import {runNumbers, duration} from "./train-numbers.js";
import {flipChart, gammaChart, lossChart, scheduleCharts, weightsView} from "./train-charts.js";

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

/** The live numbers (step, loss, tokens/s …) are rewritten at most this often. */
const NUMBERS_MS = 250;
/** The schedule chart's "now" mark is redrawn when it has moved this share of the run. */
const SCHEDULE_MARK_SHARE = 0.02;
type ChartKey = keyof ChartFlags;
const CHART_KEYS: ChartKey[] = ["loss", "weights", "flips", "gamma", "schedule"];

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
    const {data, cards} = runNumbers(r, this.opts.backend);
    Object.assign(this.element.dataset, data);
    this.progress.set(r.step / r.steps, `Step ${r.step} of ${r.steps}`);
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
