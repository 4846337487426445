// The sparsity chapter's sweeps (output change against the top-K ratio and against KV-cache bits), computed where the
// page's backend says: the WebGPU engine's sweep runner on the page device (src/gpu/engine/sweep.ts — K is a runtime
// value, each KV format one session sharing the page's compiled pipelines), else the CPU reference with the same config
// overrides. The page names the backend (sweepSource, data-live on the chart) and checks the GPU's points against the
// CPU reference's (sweepCheck: max |Δ| of the plotted KL and top-1 disagreement, PASS/FAIL).
import {createSweepRunner, type SweepOverride, type SweepRunner} from "../gpu/engine.js";
import {traceFromInspection} from "../lib/chapters/gpu-trace.js";
import {compareSweeps, type SweepPoint} from "../lib/chapters/sparsity.js";
import {fmt} from "../lib/chapters/format.js";
import {forwardFull} from "../lib/model.js";
import type {LayerTrace} from "../lib/model.js";
import type {ModelWeights} from "../lib/tensor.js";
import type {WebGPUStatus} from "../lib/webgpu-status.js";
import {chooseBackend, describeAdapter, isSoftwareAdapter} from "../lib/webgpu-status.js";
import {h} from "../components/dom.js";
import {pageGpu} from "./sessions.js";
import type {BackendChoice} from "./sessions.js";

export interface LiveSweep {
  /** Where the logits come from now ("cpu" after a GPU failure, with `fallback` saying why). */
  readonly source: "webgpu" | "cpu";
  readonly label: string;
  readonly fallback: string | null;
  /** [T, V] logits of the sweep tokens with the model's config changed by `over` (memoized). */
  logits(over: SweepOverride): Promise<Float32Array>;
  /** The same, with each layer's KV-cache summary (bits, mean |error| of K and V) from the cache as stored. */
  withKV(over: SweepOverride): Promise<{logits: Float32Array; kv: NonNullable<LayerTrace["kv"]>[]}>;
  /** The CPU reference's logits for the same setting (the check's other side; memoized). */
  cpu(over: SweepOverride): Float32Array;
  ids: readonly number[];
}

// One runner per model on the page device (its sessions stay between sweeps); replaced after a device loss.
const runners = new WeakMap<ModelWeights, {runner: SweepRunner; device: GPUDevice; maxTokens: number}>();

async function runnerFor(weights: ModelWeights, maxTokens: number): Promise<SweepRunner> {
  const ctx = await pageGpu();
  const e = runners.get(weights);
  if (e && e.device === ctx.device && e.maxTokens >= maxTokens) return e.runner;
  e?.runner.dispose();
  const runner = createSweepRunner(weights, {gpu: ctx, maxTokens});
  runners.set(weights, {runner, device: ctx.device, maxTokens});
  return runner;
}

const keyOf = (o: SweepOverride) => JSON.stringify(Object.entries(o).sort());

