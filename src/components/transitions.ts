// Animated transitions for the shared charts (issue 24, linked views): when a control moves, a chapter's cell draws
// its chart again; the new chart's bars and lines move from where the same chart's last drawing had them (bars grow
// from the baseline the first time) over ~250 ms. Nothing moves under prefers-reduced-motion: reduce.
import {select} from "d3";

export const TRANSITION_MS = 250;

interface Geometry {
  rects: {y: number; height: number}[];
  paths: string[];
}

/** The last geometry drawn per chart key (the caption without its numbers: the same chart at another layer). */
const last = new Map<string, Geometry>();

export const reducedMotion = (): boolean =>
  typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;

/** The chart's key: its caption with numbers taken out, so "layer 3" and "layer 4" are the same chart. */
export const transitionKey = (caption: string): string => caption.replace(/[\d.,−-]+/g, "#").replace(/\s+/g, " ");

/** Animate a freshly drawn Plot chart's bar rects and line paths from their last drawing (marks in the chart's
 *  own <g>s; legend swatches and axes are left alone). */
export function animateChart(chart: Node, key: string): void {
  if (!(chart instanceof Element)) return;
  const svg = chart.matches("svg") ? chart : chart.querySelector("svg[role='img'], svg");
  if (!svg) return;
  const rects = Array.from(svg.querySelectorAll<SVGRectElement>("g > rect")).filter((r) => r.hasAttribute("height"));
  const paths = Array.from(svg.querySelectorAll<SVGPathElement>("g[fill='none'] > path, g > path[fill='none']"));
  const now: Geometry = {
    rects: rects.map((r) => ({y: Number(r.getAttribute("y")), height: Number(r.getAttribute("height"))})),
    paths: paths.map((p) => p.getAttribute("d") ?? ""),
  };
  const before = last.get(key);
  last.set(key, now);
  // no animation without a real browser (unit tests' DOM) or when the reader asked for less motion
  if (typeof matchMedia !== "function" || reducedMotion()) return;
  svg.setAttribute("data-animated", "true");
  rects.forEach((r, i) => {
    const to = now.rects[i];
    if (!Number.isFinite(to.y) || !Number.isFinite(to.height)) return;
    const from = before?.rects.length === rects.length ? before.rects[i] : {y: to.y + to.height, height: 0};
    select(r)
      .attr("y", from.y)
      .attr("height", from.height)
      .transition()
      .duration(TRANSITION_MS)
      .attr("y", to.y)
      .attr("height", to.height);
  });
  paths.forEach((p, i) => {
    const from = before?.paths.length === paths.length ? before.paths[i] : undefined;
    const to = now.paths[i];
    // Interpolating a path's numbers only makes sense with the same commands: same point count, same shape.
    if (from && from !== to && from.replace(/[\d.e+-]+/g, "") === to.replace(/[\d.e+-]+/g, ""))
      select(p).attr("d", from).transition().duration(TRANSITION_MS).attr("d", to);
    else select(p).style("opacity", 0).transition().duration(TRANSITION_MS).style("opacity", 1);
  });
}
