// Page state bound to the URL, and the labelled, keyboard-operable controls that read and write it.
// A page declares its schema (src/lib/url-state.ts), makes one PageState, and builds each control from it:
//   const st = new PageState({layer: int(0, 0, 63), prompt: text("…", 200)});
//   display(st.notice());
//   const layer = view(st.select("layer", {label: "Layer", options: [0, 1, 2, 3]}));
// Every control's value, the prompt and the seed live in the query (history.replaceState, no reload); a bad
// value in a link is ignored with a visible notice naming the parameter; `?hide=a,b` hides controls (their
// values still apply), and st.sharePanel() builds a teacher's link with chosen controls hidden.
import type {Schema, StateOf} from "../lib/url-state.js";
import {HIDE_PARAM, sectionKey} from "../lib/url-state.js";
import {focusableOverflow, h, uniqueId} from "./dom.js";
import {type Key, PageStateCore} from "./page-state-core.js";

/** A control: a wrapper element whose `.value` is the typed value and which emits bubbling "input" events,
 *  as Framework's view() expects. */
export type Control<T> = HTMLElement & {value: T};

/** The page state with its controls: each builds a labelled, keyboard-operable input bound to one parameter. */
export class PageState<S extends Schema> extends PageStateCore<S> {
  private wrap<T>(
    key: Key<S>,
    label: string,
    input: HTMLElement,
    read: () => T,
    opts: {id: string; help?: string; extra?: Node[]; lead?: Node[]; describedBy?: string[]},
  ): Control<T> {
    const helpId = opts.help ? `${opts.id}-help` : undefined;
    const describedBy = [...(opts.describedBy ?? []), ...(helpId ? [helpId] : [])];
    if (describedBy.length) input.setAttribute("aria-describedby", describedBy.join(" "));
    const el = h(
      "div",
      {class: "lab-control", "data-param": key},
      h("label", {for: opts.id}, label),
      ...(opts.lead ?? []),
      input,
      ...(opts.extra ?? []),
      opts.help ? h("small", {id: helpId, class: "lab-help"}, opts.help) : null,
    ) as unknown as Control<T>;
    Object.defineProperty(el, "value", {get: read, set: () => {}, configurable: true});
    el.hidden = this.hidden.has(key);
    return el;
  }

  /** A <select>. `options` are values of the parameter (numbers or strings) with optional labels; a value
   *  from the link that is not among them falls back to the first option, with a notice. */
  select<K extends Key<S>>(
    key: K,
    opts: {label: string; options: readonly (StateOf<S>[K] | {value: StateOf<S>[K]; label: string})[]; help?: string},
  ): Control<StateOf<S>[K]> {
    const id = uniqueId(`ctl-${key}`);
    const items = opts.options.map((o) =>
      typeof o === "object" && o !== null && "value" in o ? o : {value: o as StateOf<S>[K], label: String(o)},
    );
    if (!items.length) throw new Error(`select ${key}: no options`);
    let current = this.values[key];
    if (!items.some((i) => i.value === current)) {
      this.addIssue({
        param: key,
        value: String(current),
        message: `${key}: "${String(current)}" is not available here (choices: ${items.map((i) => i.label).join(", ")}); using ${items[0].label}`,
      });
      current = items[0].value;
      this.set(key, current);
    }
    // Each option's value is the parameter's value as a link writes it; the typed value is read by position.
    const sel = h(
      "select",
      {id, name: key},
      items.map((i) => h("option", {value: String(i.value), selected: i.value === current}, i.label)),
    );
    sel.addEventListener("input", () => this.set(key, items[sel.selectedIndex].value));
    return this.wrap(key, opts.label, sel, () => items[sel.selectedIndex].value, {id, help: opts.help});
  }

  /** A range slider with its value shown in an <output>. The parameter must be numeric. */
  range<K extends Key<S>>(
    key: K,
    opts: {label: string; step: number; format?: (v: number) => string; help?: string; min?: number; max?: number},
  ): Control<number> {
    const spec = this.schema[key];
    if (spec.type !== "int" && spec.type !== "number") throw new Error(`range ${key}: not a numeric parameter`);
    const id = uniqueId(`ctl-${key}`);
    const min = opts.min ?? spec.min;
    const max = opts.max ?? spec.max;
    let v = this.values[key] as number;
    if (v < min || v > max) {
      this.addIssue({
        param: key,
        value: String(v),
        message: `${key}: ${v} is outside ${min}–${max} here; using ${spec.default}`,
      });
      v = Math.min(max, Math.max(min, spec.default));
      this.set(key, v as StateOf<S>[K]);
    }
    const fmt = opts.format ?? String;
    const input = h("input", {id, name: key, type: "range", min, max, step: opts.step, value: v});
    const out = h("output", {for: id}, fmt(v));
    input.setAttribute("aria-valuetext", fmt(v));
    input.addEventListener("input", () => {
      const n = Number(input.value);
      out.textContent = fmt(n);
      input.setAttribute("aria-valuetext", fmt(n));
      this.set(key, n as StateOf<S>[K]);
    });
    return this.wrap(key, opts.label, input, () => Number(input.value), {id, help: opts.help, extra: [out]});
  }