export function liveSweep(
  weights: ModelWeights,
  ids: readonly number[],
  opts: {backend: BackendChoice; gpu: WebGPUStatus},
): LiveSweep {
  const choice = chooseBackend(opts.backend, opts.gpu);
  let source: "webgpu" | "cpu" = choice.backend === "webgpu" && opts.gpu.available ? "webgpu" : "cpu";
  let fallback: string | null = null;
  if (choice.backend === "webgpu" && !opts.gpu.available)
    fallback = `WebGPU was asked for, but this browser has none (${opts.gpu.reason})`;
  else if (choice.backend === "cpu" && opts.backend !== "cpu") fallback = choice.reason;
  const cpuMemo = new Map<string, Float32Array>();
  const gpuMemo = new Map<string, Promise<{logits: Float32Array; kv?: NonNullable<LayerTrace["kv"]>[]}>>();
  const cfgOf = (over: SweepOverride) => ({...weights.config, ...over});
  const cpu = (over: SweepOverride) => {
    const k = keyOf(over);
    if (!cpuMemo.has(k)) cpuMemo.set(k, forwardFull({...weights, config: cfgOf(over)}, ids).logits);
    return cpuMemo.get(k)!;
  };
  const cpuKV = (over: SweepOverride) => {
    const r = forwardFull({...weights, config: cfgOf(over)}, ids, {trace: true});
    return {logits: r.logits, kv: r.trace!.layers.map((l) => l.kv).filter((x): x is NonNullable<typeof x> => !!x)};
  };
  const onGpu = (over: SweepOverride, inspect: boolean) => {
    const k = keyOf(over) + (inspect ? "+kv" : "");
    let p = gpuMemo.get(k);
    if (!p) {
      p = (async () => {
        const r = await (await runnerFor(weights, ids.length)).run(ids, over, {inspect});
        if (!r.inspection) return {logits: r.logits};
        const t = traceFromInspection(r.inspection, cfgOf(over));
        return {logits: r.logits, kv: t.layers.map((l) => l.kv).filter((x): x is NonNullable<typeof x> => !!x)};
      })();
      p.catch(() => gpuMemo.delete(k));
      gpuMemo.set(k, p);
    }
    return p;
  };
  const fail = (e: unknown) => {
    source = "cpu";
    fallback = `the GPU sweep failed (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`;
  };
  return {
    get source() {
      return source;
    },
    get label() {
      return source === "webgpu"
        ? `${isSoftwareAdapter(opts.gpu) ? "WebGPU on a software renderer on your CPU" : "your GPU (WebGPU on"} ${isSoftwareAdapter(opts.gpu) ? `(${describeAdapter(opts.gpu)})` : `${describeAdapter(opts.gpu)})`}, the engine's sweep sessions`
        : "the CPU reference";
    },
    get fallback() {
      return fallback;
    },
    ids,
    cpu,
    async logits(over) {
      if (source === "webgpu") {
        try {
          return (await onGpu(over, false)).logits;
        } catch (e) {
          fail(e);
        }
      }
      return cpu(over);
    },
    async withKV(over) {
      if (source === "webgpu") {
        try {
          const r = await onGpu(over, true);
          return {logits: r.logits, kv: r.kv ?? []};
        } catch (e) {
          fail(e);
        }
      }
      return cpuKV(over);
    },
  };
}

/** One line naming the backend a sweep was drawn with (the same classes as liveSource). */
export function sweepSource(sw: LiveSweep, what: string): HTMLElement {
  return h(
    "p",
    {
      class: `live-source live-source--${sw.source}`,
      "data-live-source": sw.source,
      "data-sweep-source": "",
      role: "status",
    },
    h(
      "strong",
      {},
      sw.source === "webgpu"
        ? /software renderer/.test(sw.label)
          ? "Computed with WebGPU on your CPU (a software renderer). "
          : "Computed on your GPU. "
        : "Computed on the CPU. ",
    ),
    `${what} is drawn from ${sw.label} (${sw.ids.length} tokens per setting).`,
    sw.fallback ? ` The page used the CPU because ${sw.fallback}.` : "",
  );
}

/** The sweep's visible golden check: the GPU's points against the CPU reference's on the same tokens. */
export function sweepCheck(
  sw: LiveSweep,
  name: string,
  gpu: readonly SweepPoint[],
  cpu: () => SweepPoint[],
): HTMLElement {
  const box = h("div", {class: "live-check", "data-check": `sweep-${name}`});
  if (sw.source === "cpu") {
    box.setAttribute("data-pass", "none");
    box.append(h("p", {}, "GPU check: nothing to compare — this sweep came from the CPU reference itself."));
    return box;
  }
  let r: ReturnType<typeof compareSweeps>;
  try {
    r = compareSweeps(gpu, cpu());
  } catch (e) {
    box.setAttribute("data-pass", "false");
    box.append(h("p", {class: "check bad"}, `GPU check could not run: ${e instanceof Error ? e.message : String(e)}`));
    return box;
  }
  box.setAttribute("data-pass", String(r.pass));
  box.setAttribute("data-max-abs", String(r.maxAbsKL));
  box.append(
    h(
      "p",
      {class: r.pass ? "check ok" : "check bad"},
      h("strong", {}, r.pass ? "PASS " : "FAIL "),
      `GPU against the CPU reference at ${gpu.length} settings: max |Δ| of the KL = ${r.maxAbsKL.toExponential(2)} nats${r.where !== undefined && r.maxAbsKL > 0 ? ` (at ${fmt(r.where, 3)})` : ""}, `,
      `of the top-1 disagreement = ${fmt(r.maxAbsTop1, 3)}, of the loss = ${r.maxAbsLoss.toExponential(2)} nats. `,
      `PASS needs KL and loss within ${r.tolerance.kl} nats and the same top-1 token at every position.`,
    ),
  );
  return box;
}
