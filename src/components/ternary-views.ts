// Views of ternary weights. −1, 0 and +1 always differ by shape as well as colour: bars carry a fill pattern
// (hatched, dotted, solid) and a text label, grid cells carry a glyph (−, ·, +), colours are the Okabe–Ito
// CSS variables --ternary-neg/zero/pos.
import type {CountedMatVec, PackedByte, TernaryShares} from "../lib/chapters/ternary.js";
import {bin, fmt, hex, MINUS, pct, signed, ternary} from "../lib/chapters/format.js";
import {h, s, uniqueId} from "./dom.js";
import {figure} from "./charts.js";
import type {FigureOptions} from "./charts.js";
import {dataTable} from "./table.js";

export const TERNARY_COLOR = {[-1]: "var(--ternary-neg)", 0: "var(--ternary-zero)", 1: "var(--ternary-pos)"} as Record<
  number,
  string
>;
export const TERNARY_TEXT = {
  [-1]: "var(--ternary-neg-text)",
  0: "var(--ternary-zero-text)",
  1: "var(--ternary-pos-text)",
} as Record<number, string>;
export const TERNARY_GLYPH = {[-1]: MINUS, 0: "·", 1: "+"} as Record<number, string>;
const PATTERN_NAME = {[-1]: "hatched", 0: "dotted", 1: "solid"} as Record<number, string>;

/** SVG <defs> with the three fill patterns; returns the defs and a url() per code. */
function ternaryPatterns(): {defs: SVGDefsElement; fill: Record<number, string>} {
  const id = uniqueId("tp");
  const defs = s(
    "defs",
    {},
    s(
      "pattern",
      {id: `${id}-neg`, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)"},
      s("rect", {width: 6, height: 6, fill: "var(--ternary-neg)", "fill-opacity": 0.35}),
      s("rect", {width: 3, height: 6, fill: "var(--ternary-neg)"}),
    ),
    s(
      "pattern",
      {id: `${id}-zero`, width: 6, height: 6, patternUnits: "userSpaceOnUse"},
      s("rect", {width: 6, height: 6, fill: "var(--ternary-zero)", "fill-opacity": 0.35}),
      s("circle", {cx: 3, cy: 3, r: 1.6, fill: "var(--ternary-zero)"}),
    ),
  );
  return {defs, fill: {[-1]: `url(#${id}-neg)`, 0: `url(#${id}-zero)`, 1: "var(--ternary-pos)"}};
}

export interface SharesOptions extends FigureOptions {
  width: number;
  /** A second set to compare against (e.g. the live quantization next to the shipped codes). */
  compare?: {shares: TernaryShares; name: string};
  name?: string;
}

/** Horizontal bars of the −1 / 0 / +1 shares, percentages written on the bars. */
export function ternarySharesChart(shares: TernaryShares, opts: SharesOptions): HTMLElement {
  const sets = [{shares, name: opts.name ?? "codes"}, ...(opts.compare ? [opts.compare] : [])];
  const width = Math.max(280, opts.width);
  const rowH = 22;
  const labelW = 44;
  // Room after the longest bar for its label ("34.5%", plus the set's name when two sets are compared).
  const barMax = width - labelW - (sets.length > 1 ? 8 * Math.max(...sets.map((x) => x.name.length)) + 60 : 64);
  const height = 3 * sets.length * rowH + 3 * 8 + 8;
  const {defs, fill} = ternaryPatterns();
  const svg = s("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${opts.caption}: ${sets.map((x) => `${x.name}: −1 ${pct(x.shares.neg / x.shares.total)}, 0 ${pct(x.shares.zero / x.shares.total)}, +1 ${pct(x.shares.pos / x.shares.total)}`).join("; ")}`,
    class: "ternary-shares",
    "font-family": "var(--sans-serif)",
  });
  svg.append(defs);
  let y = 4;
  for (const code of [-1, 0, 1]) {
    svg.append(
      s("text", {x: 4, y: y + (sets.length * rowH) / 2 + 5, "font-weight": "bold", "font-size": 14}, ternary(code)),
    );
    for (const set of sets) {
      const n = code === -1 ? set.shares.neg : code === 0 ? set.shares.zero : set.shares.pos;
      const f = set.shares.total ? n / set.shares.total : 0;
      const w = Math.max(1, f * barMax);
      svg.append(
        s("rect", {
          x: labelW,
          y: y + 2,
          width: w,
          height: rowH - 4,
          fill: fill[code],
          stroke: TERNARY_COLOR[code],
          "stroke-width": 1,
          "data-code": code,
          "data-share": f.toFixed(6),
          "data-set": set.name,
        }),
        s(
          "text",
          {x: labelW + w + 4, y: y + rowH / 2 + 4, "font-size": 12},
          `${pct(f)}${sets.length > 1 ? ` ${set.name}` : ""}`,
        ),
      );
      y += rowH;
    }
    y += 8;
  }
  const rows = [-1, 0, 1].map((code) => {
    const r: Record<string, string> = {code: ternary(code), pattern: PATTERN_NAME[code]};
    for (const set of sets) {
      const n = code === -1 ? set.shares.neg : code === 0 ? set.shares.zero : set.shares.pos;
      r[set.name] = `${n.toLocaleString("en-US")} (${pct(n / set.shares.total, 2)})`;
    }
    return r;
  });
  return figure(svg, {
    ...opts,
    table: dataTable(rows, {
      caption: opts.caption,
      columns: [
        {key: "code", label: "code"},
        {key: "pattern", label: "bar pattern"},
        ...sets.map((x) => ({key: x.name, label: x.name, numeric: true})),
      ],
    }),
  });
}

