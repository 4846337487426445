// Typed, validated page state in the URL query (DOM-free, so it is unit-tested in Node). Each page declares
// its parameters once — type, default, allowed range — and every control, the prompt and the seed read from
// and write to that one schema. A bad value in a shared link is ignored (the default is used) and reported
// as an issue naming the parameter, so a teacher's typo is visible rather than silently changing the lesson.
// `hide=a,b` lists controls to hide (a teacher's locked link, as in TensorFlow Playground's `_hide` flags).

export interface IntParam {
  type: "int";
  default: number;
  min: number;
  max: number;
}
export interface NumberParam {
  type: "number";
  default: number;
  min: number;
  max: number;
}
export interface EnumParam<V extends string = string> {
  type: "enum";
  default: V;
  values: readonly V[];
}
export interface TextParam {
  type: "text";
  default: string;
  maxLength: number;
}
export interface BoolParam {
  type: "bool";
  default: boolean;
}
export type ParamSpec = IntParam | NumberParam | EnumParam | TextParam | BoolParam;
export type Schema = Record<string, ParamSpec>;

/** The value type each parameter parses to. */
export type ValueOf<P extends ParamSpec> = P extends IntParam | NumberParam
  ? number
  : P extends EnumParam<infer V>
    ? V
    : P extends BoolParam
      ? boolean
      : string;
export type StateOf<S extends Schema> = {[K in keyof S]: ValueOf<S[K]>};

/** The reserved parameter that lists hidden controls. */
export const HIDE_PARAM = "hide";

// ---- schema builders (they keep literal types, so an enum's value is a union, not `string`)

export function int(def: number, min: number, max: number): IntParam {
  if (!(Number.isInteger(def) && Number.isInteger(min) && Number.isInteger(max) && min <= def && def <= max)) {
    throw new Error(`url-state: int(${def}, ${min}, ${max}) needs integers with min ≤ default ≤ max`);
  }
  return {type: "int", default: def, min, max};
}
export function num(def: number, min: number, max: number): NumberParam {
  if (!(Number.isFinite(def) && Number.isFinite(min) && Number.isFinite(max) && min <= def && def <= max)) {
    throw new Error(`url-state: num(${def}, ${min}, ${max}) needs finite numbers with min ≤ default ≤ max`);
  }
  return {type: "number", default: def, min, max};
}
export function oneOf<const V extends string>(values: readonly V[], def: V): EnumParam<V> {
  if (!values.includes(def)) throw new Error(`url-state: default "${def}" is not one of ${values.join(", ")}`);
  return {type: "enum", default: def, values};
}
export function text(def: string, maxLength = 500): TextParam {
  if (def.length > maxLength) throw new Error(`url-state: default text is longer than ${maxLength}`);
  return {type: "text", default: def, maxLength};
}
export function bool(def: boolean): BoolParam {
  return {type: "bool", default: def};
}

/** One rejected or questionable piece of the query, in words a reader can act on. */
export interface StateIssue {
  param: string;
  value: string;
  message: string;
}

export interface ParsedState<S extends Schema> {
  values: StateOf<S>;
  /** Controls the link asks to hide. */
  hidden: Set<keyof S & string>;
  /** With `sections: true`: names in `hide` that are not controls — a page's sections by their visible heading,
   *  matched by the page (sectionMatches); otherwise such names are issues. */
  hiddenSections: string[];
  issues: StateIssue[];
}

/** A heading or a hide entry reduced to lowercase words ("The bit ledger: four weights per byte" → "the bit ledger
 *  four weights per byte"). */
export function sectionKey(text: string): string {
  return text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, " ")
    .trim();
}

/** Whether a `hide` entry names this heading: the same words, or the heading's first words ("exercises",
 *  "the bit ledger", "the-bit-ledger" all name "The bit ledger: four weights per byte"). */
export function sectionMatches(entry: string, heading: string): boolean {
  const e = sectionKey(entry);
  const hd = sectionKey(heading);
  return e.length > 0 && (hd === e || hd.startsWith(`${e} `));
}

export function defaults<S extends Schema>(schema: S): StateOf<S> {
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(schema)) out[k] = spec.default;
  return out as StateOf<S>;
}

function describe(spec: ParamSpec): string {
  switch (spec.type) {
    case "int":
      return `an integer from ${fmtNum(spec.min)} to ${fmtNum(spec.max)}`;
    case "number":
      return `a number from ${fmtNum(spec.min)} to ${fmtNum(spec.max)}`;
    case "enum":
      return `one of ${spec.values.join(", ")}`;
    case "text":
      return `text of at most ${spec.maxLength} characters`;
    case "bool":
      return "true or false (also 1/0, yes/no)";
  }
}

function fmtNum(n: number): string {
  // A real minus sign (U+2212) in anything a reader sees.
  return String(n).replace("-", "\u2212");
}

