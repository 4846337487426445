// Embeddable figures: each chapter's main figure as a function of typed URL state, drawn by the /embed route (a page
// with no site chrome, for an <iframe> in a tutorial author's own static page; docs/EMBED.md). The figures compose the
// chapters' own views and computations — the live trace (GPU inspection pass or CPU reference), the model loader, the
// cost model — so an embedded figure shows exactly what its chapter shows for the same state.
import {tensorNames, LINEARS} from "../lib/config.js";
import type {LinearName} from "../lib/config.js";
import {A48_TABLE2, A48_TABLE2_SOURCE} from "../lib/paper-tables.js";
import {COMPONENTS, layerSparsity, meanSparsity} from "../lib/chapters/sparsity.js";
import {histogram} from "../lib/chapters/stats.js";
import {rotateRows} from "../lib/chapters/hadamard.js";
import {ternaryShares} from "../lib/chapters/ternary.js";
import {fmt} from "../lib/chapters/format.js";
import {COST_PAGE_SCHEMA, WEIGHT_BITS, memoryCurves, speedCurves} from "../lib/cost/page.js";
import {fmtParams, fmtSig} from "../lib/cost.js";
import {bool, int, oneOf, text} from "../lib/url-state.js";
import type {Schema, StateOf} from "../lib/url-state.js";
import type {WebGPUStatus} from "../lib/webgpu-status.js";
import {groupedBars, histogramChart} from "../components/charts.js";
import {OKABE_ITO} from "../components/charts.js";
import {curveFigure} from "../components/cost-charts.js";
import {h} from "../components/dom.js";
import {tokenStream} from "../components/forward-views.js";
import {runGeneration} from "./generation.js";
import {liveCheck, liveSource, liveTrace, markLive} from "./live-trace.js";
import {loadModel, modelNotice, MODEL_NAMES} from "./models.js";
import {BACKEND_CHOICES} from "./sessions.js";
import {ternarySharesChart} from "../components/ternary-views.js";

export interface FigureContext {
  gpu: WebGPUStatus;
  width: number;
  /** Resolves when the embedding page goes away (stop generation, free GPU buffers). */
  invalidation: Promise<unknown>;
}

export interface FigureSpec<S extends Schema = Schema> {
  title: string;
  /** Which chapter it comes from (the "open in BitNet Lab" link). */
  chapter: string;
  schema: S;
  render(values: StateOf<S>, ctx: FigureContext): Promise<HTMLElement>;
}

const common = {seed: int(1, 0, 2 ** 31 - 1), backend: oneOf(BACKEND_CHOICES, "auto")};

async function modelAndTrace(
  name: string,
  prompt: string,
  v: {seed: number; backend: (typeof BACKEND_CHOICES)[number]; layer?: number},
  ctx: FigureContext,
) {
  const m = await loadModel(name, {seed: v.seed});
  const ids = m.encode(prompt).slice(0, m.weights.config.max_position_embeddings);
  // a figure of one layer copies back only that layer
  const layers = v.layer === undefined ? undefined : [layerIn(v.layer, m.weights.config.num_hidden_layers)];
  const live = await liveTrace(m.weights, ids, {backend: v.backend, gpu: ctx.gpu, layers});
  return {m, ids, live};
}

function layerIn(l: number, L: number): number {
  return Math.min(Math.max(0, l), L - 1);
}

const hadamard: FigureSpec<
  {
    model: ReturnType<typeof oneOf<string>>;
    prompt: ReturnType<typeof text>;
    layer: ReturnType<typeof int>;
    site: ReturnType<typeof oneOf<"o" | "down">>;
    token: ReturnType<typeof int>;
  } & typeof common
