// Views of the forward-pass chapter: streamed text, the layer-by-layer inspector heatmap and the Verify report.
// Each is a function (data, options) → Node; the page owns the model runs.
import * as d3 from "d3";
import {fmt, pct} from "../lib/chapters/format.js";
import type {LogitsComparison} from "../lib/verify.js";
import {h, s} from "./dom.js";
import {dataTable} from "./table.js";

export interface StreamView extends HTMLElement {
  /** Appends one generated piece of text. */
  push(text: string): void;
  /** Updates the status line (tokens, speed, backend). */
  status(text: string): void;
  /** Marks the run finished (or failed) for readers and tests. */
  done(state: "done" | "stopped" | "error" | "refused", text?: string): void;
  /** A plain-words notice above the status line (e.g. the GPU was lost and the run carried on elsewhere). */
  notice(text: string): void;
}

/** The prompt (dimmed) followed by generated tokens as they arrive; one span per token so token boundaries show. */
export function tokenStream(prompt: string, opts: {label: string}): StreamView {
  const out = h(
    "div",
    {class: "token-stream", "aria-live": "polite", "aria-label": opts.label},
    h("span", {class: "prompt-text"}, prompt),
  );
  const line = h("div", {class: "stream-status", role: "status"}, "starting…");
  const root = h(
    "div",
    {class: "stream", "data-state": "running"},
    h("div", {class: "stream-label"}, opts.label),
    out,
    line,
  ) as unknown as StreamView;
  let n = 0;
  root.push = (text: string) => {
    out.append(h("span", {class: `tok tok-${n++ % 2}`, title: JSON.stringify(text)}, text));
  };
  root.status = (text: string) => {
    line.textContent = text;
  };
  root.done = (state, text) => {
    root.setAttribute("data-state", state);
    if (text !== undefined) line.textContent = text;
  };
  root.notice = (text: string) => {
    root.insertBefore(h("p", {class: "notice stream-notice", role: "alert"}, text), line);
  };
  return root;
}

export interface HeatmapOptions {
  caption: string;
  source: string;
  /** Row labels (e.g. "layer 0"), top to bottom. */
  rows: string[];
  /** Column labels (e.g. the prompt's tokens). */
  cols: string[];
  /** Formats a value for tooltips and the table. */
  format?: (v: number) => string;
  width: number;
  /** Colour domain; defaults to [min, max] of the values. */
  domain?: [number, number];
}

/** A rows × cols grid of values (row-major), sequential colour scale (viridis: colour-blind safe, monotone in
 *  lightness), value in each cell's tooltip, with a data-table alternative. */
export function heatmap(values: ArrayLike<number>, opts: HeatmapOptions): HTMLElement {
  const R = opts.rows.length;
  const C = opts.cols.length;
  if (values.length !== R * C) throw new Error(`heatmap: ${values.length} values for ${R}×${C} cells`);
  const f = opts.format ?? ((v: number) => fmt(v, 3));
  const all = Array.from(values);
  const domain = opts.domain ?? [d3.min(all) ?? 0, d3.max(all) ?? 1];
  const color = d3
    .scaleSequential(d3.interpolateViridis)
    .domain(domain[0] === domain[1] ? [domain[0], domain[0] + 1] : domain);
  const left = 64;
  const top = 8;
  const bottom = 56;
  const cw = Math.max(8, Math.min(40, (opts.width - left - 8) / Math.max(1, C)));
  const ch = Math.max(14, Math.min(28, 240 / Math.max(1, R)));
  const W = left + cw * C + 8;
  const H = top + ch * R + bottom;
  const svg = s("svg", {
    width: W,
    height: H,
    viewBox: `0 0 ${W} ${H}`,
    role: "img",
    "aria-label": opts.caption,
    class: "heatmap",
  });
  for (let r = 0; r < R; r++) {
    svg.append(
      s("text", {x: left - 6, y: top + ch * r + ch / 2 + 4, "text-anchor": "end", "font-size": 11}, opts.rows[r]),
    );
    for (let c = 0; c < C; c++) {
      const v = values[r * C + c];
      svg.append(
        s(
          "rect",
          {
            x: left + cw * c,
            y: top + ch * r,
            width: cw - 1,
            height: ch - 1,
            fill: Number.isFinite(v) ? color(v) : "#ccc",
          },
          s("title", {}, `${opts.rows[r]}, ${opts.cols[c]}: ${f(v)}`),
        ),
      );
    }
  }
  for (let c = 0; c < C; c++) {
    const x = left + cw * c + cw / 2;
    const y = top + ch * R + 6;
    svg.append(
      s(
        "text",
        {x, y, transform: `rotate(50 ${x} ${y})`, "font-size": 10},
        opts.cols[c].length > 10 ? `${opts.cols[c].slice(0, 9)}…` : opts.cols[c],
      ),
    );
  }
  const legend = h(
    "div",
    {class: "heatmap-legend"},
    h("span", {}, f(domain[0])),
    h("span", {
      class: "heatmap-ramp",
      style: `background: linear-gradient(to right, ${d3
        .range(0, 1.01, 0.1)
        .map((t) => d3.interpolateViridis(t))
        .join(",")})`,
    }),
    h("span", {}, f(domain[1])),
  );
  const rowsForTable = opts.rows.map((label, r) => {
    const row: Record<string, string> = {row: label};
    opts.cols.forEach((col, c) => (row[`c${c}`] = f(values[r * C + c])));
    return row;
  });
  const table = dataTable(rowsForTable, {
    caption: opts.caption,
    columns: [{key: "row", label: ""}, ...opts.cols.map((col, c) => ({key: `c${c}`, label: col, numeric: true}))],
  });
  return h(
    "figure",
    {class: "lab-figure"},
    h("div", {class: "heatmap-scroll"}, svg),
    legend,
    h("figcaption", {}, opts.caption, h("span", {class: "source"}, ` Source: ${opts.source}.`)),
    table,
  );
}

/** PASS/FAIL card of a GPU-vs-CPU comparison. */
export function verifyReport(r: LogitsComparison, opts: {what: string; gpuMs?: number; cpuMs?: number}): HTMLElement {
  return h(
    "div",
    {class: `verify verify--${r.pass ? "pass" : "fail"}`, role: "status", "data-verdict": r.pass ? "pass" : "fail"},
    h("strong", {}, r.pass ? "PASS" : "FAIL"),
    ` — ${opts.what}: max |Δlogit| = ${fmt(r.maxAbsDiff, 3)} (tolerance ${fmt(r.tolerance, 2)}, ${pct(r.maxRelDiff, 3)} of the largest logit); greedy token agrees at ${r.argmaxAgree} of ${r.positions} positions.`,
    opts.gpuMs !== undefined && opts.cpuMs !== undefined
      ? ` GPU ${fmt(opts.gpuMs, 3)} ms, CPU ${fmt(opts.cpuMs, 3)} ms.`
      : "",
  );
}
