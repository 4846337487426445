// The training dashboard's live numbers (train-views.ts): the stat cards of a twin run (backend, step, both
// losses, tokens/s, time left, flips, tfjs tensors) and the figures the page's tests read from data-* attributes.
import type {TrainRunView} from "../lib/chapters/train.js";
import {headMean, tailMean} from "../lib/chapters/train-series.js";
import {fmt, pct} from "../lib/chapters/format.js";
import type {StatCard} from "./charts.js";

/** A stat card with its data-stat id (the dashboard updates each card in place by id). */
export type NumberCard = StatCard & {id: string};

/** Time for a number of milliseconds, e.g. "1 min 05 s". */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

/** The cards of `r` now, and the data-* figures (first/last losses as means of 3 steps, step, tensors). */
export function runNumbers(r: TrainRunView, backend: string): {data: Record<string, string>; cards: NumberCard[]} {
  const p = r.points;
  const last = p.at(-1);
  const ev = r.evals.at(-1);
  // Means over the first and last few steps only: O(1) per update, whatever the run's length.
  const head = p.slice(0, 3);
  const tail = (n: number) => p.slice(Math.max(0, p.length - n));
  const bl = (xs: typeof p) => xs.map((x) => x.bitnetLoss);
  const fl = (xs: typeof p) => xs.map((x) => x.fpLoss);
  const data = {
    step: String(r.step),
    firstLoss: p.length ? String(headMean(bl(head), 3)) : "",
    lastLoss: p.length ? String(tailMean(bl(tail(3)), 3)) : "",
    firstFpLoss: p.length ? String(headMean(fl(head), 3)) : "",
    lastFpLoss: p.length ? String(tailMean(fl(tail(3)), 3)) : "",
    tensors: last ? String(last.tensors) : "",
  };
  const recent = tail(10);
  const tps = last
    ? tailMean(
        recent.map((x) => x.tokensPerSecond),
        10,
      )
    : NaN;
  const cards: NumberCard[] = [
    {id: "backend", label: "Backend", value: backend},
    {id: "step", label: "Step", value: `${r.step} / ${r.steps}`},
    {
      id: "bitnet-loss",
      label: "b1.58 loss",
      value: last ? fmt(tailMean(bl(recent), 10), 4) : "—",
      note: ev ? `validation ${fmt(ev.bitnet, 4)}` : "mean of the last 10 steps",
    },
    {
      id: "fp-loss",
      label: "fp loss",
      value: last ? fmt(tailMean(fl(recent), 10), 4) : "—",
      note: ev ? `validation ${fmt(ev.fp, 4)}` : "mean of the last 10 steps",
    },
    {
      id: "tokens-per-second",
      label: "Tokens/s",
      value: last ? fmt(tps, 3) : "—",
      note: r.configs.changed ? "all three models" : "both models",
    },
    {
      id: "time-left",
      label: "Time left",
      value:
        last && r.step < r.steps
          ? `≈ ${duration(
              tailMean(
                recent.map((x) => x.ms),
                10,
              ) *
                (r.steps - r.step),
            )}`
          : "—",
      note: "at the recent pace",
    },
    {id: "flip", label: "Codes flipped", value: last ? pct(last.flip, 2) : "—", note: "in the last step"},
    {id: "tensors", label: "tfjs tensors", value: last ? String(last.tensors) : "—", note: "stays flat: no leak"},
  ];
  return {data, cards};
}