export interface GridOptions extends FigureOptions {
  width: number;
  /** Where the patch starts in the full matrix (for labels). */
  row0: number;
  col0: number;
}

/** A patch of a ternary matrix: each cell coloured by its code and marked with its glyph. */
export function ternaryGrid(codes: ArrayLike<number>, rows: number, cols: number, opts: GridOptions): HTMLElement {
  const cell = Math.max(9, Math.min(16, Math.floor((Math.max(280, opts.width) - 40) / cols)));
  const left = 34;
  const top = 16;
  const width = left + cols * cell + 2;
  const height = top + rows * cell + 2;
  const svg = s("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${opts.caption} (${rows}×${cols} codes; the data table lists them)`,
    class: "ternary-grid",
    "font-family": "var(--sans-serif)",
  });
  for (let c = 0; c < cols; c += 8)
    svg.append(s("text", {x: left + c * cell, y: 11, "font-size": 10}, String(opts.col0 + c)));
  for (let r = 0; r < rows; r++) {
    if (r % 4 === 0)
      svg.append(s("text", {x: 0, y: top + r * cell + cell - 2, "font-size": 10}, String(opts.row0 + r)));
    for (let c = 0; c < cols; c++) {
      const v = codes[r * cols + c];
      const x = left + c * cell;
      const y = top + r * cell;
      svg.append(
        s("rect", {
          x,
          y,
          width: cell - 1,
          height: cell - 1,
          fill: TERNARY_COLOR[v],
          "fill-opacity": v === 0 ? 0.35 : 0.9,
        }),
        s(
          "text",
          {
            x: x + (cell - 1) / 2,
            y: y + cell - 3.5,
            "text-anchor": "middle",
            "font-size": cell - 3,
            fill: v === 0 ? "currentColor" : "white",
            "font-weight": "bold",
          },
          TERNARY_GLYPH[v],
        ),
      );
    }
  }
  const tableRows = Array.from({length: rows}, (_, r) => {
    const o: Record<string, string> = {row: String(opts.row0 + r)};
    for (let c = 0; c < cols; c++) o[`c${c}`] = ternary(codes[r * cols + c]);
    return o;
  });
  const columns = [
    {key: "row", label: "row"},
    ...Array.from({length: cols}, (_, c) => ({key: `c${c}`, label: String(opts.col0 + c), numeric: true})),
  ];
  return figure(h("div", {class: "scroll-x"}, svg), {
    ...opts,
    table: dataTable(tableRows, {caption: opts.caption, columns}),
  });
}

export interface LedgerOptions {
  /** Byte offset of the packed tensor's data in model.safetensors, when it came from the shipped file. */
  fileOffset?: number;
  tensorName: string;
  /** The full matrix shape [rows, cols] and the packed shape. */
  rows: number;
  cols: number;
}

