// General charts for the chapters (Observable Plot), each returned inside a <figure> with a caption that
// names its source (paper equation or table, or "computed live") and a data-table alternative.
import * as Plot from "@observablehq/plot";
import type {Bin} from "../lib/chapters/stats.js";
import {fmt} from "../lib/chapters/format.js";
import {breakable, h} from "./dom.js";
import {dataTable} from "./table.js";
import {animateChart, transitionKey} from "./transitions.js";
import type {Column} from "./table.js";

export interface FigureOptions {
  /** What the figure shows (becomes the caption and the chart's accessible name). */
  caption: string;
  /** Where the numbers come from, e.g. "Computed live on data/models/b1.58, layer 2 · b1.58 eq. 1–3". */
  source?: string;
}

/** Plot labels every mark's <g> with aria-label ("rect", "rule"), which ARIA forbids on an element without a
 *  role and which says nothing to a listener. The chart keeps one accessible name (role="img" on its <svg>);
 *  the numbers are in the data table next to it. */
export function tidyPlot(chart: Node): void {
  if (!(chart instanceof Element)) return;
  for (const g of chart.querySelectorAll("g[aria-label]")) g.removeAttribute("aria-label");
  const svgs = chart.matches("svg") ? [chart] : Array.from(chart.querySelectorAll("svg"));
  for (const svg of svgs) {
    if (svg.hasAttribute("aria-label") && !svg.hasAttribute("role")) svg.setAttribute("role", "img");
    else if (!svg.hasAttribute("aria-label") && !svg.hasAttribute("role")) svg.setAttribute("aria-hidden", "true"); // legend swatches
  }
}

/** A <figure> with the chart, a caption (with its source) and a data table. */
export function figure(chart: Node, opts: FigureOptions & {table?: HTMLElement; className?: string}): HTMLElement {
  tidyPlot(chart);
  // redrawn when a control moves: bars and lines move from the last drawing (components/transitions.ts)
  animateChart(chart, transitionKey(opts.caption));
  return h(
    "figure",
    {class: `lab-figure ${opts.className ?? ""}`.trim()},
    chart,
    h("figcaption", {}, opts.caption, opts.source ? h("span", {class: "source"}, ` Source: ${opts.source}.`) : null),
    opts.table ?? null,
  );
}

const plotDefaults = (width: number, caption: string) => ({
  width: Math.max(280, width),
  style: {fontSize: "12px", overflow: "visible"} as Partial<CSSStyleDeclaration>,
  ariaLabel: caption,
  marginLeft: 48,
});

export interface HistogramOptions extends FigureOptions {
  width: number;
  height?: number;
  xLabel: string;
  yLabel?: string;
  /** Vertical reference lines, e.g. the ±γ/2 thresholds. */
  rules?: {x: number; label: string}[];
  /** Colour each bin (e.g. by the ternary code it maps to). */
  binColor?: (b: Bin) => string;
  /** Labels drawn at the top of the chart in data coordinates (e.g. "→ 0" over the zero band). */
  labels?: {x: number; text: string}[];
  logY?: boolean;
  fill?: string;
}

export function histogramChart(bins: Bin[], opts: HistogramOptions): HTMLElement {
  const chart = Plot.plot({
    ...plotDefaults(opts.width, opts.caption),
    height: opts.height ?? 220,
    x: {label: opts.xLabel, tickFormat: (d: number) => fmt(d, 2)},
    y: {
      label: opts.yLabel ?? (opts.logY ? "count (log scale)" : "count"),
      grid: true,
      type: opts.logY ? "symlog" : "linear",
      ticks: opts.logY
        ? [0, 1, 10, 100, 1000, 10000, 100000, 1000000].filter((t) => t <= Math.max(1, ...bins.map((b) => b.count)))
        : undefined,
      tickFormat: (d: number) => fmt(d, 3),
    },
    marks: [
      Plot.rectY(bins, {
        x1: "x0",
        x2: "x1",
        y: "count",
        fill: opts.binColor ? (b: Bin) => opts.binColor!(b) : (opts.fill ?? "var(--theme-foreground-focus, #0072b2)"),
        insetLeft: 0.5,
        insetRight: 0.5,
      }),
      Plot.ruleY([0]),
      ...(opts.rules?.length
        ? [
            Plot.ruleX(opts.rules, {x: "x", stroke: "currentColor", strokeDasharray: "4,3"}),
            Plot.text(opts.rules, {
              x: "x",
              text: "label",
              frameAnchor: "top",
              dy: -4,
              lineAnchor: "bottom",
              fontSize: 11,
            }),
          ]
        : []),
      ...(opts.labels?.length
        ? [Plot.text(opts.labels, {x: "x", text: "text", frameAnchor: "top", dy: 14, fontWeight: "bold"})]
        : []),
    ],
  });
  const rows = bins.map((b) => ({from: b.x0, to: b.x1, count: b.count}));
  const columns: Column<(typeof rows)[number]>[] = [
    {key: "from", label: `${opts.xLabel} from`, format: (v) => fmt(v as number, 4), numeric: true},
    {key: "to", label: "to", format: (v) => fmt(v as number, 4), numeric: true},
    {key: "count", label: "count", numeric: true},
  ];
  return figure(chart, {...opts, table: dataTable(rows, {caption: opts.caption, columns})});
}

