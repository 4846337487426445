// Views of "what breaks for ternary" (Train page): what each toggle does with its sources, and the result panel —
// the reader's changed b1.58 against the unchanged one and the fp twin, all three trained on the same batches, with
// the difference plotted and the numbers in words. Redrawn at most once a second while a run trains.
import {
  BREAKS,
  breaksResult,
  changesSummary,
  type BreakToggle,
  type TernaryChanges,
} from "../lib/chapters/train-breaks.js";
import type {TrainRunView} from "../lib/chapters/train.js";
import {bucketMean} from "../lib/chapters/train-series.js";
import {ternaryStartStep} from "../lib/train/config.js";
import {fmt} from "../lib/chapters/format.js";
import {lineChart, statCards} from "./charts.js";
import {h} from "./dom.js";
import {smooth} from "./train-charts.js";

/** The toggle's effect on the reader's run and where it was measured (links open the source). */
export function breakSources(t: BreakToggle): HTMLElement {
  return h(
    "div",
    {class: "break-sources", "data-break": t.key},
    h("p", {}, t.does),
    h(
      "ul",
      {},
      t.sources.map((s) => h("li", {}, h("a", {href: s.href, rel: "noreferrer"}, s.text))),
    ),
  );
}

/** The toggles' descriptions in page order (the controls themselves come from the page's PageState). */
export function breakToggles(controls: Record<keyof TernaryChanges, HTMLElement>): HTMLElement {
  return h(
    "fieldset",
    {class: "train-breaks"},
    h("legend", {}, "Change the b1.58 recipe (a third model trains with your changes)"),
    BREAKS.map((t) => h("div", {class: "break-toggle"}, controls[t.key], breakSources(t))),
  );
}

const POINTS = 150;

/** The result chart and numbers for a run (or a note when the run has no changes). */
export function breaksView(run: TrainRunView, width: number): HTMLElement {
  const changes = run.settings.changes;
  const summary = changes ? changesSummary(changes) : "";
  if (!summary || !run.configs.changed)
    return h(
      "p",
      {class: "breaks-none", "data-breaks": "none"},
      "No change is set: the run trains the papers' b1.58 recipe and its fp twin. Set a change above and a third model — b1.58 with your changes — trains beside them on the same batches.",
    );
  const res = breaksResult(run.points, run.evals);
  const head = h("p", {class: "breaks-summary"}, h("strong", {}, "Your changes: "), `${summary}.`);
  if (!res || res.steps < 2)
    return h(
      "div",
      {class: "breaks-result", "data-breaks": "waiting"},
      head,
      h("p", {}, "Start training to see them."),
    );
  const pts = run.points.filter((p) => p.changedLoss !== undefined);
  const alpha = Math.min(1, 2 / (Math.max(2, Math.round(pts.length / 20)) + 1));
  const line = (f: (p: (typeof pts)[number]) => number) =>
    smooth(
      bucketMean(
        pts.map((p) => ({x: p.step, y: f(p)})),
        POINTS,
      ),
      alpha,
    );
  const base = line((p) => p.bitnetLoss);
  const ch = line((p) => p.changedLoss!);
  const ev = run.evals.filter((e) => e.changed !== undefined);
  const switchStep = ternaryStartStep(run.configs.changed);
  const marks =
    switchStep > 0 && pts.at(-1)!.step >= switchStep
      ? [{x: switchStep, y: 0, label: `switch to ternary (step ${switchStep})`}]
      : [];
  const diff = lineChart(
    [
      {
        name: "your changes − papers' recipe (train, smoothed)",
        points: ch.map((p, i) => ({x: p.x, y: p.y - (base[i]?.y ?? NaN)})).filter((p) => Number.isFinite(p.y)),
      },
      ...(ev.length
        ? [
            {
              name: "your changes − papers' recipe (validation)",
              points: ev.map((e) => ({x: e.step, y: e.changed! - e.bitnet})),
              dash: "2,3",
            },
          ]
        : []),
    ],
    {
      width,
      height: 200,
      xLabel: "step",
      yLabel: "loss difference (nats/token)",
      maxMarkers: 12,
      ruleY: [0],
      marks,
      caption:
        "What your changes did: the changed b1.58 model's loss minus the unchanged one's, same seed and batches (above 0: the change costs loss)",
      source: "computed live in this browser",
      yFormat: (v) => fmt(v, 2),
    },
  );
  diff.setAttribute("data-chart", "breaks-diff");
  const d = res.changed - res.base;
  const verdict =
    Math.abs(d) < 0.01
      ? "about the same as"
      : d > 0
        ? `${fmt(d, 2)} nats/token worse than`
        : `${fmt(-d, 2)} nats/token better than`;
  const text = h(
    "p",
    {class: "breaks-verdict"},
    `Over the last ${res.window} steps the changed model's training loss is ${verdict} the papers' recipe (${fmt(res.changed, 4)} against ${fmt(res.base, 4)}; fp twin ${fmt(res.fp, 4)}).`,
    res.val
      ? ` On the held-out years at step ${res.val.step}: ${fmt(res.val.changed, 4)} against ${fmt(res.val.base, 4)}.`
      : "",
  );
  const cards = statCards([
    {id: "breaks-base", label: "Papers' recipe", value: fmt(res.base, 4), note: "b1.58, training loss"},
    {id: "breaks-changed", label: "Your changes", value: fmt(res.changed, 4), note: "b1.58, training loss"},
    {id: "breaks-fp", label: "fp twin", value: fmt(res.fp, 4), note: "training loss"},
    ...(res.val
      ? [
          {
            id: "breaks-val",
            label: "Validation",
            value: `${fmt(res.val.changed, 4)}`,
            note: `papers' ${fmt(res.val.base, 4)}`,
          },
        ]
      : []),
  ]);
  return h(
    "div",
    {
      class: "breaks-result",
      "data-breaks": "shown",
      "data-base-loss": String(res.base),
      "data-changed-loss": String(res.changed),
      ...(res.val ? {"data-val-base": String(res.val.base), "data-val-changed": String(res.val.changed)} : {}),
    },
    head,
    cards,
    diff,
    text,
  );
}

/** The result panel, kept up to date from the page's dashboard: at most one redraw a second. */
export function breaksPanel(opts: {getRun: () => TrainRunView; width: () => number; start?: () => void}): {
  element: HTMLElement;
  update(): void;
  dispose(): void;
} {
  const element = h("section", {class: "breaks-panel", "aria-label": "What your changes did"});
  // The toggles sit below the dashboard: a run with changes can start from here.
  const start = h(
    "button",
    {type: "button", class: "lab-button primary", "data-breaks-start": ""},
    "Train with these changes",
  );
  start.addEventListener("click", () => opts.start?.());
  const body = h("div", {});
  element.append(body);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last = 0;
  let disposed = false;
  const draw = () => {
    timer = null;
    last = performance.now();
    if (disposed) return;
    const run = opts.getRun();
    body.replaceChildren(breaksView(run, opts.width()));
    const canStart = Boolean(opts.start && run.configs.changed) && (run.state === "ready" || run.state === "paused");
    if (canStart && !start.isConnected) element.prepend(h("div", {class: "train-buttons"}, start));
    else if (!canStart) start.parentElement?.remove();
  };
  draw();
  return {
    element,
    update() {
      if (timer || disposed) return;
      timer = setTimeout(draw, Math.max(0, last + 1000 - performance.now()));
    },
    dispose() {
      disposed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
