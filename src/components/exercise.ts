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
  /** CSS selectors of elements elsewhere on the page that show the answer (a stat card, a decoded byte): they are
   *  blurred and made inert until the reader locks in a guess, so the answer is never just above the question.
   *  Elements a re-run cell draws later are concealed too. */
  conceal?: string;
}

/** Blurs and disables (inert) the page's elements matching `selector` while `on`; follows re-drawn cells. */
function concealer(selector: string, owner: HTMLElement, label: string): {set(on: boolean): void} {
  let on = true;
  let attached = false;
  const apply = () => {
    for (const el of document.querySelectorAll<HTMLElement>(selector)) {
      if (owner.contains(el)) continue;
      // Several exercises may conceal one figure: it stays concealed until every one of them is locked.
      const by = new Set((el.dataset.concealedBy ?? "").split("|").filter(Boolean));
      if (on) by.add(label);
      else by.delete(label);
      el.classList.toggle("exercise-concealed", by.size > 0);
      el.toggleAttribute("inert", by.size > 0);
      if (by.size) el.dataset.concealedBy = [...by].join("|");
      else delete el.dataset.concealedBy;
    }
  };
  const mo = typeof MutationObserver === "function"
    ? new MutationObserver(() => {
        // The exercise's cell re-ran: a new card owns the concealment now.
        if (attached && !owner.isConnected) return mo?.disconnect();
        attached ||= owner.isConnected;
        apply();
      })
    : null;
  if (typeof document !== "undefined") {
    mo?.observe(document.body, {childList: true, subtree: true});
    queueMicrotask(apply);
  }
  return {
    set(v: boolean) {
      on = v;
      apply();
    },
  };
}

/** An exercise card. Its root carries data-state = "guessing" | "locked" | "revealed" and, once revealed,
 *  data-verdict = "right" | "wrong" (used by the end-to-end tests). */
export function exercise(spec: ExerciseSpec): HTMLElement {
  const id = uniqueId("ex");
  const root = h("section", {class: "exercise", "data-state": "guessing", "aria-labelledby": `${id}-title`});
  // h3: exercises sit under a chapter's h2 ("Exercises"); an h4 skipped a level (axe heading-order).
  const title = h("h3", {id: `${id}-title`}, `Exercise ${spec.number}: predict, then check`);
  const hidden = spec.conceal ? concealer(spec.conceal, root, `Exercise ${spec.number}`) : null;
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
    hidden?.set(false);
    result.textContent = `Guess locked: ${typeof g === "number" ? minus(String(g)) : labelOf(spec, g)}.${spec.conceal ? " The figures above that give the answer away are visible again." : ""}`;
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
      right = Math.abs(Number(g) - a.value) <= a.tolerance;
      line = numberVerdict(Number(g), a, right);
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
    hidden?.set(true);
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

/** The verdict on a number, in plain words: an exact (tolerance 0) answer says "exactly", and a miss says how far
 *  and in which direction ("120 too high"), never "off by 0; within 0 counts". Exported for the unit tests. */
export function numberVerdict(guess: number, a: NumericAnswer, right: boolean): string {
  const f = a.format ?? ((v: number) => fmt(v, 3));
  const diff = guess - a.value;
  const g = minus(String(guess));
  const miss = `${f(Math.abs(diff))} too ${diff > 0 ? "high" : "low"}`;
  if (a.tolerance === 0) return right ? `✓ Right: it is exactly ${f(a.value)}.` : `✗ Not quite: it is ${f(a.value)}; you guessed ${g}, ${miss}.`;
  if (right) return `✓ Right: the model gives ${f(a.value)}; you guessed ${g}${diff === 0 ? ", spot on" : `, ${miss} — within ${f(a.tolerance)}, which counts`}.`;
  return `✗ Not quite: the model gives ${f(a.value)}; you guessed ${g}, ${miss} (within ${f(a.tolerance)} would count).`;
}

function labelOf(spec: ExerciseSpec, v: string): string {
  return spec.input.kind === "choice" ? spec.input.options.find((o) => o.value === v)?.label ?? v : v;
}

/** A list of exercises under a heading. */
export function exercises(specs: ExerciseSpec[]): HTMLElement {
  return h("div", {class: "exercises"}, specs.map((s) => exercise(s)));
}