export interface LineSeries {
  name: string;
  points: {x: number; y: number}[];
  /** A dash pattern for this series' line (so two close curves read apart without colour). */
  dash?: string;
}

export interface LineOptions extends FigureOptions {
  width: number;
  height?: number;
  xLabel: string;
  yLabel: string;
  logY?: boolean;
  /** Marked points (e.g. the paper's operating point). */
  marks?: {x: number; y: number; label: string}[];
  xTicks?: number[];
  yFormat?: (v: number) => string;
  /** At most this many markers per series, evenly spaced (every point had one: 400 steps drew a solid band). */
  maxMarkers?: number;
  /** Horizontal rules, e.g. a zero line under a difference. */
  ruleY?: number[];
}

/** Okabe–Ito colours (colour-blind safe), the palette of every chart; series also differ by symbol and dash so
 *  colour is never the only cue. */
export const OKABE_ITO = {
  vermillion: "#D55E00",
  orange: "#E69F00",
  purple: "#CC79A7",
  blue: "#0072B2",
  green: "#009E73",
  sky: "#56B4E9",
  yellow: "#F0E442",
  black: "#000000",
} as const;

const {blue, vermillion, green, purple, orange, sky} = OKABE_ITO;
const SERIES_COLORS = [blue, vermillion, green, purple, orange, sky];
const SERIES_SYMBOLS = ["circle", "square", "triangle", "diamond", "cross", "star"] as const;

/** The given ticks, dropping any that would sit closer than `gap` px to the previous kept one on a linear axis
 *  of `px` pixels over [lo, hi] (the sparsity chart's K = 0.05, 0.1, 0.15 … labels ran into each other). */
export function spreadTicks(ticks: readonly number[], lo: number, hi: number, px: number, gap = 40): number[] {
  const at = (t: number) => (hi > lo ? ((t - lo) / (hi - lo)) * px : 0);
  const out: number[] = [];
  for (const t of [...ticks].sort((a, b) => a - b))
    if (!out.length || at(t) - at(out[out.length - 1]) >= gap) out.push(t);
  return out;
}

/** Lines with a distinct colour AND point symbol per series (readable without colour). */
/** Every series' points thinned to at most `n` evenly spaced ones (the first and last kept), for markers. */
function thinned<T extends {series: string}>(data: T[], series: LineSeries[], n: number): T[] {
  return series.flatMap((sr) => {
    const d = data.filter((x) => x.series === sr.name);
    if (d.length <= n) return d;
    const step = (d.length - 1) / (n - 1);
    return Array.from({length: n}, (_, i) => d[Math.round(i * step)]);
  });
}

export function lineChart(series: LineSeries[], opts: LineOptions): HTMLElement {
  const data = series.flatMap((s, i) => s.points.map((p) => ({...p, series: s.name, i})));
  const names = series.map((s) => s.name);
  const height = opts.height ?? 240;
  // Tick counts from the room there is (labels collided on half-width charts: the schedule, flips, γ), and mark
  // labels written away from the nearer edge, with a halo, so a "● now" near the end is not cut off.
  const xs = data.map((d) => d.x);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const nearEnd = (x: number) => x1 > x0 && (x - x0) / (x1 - x0) > 0.6;
  // A mark is a dot on its point and a label beside it (a "●" inside the label text sat off the point).
  const markText = (opts.marks ?? []).flatMap((m) => [
    Plot.dot([m], {x: "x", y: "y", r: 4, fill: "currentColor"}),
    Plot.text([{...m, label: m.label.replace(/^●\s*/, "")}], {
      x: "x",
      y: "y",
      text: "label",
      dy: -10,
      dx: nearEnd(m.x) ? -6 : 6,
      textAnchor: nearEnd(m.x) ? "end" : "start",
      fontWeight: "bold",
      stroke: "var(--theme-background)",
      strokeWidth: 3,
      fill: "currentColor",
    }),
  ]);
  const chart = Plot.plot({
    ...plotDefaults(opts.width, opts.caption),
    height,
    x: {
      label: opts.xLabel,
      ticks: opts.xTicks ? spreadTicks(opts.xTicks, x0, x1, opts.width - 80) : Math.max(2, Math.floor(opts.width / 90)),
      tickFormat: (d: number) => fmt(d, 3),
    },
    y: {
      label: opts.yLabel,
      grid: true,
      type: opts.logY ? "log" : "linear",
      ticks: opts.logY ? undefined : Math.max(2, Math.floor(height / 45)),
      tickFormat: opts.yFormat ?? ((d: number) => fmt(d, 2)),
    },
    color: {domain: names, range: SERIES_COLORS.slice(0, names.length), legend: true},
    symbol: {domain: names, range: SERIES_SYMBOLS.slice(0, names.length) as unknown as string[]},
    marks: [
      ...(opts.ruleY ?? []).map((y) => Plot.ruleY([y], {stroke: "currentColor", strokeOpacity: 0.5})),
      ...series.map((sr) =>
        Plot.line(
          data.filter((d) => d.series === sr.name),
          {x: "x", y: "y", stroke: "series", strokeWidth: 2, strokeDasharray: sr.dash, className: "lab-line"},
        ),
      ),
      Plot.dot(opts.maxMarkers ? thinned(data, series, opts.maxMarkers) : data, {
        x: "x",
        y: "y",
        stroke: "series",
        symbol: "series",
        r: 3.5,
        tip: true,
        className: "lab-markers",
      }),
      ...markText,
    ],
  });
  const rows = data.map((d) => ({series: d.series, x: d.x, y: d.y}));
  return figure(chart, {
    ...opts,
    table: dataTable(rows, {
      caption: opts.caption,
      columns: [
        {key: "series", label: "series"},
        {key: "x", label: opts.xLabel, format: (v) => fmt(v as number, 4), numeric: true},
        {
          key: "y",
          label: opts.yLabel,
          format: (v) => (opts.yFormat ?? ((n: number) => fmt(n, 4)))(v as number),
          numeric: true,
        },
      ],
    }),
  });
}

