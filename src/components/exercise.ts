// Predict-then-reveal: the reader commits a guess first, then the live computation reveals the answer and
// checks the guess against it ("predict before you click"). Answers come from the running model, never from
// canned numbers, so they change with the model, layer and prompt the reader chose.
import {fmt, minus} from "../lib/chapters/format.js";
import {h, uniqueId} from "./dom.js";

export interface NumericAnswer {
  kind: "number";
  value: number;
  /** A guess within ± tolerance (in the answer's unit) counts as right. */
  tolerance: number;
  /** Formats the answer (default: 3 significant digits). */
  format?: (v: number) => string;
  explain: string | Node;
}

export interface ChoiceAnswer {
  kind: "choice";
  /** The correct option's value. */
  value: string;
  explain: string | Node;
}

export type Answer = NumericAnswer | ChoiceAnswer;

export interface ExerciseSpec {
  /** Shown as "Exercise N" (one page numbers its own). */
  number: number;
  question: string | Node;
  input:
    | {kind: "number"; unit?: string; min?: number; max?: number; step?: number; placeholder?: string}
    | {kind: "choice"; options: {value: string; label: string}[]};
  /** Runs when the reader reveals: compute the answer live. */
  answer: () => Answer | Promise<Answer>;
}

/** An exercise card. Its root carries data-state = "guessing" | "locked" | "revealed" and, once revealed,
 *  data-verdict = "right" | "wrong" (used by the end-to-end tests). */
export function exercise(spec: ExerciseSpec): HTMLElement {
  const id = uniqueId("ex");
  const root = h("section", {class: "exercise", "data-state": "guessing", "aria-labelledby": `${id}-title`});
  const title = h("h4", {id: `${id}-title`}, `Exercise ${spec.number}: predict, then check`);
  const q = h("div", {class: "exercise-question"}, spec.question);

  let readGuess: () => string | number | undefined;
  let field: HTMLElement;
  const disableAll: HTMLInputElement[] = [];
  if (spec.input.kind === "number") {
    const inp = h("input", {
      id: `${id}-guess`,
      type: "number",
      inputmode: "decimal",
      min: spec.input.min,
      max: spec.input.max,
      step: spec.input.step ?? "any",
      placeholder: spec.input.placeholder ?? "",
    });
    disableAll.push(inp);
    field = h("div", {class: "exercise-guess"}, h("label", {for: inp.id}, "Your guess"), inp, spec.input.unit ? h("span", {class: "unit"}, spec.input.unit) : null);
    readGuess = () => (inp.value.trim() === "" || !Number.isFinite(Number(inp.value)) ? undefined : Number(inp.value));
  } else {
    const name = `${id}-choice`;
    const radios = spec.input.options.map((o, i) => {
      const r = h("input", {type: "radio", name, id: `${name}-${i}`, value: o.value});
      disableAll.push(r);
      return h("div", {class: "choice"}, r, h("label", {for: r.id}, o.label));
    });
    field = h("fieldset", {class: "exercise-guess"}, h("legend", {}, "Your guess"), radios);
    readGuess = () => root.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value;
  }

  const lock = h("button", {type: "button", class: "lab-button"}, "Lock in my guess");
  const reveal = h("button", {type: "button", class: "lab-button", disabled: true}, "Reveal the answer");
  const again = h("button", {type: "button", class: "lab-button", hidden: true}, "Try again");
  const result = h("div", {class: "exercise-result", role: "status", "aria-live": "polite"});

  lock.addEventListener("click", () => {
    const g = readGuess();
    if (g === undefined) {
      result.textContent = spec.input.kind === "number" ? "Type a number first." : "Pick an option first.";
      return;
    }
    for (const i of disableAll) i.disabled = true;
    lock.disabled = true;
    reveal.disabled = false;
    root.dataset.state = "locked";
    result.textContent = `Guess locked: ${typeof g === "number" ? minus(String(g)) : labelOf(spec, g)}.`;
    reveal.focus();
  });

  reveal.addEventListener("click", async () => {
    const g = readGuess();
    if (g === undefined) return;
    reveal.disabled = true;
    result.textContent = "Computing on the model…";
    let a: Answer;
    try {
      a = await spec.answer();
    } catch (e) {
      result.textContent = `Could not compute the answer: ${e instanceof Error ? e.message : String(e)}`;
      reveal.disabled = false;
      return;
    }
    let right: boolean;
    let line: string;
    if (a.kind === "number") {
      const f = a.format ?? ((v: number) => fmt(v, 3));
      const diff = Number(g) - a.value;
      right = Math.abs(diff) <= a.tolerance;
      line = `${right ? "✓ Right" : "✗ Not quite"}: the model gives ${f(a.value)}; you guessed ${minus(String(g))} (off by ${f(Math.abs(diff))}; within ${f(a.tolerance)} counts).`;
    } else {
      right = g === a.value;
      line = `${right ? "✓ Right" : "✗ Not quite"}: the answer is ${labelOf(spec, a.value)}; you chose ${labelOf(spec, String(g))}.`;
    }
    root.dataset.state = "revealed";
    root.dataset.verdict = right ? "right" : "wrong";
    result.replaceChildren(h("p", {class: right ? "verdict right" : "verdict wrong"}, line), h("div", {class: "explain"}, a.explain));
    again.hidden = false;
  });

  again.addEventListener("click", () => {
    for (const i of disableAll) i.disabled = false;
    lock.disabled = false;
    reveal.disabled = true;
    again.hidden = true;
    root.dataset.state = "guessing";
    delete root.dataset.verdict;
    result.replaceChildren();
  });

  root.append(title, q, field, h("div", {class: "exercise-buttons"}, lock, reveal, again), result);
  return root;
}

function labelOf(spec: ExerciseSpec, v: string): string {
  return spec.input.kind === "choice" ? spec.input.options.find((o) => o.value === v)?.label ?? v : v;
}

/** A list of exercises under a heading. */
export function exercises(specs: ExerciseSpec[]): HTMLElement {
  return h("div", {class: "exercises"}, specs.map((s) => exercise(s)));
}
