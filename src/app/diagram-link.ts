// Linked views (issue 24): the model diagram at the top of a chapter and the page's own controls drive each other.
// Clicking (or Enter on) a part the page has a control for selects it there — through the control's normal input
// path, so every chart follows and the URL updates — instead of opening its chapter; the diagram marks the parts the
// controls show now. pickFor is the DOM-free mapping (unit-tested); linkDiagram wires it to real controls.
import type {ModelDiagramElement} from "../components/model-diagram.js";
import {blockParts, type DiagramPart} from "../lib/chapters/diagram.js";
import type {BitNetConfig} from "../lib/config.js";
import type {Site} from "../lib/variant.js";

/** What a page offers the diagram: its site-like control (activation site, matrix, projection) with the value each
 *  BitLinear site maps to, and its layer control. */
export interface DiagramLinks {
  site?: {key: string; values: Partial<Record<Site, string>>};
  layer?: {key: string; count: number};
}

/** One control change: set parameter `key` to `value`. */
export interface ControlPick {
  key: string;
  value: string;
}

/** The control change a click on `part` makes on a page with these links, or null (the part keeps its chapter link).
 *  A part at a BitLinear site (its sub-norm, rotation, top-K, quantizer, projection) selects that site; the decoder
 *  block in the stack row steps the layer control to the next layer (wrapping). */
export function pickFor(
  part: Pick<DiagramPart, "id" | "site">,
  links: DiagramLinks,
  current: {layer?: number} = {},
): ControlPick | null {
  if (part.site && links.site) {
    const value = links.site.values[part.site];
    return value === undefined ? null : {key: links.site.key, value};
  }
  if (part.id === "blocks" && links.layer && links.layer.count > 1)
    return {key: links.layer.key, value: String(((current.layer ?? -1) + 1) % links.layer.count)};
  return null;
}

/** The part ids to mark for a page's current control values: every part at the selected site. */
export function selectedParts(
  parts: readonly Pick<DiagramPart, "id" | "site">[],
  links: DiagramLinks,
  siteValue?: string,
) {
  if (!links.site || siteValue === undefined) return [];
  return parts.filter((p) => p.site && links.site?.values[p.site] === siteValue).map((p) => p.id);
}

/** The <select> inside a PageState control. */
const selectOf = (ctl: HTMLElement | undefined) => ctl?.querySelector("select") ?? null;

/** Wire a chapter's diagram to its controls (the PageState selects named by `links`). */
export function linkDiagram(
  diagram: ModelDiagramElement,
  config: BitNetConfig,
  links: DiagramLinks,
  controls: {site?: HTMLElement; layer?: HTMLElement},
): void {
  const parts = blockParts(config);
  const siteSel = selectOf(controls.site);
  const layerSel = selectOf(controls.layer);
  const mark = () => {
    diagram.setSelected(selectedParts(parts, links, siteSel?.value));
    const blocks = diagram.querySelector<SVGElement>('a[data-part="blocks"]');
    if (blocks && layerSel) blocks.dataset.layer = layerSel.value;
  };
  diagram.setPick((part) => {
    const p = pickFor(part, links, {layer: layerSel ? Number(layerSel.value) : undefined});
    const sel = p && (p.key === links.layer?.key ? layerSel : siteSel);
    if (!p || !sel || ![...sel.options].some((o) => o.value === p.value)) return false;
    if (sel.value !== p.value) {
      sel.value = p.value;
      // the control's own path: PageState writes the URL, the wrapper's view() reruns every chart
      sel.dispatchEvent(new Event("input", {bubbles: true}));
    }
    mark();
    return true;
  });
  siteSel?.addEventListener("input", mark);
  layerSel?.addEventListener("input", mark);
  mark();
}