  /** A text field that commits on Enter or its button (not on every keystroke: each commit reruns a model). */
  textInput<K extends Key<S>>(
    key: K,
    opts: {label: string; button?: string; help?: string; placeholder?: string},
  ): Control<string> {
    const spec = this.schema[key];
    if (spec.type !== "text") throw new Error(`textInput ${key}: not a text parameter`);
    const id = uniqueId(`ctl-${key}`);
    const input = h("input", {
      id,
      name: key,
      type: "text",
      value: String(this.values[key]),
      maxlength: spec.maxLength,
      placeholder: opts.placeholder ?? "",
      autocomplete: "off",
      spellcheck: "false",
    });
    const btn = h("button", {type: "submit", class: "lab-button"}, opts.button ?? "Run");
    let committed = String(this.values[key]);
    const form = h("form", {class: "lab-text"}, input, btn);
    input.addEventListener("input", (e) => e.stopPropagation()); // only commits reach view()
    let wrapper: Control<string>;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      committed = input.value;
      this.set(key, committed as StateOf<S>[K]);
      wrapper.dispatchEvent(new Event("input", {bubbles: true}));
    });
    wrapper = this.wrap(key, opts.label, form, () => committed, {id, help: opts.help});
    return wrapper;
  }

  /** A number field for an int/number parameter (a seed, a context length); commits on change (Enter or leaving
   *  the field). Out-of-range, off-step or non-numeric input is refused with a message and the field reverts.
   *  `step` (default 1 for an int, none for a number) is the field's step and the slider's rounding; `unit` is shown
   *  after the field; `slider` adds a range kept in step with the field for coarse moves (`log: true` for
   *  quantities that span decades, e.g. a batch of 1 to 4096) — the field stays for exact values. */
  numberInput<K extends Key<S>>(
    key: K,
    opts: {label: string; help?: string; step?: number; unit?: string; slider?: {log?: boolean}},
  ): Control<number> {
    const spec = this.schema[key];
    if (spec.type !== "int" && spec.type !== "number") throw new Error(`numberInput ${key}: not a numeric parameter`);
    const id = uniqueId(`ctl-${key}`);
    const step = opts.step ?? (spec.type === "int" ? 1 : undefined);
    let committed = this.values[key] as number;
    const input = h("input", {
      id,
      name: key,
      type: "number",
      min: spec.min,
      max: spec.max,
      step: step ?? "any",
      value: committed,
      inputmode: spec.type === "int" ? "numeric" : "decimal",
    });
    const msg = h("span", {class: "lab-help", role: "status"});
    const unitId = opts.unit ? `${id}-unit` : undefined;
    const spoken = (v: number) => `${v}${opts.unit ? ` ${opts.unit}` : ""}`;
    input.addEventListener("input", (e) => e.stopPropagation()); // only commits reach view()
    let wrapper: Control<number>;
    let slider: HTMLInputElement | undefined;
    const log = Boolean(opts.slider?.log);
    const lo = log ? Math.max(spec.min, 1) : spec.min; // a log slider starts at 1 (a 0 is typed in the field)
    const toSlider = (v: number) => (log ? Math.log2(Math.max(v, lo)) : v);
    const fromSlider = (r: number) => {
      const v = log ? 2 ** r : r;
      return Math.min(spec.max, Math.max(spec.min, step ? Math.round(v / step) * step : Number(v.toPrecision(3))));
    };
    const commit = (v: number, from: "field" | "slider") => {
      msg.textContent = "";
      committed = v;
      input.value = String(v);
      if (slider && from === "field") slider.value = String(toSlider(v));
      slider?.setAttribute("aria-valuetext", spoken(v));
      this.set(key, v as StateOf<S>[K]);
      wrapper.dispatchEvent(new Event("input", {bubbles: true}));
    };
    input.addEventListener("change", () => {
      const v = Number(input.value);
      const onStep = step === undefined || Math.abs(v / step - Math.round(v / step)) < 1e-9;
      const ok =
        input.value.trim() !== "" &&
        Number.isFinite(v) &&
        v >= spec.min &&
        v <= spec.max &&
        onStep &&
        (spec.type !== "int" || Number.isInteger(v));
      if (!ok) {
        msg.textContent = `${key} must be ${spec.type === "int" ? "an integer" : "a number"} from ${spec.min} to ${spec.max}${step && step !== 1 ? ` in steps of ${step}` : ""}; kept ${committed}.`;
        input.value = String(committed);
        return;
      }
      commit(v, "field");
    });
    if (opts.slider) {
      const s = h("input", {
        type: "range",
        min: toSlider(lo),
        max: toSlider(spec.max),
        step: log ? 0.25 : (step ?? "any"),
        value: toSlider(committed),
        "aria-label": `${opts.label} (slider)`,
        "aria-valuetext": spoken(committed),
      });
      s.addEventListener("input", (e) => {
        e.stopPropagation();
        commit(fromSlider(Number(s.value)), "slider");
      });
      s.addEventListener("change", (e) => e.stopPropagation());
      slider = s;
    }
    const extra: Node[] = [...(opts.unit ? [h("span", {id: unitId, class: "lab-unit"}, opts.unit)] : []), msg];
    wrapper = this.wrap(key, opts.label, input, () => committed, {
      id,
      help: opts.help,
      extra,
      lead: slider ? [slider] : [],
      describedBy: unitId ? [unitId] : [],
    });
    return wrapper;
  }

  /** A checkbox for a boolean parameter. */
  checkbox<K extends Key<S>>(key: K, opts: {label: string; help?: string}): Control<boolean> {
    const spec = this.schema[key];
    if (spec.type !== "bool") throw new Error(`checkbox ${key}: not a boolean parameter`);
    const id = uniqueId(`ctl-${key}`);
    const input = h("input", {id, name: key, type: "checkbox", checked: Boolean(this.values[key])});
    input.addEventListener("input", () => this.set(key, input.checked as StateOf<S>[K]));
    const el = this.wrap(key, opts.label, input, () => input.checked, {id, help: opts.help});
    el.classList.add("lab-check");
    el.prepend(input); // checkbox before its label
    return el;
  }

  /** Several controls viewed as one, for a page that recomputes everything from many of them: <fieldset>s with
   *  legends in a <div class="lab-controls">, whose `.value` is a copy of the whole page state (each control writes
   *  it before its input event bubbles through). */
  fieldsets(groups: readonly {legend: string; controls: readonly HTMLElement[]}[]): Control<StateOf<S>> {
    const el = h(
      "div",
      {class: "lab-controls"},
      groups.map((g) => h("fieldset", {}, h("legend", {}, g.legend), [...g.controls])),
    ) as unknown as Control<StateOf<S>>;
    Object.defineProperty(el, "value", {get: () => ({...this.values}), set: () => {}, configurable: true});
    return el;
  }

  /** "Share this setup": the current link, a copy button, and (for teachers) checkboxes choosing which
   *  controls the link hides. */
  sharePanel(labels: Partial<Record<Key<S>, string>> = {}): HTMLElement {
    const chosen = new Set<string>(this.hidden);
    const field = h("input", {
      type: "text",
      readonly: true,
      class: "share-link",
      "aria-label": "Link to this page with the current settings",
    });
    const secs = new Set<string>(this.hiddenSections.map((x) => sectionKey(x)));
    const refresh = () => (field.value = this.link(chosen, [...secs]));
    const status = h("span", {role: "status", class: "share-status"});
    const copy = h("button", {type: "button", class: "lab-button"}, "Copy link");
    copy.addEventListener("click", async () => {
      refresh();
      try {
        await navigator.clipboard.writeText(field.value);
        status.textContent = "Copied.";
      } catch {
        field.select();
        status.textContent = "Select the link and copy it (the browser did not allow clipboard access).";
      }
    });
    // Only the parameters the page names (a page may keep internal ones, e.g. the Train page's resume flag).
    const named = Object.keys(labels).length
      ? (Object.keys(this.schema) as Key<S>[]).filter((k) => k in labels)
      : (Object.keys(this.schema) as Key<S>[]);
    const boxes = named.map((k) => {
      const id = uniqueId(`hide-${k}`);
      const cb = h("input", {type: "checkbox", id, checked: chosen.has(k)});
      cb.addEventListener("change", () => {
        if (cb.checked) chosen.add(k);
        else chosen.delete(k);
        refresh();
      });
      return h("span", {class: "hide-choice"}, cb, h("label", {for: id}, labels[k] ?? k));
    });
    const refreshAll = refresh;
    const sectionBoxes = PageState.sections().map((hd) => {
      const key = sectionKey(hd.textContent ?? "");
      const id = uniqueId("hide-section");
      const cb = h("input", {type: "checkbox", id, checked: secs.has(key), "data-section": key});
      cb.addEventListener("change", () => {
        if (cb.checked) secs.add(key);
        else secs.delete(key);
        refreshAll();
      });
      return h("span", {class: "hide-choice"}, cb, h("label", {for: id}, (hd.textContent ?? "").trim()));
    });
    const panel = h(
      "details",
      {class: "share-panel"},
      h("summary", {}, "Share this setup (link, classroom options)"),
      h("p", {}, "The link carries every setting on this page, including the prompt and the seed."),
      h("div", {class: "share-row"}, field, copy, status),
      h("fieldset", {}, h("legend", {}, `Hide these controls in the link (the "${HIDE_PARAM}" parameter):`), boxes),
      sectionBoxes.length
        ? h(
            "fieldset",
            {class: "hide-sections"},
            h("legend", {}, "Hide these sections of the page (for a shorter lesson):"),
            sectionBoxes,
          )
        : null,
    );
    panel.addEventListener("toggle", refresh);
    focusableOverflow(); // the share panel comes last on a page, after its formulas
    addEventListener("input", () => panel.open && refresh());
    refresh();
    return panel;
  }
}
