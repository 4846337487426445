// The training page's Web Worker: TensorFlow.js (WebGPU, WebGL, WASM or CPU backend) and the twin run live here, off
// the page's main thread. The page creates it from its own module URL (import.meta.resolve, which Framework
// rewrites to the built file) with the query string and hash removed; the worker refuses to start otherwise, and
// reports any flag tfjs took from a URL, so a shared link can never set a library flag. Protocol: worker-protocol.ts.
import {initTfBackend, TwinRun} from "./twin-run.js";
import * as tfjs from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import {setWasmPaths} from "./wasm-backend.js";
import {
  pickCpuBackend,
  type PageTfBackend,
  type CpuBackendMeasurement,
  type SavedTwin,
  type SizeMeasurement,
  type TwinPoint,
} from "../../lib/chapters/train.js";
import {chooseBackend, webgpuStatus} from "../../lib/webgpu-status.js";
import type {TF} from "../../lib/train/tf.js";
import type {StepStats, TrainData} from "../../lib/train/trainer.js";
import type {FromWorker, Request, Results, WorkerBackend} from "./worker-protocol.js";

interface WorkerScope {
  location: {search: string; hash: string};
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: "message", fn: (e: MessageEvent<Request>) => void): void;
}
const scope = globalThis as unknown as WorkerScope;
const tf = tfjs as unknown as TF;

if (scope.location.search || scope.location.hash)
  throw new Error("training worker: started with a query string; the page must own its URL");
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
    // Each reply moves its buffers to the page, so every waiter after the first gets its own copy.
    waiting.forEach((w, i) =>
      w.resolve(
        i === 0
          ? saved
          : {...saved, bitnet: saved.bitnet.slice(), fp: saved.fp.slice(), changed: saved.changed?.slice()},
      ),
    );
  } catch (e) {
    for (const w of waiting) w.reject(e);
  }
}

/** Set once tfjs's WebGPU device is lost (driver reset, the browser reclaiming it, device.destroy()). */
let lostDevice: Promise<unknown> | undefined;
let deviceLost = false;
function watchDevice(): void {
  const device = (tf.backend() as unknown as {device?: GPUDevice}).device;
  lostDevice = device?.lost.then(() => void (deviceLost = true));
}
/** Whether the device was lost; a failed step may surface before the lost promise settles, so wait a little. */
async function deviceWasLost(): Promise<boolean> {
  if (!lostDevice) return false;
  await Promise.race([lostDevice, new Promise((r) => setTimeout(r, 500))]);
  return deviceLost;
}

function need<T>(x: T | null | undefined, what: string): T {
  if (x === null || x === undefined) throw new Error(`training worker: ${what}`);
  return x;
}

const post = (m: FromWorker) => scope.postMessage(m);

/** Step events are batched: at most one message per POST_MS (every finished step goes in it), so a backend that
 *  steps many times a second costs the page a few small messages a second, not one per step. */
const POST_MS = 250;

/** ms per step pair of the tiny model on the current backend (one warm-up pair, then one timed). */
async function timeTinyStep(vocabSize: number): Promise<number> {
  const run = TwinRun.create(tf, {size: "tiny", steps: 100, lr: 0.005, seed: 1, vocabSize}, need(data, "init first"));
  try {
    await run.stepOnce();
    const t0 = performance.now();
    await run.stepOnce();
    return performance.now() - t0;
  } finally {
    run.dispose();
  }
}

/** "auto" without a hardware GPU: times tfjs's WASM and CPU backends on a tiny step pair and keeps the faster. */
async function autoCpuBackend(
  vocabSize: number,
): Promise<{choice: Awaited<ReturnType<typeof initTfBackend>>; measured: CpuBackendMeasurement; reason: string}> {
  const measured: CpuBackendMeasurement = {wasm: null, cpu: null};
  const attempts: Awaited<ReturnType<typeof initTfBackend>>["attempts"] = [];
  for (const name of ["wasm", "cpu"] as const) {
    try {
      const c = await initTfBackend(tf, name, [name]);
      attempts.push(...c.attempts);
      measured[name] = await timeTinyStep(vocabSize);
    } catch (e) {
      attempts.push({
        name,
        ok: false,
        error: e instanceof Error ? e.message.replace(/^no TensorFlow.js backend initialised \(|\)$/g, "") : String(e),
      });
    }
  }
  const pick = pickCpuBackend(measured);
  const choice = await initTfBackend(tf, pick.backend, [pick.backend]);
  return {choice: {backend: choice.backend, attempts: attempts.filter((a) => !a.ok)}, measured, reason: pick.reason};
}