/** One packed byte taken apart: hex, binary, the four 2-bit fields and the weights they decode to. */
export function bitLedger(b: PackedByte, opts: LedgerOptions): HTMLElement {
  const R = Math.ceil(opts.rows / 4);
  const fieldsMsbFirst = [...b.fields].reverse();
  const bits = bin(b.byte);
  const boxes = h(
    "div",
    {class: "ledger-bits", role: "img", "aria-label": `Byte ${hex(b.byte)}: bits ${bits}`},
    fieldsMsbFirst.map((f, i) =>
      h(
        "div",
        {
          class: "ledger-field",
          "data-value": f.value ?? "pad",
          style:
            f.value === null ? "" : `--field-color: ${TERNARY_COLOR[f.value]}; --field-text: ${TERNARY_TEXT[f.value]}`,
        },
        h("div", {class: "ledger-pair"}, h("span", {}, bits[2 * i]), h("span", {}, bits[2 * i + 1])),
        h("div", {class: "ledger-meta"}, `bits ${f.shift + 1}–${f.shift}`),
        h("div", {class: "ledger-value"}, f.value === null ? "pad" : ternary(f.value)),
        h("div", {class: "ledger-meta"}, f.row === null ? "(padding)" : `row ${f.row}`),
      ),
    ),
  );
  const rows = b.fields.map((f) => ({
    bits: `${f.shift + 1}–${f.shift}`,
    stored: `${bin(f.stored, 2)} = ${f.stored}`,
    value: f.value === null ? "—" : `${f.stored} − 1 = ${ternary(f.value)}`,
    row:
      f.row === null
        ? "padding"
        : `${f.row} (block ${f.block}: rows ${f.block * R}…${Math.min(opts.rows, (f.block + 1) * R) - 1})`,
  }));
  return h(
    "div",
    {class: "bit-ledger", "data-byte": b.byte},
    h(
      "p",
      {class: "ledger-head"},
      h("code", {}, `${opts.tensorName}[${b.p}, ${b.col}]`),
      opts.fileOffset !== undefined
        ? ` at byte ${opts.fileOffset.toLocaleString("en-US")} (${hex(opts.fileOffset, 6)}) of model.safetensors`
        : " (packed live)",
      " = ",
      h("strong", {class: "ledger-hex"}, hex(b.byte)),
      " = ",
      h("code", {}, `0b${bits}`),
    ),
    boxes,
    dataTable(rows, {
      caption: `How byte ${hex(b.byte)} decodes (column ${b.col}; value = stored − 1)`,
      summary: "The four fields as a table",
      columns: [
        {key: "bits", label: "bits"},
        {key: "stored", label: "stored"},
        {key: "value", label: "weight"},
        {key: "row", label: "matrix row"},
      ],
    }),
  );
}

export interface MatVecOptions {
  /** Row whose sum is written out. */
  row: number;
  terms: {col: number; sign: 1 | -1; x: number}[];
  /** Total nonzero terms in that row (terms may be truncated). */
  rowNonzero: number;
  /** The ordinary float64 product of that row, to compare. */
  dense: number;
  cols: number;
  rows: number;
}

/** Counters of additions, subtractions and skipped zeros, and one output written as a signed sum. */
export function matVecCounter(r: CountedMatVec, opts: MatVecOptions): HTMLElement {
  const total = r.adds + r.subs + r.skips;
  const sum = h(
    "p",
    {class: "matvec-sum"},
    h("code", {}, `y[${opts.row}] = `),
    ...opts.terms.map((t, i) =>
      h(
        "span",
        {class: `term ${t.sign > 0 ? "add" : "sub"}`},
        `${i === 0 ? (t.sign > 0 ? "" : MINUS) : t.sign > 0 ? " + " : ` ${MINUS} `}x${sub(t.col)}`,
      ),
    ),
    opts.rowNonzero > opts.terms.length
      ? h("span", {class: "more"}, ` … (${opts.rowNonzero - opts.terms.length} more terms)`)
      : null,
    h("code", {}, ` = ${signed(r.y[opts.row])}`),
  );
  const values = h(
    "p",
    {class: "matvec-values"},
    `With this token's INT8 codes: `,
    ...opts.terms
      .slice(0, 8)
      .map(
        (t, i) =>
          `${i === 0 ? (t.sign > 0 ? "" : MINUS) : t.sign > 0 ? " + " : ` ${MINUS} `}${t.x < 0 ? `(${signed(t.x)})` : t.x}`,
      ),
    opts.terms.length > 8 || opts.rowNonzero > opts.terms.length ? " …" : "",
    ` = ${signed(r.y[opts.row])}; multiplying and accumulating Σ W̃·x the ordinary way gives ${fmt(opts.dense, 6)}.`,
  );
  const counters = h(
    "dl",
    {class: "stat-cards matvec-counters"},
    card("Additions (+1 weights)", r.adds.toLocaleString("en-US"), pct(r.adds / total), "adds"),
    card("Subtractions (−1 weights)", r.subs.toLocaleString("en-US"), pct(r.subs / total), "subs"),
    card("Skipped (0 weights)", r.skips.toLocaleString("en-US"), pct(r.skips / total), "skips"),
    card("Multiplications", "0", `vs ${total.toLocaleString("en-US")} in a float matmul`, "muls"),
  );
  return h("div", {class: "matvec"}, counters, sum, values);
}

function card(label: string, value: string, note: string, id: string): HTMLElement {
  return h("div", {class: "stat-card", "data-stat": id}, h("dt", {}, label), h("dd", {}, value, h("small", {}, note)));
}

function sub(n: number): string {
  const digits = "₀₁₂₃₄₅₆₇₈₉";
  return String(n).replace(/\d/g, (d) => digits[Number(d)]);
}
