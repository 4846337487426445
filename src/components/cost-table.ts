// The "paper vs this model" table: every reproduced figure with its deviation, whether it is within the stated
// tolerance (a word and a symbol, not only a colour), and why not.
import type {ReproGroup, ReproRow} from "../lib/cost.js";
import {fmtPercent, fmtValue} from "../lib/cost.js";

const GROUP_LABEL: Record<ReproGroup, string> = {
  memory: "Memory",
  energy: "Energy",
  latency: "Latency",
  throughput: "Batch & throughput",
  sparsity: "a4.8 sparsity",
};

function cell(tag: "td" | "th", text: string, cls?: string): HTMLTableCellElement {
  const c = document.createElement(tag);
  c.textContent = text;
  if (cls) c.className = cls;
  return c;
}

function tolText(r: ReproRow): string {
  const parts = [];
  if (r.tolerance.rel) parts.push(`±${(100 * r.tolerance.rel).toFixed(0)}%`);
  if (r.tolerance.abs) parts.push(`±${fmtValue(r.tolerance.abs, r.unit, 2)}`);
  return parts.length ? parts.join(" + ") : "exact";
}

/** rows → a table; `groups` limits which groups are shown (all by default). */
export function reproTable(rows: readonly ReproRow[], o: {groups?: readonly ReproGroup[]} = {}): HTMLElement {
  const shown = rows.filter((r) => !o.groups || o.groups.includes(r.group));
  const wrap = document.createElement("div");
  wrap.className = "cost-repro";
  const ok = shown.filter((r) => r.within).length;
  const summary = document.createElement("p");
  summary.textContent = `${ok} of ${shown.length} figures within tolerance. ★ = read off a figure by a third party (secondary).`;
  const table = document.createElement("table");
  const caption = document.createElement("caption");
  caption.textContent = "Published figures next to what the cost model computes";
  table.append(caption);
  const head = document.createElement("tr");
  for (const h of [
    "quantity (source)",
    "paper",
    "model",
    "deviation",
    "within tolerance?",
    "how the model gets it / why it misses",
  ]) {
    const th = cell("th", h);
    th.scope = "col";
    head.append(th);
  }
  const thead = document.createElement("thead");
  thead.append(head);
  table.append(thead);
  let group: ReproGroup | undefined;
  const body = document.createElement("tbody");
  const withUnit = (v: number, r: ReproRow) =>
    `${fmtValue(v, r.unit)}${r.unit === "params" ? "" : r.unit === "×" || r.unit === "%" ? r.unit : ` ${r.unit}`}`;
  for (const r of shown) {
    if (r.group !== group) {
      group = r.group;
      const tr = document.createElement("tr");
      const th = cell("th", GROUP_LABEL[group], "cost-repro-group");
      th.colSpan = 6;
      th.scope = "colgroup";
      tr.append(th);
      body.append(tr);
    }
    const tr = document.createElement("tr");
    tr.className = r.within ? "cost-ok" : "cost-miss";
    tr.dataset.id = r.id;
    const q = cell("th", r.quantity);
    q.scope = "row";
    const src = document.createElement("small");
    src.textContent = r.source;
    q.append(document.createElement("br"), src);
    const notes = document.createElement("td");
    if (!r.within) {
      const why = document.createElement("p");
      why.textContent = r.whyNot ?? "";
      notes.append(why);
    }
    const how = document.createElement("details");
    const sum = document.createElement("summary");
    sum.textContent = "how";
    how.append(sum, r.how);
    notes.append(how);
    tr.append(
      q,
      cell("td", `${withUnit(r.paper, r)}${r.secondary ? " ★" : ""}`, "num"),
      cell("td", withUnit(r.model, r), "num"),
      cell("td", fmtPercent(r.deviation), "num"),
      cell("td", `${r.within ? "✓ yes" : "✗ no"} (${tolText(r)})`),
      notes,
    );
    body.append(tr);
  }
  table.append(body);
  wrap.append(summary, table);
  return wrap;
}
