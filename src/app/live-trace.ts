// The chapters' live data: the reader's prompt through the WebGPU engine in inspection mode (on the page's shared
// device), or through the CPU reference when there is no WebGPU or the reader chose the CPU. The page shows where it
// drew from (liveSource), marks its first live view with data-live="webgpu|cpu" (the readiness hook of
// bench/page-times.ts), and shows the golden-tensor check of the GPU trace against the CPU reference (liveCheck).
import {createWebGPUSession} from "../gpu/engine.js";
import {compareTraces, traceFromInspection} from "../lib/chapters/gpu-trace.js";
import type {ChapterTrace, TraceCheck} from "../lib/chapters/gpu-trace.js";
import {fmt} from "../lib/chapters/format.js";
import {forwardFull} from "../lib/model.js";
import type {ForwardTrace} from "../lib/model.js";
import type {ModelWeights} from "../lib/tensor.js";
import type {WebGPUStatus} from "../lib/webgpu-status.js";
import {chooseBackend, describeAdapter, isSoftwareAdapter} from "../lib/webgpu-status.js";
import {h} from "../components/dom.js";
import {pageGpu} from "./sessions.js";
import type {BackendChoice} from "./sessions.js";

export interface LiveTrace {
  trace: ChapterTrace;
  source: "webgpu" | "cpu";
  /** Where it was computed, in words. */
  label: string;
  /** Why the page drew from the CPU although WebGPU was asked for (null otherwise). */
  fallback: string | null;
  /** The CPU reference's trace of the same tokens (computed on first use when the live trace is the GPU's). */
  reference(): ForwardTrace;
  ms: number;
  /** Layer l of the pass: from `trace` when it holds it; otherwise (a GPU trace of selected layers) read back from the
   *  copies the inspection pass left on the GPU — only that layer crosses to the CPU, nothing is recomputed. */
  layer(l: number): Promise<ChapterTrace["layers"][number]>;
  /** Bytes the GPU inspection copied back so far (0 on the CPU). */
  readonly bytes: number;
}

const now = () => performance.now();

function cpuTrace(weights: ModelWeights, ids: readonly number[]): ChapterTrace {
  return {...forwardFull(weights, ids, {trace: true}).trace!, source: "cpu"};
}

type Session = Awaited<ReturnType<typeof createWebGPUSession>>;
// One inspection session per model on the page device, kept between runs (a new prompt costs one pass, not a rebuild);
// runs on the same model are serialized, and a session on a lost device is replaced.
const inspectors = new WeakMap<
  ModelWeights,
  {session?: Session; maxBlock: number; queue: Promise<unknown>; pass: number}
>();

/** The prompt through the inspection pass; `layers` (default all) are read back now, the rest stay on the GPU and
 *  `more(l)` reads one of them later (rerunning the pass only if the session has run another prompt since). */
