// The lesson path: 50 minutes, every step's hide list names real sections of its page (by visible heading).
import {readFileSync} from "node:fs";
import {describe, expect, it} from "vitest";
import {LESSON, LESSON_MINUTES, lessonHref, lessonStart} from "../../src/lib/lesson.js";
import {parseState, sectionMatches} from "../../src/lib/url-state.js";

const headings = (page: string) =>
  [...readFileSync(`src/${page || "index"}.md`, "utf8").matchAll(/^## (.*)$/gm)].map((m) =>
    m[1].replace(/\$\{tex`[^`]*`\}/g, ""),
  );

describe("lesson path", () => {
  it("fits a 50-minute class", () => {
    expect(LESSON_MINUTES).toBe(50);
    expect(lessonStart(LESSON.length - 1) + LESSON[LESSON.length - 1].minutes).toBe(50);
  });
  it("every hidden section exists on its page, and the link parses as sections", () => {
    for (const [i, s] of LESSON.entries()) {
      for (const name of s.hide)
        expect(
          headings(s.page).some((hd) => sectionMatches(name, hd)),
          `${s.page}: ${name} in ${headings(s.page).join(" | ")}`,
        ).toBe(true);
      const q = lessonHref(i).split("?")[1];
      const parsed = parseState({}, q, {allowUnknown: ["lesson"], sections: true});
      expect(parsed.issues).toEqual([]);
      expect(parsed.hiddenSections.length).toBe(s.hide.length);
    }
  });
  it("docs/TEACHING.md follows the same steps and times", () => {
    const doc = readFileSync("docs/TEACHING.md", "utf8");
    for (const s of LESSON) expect(doc).toContain(`${s.title} (${s.minutes} min)`);
  });
});
