// The model diagram (issue 24, "a picture first"): the stack — embedding, L decoder blocks, final norm, LM head — and
// one decoder block opened up, with every RMSNorm, quantizer, top-K, Hadamard rotation, BitLinear and KV quantizer
// where the variant has it (lib/chapters/diagram.ts reads the variant table), coloured by kind, each part a link to
// the chapter that explains it. Hover or focus a part to read what it does and, with a live pass, its value on the
// reader's prompt. A view: (data, options) → Node, SVG drawn at the column's width, wrapping on a phone.
import type {BitNetConfig} from "../lib/config.js";
import {blockParts, type DiagramPart, type PartKind} from "../lib/chapters/diagram.js";
import {h, s, uniqueId} from "./dom.js";

export interface ModelDiagramData {
  config: BitNetConfig;
  /** Name shown in the title ("b1.58", "the shipped a4.8 model"). */
  name: string;
  /** Hover values from a live pass, by part id (lib/chapters/diagram.ts partValues). */
  values?: Record<string, string>;
}

export interface ModelDiagramOptions {
  width: number;
  /** The chapter this diagram heads: its parts are emphasised, the rest drawn lighter. */
  focus?: string;
  /** Kinds of part emphasised whatever chapter explains them (the Train page trains every BitLinear; the memory
   *  chapter counts the bytes of the weights, the embedding and the KV cache). */
  highlight?: readonly PartKind[];
  /** Where chapter links point ("./" on the site). */
  base?: string;
  /** A chapter page's own controls: called on click or Enter; true when the page selected the part itself (the
   *  link is then not followed). Also settable later with setPick, once the page has built its controls. */
  onPick?: (part: DiagramPart) => boolean;
}

/** Fill, stroke and legend name per kind (Okabe–Ito hues; text stays dark on the light fills). */
export const PART_STYLE: Record<PartKind, {fill: string; stroke: string; name: string}> = {
  bitlinear: {fill: "#d4e6f4", stroke: "#0072B2", name: "BitLinear (ternary weights)"},
  quantizer: {fill: "#fbe9c6", stroke: "#b07800", name: "activation quantizer"},
  topk: {fill: "#f3dcea", stroke: "#a8457f", name: "top-K sparsifier"},
  hadamard: {fill: "#cdeee3", stroke: "#007a58", name: "Hadamard rotation"},
  kv: {fill: "#f7d9c7", stroke: "#D55E00", name: "KV-cache quantizer"},
  norm: {fill: "#e8e8e8", stroke: "#6b6b6b", name: "RMSNorm"},
  attention: {fill: "#ffffff", stroke: "#6b6b6b", name: "attention / GLU (float)"},
  glu: {fill: "#ffffff", stroke: "#6b6b6b", name: "attention / GLU (float)"},
  residual: {fill: "#ffffff", stroke: "#6b6b6b", name: "residual add"},
  embedding: {fill: "#ffffff", stroke: "#6b6b6b", name: "embedding / LM head (float)"},
  head: {fill: "#ffffff", stroke: "#6b6b6b", name: "embedding / LM head (float)"},
  block: {fill: "#f4f4f4", stroke: "#1a1a1a", name: "decoder block (opened below)"},
};

const BOX_H = 30;
const GAP = 12;
const CHAR = 6.9;
const boxWidth = (label: string) => Math.max(34, Math.round(label.length * CHAR + 18));

interface Placed {
  part: DiagramPart;
  x: number;
  y: number;
  w: number;
}

/** Greedy rows: boxes left to right, a new line when the next box would pass the width. */
function layoutRow(parts: DiagramPart[], x0: number, y0: number, width: number): {placed: Placed[]; bottom: number} {
  const placed: Placed[] = [];
  let x = x0;
  let y = y0;
  for (const p of parts) {
    const w = boxWidth(p.label);
    if (x > x0 && x + w > width - 8) {
      x = x0;
      y += BOX_H + 22;
    }
    placed.push({part: p, x, y, w});
    x += w + GAP;
  }
  return {placed, bottom: y + BOX_H};
}

export type ModelDiagramElement = HTMLElement & {
  /** Hover values from a live pass that finished after the picture was drawn (the chapter's trace). */
  setValues(values: Record<string, string>, source?: string): void;
  /** Route clicks to the page's controls (see ModelDiagramOptions.onPick). */
  setPick(onPick: (part: DiagramPart) => boolean): void;
  /** Mark the parts the page's controls show now (data-selected + an outline). */
  setSelected(ids: readonly string[]): void;
};

