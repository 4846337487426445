// Page state bound to the URL (the part of PageState without controls): the query parsed against the page's schema
// (src/lib/url-state.ts), written back with history.replaceState, sections a teacher's link hides, and the notice
// naming every ignored parameter.
import type {Schema, StateIssue, StateOf} from "../lib/url-state.js";
import {HIDE_PARAM, parseState, sectionKey, sectionMatches, serializeState} from "../lib/url-state.js";
import {h} from "./dom.js";
import {lessonBar} from "./lesson-bar.js";

export type Key<S> = keyof S & string;

/** The page's state as its link holds it: parsed and validated values, hidden controls and sections, the notice
 *  that lists what a link got wrong. PageState (controls.ts) adds the controls that read and write it. */
export class PageStateCore<S extends Schema> {
  readonly schema: S;
  readonly values: StateOf<S>;
  readonly hidden: Set<Key<S>>;
  /** Sections of the page the link hides, by visible heading (hide=exercises,the-bit-ledger). */
  hiddenSections: string[];
  readonly issues: StateIssue[];
  private sectionsApplied = false;
  private readonly noticeEls = new Set<HTMLElement>();
  private readonly allowUnknown: readonly string[];

  constructor(schema: S, opts: {search?: string; allowUnknown?: readonly string[]} = {}) {
    this.schema = schema;
    // lesson=N: the page was opened from the lesson path (lessonBar), on every page
    this.allowUnknown = [...(opts.allowUnknown ?? []), "lesson"];
    const parsed = parseState(schema, opts.search ?? globalThis.location?.search ?? "", {
      allowUnknown: this.allowUnknown,
      sections: true,
    });
    this.values = parsed.values;
    this.hidden = parsed.hidden;
    this.hiddenSections = parsed.hiddenSections;
    this.issues = parsed.issues;
  }

  /** Sets a value and writes the query (replaceState: the back button is not flooded with slider moves). */
  set<K extends Key<S>>(key: K, value: StateOf<S>[K]): void {
    this.values[key] = value;
    this.writeUrl();
  }

  /** The page's query string for the current values (and the given hide list). */
  query(hidden: Iterable<string> = this.hidden, sections: Iterable<string> = this.hiddenSections): string {
    return serializeState(this.schema, this.values, hidden, sections);
  }

  /** A full link to this page with the current state. */
  link(hidden: Iterable<string> = this.hidden, sections: Iterable<string> = this.hiddenSections): string {
    const q = this.query(hidden, sections);
    const loc = globalThis.location;
    return `${loc.origin}${loc.pathname}${q ? `?${q}` : ""}`;
  }

  private writeUrl(): void {
    const loc = globalThis.location;
    if (!loc || !globalThis.history) return;
    const q = this.query();
    // Keep parameters the page allows but does not own (they were accepted when the page loaded).
    const extra = new URLSearchParams(loc.search);
    const keep = new URLSearchParams(q);
    for (const [k, v] of extra) if (this.allowUnknown.includes(k) && !keep.has(k)) keep.append(k, v);
    const qs = keep.toString().replace(/%2C/g, ",");
    const next = `${loc.pathname}${qs ? `?${qs}` : ""}${loc.hash}`;
    if (next !== `${loc.pathname}${loc.search}${loc.hash}`) history.replaceState(history.state, "", next);
  }

  /** Adds an issue found after loading (e.g. a layer the model does not have) and updates the notices. */
  addIssue(issue: StateIssue | undefined): void {
    if (!issue) return;
    if (this.issues.some((i) => i.param === issue.param && i.message === issue.message)) return;
    this.issues.push(issue);
    for (const el of this.noticeEls) this.renderNotice(el);
  }

  /** A visible, polite live region listing every ignored parameter; empty (and hidden) when all is well. */
  notice(): HTMLElement {
    const el = h("div", {class: "notice url-notice", role: "status", "aria-live": "polite"});
    this.noticeEls.add(el);
    this.applySections();
    this.renderNotice(el);
    const bar = lessonBar(globalThis.location?.search ?? "");
    return bar ? (h("div", {class: "notice-group"}, bar, el) as HTMLElement) : el;
  }

