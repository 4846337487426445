// A tiny element builder for the views (no template library: everything the site loads is bundled from
// node_modules, and views stay plain functions returning Nodes).

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>;

/** h("div", {class: "x", onclick: f}, "text", child) → HTMLElement. `on*` attributes become listeners;
 *  boolean true sets an empty attribute, false/null/undefined omit it. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v as EventListener);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
}

let uid = 0;
/** A unique id for label/aria wiring. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${++uid}`;
}

/** Whether the reader asked for reduced motion. */
export function prefersReducedMotion(): boolean {
  return typeof matchMedia === "function" && matchMedia("(prefers-reduced-motion: reduce)").matches;
}

const overflowWatched = new Set<string>();

/** Makes every display-math block that scrolls sideways (a long formula on a narrow screen) reachable by
 *  keyboard, as scrollable regions must be; rechecked on resize and when cells draw (a formula in a cell that ran
 *  after the first check stayed unreachable at 375 px). Once per selector, however often a page calls it. */
export function focusableOverflow(selector = ".katex-display", name = "formula"): void {
  if (overflowWatched.has(selector)) return;
  overflowWatched.add(selector);
  let pending = false;
  const later = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      mark();
    });
  };
  const mark = () => {
    // Numbered: regions with the same name are indistinguishable landmarks (axe landmark-unique).
    for (const [i, el] of [...document.querySelectorAll<HTMLElement>(selector)].entries()) {
      if (el.scrollWidth > el.clientWidth + 1) {
        el.tabIndex = 0;
        el.setAttribute("role", "region");
        el.setAttribute("aria-label", `${name} ${i + 1} (scrolls sideways)`);
      } else if (el.getAttribute("role") === "region") {
        el.removeAttribute("tabindex");
        el.removeAttribute("role");
        el.removeAttribute("aria-label");
      }
    }
  };
  later();
  setTimeout(mark, 500);
  addEventListener("resize", later);
  if (typeof MutationObserver === "function")
    new MutationObserver(later).observe(document.body, {childList: true, subtree: true});
}

/** A name like "layers.1.mlp.down_proj.weight" with line-break opportunities after its dots, underscores and
 *  slashes (<wbr>), so a narrow card wraps it between parts instead of in the middle of a word. */
export function breakable(text: string): Node[] {
  const out: Node[] = [];
  for (const part of text.split(/(?<=[._/])/)) {
    if (out.length) out.push(document.createElement("wbr"));
    out.push(document.createTextNode(part));
  }
  return out;
}