/** The stack around the decoder blocks: embedding, the blocks, the final norm, the LM head. */
function stackParts(c: BitNetConfig): DiagramPart[] {
  return [
    {
      id: "embedding",
      kind: "embedding",
      label: "embedding",
      what: "looks up one float vector per token",
      chapter: "forward",
      row: 0,
    },
    {
      id: "blocks",
      kind: "block",
      label: `decoder block × ${c.num_hidden_layers}`,
      what: `the block below, repeated ${c.num_hidden_layers} times`,
      chapter: "forward",
      row: 0,
    },
    {
      id: "final-norm",
      kind: "norm",
      label: "RMSNorm",
      what: "normalizes the last block's output",
      chapter: "forward",
      row: 0,
    },
    {
      id: "lm-head",
      kind: "head",
      label: "LM head",
      what: "scores every token of the vocabulary (float)",
      chapter: "forward",
      row: 0,
    },
  ];
}

/** The arrowhead every arrow of one diagram points with. */
function arrowMarker(id: string): SVGElement {
  return s(
    "defs",
    {},
    s(
      "marker",
      {
        id: `${id}-arrow`,
        viewBox: "0 0 10 10",
        refX: 9,
        refY: 5,
        markerWidth: 6,
        markerHeight: 6,
        orient: "auto-start-reverse",
      },
      s("path", {d: "M0,0 L10,5 L0,10 z", fill: "currentColor", "fill-opacity": 0.6}),
    ),
  );
}

function arrowLine(id: string, x1: number, y1: number, x2: number, y2: number): SVGElement {
  return s("line", {
    x1,
    y1,
    x2,
    y2,
    stroke: "currentColor",
    "stroke-opacity": 0.5,
    "stroke-width": 1.5,
    "marker-end": `url(#${id}-arrow)`,
  });
}

/** One row of placed parts: each a link to its chapter (described on hover and focus), arrows between neighbours. */
function drawRow(
  placed: Placed[],
  ctx: {
    opts: ModelDiagramOptions;
    base: string;
    id: string;
    describe: (p: DiagramPart) => string;
    titles: Map<string, {part: DiagramPart}>;
    info: HTMLElement;
    children: SVGElement[];
    pick: (p: DiagramPart) => boolean;
  },
): void {
  const {opts, base, id, describe, titles, info, children, pick} = ctx;
  placed.forEach((pl, i) => {
    const st = PART_STYLE[pl.part.kind];
    const faded =
      opts.focus !== undefined &&
      pl.part.chapter !== opts.focus &&
      !opts.highlight?.includes(pl.part.kind) &&
      pl.part.id !== "blocks";
    const title = describe(pl.part);
    pl.part.id && titles.set(pl.part.id, {part: pl.part});
    const a = s(
      "a",
      {
        href: `${base}${pl.part.chapter}`,
        "aria-label": title,
        class: "diagram-part",
        "data-part": pl.part.id,
        "data-kind": pl.part.kind,
        ...(faded ? {"data-faded": "true"} : {}),
      },
      s("rect", {
        x: pl.x,
        y: pl.y,
        width: pl.w,
        height: BOX_H,
        rx: pl.part.kind === "residual" ? 15 : 5,
        fill: st.fill,
        stroke: st.stroke,
        "stroke-width": faded ? 1 : 2,
        opacity: faded ? 0.55 : 1,
      }),
      s(
        "text",
        {
          x: pl.x + pl.w / 2,
          y: pl.y + BOX_H / 2 + 4,
          "text-anchor": "middle",
          fill: "#1a1a1a",
          opacity: faded ? 0.7 : 1,
        },
        pl.part.label,
      ),
    );
    const show = () => {
      info.textContent = describe(pl.part);
    };
    a.addEventListener("mouseenter", show);
    a.addEventListener("focus", show);
    // A part the page has a control for selects it there instead of leaving the page.
    a.addEventListener("click", (e) => {
      if (pick(pl.part)) e.preventDefault();
    });
    a.addEventListener("keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter" && pick(pl.part)) e.preventDefault();
    });
    children.push(a);
    const next = placed[i + 1];
    if (next && next.y === pl.y)
      children.push(arrowLine(id, pl.x + pl.w + 1, pl.y + BOX_H / 2, next.x - 2, next.y + BOX_H / 2));
  });
}

