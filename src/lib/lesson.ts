// The lesson path (issue 24): one 50-minute class across the chapters, each step a page with the sections it skips
// (hide=), its minutes and its task. DOM-free: the lesson page, the bar a chapter shows when opened from the path
// (?lesson=N), docs/TEACHING.md and test/unit/lesson.test.ts all read this one list.

export interface LessonStep {
  /** Page path without extension ("" = the overview). */
  page: string;
  title: string;
  minutes: number;
  /** Sections to leave out in class, by visible heading (hide=). */
  hide: string[];
  /** What the class does on this page. */
  task: string;
}

export const LESSON: readonly LessonStep[] = [
  {
    page: "",
    title: "The picture: where BitNet rounds",
    minutes: 5,
    hide: [],
    task: "Read the three sentences, then hover over every coloured part of the model picture for b1.58, a4.8 and v2. Which parts does each variant add?",
  },
  {
    page: "ternary",
    title: "Ternary weights",
    minutes: 12,
    hide: ["quantizing a latent weight live", "a matrix product without multiplications"],
    task: "Exercise 1 (predict the zero share) before the cards appear; then the bit ledger and exercise 3 (read a packed byte).",
  },
  {
    page: "activations",
    title: "Activations and outliers",
    minutes: 10,
    hide: ["rounding versus clipping"],
    task: "Find the outlier channels; exercise 1; compare INT8 and INT4 on one token.",
  },
  {
    page: "hadamard",
    title: "The Hadamard rotation",
    minutes: 10,
    hide: ["the butterfly", "what the transform costs"],
    task: "Before/after histograms; exercises 1 and 2 (kurtosis, error ratio).",
  },
  {
    page: "sparsity",
    title: "Sparsity",
    minutes: 8,
    hide: ["a 3 bit kv cache"],
    task: "Exercises 1 and 2 before the chart; then move K and watch the output change.",
  },
  {
    page: "forward",
    title: "Wrap-up: the whole model",
    minutes: 5,
    hide: ["verify gpu against the cpu reference", "exercises"],
    task: "Generate from a prompt; open one layer. Discuss: what did fewer bits cost, and what did they buy?",
  },
];

export const LESSON_MINUTES = LESSON.reduce((a, s) => a + s.minutes, 0);

/** A step's link (relative to the site root), carrying its hide list and its place in the path. */
export function lessonHref(i: number): string {
  const s = LESSON[i];
  const q = new URLSearchParams();
  q.set("lesson", String(i + 1));
  const hide = s.hide
    .map((x) =>
      x
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, ""),
    )
    .join(",");
  let qs = q.toString();
  if (hide) qs += `&hide=${hide}`;
  return `./${s.page}?${qs}`;
}

/** Minutes from the start of the lesson to the start of step i. */
export function lessonStart(i: number): number {
  return LESSON.slice(0, i).reduce((a, s) => a + s.minutes, 0);
}