/** Parses one raw query value against its spec; undefined when invalid. */
export function parseValue(spec: ParamSpec, raw: string): string | number | boolean | undefined {
  switch (spec.type) {
    case "int":
    case "number": {
      const s = raw.trim().replace("\u2212", "-");
      // Number("") is 0 and Number("0x10") is 16: accept only plain decimal notation.
      if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) return undefined;
      const n = Number(s);
      if (!Number.isFinite(n)) return undefined;
      if (spec.type === "int" && !Number.isInteger(n)) return undefined;
      if (n < spec.min || n > spec.max) return undefined;
      return n;
    }
    case "enum":
      return (spec.values as readonly string[]).includes(raw) ? raw : undefined;
    case "text":
      return raw.length <= spec.maxLength ? raw : undefined;
    case "bool": {
      const s = raw.trim().toLowerCase();
      if (s === "true" || s === "1" || s === "yes" || s === "on" || s === "") return true;
      if (s === "false" || s === "0" || s === "no" || s === "off") return false;
      return undefined;
    }
  }
}

/** Reads the state from a query string ("?a=1&b=2" or "a=1&b=2"). Never throws: every problem becomes an
 *  issue and the parameter keeps its default. Parameters not in the schema are reported and ignored. */
export function parseState<S extends Schema>(
  schema: S,
  search: string,
  opts: {allowUnknown?: readonly string[]; sections?: boolean} = {},
): ParsedState<S> {
  const values = defaults(schema) as Record<string, unknown>;
  const hidden = new Set<keyof S & string>();
  const hiddenSections: string[] = [];
  const issues: StateIssue[] = [];
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  } catch {
    return {
      values: values as StateOf<S>,
      hidden,
      hiddenSections,
      issues: [{param: "(query)", value: search, message: "the query string could not be read; using defaults"}],
    };
  }
  const seen = new Set<string>();
  for (const [key, raw] of params) {
    if (key === HIDE_PARAM) {
      for (const name of raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)) {
        if (Object.hasOwn(schema, name)) hidden.add(name as keyof S & string);
        else if (opts.sections && sectionKey(name)) hiddenSections.push(name.slice(0, 80));
        else
          issues.push({
            param: HIDE_PARAM,
            value: name,
            message: `hide: there is no control named "${name}" on this page (known: ${Object.keys(schema).join(", ")})`,
          });
      }
      continue;
    }
    if (!Object.hasOwn(schema, key)) {
      if (!opts.allowUnknown?.includes(key))
        issues.push({param: key, value: raw, message: `${key}: this page has no parameter of that name; ignored`});
      continue;
    }
    if (seen.has(key)) {
      issues.push({param: key, value: raw, message: `${key}: given more than once; the first value is used`});
      continue;
    }
    seen.add(key);
    const spec = schema[key];
    const v = parseValue(spec, raw);
    if (v === undefined) {
      issues.push({
        param: key,
        value: raw,
        message: `${key}: "${truncate(raw)}" is not ${describe(spec)}; using the default (${fmtDefault(spec)})`,
      });
    } else {
      values[key] = v;
    }
  }
  return {values: values as StateOf<S>, hidden, hiddenSections, issues};
}

function truncate(s: string, n = 40): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function fmtDefault(spec: ParamSpec): string {
  if (spec.type === "text") return spec.default === "" ? "empty" : `"${truncate(spec.default)}"`;
  return typeof spec.default === "number" ? fmtNum(spec.default) : String(spec.default);
}

/** Writes the state as a query string (without "?"): only values that differ from their defaults, in
 *  schema order, plus `hide`, so links stay short and stable. Invalid values are rejected loudly here —
 *  they come from the page's own code, not from a reader. */
export function serializeState<S extends Schema>(
  schema: S,
  values: Partial<StateOf<S>>,
  hidden: Iterable<string> = [],
  sections: Iterable<string> = [],
): string {
  const params = new URLSearchParams();
  for (const [key, spec] of Object.entries(schema)) {
    const v = (values as Record<string, unknown>)[key];
    if (v === undefined || v === spec.default) continue;
    const raw = spec.type === "bool" ? (v ? "true" : "false") : String(v);
    if (parseValue(spec, raw) === undefined)
      throw new Error(`url-state: ${key} = ${JSON.stringify(v)} is not ${describe(spec)}`);
    params.set(key, raw);
  }
  const hide = [...hidden].filter((h) => Object.hasOwn(schema, h));
  const secs = [...new Set([...sections].map((x) => sectionKey(x).replaceAll(" ", "-")).filter(Boolean))];
  if (hide.length || secs.length)
    params.set(
      HIDE_PARAM,
      [...[...new Set(hide)].sort((a, b) => order(schema, a) - order(schema, b)), ...secs].join(","),
    );
  // URLSearchParams encodes "," as %2C; keep the hide list readable.
  return params.toString().replace(/%2C/g, ",");
}

function order(schema: Schema, key: string): number {
  return Object.keys(schema).indexOf(key);
}

/** A check that depends on what loaded (e.g. the layer index against the model's layer count): returns the
 *  value if `ok`, otherwise the fallback and an issue naming the parameter. */
export function refine<T>(
  param: string,
  value: T,
  ok: boolean,
  fallback: T,
  why: string,
): {value: T; issue?: StateIssue} {
  if (ok) return {value};
  return {
    value: fallback,
    issue: {param, value: String(value), message: `${param}: ${why}; using ${String(fallback)}`},
  };
}
