// Views for the cost chapter (and the kernel lab's roofline): pure functions (data, options) → Node. Every chart is a
// shared figure() with a caption and a dataTable() holding the same numbers (for screen readers, and for anyone who
// wants the values), coloured from the shared palette.
import * as Plot from "@observablehq/plot";
import {figure, OKABE_ITO} from "./charts.js";
import {type Column, dataTable} from "./table.js";

export interface CurveSeries {
  key: string;
  label: string;
  color: string;
  symbol?: "circle" | "square" | "triangle" | "diamond" | "cross" | "star" | "wye" | "times";
  dash?: string;
  /** Points only, no line through them (kinds of measured kernels on a roofline). */
  points?: boolean;
}

export interface CurvePoint {
  series: string;
  x: number;
  y: number;
  /** Shown in the data table's first column instead of the formatted x. */
  xLabel?: string;
}

export interface MeasuredMark {
  x: number;
  y: number;
  label: string;
}

export interface CurveOptions {
  title: string;
  caption?: string;
  width?: number;
  height?: number;
  x: {label: string; log?: boolean; format?: (v: number) => string};
  y: {label: string; log?: boolean; format?: (v: number) => string};
  series: CurveSeries[];
  /** Vertical rules (e.g. the memory-limited batch), labelled. */
  rules?: {x: number; label: string}[];
  /** Measured points drawn on top of the predicted curves. */
  measured?: MeasuredMark[];
  /** An x to emphasise (the selected model). */
  highlightX?: number;
}

/** Framework's `width` can be 0 before layout; never draw narrower than the margins need. Drawn at the column's
 *  own width (a 360 px chart scaled into a phone's 311 px column had 8.6 px text), as charts.ts does. */
const chartWidth = (w: number | undefined) => Math.max(280, w ?? 640);

const fmtDefault = (v: number) =>
  Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-2) ? v.toPrecision(3) : String(Number(v.toPrecision(3)));

/** The chart in a figure: "title — caption" under it, its numbers in a collapsed data table. */
function costFigure<R extends object>(
  o: {title: string; caption?: string},
  chart: Element,
  rows: readonly R[],
  columns: Column<R>[],
  tableCaption = o.title,
): HTMLElement {
  const caption = o.caption ? `${o.title} — ${o.caption}` : o.title;
  const table = dataTable(rows, {caption: tableCaption, columns, rowHeader: true, summary: "Data table"});
  return figure(chart, {caption, table, className: "cost-figure"});
}

/** The data table of a curveFigure: one row per x, one column per series, measured points below. (Points-only
 *  series get a row per point, named by its xLabel: several kernels share one x.) */
function curveTableRows(
  rows: readonly CurvePoint[],
  o: CurveOptions,
  xf: (v: number) => string,
  yf: (v: number) => string,
): {x: number; label: string; values: string[]}[] {
  const pointKeys = new Set(o.series.filter((s) => s.points).map((s) => s.key));
  const lineRows = rows.filter((r) => !pointKeys.has(r.series));
  const xs = [...new Set(lineRows.map((r) => r.x))].sort((a, b) => a - b);
  const byKey = new Map(lineRows.map((r) => [`${r.series}@${r.x}`, r]));
  const tableRows: {x: number; label: string; values: string[]}[] = xs.map((x) => ({
    x,
    label: lineRows.find((r) => r.x === x)?.xLabel ?? xf(x),
    values: o.series.map((s) => {
      const r = byKey.get(`${s.key}@${x}`);
      return r ? yf(r.y) : pointKeys.has(s.key) ? "" : "—";
    }),
  }));
  for (const r of rows.filter((r) => pointKeys.has(r.series)))
    tableRows.push({
      x: r.x,
      label: `${r.xLabel ?? xf(r.x)} (${xf(r.x)})`,
      values: o.series.map((s) => (s.key === r.series ? yf(r.y) : "")),
    });
  for (const m of o.measured ?? [])
    tableRows.push({
      x: m.x,
      label: `${m.label} (measured, ${xf(m.x)})`,
      values: o.series.map((_, i) => (i === 0 ? yf(m.y) : "")),
    });
  return tableRows;
}

/** The rules and measured points of a curveFigure with their labels. Labels near the right edge are written leftwards
 *  (they were cut off), and rule labels are stacked one line apart (two memory limits close together collided). */
function labelMarks(o: CurveOptions, rows: readonly CurvePoint[]): Plot.Markish[] {
  const marks: Plot.Markish[] = [];
  const xs0 = rows.map((r) => r.x).concat((o.measured ?? []).map((m) => m.x));
  const lo = Math.min(...xs0);
  const hi = Math.max(...xs0);
  const pos = (x: number) =>
    o.x.log && lo > 0 ? Math.log(x / lo) / Math.log(hi / lo || 2) : (x - lo) / (hi - lo || 1);
  const side = (x: number) =>
    pos(x) > 0.6 ? {textAnchor: "end" as const, sign: -1} : {textAnchor: "start" as const, sign: 1};
  (o.rules ?? []).forEach((r, i) => {
    const a = side(r.x);
    marks.push(Plot.ruleX([r.x], {stroke: "currentColor", strokeDasharray: "2,3"}));
    marks.push(
      Plot.text([r], {
        x: "x",
        text: "label",
        frameAnchor: "top",
        dx: 4 * a.sign,
        dy: 2 + 14 * i,
        textAnchor: a.textAnchor,
        fontSize: 11,
        stroke: "var(--theme-background)",
        strokeWidth: 3,
        fill: "currentColor",
      }),
    );
  });
  if (o.measured?.length) {
    marks.push(
      Plot.dot(o.measured, {
        x: "x",
        y: "y",
        stroke: OKABE_ITO.black,
        strokeWidth: 2,
        r: 7,
        symbol: "star",
        title: "label",
      }),
    );
    for (const m of o.measured) {
      const a = side(m.x);
      marks.push(
        Plot.text([m], {
          x: "x",
          y: "y",
          text: "label",
          dx: 10 * a.sign,
          textAnchor: a.textAnchor,
          fontSize: 11,
          stroke: "var(--theme-background)",
          strokeWidth: 3,
          fill: "currentColor",
        }),
      );
    }
  }
  return marks;
}

