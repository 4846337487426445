// The butterfly diagram of the fast Walsh–Hadamard transform, stepped or animated stage by stage. Motion is
// optional: with prefers-reduced-motion the diagram never advances on its own and nothing transitions.
import {butterflyStages} from "../lib/chapters/hadamard.js";
import {fmt} from "../lib/chapters/format.js";
import {h, prefersReducedMotion, s} from "./dom.js";
import {dataTable} from "./table.js";

export interface ButterflyOptions {
  width: number;
  caption: string;
  source?: string;
  /** Milliseconds per stage when playing. */
  interval?: number;
}

/** The butterfly network as SVG: a column of node values per stage and the four wires of each butterfly. */
function butterflySvg(
  input: number[],
  stages: ReturnType<typeof butterflyStages>["stages"],
  opts: ButterflyOptions,
): {svg: SVGSVGElement; wires: SVGLineElement[][]; labels: SVGTextElement[][]; columns: number[][]} {
  const n = input.length;
  const S = stages.length;
  const width = Math.max(300, Math.min(opts.width, 760));
  const colW = (width - 70) / S;
  const rowH = 30;
  const top = 24;
  const height = top + n * rowH + 8;
  const x = (col: number) => 38 + col * colW;
  const y = (i: number) => top + i * rowH + rowH / 2;
  const svg = s("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: "butterfly",
    role: "img",
    "aria-label": `${opts.caption}: ${S} stages of butterflies on ${n} values`,
  });
  // Stage headers.
  for (let k = 0; k <= S; k++)
    svg.append(s("text", {x: x(k), y: 12, "text-anchor": "middle"}, k === 0 ? "x" : `stage ${k}`));
  // Wires: each butterfly (i, j) at stage k sends a+b to i and a−b to j.
  const wires: SVGLineElement[][] = [];
  stages.forEach((st, k) => {
    const ws: SVGLineElement[] = [];
    for (const [i, j] of st.pairs) {
      ws.push(
        s("line", {x1: x(k), y1: y(i), x2: x(k + 1), y2: y(i), class: "wire add"}),
        s("line", {x1: x(k), y1: y(j), x2: x(k + 1), y2: y(i), class: "wire add"}),
        s("line", {x1: x(k), y1: y(i), x2: x(k + 1), y2: y(j), class: "wire sub"}),
        s("line", {x1: x(k), y1: y(j), x2: x(k + 1), y2: y(j), class: "wire sub"}),
      );
    }
    wires.push(ws);
    for (const w of ws) svg.append(w);
  });
  // Node values per column.
  const columns: number[][] = [input, ...stages.map((st) => st.values)];
  const labels: SVGTextElement[][] = columns.map((vals, k) =>
    vals.map((v, i) => {
      const t = s("text", {x: x(k), y: y(i) + 4, "text-anchor": "middle", class: "node"}, fmt(v, 3));
      const bg = s("rect", {
        x: x(k) - 22,
        y: y(i) - 9,
        width: 44,
        height: 17,
        rx: 3,
        class: "node-bg",
        fill: "var(--theme-background)",
        stroke: "var(--theme-foreground-faint)",
      });
      svg.append(bg, t);
      return t;
    }),
  );
  return {svg, wires, labels, columns};
}

/** values: a power-of-two-length vector (e.g. 8 channels of a real activation). Returns a figure with
 *  Step / Play / Reset buttons; invalidate() stops the timer (call it from the page's invalidation). */
export function butterflyDiagram(values: readonly number[], opts: ButterflyOptions): HTMLElement & {dispose(): void} {
  const {input, stages, norm} = butterflyStages(values);
  const n = input.length;
  const S = stages.length;
  const {svg, wires, labels, columns} = butterflySvg(input, stages, opts);
  let shown = 0; // stages revealed
  const status = h("p", {class: "butterfly-status", role: "status", "aria-live": "polite"});
  const render = () => {
    wires.forEach((ws, k) => ws.forEach((w) => w.classList.toggle("active", k === shown - 1)));
    labels.forEach((col, k) => col.forEach((t) => t.setAttribute("opacity", k <= shown ? "1" : "0.15")));
    status.textContent =
      shown === 0
        ? `The input: ${n} values. Each stage combines pairs (a, b) into a + b (solid blue) and a − b (dashed vermillion).`
        : shown < S
          ? `Stage ${shown}: pairs ${stages[shown - 1].h} apart combined; ${stages[shown - 1].pairs.length} butterflies.`
          : `Done after log₂ ${n} = ${S} stages (${(n / 2) * S} butterflies, ${n * S} additions/subtractions). Times 1/√${n} = ${fmt(norm, 3)} this is H·x: ${columns[S].map((v) => fmt(v * norm, 3)).join(", ")}.`;
    svg.setAttribute("data-stage", String(shown));
  };
  let timer: ReturnType<typeof setInterval> | undefined;
  const stop = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    play.textContent = "Play";
  };
  const stepBtn = h("button", {type: "button", class: "lab-button"}, "Step");
  const play = h("button", {type: "button", class: "lab-button"}, "Play");
  const reset = h("button", {type: "button", class: "lab-button"}, "Reset");
  stepBtn.addEventListener("click", () => {
    stop();
    shown = shown >= S ? 0 : shown + 1;
    render();
  });
  reset.addEventListener("click", () => {
    stop();
    shown = 0;
    render();
  });
  const reduced = prefersReducedMotion();
  if (reduced) {
    play.disabled = true;
    play.title = "Your system asks for reduced motion: use Step to advance.";
  }
  play.addEventListener("click", () => {
    if (timer !== undefined) return stop();
    if (shown >= S) shown = 0;
    render();
    play.textContent = "Pause";
    timer = setInterval(() => {
      shown++;
      render();
      if (shown >= S) stop();
    }, opts.interval ?? 1200);
  });
  render();
  const rows = input.map((v, i) => {
    const r: Record<string, string> = {i: String(i), x: fmt(v, 4)};
    stages.forEach((st, k) => (r[`s${k + 1}`] = fmt(st.values[i], 4)));
    r.Hx = fmt(columns[S][i] * norm, 4);
    return r;
  });
  const el = h(
    "figure",
    {class: "lab-figure butterfly-figure"},
    h(
      "div",
      {class: "exercise-buttons"},
      stepBtn,
      play,
      reset,
      reduced ? h("small", {}, " (reduced motion: stepping only)") : null,
    ),
    h("div", {class: "scroll-x"}, svg),
    status,
    h("figcaption", {}, opts.caption, opts.source ? h("span", {class: "source"}, ` Source: ${opts.source}.`) : null),
    dataTable(rows, {
      caption: `${opts.caption}: values after each stage`,
      columns: [
        {key: "i", label: "i"},
        {key: "x", label: "x", numeric: true},
        ...stages.map((_, k) => ({key: `s${k + 1}`, label: `stage ${k + 1}`, numeric: true})),
        {key: "Hx", label: "H·x", numeric: true},
      ],
    }),
  ) as unknown as HTMLElement & {dispose(): void};
  el.dispose = stop;
  return el;
}