function inspectOnGpu(weights: ModelWeights, ids: readonly number[], layers?: readonly number[]) {
  let entry = inspectors.get(weights);
  if (!entry) inspectors.set(weights, (entry = {maxBlock: 0, queue: Promise.resolve(), pass: 0}));
  const e = entry;
  let pass = -1;
  const queued = <T>(f: () => Promise<T>): Promise<T> => {
    const r = e.queue.catch(() => {}).then(f);
    e.queue = r;
    return r;
  };
  const withKV = async (ins: {start: number; tokens: number[]; layers: {layer: number}[]}) => {
    // the quantized KV cache as stored (a4.8: 3 bits, BOS in 4); nothing at 16 bits
    const out = [];
    for (const l of ins.layers) out.push({...l, kv: await e.session!.inspectKV(l.layer, 0, ids.length)});
    return {...ins, layers: out} as Awaited<ReturnType<typeof passOnce>>;
  };
  const passOnce = async () => {
    const ctx = await pageGpu();
    if (!e.session || e.session.device !== ctx.device || ids.length > e.maxBlock) {
      e.session?.dispose();
      e.session = undefined;
      // one block for the whole prompt, so every layer's codes come back in one inspection
      e.maxBlock = Math.min(weights.config.max_position_embeddings, Math.max(64, ids.length));
      e.session = await createWebGPUSession(weights, {gpu: ctx, inspect: true, maxBlock: e.maxBlock});
    }
    e.session.reset();
    await e.session.append(ids, {inspect: {layers: layers ? [...layers] : undefined, keep: true}});
    pass = ++e.pass;
    const ins = e.session.lastInspection!;
    const layersKV: ((typeof ins.layers)[number] & {kv?: Awaited<ReturnType<Session["inspectKV"]>>})[] = [];
    for (const l of ins.layers) layersKV.push({...l, kv: await e.session.inspectKV(l.layer, 0, ids.length)});
    return {...ins, layers: layersKV};
  };
  const first = queued(passOnce);
  const more = (l: number) =>
    queued(async () => {
      if (!e.session || pass !== e.pass) {
        layers = [l];
        return passOnce();
      }
      return withKV(await e.session.readInspection([l]));
    });
  const bytes = () => e.session?.inspectionBytesRead ?? 0;
  return {first, more, bytes};
}

/** Runs `ids` through the model where the page's `backend` state says; never throws for a GPU failure (it falls back
 *  to the CPU reference and says why). */
export async function liveTrace(
  weights: ModelWeights,
  ids: readonly number[],
  opts: {backend: BackendChoice; gpu: WebGPUStatus; layers?: readonly number[]},
): Promise<LiveTrace> {
  const t0 = now();
  const choice = chooseBackend(opts.backend, opts.gpu);
  // why the CPU although the reader did not ask for it (no WebGPU, or a software adapter under "auto")
  let fallback: string | null = choice.backend === "cpu" && opts.backend !== "cpu" ? choice.reason : null;
  if (choice.backend === "webgpu") {
    if (!opts.gpu.available) fallback = `WebGPU was asked for, but this browser has none (${opts.gpu.reason})`;
    else {
      try {
        const L = weights.config.num_hidden_layers;
        const sel = opts.layers?.filter((l) => Number.isInteger(l) && l >= 0 && l < L);
        const gpuPass = inspectOnGpu(weights, ids, sel?.length ? sel : undefined);
        const b0 = gpuPass.bytes();
        const ins = await gpuPass.first;
        const trace = traceFromInspection(ins, weights.config, weights);
        let ref: ForwardTrace | undefined;
        const more = new Map<number, Promise<ChapterTrace["layers"][number]>>();
        const layer = (l: number) => {
          const have = trace.layers.find((x) => x.layer === l);
          if (have) return Promise.resolve(have);
          if (!more.has(l))
            more.set(
              l,
              gpuPass
                .more(l)
                .then((r) => traceFromInspection(r, weights.config, weights).layers.find((x) => x.layer === l)!),
            );
          return more.get(l)!;
        };
        return {
          trace,
          source: "webgpu",
          label: isSoftwareAdapter(opts.gpu)
            ? `WebGPU on a software renderer on your CPU (${describeAdapter(opts.gpu)}), the engine's inspection pass`
            : `your GPU (WebGPU on ${describeAdapter(opts.gpu)}), the engine's inspection pass`,
          fallback: null,
          reference: () => (ref ??= cpuTrace(weights, ids)),
          ms: now() - t0,
          layer,
          get bytes() {
            return Math.max(0, gpuPass.bytes() - b0);
          },
        };
      } catch (e) {
        fallback = `the GPU pass failed (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`;
      }
    }
  }
  const trace = cpuTrace(weights, ids);
  return {
    trace,
    source: "cpu",
    label: "the CPU reference",
    fallback,
    reference: () => trace,
    ms: now() - t0,
    layer: async (l) => trace.layers[l],
    bytes: 0,
  };
}

