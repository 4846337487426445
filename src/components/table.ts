// The data-table alternative every chart carries: a <details> with a real <table> (caption, column headers),
// so screen-reader users and anyone who wants the numbers get them.
import {h} from "./dom.js";

/** A column: a field of the row (`key`, formatted by `format`, else String()), or a cell computed from the whole row
 *  (`value`). */
export type Column<R> = {
  label: string;
  /** Right-align numbers. */
  numeric?: boolean;
} & (
  | {key: keyof R & string; format?: (v: R[keyof R], row: R) => string; value?: undefined}
  | {value: (row: R) => string; key?: undefined; format?: undefined}
);

const cell = <R>(c: Column<R>, r: R): string =>
  c.value ? c.value(r) : c.format ? c.format(r[c.key], r) : String(r[c.key]);

export interface TableOptions<R> {
  columns?: Column<R>[];
  caption: string;
  /** The disclosure's label; defaults to "Data table: <caption>". */
  summary?: string;
  open?: boolean;
  /** Show at most this many rows and say how many were left out. */
  maxRows?: number;
  /** The first column names its row (<th scope="row">). */
  rowHeader?: boolean;
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
          columns.map((c, i) =>
            h(
              opts.rowHeader && i === 0 ? "th" : "td",
              {class: c.numeric ? "num" : null, scope: opts.rowHeader && i === 0 ? "row" : null},
              cell(c, r),
            ),
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
