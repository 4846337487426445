// The "paper vs this model" table: every reproduced figure with its deviation, whether it is within the stated
// tolerance (a word and a symbol, not only a colour), and why not.
import type {ReproGroup, ReproRow} from "../lib/cost.js";
import {fmtPercent, fmtValue} from "../lib/cost.js";
import {h} from "./dom.js";

const GROUP_LABEL: Record<ReproGroup, string> = {
  memory: "Memory",
  energy: "Energy",
  latency: "Latency",
  throughput: "Batch & throughput",
  sparsity: "a4.8 sparsity",
};

function tolText(r: ReproRow): string {
  const parts = [];
  if (r.tolerance.rel) parts.push(`±${(100 * r.tolerance.rel).toFixed(0)}%`);
  if (r.tolerance.abs) parts.push(`±${fmtValue(r.tolerance.abs, r.unit, 2)}`);
  return parts.length ? parts.join(" + ") : "exact";
}

/** rows → a table; `groups` limits which groups are shown (all by default). */
export function reproTable(rows: readonly ReproRow[], o: {groups?: readonly ReproGroup[]} = {}): HTMLElement {
  const shown = rows.filter((r) => !o.groups || o.groups.includes(r.group));
  const ok = shown.filter((r) => r.within).length;
  const withUnit = (v: number, r: ReproRow) =>
    `${fmtValue(v, r.unit)}${r.unit === "params" ? "" : r.unit === "×" || r.unit === "%" ? r.unit : ` ${r.unit}`}`;
  const columns = [
    "quantity (source)",
    "paper",
    "model",
    "deviation",
    "within tolerance?",
    "how the model gets it / why it misses",
  ];
  const body: HTMLTableRowElement[] = [];
  let group: ReproGroup | undefined;
  for (const r of shown) {
    if (r.group !== group) {
      group = r.group;
      body.push(h("tr", {}, h("th", {class: "cost-repro-group", colspan: 6, scope: "colgroup"}, GROUP_LABEL[group])));
    }
    body.push(
      h(
        "tr",
        {class: r.within ? "cost-ok" : "cost-miss", "data-id": r.id},
        h("th", {scope: "row"}, r.quantity, h("br"), h("small", {}, r.source)),
        h("td", {class: "num"}, `${withUnit(r.paper, r)}${r.secondary ? " ★" : ""}`),
        h("td", {class: "num"}, withUnit(r.model, r)),
        h("td", {class: "num"}, fmtPercent(r.deviation)),
        h("td", {}, `${r.within ? "✓ yes" : "✗ no"} (${tolText(r)})`),
        h("td", {}, r.within ? null : h("p", {}, r.whyNot ?? ""), h("details", {}, h("summary", {}, "how"), r.how)),
      ),
    );
  }
  return h(
    "div",
    {class: "cost-repro"},
    h(
      "p",
      {},
      `${ok} of ${shown.length} figures within tolerance. ★ = read off a figure by a third party (secondary).`,
    ),
    h(
      "table",
      {},
      h("caption", {}, "Published figures next to what the cost model computes"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          columns.map((c) => h("th", {scope: "col"}, c)),
        ),
      ),
      h("tbody", {}, body),
    ),
  );
}