/** One line naming the backend the page drew with. */
export function liveSource(live: LiveTrace, what = "The views below"): HTMLElement {
  const software = live.source === "webgpu" && /software renderer/.test(live.label);
  return h(
    "div",
    {class: `live-source live-source--${live.source}`, "data-live-source": live.source, role: "status"},
    h(
      "strong",
      {},
      live.source === "webgpu"
        ? software
          ? "Computed with WebGPU on your CPU (a software renderer). "
          : "Computed on your GPU. "
        : "Computed on the CPU. ",
    ),
    `${what} are drawn from ${live.label} (${fmt(live.ms, 3)} ms for ${live.trace.tokens.length} tokens).`,
    live.fallback ? ` The page used the CPU because ${live.fallback}.` : "",
    " ",
    infoIcon(
      live.source === "webgpu"
        ? "The GPU pass is the WebGPU engine (src/gpu/engine.ts) run with inspection on; the check below compares it with the CPU reference forward (src/lib/model.ts) on the same tokens."
        : "The CPU reference is the lab's plain TypeScript forward pass (src/lib/model.ts), the oracle every other implementation is checked against.",
    ),
  );
}

/** A small ⓘ that opens a note for the curious (where a number comes from in the code), so figures carry no
 *  developer notes in their text. A <details>, so it works by keyboard and with no script. */
export function infoIcon(note: string): HTMLElement {
  return h(
    "details",
    {class: "info-icon"},
    h("summary", {"aria-label": "Where this comes from", title: "Where this comes from"}, "ⓘ"),
    h("span", {class: "info-note"}, note),
  );
}

/** Marks a page's first live view (what bench/page-times.ts waits for). */
export function markLive<T extends Element>(el: T, live: LiveTrace): T {
  el.setAttribute("data-live", live.source);
  return el;
}

/** The visible golden-tensor check: the GPU trace against the CPU reference on the same tokens. */
export function liveCheck(live: LiveTrace): HTMLElement {
  const box = h("div", {class: "live-check", "data-check": "gpu-cpu"});
  if (live.source === "cpu") {
    box.setAttribute("data-pass", "none");
    box.append(
      h(
        "p",
        {},
        "GPU check: nothing to compare — these views came from the CPU reference itself. With WebGPU (or ",
        h("code", {}, "?backend=webgpu"),
        ") the page draws from your GPU and checks it against the CPU here.",
      ),
    );
    return box;
  }
  let r: TraceCheck;
  try {
    r = compareTraces(live.trace, live.reference());
  } catch (e) {
    box.setAttribute("data-pass", "false");
    box.append(h("p", {class: "check bad"}, `GPU check could not run: ${e instanceof Error ? e.message : String(e)}`));
    return box;
  }
  box.setAttribute("data-pass", String(r.pass));
  box.setAttribute("data-max-abs", String(r.maxAbs));
  box.setAttribute("data-codes-differ", String(r.codesDiffer));
  box.append(
    h(
      "p",
      {class: r.pass ? "check ok" : "check bad"},
      h("strong", {}, r.pass ? "PASS " : "FAIL "),
      `GPU against the CPU reference on the same ${live.trace.tokens.length} tokens: max |Δ| = ${r.maxAbs.toExponential(2)}${r.where ? ` (${r.where})` : ""}, ${fmt(r.maxRel, 2)} relative; `,
      `${r.codesDiffer.toLocaleString("en-US")} of ${r.codes.toLocaleString("en-US")} activation codes differ${r.kvCodes ? `, ${r.kvCodesDiffer.toLocaleString("en-US")} of ${r.kvCodes.toLocaleString("en-US")} KV-cache codes` : ""}; ${r.floats.toLocaleString("en-US")} float values compared. `,
      `PASS needs every float within ${r.tolerance.rel} of max(1, |CPU|) and at most ${100 * r.tolerance.codeShare}% of codes different.`,
    ),
  );
  return box;
}
