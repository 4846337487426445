// Keyboard-operable controls for the cost chapter: native <select> and <input type=number/range> elements with
// labels. The form's `value` is the whole state object and it fires "input" on every change, so a Framework page
// can `view()` it and mirror it into the URL.

interface Common {
  name: string;
  label: string;
  help?: string;
  /** Controls with the same group share a fieldset, whose legend is the group (default: the form's legend). */
  group?: string;
}
export type ControlSpec =
  | (Common & {kind: "select"; options: readonly {value: string; label: string}[]})
  | (Common & {kind: "number"; min: number; max: number; step: number; unit?: string; log?: boolean})
  | (Common & {kind: "checkbox"});

export type ControlValues = Record<string, string | number | boolean>;

export interface ControlsElement extends HTMLFormElement {
  value: ControlValues;
}

let uid = 0;

/** `specs` in order; `values` the initial state; `hidden` names controls a teacher's link hides. */
export function costControls(specs: readonly ControlSpec[], values: ControlValues, o: {hidden?: ReadonlySet<string>; legend?: string} = {}): ControlsElement {
  const form = document.createElement("form") as ControlsElement;
  form.className = "cost-controls";
  form.addEventListener("submit", (e) => e.preventDefault());
  const fieldsets = new Map<string, HTMLFieldSetElement>();
  const fieldsetFor = (name: string) => {
    let f = fieldsets.get(name);
    if (!f) {
      f = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = name;
      f.append(legend);
      fieldsets.set(name, f);
      form.append(f);
    }
    return f;
  };
  const state: ControlValues = {...values};
  const emit = () => {
    form.value = {...state};
    form.dispatchEvent(new Event("input", {bubbles: true}));
  };
  for (const spec of specs) {
    const id = `cost-${spec.name}-${++uid}`;
    const row = document.createElement("div");
    row.className = "cost-control";
    // A teacher's link may hide it (its value still applies); the page's notice has "Show them" (PageState).
    row.dataset.param = spec.name;
    row.hidden = Boolean(o.hidden?.has(spec.name));
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = spec.label;
    row.append(label);
    if (spec.kind === "checkbox") {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.id = id;
      box.name = spec.name;
      box.checked = Boolean(state[spec.name]);
      box.addEventListener("input", (e) => { e.stopPropagation(); state[spec.name] = box.checked; emit(); });
      box.addEventListener("change", (e) => e.stopPropagation());
      row.append(box);
    } else if (spec.kind === "select") {
      const select = document.createElement("select");
      select.id = id;
      select.name = spec.name;
      for (const opt of spec.options) {
        const option = document.createElement("option");
        option.value = opt.value;
        option.textContent = opt.label;
        option.selected = String(state[spec.name]) === opt.value;
        select.append(option);
      }
      select.addEventListener("input", (e) => { e.stopPropagation(); state[spec.name] = select.value; emit(); });
      select.addEventListener("change", (e) => e.stopPropagation());
      row.append(select);
    } else {
      // A range (coarse, log-scaled when asked) and a number box (exact), kept in step.
      const range = document.createElement("input");
      range.type = "range";
      range.setAttribute("aria-label", `${spec.label} (slider)`);
      const number = document.createElement("input");
      number.type = "number";
      number.id = id;
      number.name = spec.name;
      number.min = String(spec.min);
      number.max = String(spec.max);
      number.step = String(spec.step);
      const toRange = (v: number) => (spec.log ? Math.log2(Math.max(v, Math.max(spec.min, 1))) : v);
      const fromRange = (r: number) => {
        const v = spec.log ? 2 ** r : r;
        return Math.min(spec.max, Math.max(spec.min, Math.round(v / spec.step) * spec.step));
      };
      range.min = String(toRange(Math.max(spec.min, spec.log ? 1 : spec.min)));
      range.max = String(toRange(spec.max));
      range.step = spec.log ? "0.25" : String(spec.step);
      const set = (v: number) => { range.value = String(toRange(v)); number.value = String(v); };
      set(Number(state[spec.name]));
      range.addEventListener("input", (e) => { e.stopPropagation(); const v = fromRange(Number(range.value)); number.value = String(v); state[spec.name] = v; emit(); });
      number.addEventListener("input", (e) => {
        e.stopPropagation();
        const v = Number(number.value);
        const valid = number.value !== "" && Number.isFinite(v) && v >= spec.min && v <= spec.max && Math.abs(v / spec.step - Math.round(v / spec.step)) < 1e-9;
        number.setAttribute("aria-invalid", valid ? "false" : "true");
        if (!valid) return; // keep the last good value until the box holds a valid one
        range.value = String(toRange(v));
        state[spec.name] = v;
        emit();
      });
      range.addEventListener("change", (e) => e.stopPropagation());
      number.addEventListener("change", (e) => e.stopPropagation());
      row.append(range, number);
      if (spec.unit) {
        const unit = document.createElement("span");
        unit.className = "cost-unit";
        unit.textContent = spec.unit;
        row.append(unit);
      }
    }
    if (spec.help) {
      const help = document.createElement("small");
      help.textContent = spec.help;
      row.append(help);
    }
    fieldsetFor(spec.group ?? o.legend ?? "Model and hardware").append(row);
  }
  form.value = {...state};
  return form;
}

/** A list of notices (bad URL values, missing WebGPU) in a live region. */
export function notices(messages: readonly string[]): HTMLElement {
  const box = document.createElement("div");
  box.setAttribute("role", "status");
  for (const m of messages) {
    const p = document.createElement("p");
    p.className = "notice";
    p.textContent = m;
    box.append(p);
  }
  return box;
}