/** The legend: only the kinds of part the diagram has. */
function diagramLegend(parts: readonly DiagramPart[]): HTMLElement {
  const present = new Map<string, {fill: string; stroke: string}>();
  for (const p of parts) present.set(PART_STYLE[p.kind].name, PART_STYLE[p.kind]);
  return h(
    "ul",
    {class: "diagram-legend", "aria-label": "Colours"},
    [...present].map(([name, st]) =>
      h(
        "li",
        {},
        h("span", {
          class: "diagram-swatch",
          style: `background:${st.fill};border-color:${st.stroke}`,
          "aria-hidden": "true",
        }),
        name,
      ),
    ),
  );
}

export function modelDiagram(data: ModelDiagramData, opts: ModelDiagramOptions): ModelDiagramElement {
  const c = data.config;
  const width = Math.max(300, Math.min(opts.width, 900));
  const base = opts.base ?? "./";
  let values = data.values ?? {};
  const id = uniqueId("diagram");
  const parts = blockParts(c);
  const stack = stackParts(c);
  const info = h(
    "p",
    {class: "diagram-info", id: `${id}-info`, "aria-live": "polite"},
    "Hover over or tab to a part to see what it does; click it to open its chapter.",
  );
  const describe = (p: DiagramPart) =>
    `${p.label}: ${p.what}.${values[p.id] ? ` On your prompt: ${values[p.id]}.` : ""}`;

  const svg = s("svg", {
    class: "model-diagram-svg",
    role: "group",
    "aria-label": `The ${data.name} model: the stack of layers, then one decoder block part by part`,
    width,
    "font-family": "var(--sans-serif)",
    "font-size": 12,
  });
  const children: SVGElement[] = [];
  const label = (x: number, y: number, text: string) =>
    s("text", {x, y, "font-weight": 600, fill: "currentColor"}, text);
  children.push(arrowMarker(id));

  const titles = new Map<string, {part: DiagramPart}>();
  let onPick = opts.onPick;
  const pick = (p: DiagramPart) => onPick?.(p) ?? false;
  const draw = (placed: Placed[]) => drawRow(placed, {opts, base, id, describe, titles, info, children, pick});

  let y = 18;
  let bottom = 0;
  const rows: [string, DiagramPart[]][] = [
    [`The stack (${data.name})`, stack],
    ["One decoder block — attention half", parts.filter((p) => p.row === 0)],
    ["FFN half", parts.filter((p) => p.row === 1)],
  ];
  for (const [title, row] of rows) {
    children.push(label(4, y, title));
    const r = layoutRow(row, 4, y + 8, width);
    draw(r.placed);
    bottom = r.bottom;
    y = r.bottom + 30;
  }
  const height = bottom + 8;
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.append(...children);

  const legend = diagramLegend([...stack, ...parts]);
  const fig = h(
    "figure",
    {
      class: "model-diagram",
      "data-figure": "model-diagram",
      "data-variant": c.bitnet_variant,
      ...(opts.focus ? {"data-focus": opts.focus} : {}),
    },
    svg,
    legend,
    info,
    h(
      "figcaption",
      {},
      `Where each part of BitNet sits in the ${data.name} model. Parts drawn from the model's own variant settings; each links to the chapter that explains it.`,
    ),
  ) as ModelDiagramElement;
  fig.setValues = (v, source) => {
    values = v;
    for (const a of svg.querySelectorAll<SVGAElement>("a[data-part]")) {
      const t = titles.get(a.dataset.part ?? "");
      if (!t) continue;
      const text = describe(t.part);
      a.setAttribute("aria-label", text);
    }
    fig.dataset.values = source ?? "live";
  };
  fig.setPick = (f) => {
    onPick = f;
    info.textContent =
      "Hover over or tab to a part to see what it does; click a part this page has a control for to show it in the charts below; any other opens its chapter.";
  };
  fig.setSelected = (ids) => {
    for (const a of svg.querySelectorAll<SVGAElement>("a[data-part]")) {
      const on = ids.includes(a.dataset.part ?? "");
      if (on) a.setAttribute("data-selected", "true");
      else a.removeAttribute("data-selected");
    }
  };
  if (data.values && Object.keys(data.values).length) fig.dataset.values = "live";
  return fig;
}