> = {
  title: "Hadamard: activations before and after the rotation",
  chapter: "hadamard",
  schema: {
    model: oneOf(MODEL_NAMES, "v2-a4"),
    prompt: text("We must act, and we will act, to renew the promise of America.", 200),
    layer: int(0, 0, 63),
    site: oneOf(["o", "down"] as const, "down"),
    token: int(-1, -1, 255),
    ...common,
  },
  async render(v, ctx) {
    const {m, ids, live} = await modelAndTrace(v.model, v.prompt, v, ctx);
    const layer = layerIn(v.layer, m.weights.config.num_hidden_layers);
    const lt = (await live.layer(layer)).linears[v.site];
    const n = lt.input.length / ids.length;
    const tok = v.token < ids.length ? v.token : -1;
    const pick = (a: Float32Array | Float64Array) => (tok < 0 ? a : a.subarray(tok * n, (tok + 1) * n));
    const X = pick(lt.input);
    const XR = pick(lt.rotated ?? rotateRows(lt.input, n));
    let lim = 0;
    for (const a of [X, XR]) for (let i = 0; i < a.length; i++) lim = Math.max(lim, Math.abs(a[i]));
    const w2 = ctx.width > 700 ? ctx.width / 2 - 10 : ctx.width;
    const site = v.site === "o" ? "attention output → W_o" : "FFN inner activation → W_down";
    return h(
      "div",
      {},
      modelNotice(m),
      liveSource(live, "These histograms"),
      markLive(
        h(
          "div",
          {class: "grid grid-cols-2", "data-figure": "hadamard"},
          histogramChart(histogram(X, 60, [-lim, lim]), {
            width: w2,
            xLabel: "x",
            logY: true,
            fill: "var(--ternary-neg)",
            caption: `Before: ${site}, layer ${layer}, ${tok < 0 ? `all ${ids.length} tokens` : `token ${tok}`} (${m.info.name})`,
            source: live.label,
          }),
          histogramChart(histogram(XR, 60, [-lim, lim]), {
            width: w2,
            xLabel: "H·x",
            logY: true,
            fill: "var(--ternary-pos)",
            caption: "After: the same values rotated by H",
            source: lt.rotated ? "the model's own rotation" : "rotated on this page (the model does not rotate)",
          }),
        ),
        live,
      ),
      liveCheck(live),
    );
  },
};

const ternaryHistogram: FigureSpec<{
  model: ReturnType<typeof oneOf<string>>;
  layer: ReturnType<typeof int>;
  matrix: ReturnType<typeof oneOf<LinearName>>;
  seed: ReturnType<typeof int>;
}> = {
  title: "Ternary weights: the share of −1, 0 and +1",
  chapter: "ternary",
  schema: {
    model: oneOf(
      MODEL_NAMES.filter((n) => n !== "fp"),
      "b1.58",
    ),
    layer: int(0, 0, 63),
    matrix: oneOf(LINEARS, "q"),
    seed: common.seed,
  },
  async render(v, ctx) {
    const m = await loadModel(v.model, {seed: v.seed});
    const layer = layerIn(v.layer, m.weights.config.num_hidden_layers);
    const tname = tensorNames.layer(layer)[v.matrix];
    const W = m.weights.ternary.get(tname)!;
    const chart = ternarySharesChart(ternaryShares(W.codes), {
      width: Math.min(ctx.width, 640),
      name: "codes",
      caption: `Ternary codes of ${tname} (γ = ${fmt(W.gamma, 4)})`,
      source: `${m.shipped ? `data/models/${m.info.name}/model.safetensors` : "random stand-in model"}, counted live`,
    });
    chart.setAttribute("data-figure", "ternary-histogram");
    chart.setAttribute("data-live", "cpu"); // the codes as loaded: no forward pass involved
    return h("div", {}, modelNotice(m), chart);
  },
};

const sparsity: FigureSpec<
  {
    model: ReturnType<typeof oneOf<string>>;
    prompt: ReturnType<typeof text>;
    size: ReturnType<typeof oneOf<"700M" | "1.3B" | "3B" | "7B">>;
  } & typeof common
> = {
  title: "Sparsity per component, measured next to a4.8 Table 2",
  chapter: "sparsity",
  schema: {
    model: oneOf(MODEL_NAMES, "a4.8"),
    prompt: text("The budget I send you today is balanced.", 200),
    size: oneOf(["700M", "1.3B", "3B", "7B"] as const, "7B"),
    ...common,
  },
  async render(v, ctx) {
    const {m, ids, live} = await modelAndTrace(v.model, v.prompt, v, ctx);
    const mean = meanSparsity(layerSparsity(live.trace, m.weights.config));
    const paper = A48_TABLE2.find((r) => r.model === "BitNet a4.8" && r.size === v.size)!;
    const label = {qkv: "QKV", out: "Out (W_o)", up: "Up", gate: "Gate", down: "Down", overall: "Overall"} as const;
    const rows = ([...COMPONENTS, "overall"] as const).flatMap((k) => [
      {label: label[k], group: `measured: ${m.info.name}`, value: 100 * mean[k]},
      {label: label[k], group: `paper: a4.8 ${v.size}`, value: paper[k]},
    ]);
    const chart = groupedBars(rows, {
      width: Math.min(ctx.width, 760),
      xLabel: "% zero activations",
      max: 100,
      format: (x) => `${fmt(x, 3)}%`,
      caption: `Activation sparsity of ${m.info.name} on ${ids.length} prompt tokens`,
      source: `${live.label}; paper: ${A48_TABLE2_SOURCE}`,
    });
    chart.setAttribute("data-figure", "sparsity");
    return h("div", {}, modelNotice(m), liveSource(live, "These bars"), markLive(chart, live), liveCheck(live));
  },
};

