// Predict-then-reveal: the reader commits a guess first, then the live computation reveals the answer and
// checks the guess against it ("predict before you click"). Answers come from the running model, never from
// canned numbers, so they change with the model, layer and prompt the reader chose.
import {fmt, minus} from "../lib/chapters/format.js";
import {h, uniqueId} from "./dom.js";
import {sectionMatches} from "../lib/url-state.js";

/** Fired on document by PageState when a teacher's link hides sections (hide=exercises): an exercise in a hidden
 *  section never asks, so what it concealed is shown. */
export const SECTIONS_EVENT = "lab:sections-hidden";

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

/** Blurs and disables (inert) the page's elements matching `selector` while `on`; follows re-drawn cells. One per
 *  exercise label on a page: `concealFromStart` creates it in the page's first cell (so the answer is hidden from
 *  first paint, even when the exercise's own cell runs late), and the exercise card then adopts it. */
interface Concealer {
  set(on: boolean): void;
  adopt(owner: HTMLElement): void;
}
const concealers = new Map<string, Concealer>();

function concealer(selector: string, label: string, section = "exercises"): Concealer {
  const existing = concealers.get(label);
  if (existing) return existing;
  let on = true;
  let off = false; // its section is hidden by the link: never conceal
  const sectionHidden = () =>
    [...document.querySelectorAll("h2[data-hidden-section]")].some((hd) =>
      sectionMatches(section, hd.textContent ?? ""),
    );
  let owner: HTMLElement | null = null;
  const apply = () => {
    for (const el of document.querySelectorAll<HTMLElement>(selector)) {
      if (el.closest(".exercise")) continue; // never inside an exercise card
      // Several exercises may conceal one figure: it stays concealed until every one of them is locked.
      const by = new Set((el.dataset.concealedBy ?? "").split("|").filter(Boolean));
      if (on && !off) by.add(label);
      else by.delete(label);
      el.classList.toggle("exercise-concealed", by.size > 0);
      el.toggleAttribute("inert", by.size > 0);
      if (by.size) el.dataset.concealedBy = [...by].join("|");
      else delete el.dataset.concealedBy;
    }
  };
  const c: Concealer = {
    set(v: boolean) {
      on = v;
      apply();
    },
    adopt(el: HTMLElement) {
      owner = el;
    },
  };
  if (typeof document !== "undefined") {
    const check = () => {
      if (sectionHidden()) {
        off = true;
        apply();
      }
    };
    document.addEventListener(SECTIONS_EVENT, check);
    queueMicrotask(check);
    const mo = typeof MutationObserver === "function" ? new MutationObserver(() => apply()) : null;
    mo?.observe(document.body, {childList: true, subtree: true});
    apply();
    queueMicrotask(apply);
  }
  concealers.set(label, c);
  return c;
}

/** Call in a page's first cell with each exercise's `conceal` selectors (by exercise number): the figures that give
 *  an answer away are hidden from the moment they are drawn, not from when the exercise's cell happens to run. */
export function concealFromStart(specs: Record<number, string>, sections: Record<number, string> = {}): void {
  for (const [n, sel] of Object.entries(specs)) concealer(sel, `Exercise ${n}`, sections[Number(n)] ?? "exercises");
}

/** What the reader did in an exercise, kept per page while the page is open: a cell that re-runs (a resize, a
 *  control elsewhere) draws the card again in the same state. Keyed by number and question text, so a changed
 *  question (another model or layer) starts fresh. */
interface Memory {
  guess: string;
  state: "guessing" | "locked" | "revealed";
}
const memory = new Map<string, Memory>();

/** Whether a typed number is a guess the exercise can take: a number within the input's min/max. Exported for tests. */
export function checkGuess(
  raw: string,
  input: {min?: number; max?: number},
): {ok: true; value: number} | {ok: false; message: string} {
  const t = raw.trim();
  const v = Number(t);
  if (t === "" || !Number.isFinite(v)) return {ok: false, message: "Type a number first."};
  if ((input.min !== undefined && v < input.min) || (input.max !== undefined && v > input.max)) {
    return {
      ok: false,
      message: `The answer is between ${minus(String(input.min ?? "−∞"))} and ${minus(String(input.max ?? "∞"))}: ${minus(t)} is outside.`,
    };
  }
  return {ok: true, value: v};
}

/** The guess input of an exercise (a number field or radio choices) and how to read, restore and disable it. */
function guessField(
  spec: ExerciseSpec,
  id: string,
  root: HTMLElement,
): {
  field: HTMLElement;
  disableAll: HTMLInputElement[];
  readGuess: () => string | number | undefined;
  rawGuess: () => string;
  restoreGuess: (g: string) => void;
  guessProblem: () => string;
} {
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
    const field = h(
      "div",
      {class: "exercise-guess"},
      h("label", {for: inp.id}, "Your guess"),
      inp,
      spec.input.unit ? h("span", {class: "unit"}, spec.input.unit) : null,
    );
    const range = spec.input;
    return {
      field,
      disableAll,
      readGuess: () => {
        const r = checkGuess(inp.value, range);
        return r.ok ? r.value : undefined;
      },
      rawGuess: () => inp.value,
      restoreGuess: (g) => {
        inp.value = g;
      },
      guessProblem: () => {
        const r = checkGuess(inp.value, range);
        return r.ok ? "" : r.message;
      },
    };
  }
  const name = `${id}-choice`;
  const radios = spec.input.options.map((o, i) => {
    const r = h("input", {type: "radio", name, id: `${name}-${i}`, value: o.value});
    disableAll.push(r);
    return h("div", {class: "choice"}, r, h("label", {for: r.id}, o.label));
  });
  const readGuess = () => root.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value;
  return {
    field: h("fieldset", {class: "exercise-guess"}, h("legend", {}, "Your guess"), radios),
    disableAll,
    readGuess,
    rawGuess: () => String(readGuess() ?? ""),
    restoreGuess: (g) => {
      for (const r of radios) {
        const i = r.querySelector("input")!;
        i.checked = i.value === g;
      }
    },
    guessProblem: () => "Pick an option first.",
  };
}