/** Lines over x for several series (model size on a log axis, batch, bytes), measured points on top. */
export function curveFigure(data: readonly CurvePoint[], o: CurveOptions): HTMLElement {
  const xf = o.x.format ?? fmtDefault;
  const yf = o.y.format ?? fmtDefault;
  const keys = o.series.map((s) => s.key);
  const color = {domain: o.series.map((s) => s.label), range: o.series.map((s) => s.color)};
  const labelOf = new Map(o.series.map((s) => [s.key, s.label]));
  const rows = data
    .filter((d) => keys.includes(d.series) && Number.isFinite(d.y) && (!o.y.log || d.y > 0))
    .map((d) => ({...d, name: labelOf.get(d.series)!}));
  const marks: Plot.Markish[] = [];
  if (o.highlightX !== undefined)
    marks.push(Plot.ruleX([o.highlightX], {stroke: "currentColor", strokeOpacity: 0.25, strokeWidth: 6}));
  for (const s of o.series) {
    const d = rows.filter((r) => r.series === s.key);
    if (!s.points) marks.push(Plot.line(d, {x: "x", y: "y", stroke: s.color, strokeWidth: 2, strokeDasharray: s.dash}));
    marks.push(
      Plot.dot(d, {
        x: "x",
        y: "y",
        stroke: s.color,
        fill: s.points ? "none" : s.color,
        strokeWidth: s.points ? 1.8 : 1,
        symbol: () => s.symbol ?? "circle",
        r: s.points ? 5.5 : 3.5,
        title: (r: CurvePoint) => `${s.label}: ${r.xLabel ? `${r.xLabel}, ` : ""}${xf(r.x)} → ${yf(r.y)}`,
      }),
    );
  }
  marks.push(...labelMarks(o, rows));
  const chart = Plot.plot({
    width: chartWidth(o.width),
    height: o.height ?? 320,
    marginLeft: 64,
    marginRight: 20,
    ariaLabel: o.title,
    ariaDescription: o.caption,
    x: {label: o.x.label, type: o.x.log ? "log" : "linear", tickFormat: xf, grid: true},
    y: {label: o.y.label, type: o.y.log ? "log" : "linear", tickFormat: yf, grid: true},
    // With points-only series the legend shows each series' symbol in its colour (one legend, not two).
    color: {...color, legend: !o.series.some((s) => s.points)},
    symbol: {
      domain: o.series.map((s) => s.label),
      range: o.series.map((s) => s.symbol ?? "circle"),
      legend: o.series.some((s) => s.points),
    },
    marks: [
      ...marks,
      // An invisible mark that carries the legend's colour scale (and symbol scale, where series are points).
      Plot.dot(rows, {
        x: "x",
        y: "y",
        stroke: "name",
        ...(o.series.some((s) => s.points) ? {symbol: "name"} : {}),
        r: 0,
        strokeOpacity: 0,
      }),
    ],
  });
  const tableRows = curveTableRows(rows, o, xf, yf);
  return costFigure(
    o,
    chart,
    tableRows,
    [
      {label: o.x.label, value: (r) => r.label},
      ...o.series.map((s, i) => ({
        label: s.label,
        value: (r: (typeof tableRows)[number]) => r.values[i],
        numeric: true,
      })),
    ],
    `${o.title}: ${o.y.label} by ${o.x.label}`,
  );
}

export interface Bar {
  label: string;
  value: number;
  color: string;
  note?: string;
}

/** Horizontal bars (a breakdown: memory by part, parameters by component), with their table. */
export function barFigure(
  bars: readonly Bar[],
  o: {title: string; caption?: string; width?: number; x: {label: string; format?: (v: number) => string}},
): HTMLElement {
  const f = o.x.format ?? fmtDefault;
  const width = chartWidth(o.width);
  // On a phone the bar labels wrap onto a few lines in a narrower margin (200 px of labels left 50 px for the bars).
  const narrow = width < 480;
  const chart = Plot.plot({
    width,
    height: 40 + (narrow ? 40 : 28) * bars.length,
    marginLeft: narrow ? 110 : 200,
    marginRight: 60,
    ariaLabel: o.title,
    ariaDescription: o.caption,
    x: {label: o.x.label, grid: true, tickFormat: f},
    y: {label: null, domain: bars.map((b) => b.label)},
    marks: [
      Plot.barX(bars, {
        y: "label",
        x: "value",
        fill: (b: Bar) => b.color,
        title: (b: Bar) => `${b.label}: ${f(b.value)}${b.note ? ` (${b.note})` : ""}`,
      }),
      Plot.text(bars, {y: "label", x: "value", text: (b: Bar) => f(b.value), dx: 4, textAnchor: "start", fontSize: 11}),
      Plot.ruleX([0]),
      Plot.axisY({label: null, lineWidth: narrow ? 10 : Infinity}),
    ],
  });
  return costFigure(o, chart, bars, [
    {label: "part", value: (b) => b.label},
    {label: o.x.label, value: (b) => f(b.value), numeric: true},
    {label: "note", value: (b) => b.note ?? ""},
  ]);
}
