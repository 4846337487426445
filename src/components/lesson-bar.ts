// The lesson path's bar at the top of a page opened with lesson=N (src/lib/lesson.ts, src/lesson.md).
import {h} from "./dom.js";
import {LESSON, LESSON_MINUTES, lessonHref, lessonStart} from "../lib/lesson.js";

/** The lesson path's bar (src/lib/lesson.ts) when a page is opened with lesson=N: the step, its minutes and task,
 *  and links to the previous and next steps (each with its own hide list). Null otherwise. */
export function lessonBar(search: string): HTMLElement | null {
  const n = Number(new URLSearchParams(search).get("lesson"));
  if (!Number.isInteger(n) || n < 1 || n > LESSON.length) return null;
  const i = n - 1;
  const step = LESSON[i];
  const t0 = lessonStart(i);
  const nav = h(
    "nav",
    {class: "lesson-nav", "aria-label": "Lesson path"},
    i > 0
      ? h("a", {href: lessonHref(i - 1), rel: "prev", class: "lab-button"}, `← ${LESSON[i - 1].title}`)
      : h("a", {href: "./lesson", class: "lab-button"}, "← The lesson plan"),
    i < LESSON.length - 1
      ? h("a", {href: lessonHref(i + 1), rel: "next", class: "lab-button"}, `${LESSON[i + 1].title} →`)
      : h("a", {href: "./lesson", class: "lab-button"}, "End of the lesson ✓"),
  );
  return h(
    "aside",
    {class: "lesson-bar", "data-lesson-step": n, "aria-label": "Lesson step"},
    h(
      "p",
      {},
      h("strong", {}, `Lesson, step ${n} of ${LESSON.length}: ${step.title}`),
      ` — ${step.minutes} min (minutes ${t0}–${t0 + step.minutes} of ${LESSON_MINUTES}).`,
    ),
    h("p", {class: "lesson-task"}, step.task),
    nav,
  );
}