export interface BarRow {
  label: string;
  value: number;
  group: string;
}

export interface BarOptions extends FigureOptions {
  width: number;
  height?: number;
  xLabel: string;
  format?: (v: number) => string;
  /** Max of the value axis (e.g. 100 for percentages). */
  max?: number;
}

/** Grouped horizontal bars (e.g. measured vs paper per component); groups differ by colour and pattern
 *  (solid, dotted, outlined), always come in the same order, and every bar carries its value as text. */
export function groupedBars(rows: BarRow[], opts: BarOptions): HTMLElement {
  const groups = [...new Set(rows.map((r) => r.group))];
  const labels = [...new Set(rows.map((r) => r.label))];
  const format = opts.format ?? ((v: number) => fmt(v, 3));
  const chart = Plot.plot({
    ...plotDefaults(opts.width, opts.caption),
    marginLeft: 90,
    marginRight: 48,
    height: opts.height ?? Math.max(120, labels.length * groups.length * 18 + 60),
    x: {
      label: opts.xLabel,
      grid: true,
      domain: opts.max !== undefined ? [0, opts.max] : undefined,
      tickFormat: (d: number) => fmt(d, 3),
    },
    y: {domain: groups, label: null, axis: null},
    fy: {domain: labels, label: null},
    color: {domain: groups, range: SERIES_COLORS.slice(0, groups.length), legend: true},
    marks: [
      Plot.barX(rows, {x: "value", y: "group", fy: "label", fill: "group", inset: 1}),
      // The second group is hatched so the two read apart without colour.
      Plot.barX(
        rows.filter((r) => groups.indexOf(r.group) % 3 === 1),
        {x: "value", y: "group", fy: "label", fill: "none", stroke: "white", strokeDasharray: "2,3", inset: 3},
      ),
      // The third is outlined in the text colour.
      Plot.barX(
        rows.filter((r) => groups.indexOf(r.group) % 3 === 2),
        {x: "value", y: "group", fy: "label", fill: "none", stroke: "currentColor", strokeWidth: 1.5, inset: 1},
      ),
      Plot.text(rows, {
        x: "value",
        y: "group",
        fy: "label",
        text: (r: BarRow) => format(r.value),
        dx: 4,
        textAnchor: "start",
        fontSize: 11,
      }),
      Plot.ruleX([0]),
    ],
  });
  const tableRows = labels.map((l) => {
    const r: Record<string, string> = {component: l};
    for (const g of groups) {
      const hit = rows.find((x) => x.label === l && x.group === g);
      r[g] = hit ? format(hit.value) : "—";
    }
    return r;
  });
  return figure(chart, {
    ...opts,
    table: dataTable(tableRows, {
      caption: opts.caption,
      columns: [{key: "component", label: "component"}, ...groups.map((g) => ({key: g, label: g, numeric: true}))],
    }),
  });
}

export interface StatCard {
  label: string;
  value: string;
  note?: string;
  /** data-stat attribute (for tests). */
  id?: string;
}

/** A row of labelled numbers (γ, error, kurtosis, …): a definition list, so it reads as label → value. */
export function statCards(cards: StatCard[]): HTMLElement {
  return h(
    "dl",
    {class: "stat-cards"},
    cards.map((c) =>
      h(
        "div",
        {class: "stat-card", "data-stat": c.id ?? null},
        h("dt", {}, c.label),
        h("dd", {}, breakable(c.value), c.note ? h("small", {}, c.note) : null),
      ),
    ),
  );
}

/** A labelled progress bar for long work; set(value in [0, 1], label?) updates it. */
export function progressBar(label: string): HTMLElement & {set(f: number, text?: string): void} {
  const bar = h("progress", {max: 1, value: 0});
  const text = h("span", {}, label);
  const el = h("div", {class: "lab-progress", role: "status"}, bar, " ", text) as unknown as HTMLElement & {
    set(f: number, text?: string): void;
  };
  el.set = (f: number, t?: string) => {
    bar.value = f;
    if (t) text.textContent = t;
  };
  return el;
}