const generate: FigureSpec<
  {
    model: ReturnType<typeof oneOf<string>>;
    prompt: ReturnType<typeof text>;
    tokens: ReturnType<typeof int>;
  } & typeof common
> = {
  title: "Generation on your GPU (greedy)",
  chapter: "forward",
  schema: {
    model: oneOf(MODEL_NAMES, "b1.58"),
    prompt: text("My fellow citizens, the state of the Union", 400),
    tokens: int(24, 1, 200),
    ...common,
  },
  async render(v, ctx) {
    const m = await loadModel(v.model, {seed: v.seed});
    const view = tokenStream(v.prompt, {label: `${m.info.label}${m.shipped ? "" : " (random stand-in)"}`});
    view.setAttribute("data-figure", "generate");
    let stopped = false;
    const sessions: {session: {dispose(): void}}[] = [];
    void ctx.invalidation.then(() => {
      stopped = true;
      for (const s of sessions) s.session.dispose();
    });
    void runGeneration(view, m, v.prompt, {
      backend: v.backend,
      gpu: ctx.gpu,
      maxTokens: v.tokens,
      sampling: {temperature: 0},
      stopped: () => stopped,
      onSession: (s) => sessions.push(s),
    });
    return h("div", {}, modelNotice(m), view);
  },
};

const SERIES_STYLE: Record<(typeof WEIGHT_BITS)[number], {label: string; color: string}> = {
  "16": {label: "FP16 weights", color: OKABE_ITO.vermillion},
  "8": {label: "INT8 weights", color: OKABE_ITO.orange},
  "4": {label: "INT4 weights", color: OKABE_ITO.purple},
  "2": {label: "packed ternary (2 bits)", color: OKABE_ITO.blue},
  "1.58": {label: "ideal ternary (log₂3 bits)", color: OKABE_ITO.green},
};

const cost: FigureSpec<
  typeof COST_PAGE_SCHEMA & {chart: ReturnType<typeof oneOf<"memory" | "speed">>; log: ReturnType<typeof bool>}
> = {
  title: "Memory or decode speed over model size (cost model)",
  chapter: "scaling",
  schema: {...COST_PAGE_SCHEMA, chart: oneOf(["memory", "speed"] as const, "memory"), log: bool(true)},
  async render(v, ctx) {
    const memoryChart = v.chart === "memory";
    const fig = curveFigure(memoryChart ? memoryCurves(v) : speedCurves(v), {
      title: memoryChart ? "Memory over model size" : "Decode tokens/s over model size (memory-bound)",
      caption: memoryChart
        ? `weights at each precision + ${v.context} tokens × ${v.batch} of ${v.kvbits}-bit KV cache`
        : `${fmtSig(v.bw, 3)} GB/s, batch ${v.batch}, context ${v.context}`,
      width: ctx.width,
      x: {label: "parameters", log: true, format: fmtParams},
      y: memoryChart
        ? {label: "memory (GB)", log: v.log, format: (x) => fmtSig(x, 3)}
        : {label: "tokens/s", log: v.log, format: (x) => fmtSig(x, 3)},
      series: WEIGHT_BITS.map((b) => ({key: b, ...SERIES_STYLE[b]})),
    });
    fig.setAttribute("data-figure", "cost");
    fig.setAttribute("data-live", "cpu"); // a closed-form model: no forward pass
    return fig;
  },
};

/** Every embeddable figure by name (the `figure` URL parameter of /embed). */
export const FIGURES = {hadamard, "ternary-histogram": ternaryHistogram, sparsity, generate, cost} as unknown as Record<
  string,
  FigureSpec
>;
export const FIGURE_NAMES = Object.keys(FIGURES);