/** "init": the page's WASM paths, then the TensorFlow.js backend the page asked for (or the measured pick). */
async function initBackend(m: Extract<Request, {method: "init"}>): Promise<WorkerBackend> {
  // tfjs's WASM backend fetches its binaries from the page's own build (FileAttachment URLs), never a CDN; the
  // threaded build needs cross-origin isolation, which the site does not have.
  // (setWasmPaths wants an entry for every binary; the threaded one is never loaded with the flag below off.)
  if (m.wasmPaths)
    setWasmPaths({
      ...m.wasmPaths,
      "tfjs-backend-wasm-threaded-simd.wasm": m.wasmPaths["tfjs-backend-wasm-simd.wasm"],
    });
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  // "auto": a hardware WebGPU adapter; otherwise whichever of WASM and the plain-JS CPU backend measures faster
  // on a tiny step pair (a software-emulated adapter is many times slower than either: chooseBackend in
  // webgpu-status.ts); WebGL only when asked for.
  const status = await webgpuStatus();
  const engine = chooseBackend(m.backend === "auto" ? "auto" : m.backend === "webgpu" ? "webgpu" : "cpu", status);
  if (m.backend === "auto" && engine.backend !== "webgpu") {
    const auto = await autoCpuBackend(m.vocabSize);
    const why = status.available
      ? `${engine.reason.replace(/, so the page uses the CPU.*$/, "")}; ${auto.reason}`
      : `no WebGPU in this browser (${status.reason}); ${auto.reason}`;
    const res: WorkerBackend = {...auto.choice, reason: why, urlFlags, measured: auto.measured};
    return res;
  }
  const order: PageTfBackend[] = m.backend === "auto" ? ["webgpu", "wasm", "cpu"] : ["webgpu", "webgl", "wasm", "cpu"];
  const choice = await initTfBackend(tf, m.backend, order);
  if (choice.backend === "webgpu") watchDevice();
  const reason = m.backend !== "auto" ? `backend=${m.backend} in the link` : engine.reason;
  const res: WorkerBackend = {...choice, reason, urlFlags};
  return res;
}

/** "run": steps until the run pauses, ends or fails, posting steps and evals batched every POST_MS. */
async function runToEnd(m: Extract<Request, {method: "run"}>): Promise<Results["run"]> {
  const run = need(runs.get(m.run), `no run ${m.run}`);
  post({event: "state", run: m.run, state: "running", error: null});
  let points: TwinPoint[] = [];
  let stats: StepStats | undefined;
  let lastPost = 0;
  const flush = () => {
    if (!points.length || !stats) return;
    post({event: "steps", run: m.run, points, stats});
    points = [];
    lastPost = performance.now();
  };
  await run.run({
    onStep: (point, s) => {
      points.push(point);
      stats = s;
      if (performance.now() - lastPost >= POST_MS) flush();
    },
    onEval: (e) => {
      flush();
      post({event: "eval", run: m.run, e});
    },
    yieldToPage: async () => {
      await flushSaves(m.run, run);
      await new Promise((r) => setTimeout(r, 0));
    },
  });
  flush();
  if (run.state === "error" && (await deviceWasLost())) {
    // The run's tensors lived on the lost device: nothing to save or continue here. Plain words, never the
    // driver's text (e.g. "Failed to execute 'mapAsync' on 'GPUBuffer'"); the page's autosave is intact.
    const error = `the GPU was reset (the browser or its driver took the WebGPU device back) at step ${run.step}, so training stopped. Reload the page to go on with a fresh device: it offers to resume the run from its last autosave (taken every 10 s)`;
    for (const w of pendingSaves.get(m.run) ?? []) w.reject(new Error(error));
    pendingSaves.delete(m.run);
    post({event: "state", run: m.run, state: run.state, error});
    return {state: run.state, error};
  }
  await flushSaves(m.run, run);
  post({event: "state", run: m.run, state: run.state, error: run.error});
  return {state: run.state, error: run.error};
}

async function handle(m: Request): Promise<Results[Request["method"]]> {
  switch (m.method) {
    case "init":
      data = m.data;
      return initBackend(m);
    case "measure": {
      // Two step pairs per size: the first compiles kernels and fills caches, the second is timed.
      const out: SizeMeasurement[] = [];
      for (const size of m.sizes) {
        const run = TwinRun.create(
          tf,
          {size, steps: 100, lr: m.lr, seed: m.seed, vocabSize: m.vocabSize},
          need(data, "init first"),
        );
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
    case "run":
      return runToEnd(m);
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

/** A saved run's two safetensors buffers are fresh copies: moved to the page, not cloned. */
function transferables(value: unknown): Transferable[] {
  const v = value as Partial<SavedTwin> | null;
  return [v?.bitnet, v?.fp, v?.changed]
    .filter(
      (x): x is Uint8Array => x instanceof Uint8Array && x.byteOffset === 0 && x.byteLength === x.buffer.byteLength,
    )
    .map((x) => x.buffer as ArrayBuffer);
}

scope.addEventListener("message", (e) => {
  const m = e.data;
  handle(m).then(
    (value) => scope.postMessage({req: m.req, ok: true, value}, m.method === "save" ? transferables(value) : []),
    (err) => post({req: m.req, ok: false, error: err instanceof Error ? err.message : String(err)}),
  );
});
