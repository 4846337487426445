// The training page's Web Worker: TensorFlow.js (WebGPU, WebGL or CPU backend) and the twin run live here, off
// the page's main thread. The page creates it from its own module URL (import.meta.resolve, which Framework
// rewrites to the built file) with the query string and hash removed; the worker refuses to start otherwise, and
// reports any flag tfjs took from a URL, so a shared link can never set a library flag. Protocol: worker-protocol.ts.
import * as tfjs from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import {initTfBackend, TwinRun, type BackendName, type SavedTwin, type SizeMeasurement} from "../chapters/train.js";
import {chooseBackend, webgpuStatus} from "../webgpu-status.js";
import type {TF} from "./tf.js";
import type {TrainData} from "./trainer.js";
import type {FromWorker, Request, Results, WorkerBackend} from "./worker-protocol.js";

interface WorkerScope {
  location: {search: string; hash: string};
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: "message", fn: (e: MessageEvent<Request>) => void): void;
}
const scope = globalThis as unknown as WorkerScope;
const tf = tfjs as unknown as TF;

if (scope.location.search || scope.location.hash) throw new Error("training worker: started with a query string; the page must own its URL");
// tfjs parsed its URL flags at import; the worker's URL has none, and this makes sure none are in force.
const urlFlags = Object.keys((tf.env() as unknown as {urlFlags?: Record<string, unknown>}).urlFlags ?? {});
if (urlFlags.length) tf.env().reset();

let data: TrainData | null = null;
const runs = new Map<number, TwinRun>();
/** Saves asked for while a run trains: taken between two steps, so both models' weights, moments and step agree. */
const pendingSaves = new Map<number, {resolve: (v: SavedTwin) => void; reject: (e: unknown) => void}[]>();

async function flushSaves(id: number, run: TwinRun): Promise<void> {
  const waiting = pendingSaves.get(id);
  if (!waiting?.length) return;
  pendingSaves.delete(id);
  try {
    const saved = await run.saveStates();
    for (const w of waiting) w.resolve(saved);
  } catch (e) {
    for (const w of waiting) w.reject(e);
  }
}

function need<T>(x: T | null | undefined, what: string): T {
  if (x === null || x === undefined) throw new Error(`training worker: ${what}`);
  return x;
}

const post = (m: FromWorker) => scope.postMessage(m);

async function handle(m: Request): Promise<Results[Request["method"]]> {
  switch (m.method) {
    case "init": {
      data = m.data;
      // "auto": a hardware WebGPU adapter, otherwise the CPU (a software-emulated adapter is many times slower
      // than tfjs's CPU backend: chooseBackend in webgpu-status.ts); WebGL only when asked for.
      const status = await webgpuStatus();
      const engine = chooseBackend(m.backend === "auto" ? "auto" : m.backend === "cpu" ? "cpu" : "webgpu", status);
      const order: BackendName[] = m.backend === "auto" ? (engine.backend === "webgpu" ? ["webgpu", "cpu"] : ["cpu"]) : ["webgpu", "webgl", "cpu"];
      const choice = await initTfBackend(tf, m.backend, order);
      const reason = m.backend !== "auto" ? `backend=${m.backend} in the link` : choice.backend === "webgpu" ? engine.reason : status.available ? engine.reason : `no WebGPU in this browser (${status.reason})`;
      const res: WorkerBackend = {...choice, reason, urlFlags};
      return res;
    }
    case "measure": {
      // Two step pairs per size: the first compiles kernels and fills caches, the second is timed.
      const out: SizeMeasurement[] = [];
      for (const size of m.sizes) {
        const run = TwinRun.create(tf, {size, steps: 100, lr: m.lr, seed: m.seed, vocabSize: m.vocabSize}, need(data, "init first"));
        try {
          await run.stepOnce();
          const t0 = performance.now();
          await run.stepOnce();
          out.push({size, msPerStep: performance.now() - t0});
        } finally {
          run.dispose();
        }
      }
      return out;
    }
    case "create": {
      runs.get(m.run)?.dispose();
      const d = need(data, "init first");
      const run = m.restore ? TwinRun.fromStates(tf, m.settings, d, m.restore) : TwinRun.create(tf, m.settings, d);
      runs.set(m.run, run);
      return {step: run.step, state: run.state};
    }
    case "run": {
      const run = need(runs.get(m.run), `no run ${m.run}`);
      post({event: "state", run: m.run, state: "running", error: null});
      await run.run({
        onStep: (point, stats) => post({event: "step", run: m.run, point, stats}),
        onEval: (e) => post({event: "eval", run: m.run, e}),
        yieldToPage: async () => {
          await flushSaves(m.run, run);
          await new Promise((r) => setTimeout(r, 0));
        },
      });
      await flushSaves(m.run, run);
      post({event: "state", run: m.run, state: run.state, error: run.error});
      return {state: run.state, error: run.error};
    }
    case "pause": {
      const run = need(runs.get(m.run), `no run ${m.run}`);
      await run.pause();
      return {state: run.state, error: run.error};
    }
    case "dispose": {
      const run = runs.get(m.run);
      runs.delete(m.run);
      if (run) {
        run.dispose();
        await run.pause();
      }
      return null;
    }
    case "export":
      return need(runs.get(m.run), `no run ${m.run}`).exportBitNet();
    case "save": {
      const run = need(runs.get(m.run), `no run ${m.run}`);
      if (!run.running) return run.saveStates();
      return new Promise<SavedTwin>((resolve, reject) => {
        const list = pendingSaves.get(m.run) ?? [];
        list.push({resolve, reject});
        pendingSaves.set(m.run, list);
      });
    }
  }
}

scope.addEventListener("message", (e) => {
  const m = e.data;
  handle(m).then(
    (value) => post({req: m.req, ok: true, value}),
    (err) => post({req: m.req, ok: false, error: err instanceof Error ? err.message : String(err)}),
  );
});
