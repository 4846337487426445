// Views of activations: per-channel magnitudes with the outlier channels marked, and rounding vs clipping
// error as stacked bars.
import * as Plot from "@observablehq/plot";
import type {ErrorSplit} from "../lib/chapters/activations.js";
import {fmt, pct} from "../lib/chapters/format.js";
import {figure} from "./charts.js";
import type {FigureOptions} from "./charts.js";
import {dataTable} from "./table.js";

export interface ChannelOptions extends FigureOptions {
  width: number;
  height?: number;
  /** Channels to mark as outliers (drawn in vermillion with a triangle on top). */
  outliers: readonly number[];
  /** A reference level to draw (e.g. factor × median). */
  threshold?: {value: number; label: string};
  yLabel?: string;
}

/** max |x| per channel as bars; outliers get a colour and a triangle marker (readable without colour). */
export function channelChart(mags: ArrayLike<number>, opts: ChannelOptions): HTMLElement {
  const out = new Set(opts.outliers);
  const data = Array.from({length: mags.length}, (_, c) => ({channel: c, mag: mags[c], outlier: out.has(c)}));
  const chart = Plot.plot({
    width: Math.max(280, opts.width),
    height: opts.height ?? 220,
    marginLeft: 48,
    ariaLabel: opts.caption,
    style: {fontSize: "12px", overflow: "visible"} as Partial<CSSStyleDeclaration>,
    x: {label: "channel", tickFormat: (d: number) => String(d)},
    y: {label: opts.yLabel ?? "max |x| over tokens", grid: true, tickFormat: (d: number) => fmt(d, 3)},
    marks: [
      Plot.rectY(data, {
        x1: (d) => d.channel,
        x2: (d) => d.channel + 1,
        y: "mag",
        fill: (d) => (d.outlier ? "var(--ternary-neg)" : "var(--ternary-zero)"),
      }),
      Plot.dot(
        data.filter((d) => d.outlier),
        {
          x: (d) => d.channel + 0.5,
          y: "mag",
          symbol: "triangle",
          fill: "var(--ternary-neg)",
          r: 4,
          dy: -6,
          tip: true,
          title: (d) => `channel ${d.channel}: ${fmt(d.mag, 3)}`,
        },
      ),
      ...(opts.threshold
        ? [
            Plot.ruleY([opts.threshold.value], {stroke: "currentColor", strokeDasharray: "4,3"}),
            Plot.text([opts.threshold], {y: "value", text: "label", frameAnchor: "right", dy: -6}),
          ]
        : []),
      Plot.ruleY([0]),
    ],
  });
  const rows = data
    .filter((d) => d.outlier)
    .concat(
      data
        .filter((d) => !d.outlier)
        .sort((a, b) => b.mag - a.mag)
        .slice(0, 10),
    );
  return figure(chart, {
    ...opts,
    table: dataTable(rows, {
      caption: `${opts.caption}: the outlier channels, then the ten largest others`,
      columns: [
        {key: "channel", label: "channel", numeric: true},
        {key: "mag", label: opts.yLabel ?? "max |x|", format: (v) => fmt(v as number, 4), numeric: true},
        {key: "outlier", label: "outlier?", format: (v) => (v ? "yes ▲" : "no")},
      ],
    }),
  });
}

export interface ErrorBarsOptions extends FigureOptions {
  width: number;
}

/** Rounding (solid) and clipping (hatched, outlined) parts of the error per quantizer, as stacked bars. */
export function errorSplitChart(rows: (ErrorSplit & {name: string})[], opts: ErrorBarsOptions): HTMLElement {
  const data = rows.flatMap((r) => [
    {name: r.name, part: "rounding", value: r.rounding / (r.total / r.relative || 1)},
    {name: r.name, part: "clipping", value: r.clipping / (r.total / r.relative || 1)},
  ]);
  const chart = Plot.plot({
    width: Math.max(280, opts.width),
    height: 40 + rows.length * 34,
    marginLeft: 130,
    ariaLabel: opts.caption,
    style: {fontSize: "12px", overflow: "visible"} as Partial<CSSStyleDeclaration>,
    x: {label: "relative error (share of the activations' energy)", grid: true, tickFormat: (d: number) => fmt(d, 2)},
    y: {label: null, domain: rows.map((r) => r.name)},
    color: {domain: ["rounding", "clipping"], range: ["#0072b2", "#e69f00"], legend: true},
    marks: [
      // The clipping part is also outlined with a dashed line, so the two parts differ without colour.
      Plot.barX(
        data,
        Plot.stackX({
          x: "value",
          y: "name",
          fill: "part",
          stroke: (d: {part: string}) => (d.part === "clipping" ? "currentColor" : "none"),
          strokeDasharray: "3,2",
          inset: 2,
        }),
      ),
      Plot.ruleX([0]),
    ],
  });
  return figure(chart, {
    ...opts,
    table: dataTable(rows, {
      caption: opts.caption,
      columns: [
        {key: "name", label: "quantizer"},
        {key: "rounding", label: "rounding MSE", format: (v) => fmt(v as number, 3), numeric: true},
        {key: "clipping", label: "clipping MSE", format: (v) => fmt(v as number, 3), numeric: true},
        {key: "relative", label: "relative error", format: (v) => fmt(v as number, 3), numeric: true},
        {key: "clippedFraction", label: "values clipped", format: (v) => pct(v as number, 2), numeric: true},
      ],
    }),
  });
}
