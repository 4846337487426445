// The data-table alternative every chart carries: a <details> with a real <table> (caption, column headers),
// so screen-reader users and anyone who wants the numbers get them.
import {h} from "./dom.js";

export interface Column<R> {
  key: keyof R & string;
  label: string;
  /** Formats a cell; defaults to String(). */
  format?: (v: R[keyof R], row: R) => string;
  /** Right-align numbers. */
  numeric?: boolean;
}

export interface TableOptions<R> {
  columns?: Column<R>[];
  caption: string;
  /** The disclosure's label; defaults to "Data table: <caption>". */
  summary?: string;
  open?: boolean;
  /** Show at most this many rows and say how many were left out. */
  maxRows?: number;
}

export function table<R extends object>(rows: readonly R[], opts: TableOptions<R>): HTMLTableElement {
  const columns: Column<R>[] =
    opts.columns ?? (Object.keys(rows[0] ?? {}) as (keyof R & string)[]).map((key) => ({key, label: key}));
  const shown = opts.maxRows !== undefined ? rows.slice(0, opts.maxRows) : rows;
  return h(
    "table",
    {class: "lab-table"},
    h("caption", {}, opts.caption),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        columns.map((c) => h("th", {scope: "col", class: c.numeric ? "num" : null}, c.label)),
      ),
    ),
    h(
      "tbody",
      {},
      shown.map((r) =>
        h(
          "tr",
          {},
          columns.map((c) =>
            h("td", {class: c.numeric ? "num" : null}, c.format ? c.format(r[c.key], r) : String(r[c.key])),
          ),
        ),
      ),
    ),
    shown.length < rows.length
      ? h(
          "tfoot",
          {},
          h("tr", {}, h("td", {colspan: columns.length}, `… ${rows.length - shown.length} more rows not shown`)),
        )
      : null,
  );
}

/** A collapsed data table (the alternative to a chart). */
export function dataTable<R extends object>(rows: readonly R[], opts: TableOptions<R>): HTMLDetailsElement {
  return h(
    "details",
    {class: "data-table", open: opts.open ?? false},
    h("summary", {}, opts.summary ?? `Data table: ${opts.caption}`),
    table(rows, opts),
  );
}
