// The embeddings view: what an embedding model (architecture pooling "last-token-l2") returns for two texts —
// each unit vector as a strip of its first values, and their cosine similarity. Pure: (data) → Node.
import {h, s} from "./dom.js";

export interface EmbeddingsData {
  texts: [string, string];
  tokens: [number, number];
  vectors: [Float32Array, Float32Array];
  /** Which backend computed them ("WebGPU", or the CPU reference and why). */
  backend: string;
  /** The same texts with the file's float master weights (projections unquantized), or why there are none. */
  float?: {vectors: [Float32Array, Float32Array]; backend: string} | {unavailable: string};
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += a[i] * b[i];
  return d;
}

function strip(v: Float32Array, n: number, label: string): SVGSVGElement {
  const w = 6,
    H = 40;
  let m = 1e-12;
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(v[i]));
  return s(
    "svg",
    {width: n * w, height: H, role: "img", "aria-label": label},
    ...Array.from({length: n}, (_, i) => {
      const y = (v[i] / m) * (H / 2);
      return s("rect", {
        x: i * w,
        y: y > 0 ? H / 2 - y : H / 2,
        width: w - 1,
        height: Math.max(0.5, Math.abs(y)),
        fill: y > 0 ? "#3b6ea5" : "#c0504d",
      });
    }),
  );
}

/** The float-weight comparison: the cosine with unquantized projections and how far each ternary vector is from
 *  its float twin. */
function floatPart(d: EmbeddingsData, c: number): HTMLElement[] {
  if (!d.float) return [];
  if ("unavailable" in d.float)
    return [h("p", {class: "embeddings-float", "data-float": "none"}, `Float weights: ${d.float.unavailable}.`)];
  const f = d.float;
  const cf = cosine(f.vectors[0], f.vectors[1]);
  const self = [0, 1].map((k) => cosine(d.vectors[k], f.vectors[k]));
  return [
    h(
      "p",
      {class: "embeddings-float", "data-float-cosine": cf.toFixed(6)},
      `With the file's float master weights (projections unquantized, ${f.backend}): cosine similarity ${cf.toFixed(4)} (ternary ${c.toFixed(4)}, difference ${(c - cf).toFixed(4)}). Each ternary vector against its float twin: cosine ${self.map((v) => v.toFixed(4)).join(" and ")}.`,
    ),
  ];
}

export function embeddingsView(d: EmbeddingsData, opts: {values?: number} = {}): HTMLElement {
  const n = Math.min(opts.values ?? 64, d.vectors[0].length);
  const c = cosine(d.vectors[0], d.vectors[1]);
  return h(
    "section",
    {class: "embeddings-view", "data-cosine": c.toFixed(6), "data-backend": d.backend === "WebGPU" ? "webgpu" : "cpu"},
    h(
      "p",
      {},
      `Each text becomes one unit vector of ${d.vectors[0].length} values: the last token's final hidden state, divided by its length (${d.backend}). Their dot product is the cosine similarity.`,
    ),
    h(
      "table",
      {},
      h(
        "tbody",
        {},
        ...[0, 1].map((k) =>
          h(
            "tr",
            {},
            h("th", {scope: "row"}, `“${d.texts[k]}” (${d.tokens[k]} tokens)`),
            h("td", {}, strip(d.vectors[k], n, `first ${n} values of embedding ${k + 1}`)),
          ),
        ),
        h("tr", {}, h("th", {scope: "row"}, "cosine similarity"), h("td", {}, h("strong", {}, c.toFixed(4)))),
      ),
    ),
    ...floatPart(d, c),
    h(
      "details",
      {},
      h("summary", {}, "values (data table)"),
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, h("th", {}, "i"), h("th", {}, "text 1"), h("th", {}, "text 2"))),
        h(
          "tbody",
          {},
          Array.from({length: n}, (_, i) =>
            h(
              "tr",
              {},
              h("td", {}, String(i)),
              h("td", {}, d.vectors[0][i].toFixed(5)),
              h("td", {}, d.vectors[1][i].toFixed(5)),
            ),
          ),
        ),
      ),
    ),
  );
}