/** An exercise card. Its root carries data-state = "guessing" | "locked" | "revealed" and, once revealed,
 *  data-verdict = "right" | "wrong" (used by the end-to-end tests). */
export function exercise(spec: ExerciseSpec): HTMLElement {
  const id = uniqueId("ex");
  const root = h("section", {class: "exercise", "data-state": "guessing", "aria-labelledby": `${id}-title`});
  // h3: exercises sit under a chapter's h2 ("Exercises"); an h4 skipped a level (axe heading-order).
  const title = h("h3", {id: `${id}-title`}, `Exercise ${spec.number}: predict, then check`);
  const hidden = spec.conceal ? concealer(spec.conceal, `Exercise ${spec.number}`) : null;
  hidden?.adopt(root);
  const key = `${spec.number}|${typeof spec.question === "string" ? spec.question : spec.question.textContent}`;
  const q = h("div", {class: "exercise-question"}, spec.question);

  const {field, readGuess, rawGuess, restoreGuess, guessProblem, disableAll} = guessField(spec, id, root);

  const lock = h("button", {type: "button", class: "lab-button"}, "Lock in my guess");
  const reveal = h("button", {type: "button", class: "lab-button", disabled: true}, "Reveal the answer");
  const again = h("button", {type: "button", class: "lab-button", hidden: true}, "Try again");
  const result = h("div", {class: "exercise-result", role: "status", "aria-live": "polite"});

  lock.addEventListener("click", () => {
    const g = readGuess();
    if (g === undefined) {
      result.textContent = guessProblem();
      return;
    }
    memory.set(key, {guess: rawGuess(), state: "locked"});
    for (const i of disableAll) i.disabled = true;
    lock.disabled = true;
    reveal.disabled = false;
    root.dataset.state = "locked";
    hidden?.set(false);
    result.textContent = `Guess locked: ${typeof g === "number" ? minus(String(g)) : labelOf(spec, g)}.${spec.conceal ? " The figures above that give the answer away are visible again." : ""}`;
    if (!restoring) reveal.focus();
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
    memory.set(key, {guess: rawGuess(), state: "revealed"});
    root.dataset.verdict = right ? "right" : "wrong";
    result.replaceChildren(
      h("p", {class: right ? "verdict right" : "verdict wrong"}, line),
      h("div", {class: "explain"}, a.explain),
    );
    again.hidden = false;
  });

  again.addEventListener("click", () => {
    for (const i of disableAll) i.disabled = false;
    hidden?.set(true);
    lock.disabled = false;
    reveal.disabled = true;
    again.hidden = true;
    root.dataset.state = "guessing";
    memory.delete(key);
    delete root.dataset.verdict;
    result.replaceChildren();
  });

  root.append(title, q, field, h("div", {class: "exercise-buttons"}, lock, reveal, again), result);
  // Drawn again by a re-run cell (a resize): back to where the reader was, answer re-computed from the live model.
  const was = memory.get(key);
  let restoring = false;
  if (was) {
    restoring = true;
    restoreGuess(was.guess);
    if (readGuess() !== undefined) {
      lock.click();
      if (was.state === "revealed") reveal.click();
    }
    restoring = false;
  } else hidden?.set(true);
  return root;
}

/** The verdict on a number, in plain words: an exact (tolerance 0) answer says "exactly", and a miss says how far
 *  and in which direction ("120 too high"), never "off by 0; within 0 counts". Exported for the unit tests. */
export function numberVerdict(guess: number, a: NumericAnswer, right: boolean): string {
  const f = a.format ?? ((v: number) => fmt(v, 3));
  const diff = guess - a.value;
  const g = minus(String(guess));
  const miss = `${f(Math.abs(diff))} too ${diff > 0 ? "high" : "low"}`;
  if (a.tolerance === 0)
    return right
      ? `✓ Right: it is exactly ${f(a.value)}.`
      : `✗ Not quite: it is ${f(a.value)}; you guessed ${g}, ${miss}.`;
  if (right)
    return `✓ Right: the model gives ${f(a.value)}; you guessed ${g}${diff === 0 ? ", spot on" : `, ${miss} — within ${f(a.tolerance)}, which counts`}.`;
  return `✗ Not quite: the model gives ${f(a.value)}; you guessed ${g}, ${miss} (within ${f(a.tolerance)} would count).`;
}

function labelOf(spec: ExerciseSpec, v: string): string {
  return spec.input.kind === "choice" ? (spec.input.options.find((o) => o.value === v)?.label ?? v) : v;
}

/** A list of exercises under a heading. */
export function exercises(specs: ExerciseSpec[]): HTMLElement {
  return h(
    "div",
    {class: "exercises"},
    specs.map((s) => exercise(s)),
  );
}
