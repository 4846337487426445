// Per layer × per token numbers for the forward chapter's inspector, from a reference-forward trace.
import type {LinearName} from "../config.js";
import type {ForwardTrace} from "../model.js";

export type InspectMetric = "residual" | "growth" | "sparsity" | "error";

export const INSPECT_METRICS: readonly {value: InspectMetric; label: string}[] = [
  {value: "residual", label: "residual-stream norm leaving the layer"},
  {value: "growth", label: "residual norm added by the layer"},
  {value: "sparsity", label: "zero share of the chosen projection's quantized input"},
  {value: "error", label: "relative quantization error of the chosen projection's input"},
];

/** Values [layers × tokens], row-major. Sparsity and error are 0 for a projection the variant leaves in float. */
export function layerTokenMetric(trace: ForwardTrace, metric: InspectMetric, linear: LinearName): Float64Array {
  const L = trace.layers.length;
  const T = trace.tokens.length;
  const out = new Float64Array(L * T);
  for (const lt of trace.layers) {
    const base = lt.layer * T;
    if (metric === "residual" || metric === "growth") {
      for (let t = 0; t < T; t++) {
        out[base + t] =
          metric === "residual" ? lt.residualNorm.output[t] : lt.residualNorm.output[t] - lt.residualNorm.input[t];
      }
      continue;
    }
    const tr = lt.linears[linear];
    const act = tr.act;
    if (!act) continue; // fp: nothing is quantized
    const D = act.dim;
    for (let t = 0; t < T; t++) {
      let zeros = 0;
      let err = 0;
      let norm = 0;
      const x = tr.rotated ?? tr.input;
      for (let i = 0; i < D; i++) {
        const q = act.q[t * D + i];
        if (q === 0) zeros++;
        const deq = q / act.scale[t];
        const v = x[t * D + i];
        err += (v - deq) * (v - deq);
        norm += v * v;
      }
      out[base + t] = metric === "sparsity" ? zeros / D : norm > 0 ? err / norm : 0;
    }
  }
  return out;
}