  /** The page's sections: its h2 headings (Framework renders the markdown before any cell runs). */
  static sections(): HTMLHeadingElement[] {
    if (typeof document === "undefined") return [];
    return [...document.querySelectorAll<HTMLHeadingElement>("#observablehq-main h2")];
  }

  /** Hides each section the link names: its heading and everything up to the next h2 (cells that draw later
   *  draw into hidden placeholders), and its table-of-contents entry. A name matching no section is an issue. */
  private applySections(show = false): void {
    if (typeof document === "undefined" || (this.sectionsApplied && !show)) return;
    this.sectionsApplied = true;
    const heads = PageStateCore.sections();
    for (const el of document.querySelectorAll<HTMLElement>("[data-hidden-section]")) {
      el.hidden = false;
      delete el.dataset.hiddenSection;
    }
    if (show) return;
    const unmatched: string[] = [];
    for (const name of this.hiddenSections) {
      const hits = heads.filter((hd) => sectionMatches(name, hd.textContent ?? ""));
      if (!hits.length) unmatched.push(name);
      for (const hd of hits) {
        const label = (hd.textContent ?? "").trim();
        const mark = (el: HTMLElement) => {
          el.hidden = true;
          el.dataset.hiddenSection = label;
        };
        mark(hd);
        for (let n = hd.nextElementSibling; n && n.tagName !== "H2"; n = n.nextElementSibling) mark(n as HTMLElement);
        if (hd.id)
          for (const a of document.querySelectorAll<HTMLElement>(`#observablehq-toc a[href="#${CSS.escape(hd.id)}"]`))
            mark(a.closest("li") ?? a);
      }
    }
    document.dispatchEvent(new Event("lab:sections-hidden"));
    for (const name of unmatched) {
      this.hiddenSections = this.hiddenSections.filter((x) => x !== name);
      this.issues.push({
        param: HIDE_PARAM,
        value: name,
        message: `hide: "${name}" is neither a control nor a section of this page (controls: ${Object.keys(this.schema).join(", ")}; sections: ${heads.map((hd) => sectionKey(hd.textContent ?? "").replaceAll(" ", "-")).join(", ") || "none"})`,
      });
    }
  }

  private renderNotice(el: HTMLElement): void {
    el.replaceChildren();
    const hiddenNames = [...this.hidden];
    const sectionNames = [
      ...new Set(
        [...document.querySelectorAll<HTMLElement>("h2[data-hidden-section]")].map((x) => x.dataset.hiddenSection!),
      ),
    ];
    el.hidden = this.issues.length === 0 && hiddenNames.length === 0 && sectionNames.length === 0;
    if (this.issues.length) {
      el.append(
        h("strong", {}, "Some settings in this link were not used: "),
        h(
          "ul",
          {},
          this.issues.map((i) => h("li", {"data-param": i.param}, i.message)),
        ),
      );
    }
    if (hiddenNames.length) {
      const btn = h("button", {type: "button", class: "lab-button"}, "Show them");
      btn.addEventListener("click", () => {
        for (const k of hiddenNames) this.hidden.delete(k);
        for (const c of document.querySelectorAll<HTMLElement>(".lab-control[data-param]")) {
          if (hiddenNames.includes(c.dataset.param as Key<S>)) c.hidden = false;
        }
        this.writeUrl();
        this.renderNotice(el);
      });
      el.append(
        h(
          "p",
          {class: "hidden-note"},
          `This link hides ${hiddenNames.length === 1 ? "a control" : `${hiddenNames.length} controls`} (${hiddenNames.join(", ")}); their values still apply. `,
          btn,
        ),
      );
    }
    if (sectionNames.length) {
      const btn = h(
        "button",
        {type: "button", class: "lab-button", "data-show-sections": "true"},
        "Show the whole page",
      );
      btn.addEventListener("click", () => {
        this.hiddenSections = [];
        this.applySections(true);
        this.writeUrl();
        this.renderNotice(el);
      });
      el.append(
        h(
          "p",
          {class: "hidden-note", "data-hidden-sections": sectionNames.join("|")},
          `Your teacher's link hides ${sectionNames.length === 1 ? "a section" : `${sectionNames.length} sections`} of this page (${sectionNames.join("; ")}). `,
          btn,
        ),
      );
    }
  }
}
