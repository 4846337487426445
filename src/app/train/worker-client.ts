// The page's side of the training worker (worker.ts): TrainWorker sends requests and routes events; WorkerRun is a
// run that trains in the worker and mirrors its history here, with the same face as TwinRun (TrainRunView), so the
// dashboard, the exercises and the export panel read it the same way. Nothing here imports TensorFlow.js.
import {
  twinConfigs,
  type TwinConfigs,
  type TwinRunOptions,
  type RunSettings,
  type RunState,
  type SavedTwin,
  type TrainRunView,
  type TwinEval,
  type TwinPoint,
} from "../../lib/chapters/train.js";
import type {ModelWeights} from "../../lib/tensor.js";
import type {StepStats} from "../../lib/train/trainer.js";
import type {FromWorker, Request, Results, RunEvent} from "./worker-protocol.js";

type Method = Request["method"];
type Args<M extends Method> = Omit<Extract<Request, {method: M}>, "req" | "method">;

export class TrainWorker {
  private readonly worker: Worker;
  private nextReq = 1;
  private nextRun = 1;
  private readonly pending = new Map<number, {resolve: (v: unknown) => void; reject: (e: Error) => void}>();
  private readonly runs = new Map<number, WorkerRun>();
  private failure: Error | null = null;

  /** `url` is the worker module's URL (the page passes import.meta.resolve of worker.js); its query string and
   *  hash are dropped, so tfjs in the worker never sees the page's parameters. */
  constructor(url: string | URL) {
    const u = new URL(url, globalThis.location?.href);
    u.search = "";
    u.hash = "";
    this.worker = new Worker(u, {type: "module", name: "bitnet-lab-training"});
    this.worker.addEventListener("message", (e: MessageEvent<FromWorker>) => this.receive(e.data));
    this.worker.addEventListener("error", (e) =>
      this.fail(new Error(`the training worker failed: ${e.message || "it could not load"}`)),
    );
  }

  call<M extends Method>(method: M, args: Args<M>, transfer: Transferable[] = []): Promise<Results[M]> {
    if (this.failure) return Promise.reject(this.failure);
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(req, {resolve: resolve as (v: unknown) => void, reject});
      this.worker.postMessage({req, method, ...args} as unknown as Request, transfer);
    });
  }

  /** A new run of these settings in the worker (continued from `restore` when given). */
  createRun(settings: RunSettings, restore?: SavedTwin): WorkerRun {
    const id = this.nextRun++;
    const run = new WorkerRun(this, id, settings, restore);
    this.runs.set(id, run);
    return run;
  }

  forget(id: number): void {
    this.runs.delete(id);
  }

  terminate(): void {
    this.fail(new Error("the training worker was stopped"));
    this.worker.terminate();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    for (const r of this.runs.values()) r.receive({event: "state", run: 0, state: "error", error: e.message});
  }

  private receive(m: FromWorker): void {
    if ("req" in m) {
      const p = this.pending.get(m.req);
      this.pending.delete(m.req);
      if (!p) return;
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    } else {
      this.runs.get(m.run)?.receive(m);
    }
  }
}

/** A twin run training in the worker; its points, evals and latest statistics are mirrored here. */
export class WorkerRun implements TrainRunView {
  readonly settings: RunSettings;
  readonly configs: TwinConfigs;
  readonly points: TwinPoint[] = [];
  readonly evals: TwinEval[] = [];
  lastStats: StepStats | undefined;
  state: RunState = "ready";
  error: string | null = null;
  /** Resolves when the worker has made (or restored) the models. */
  readonly ready: Promise<void>;
  private loop: Promise<void> | null = null;
  private opts: TwinRunOptions = {};
  private restoredStep = 0;

  constructor(
    private readonly w: TrainWorker,
    readonly id: number,
    settings: RunSettings,
    restore?: SavedTwin,
  ) {
    this.settings = settings;
    this.configs = twinConfigs(settings);
    if (restore) {
      this.points.push(...restore.points);
      this.evals.push(...restore.evals);
      this.lastStats = restore.lastStats;
      this.restoredStep = restore.points.at(-1)?.step ?? 0;
      this.state = this.done ? "done" : "paused";
    }
    this.ready = w.call("create", {run: id, settings, restore}).then(
      (r) => {
        this.restoredStep = r.step;
      },
      (e: Error) => {
        this.state = "error";
        this.error = e.message;
      },
    );
  }

  get step(): number {
    return Math.max(this.restoredStep, this.points.at(-1)?.step ?? 0);
  }

  get steps(): number {
    return this.settings.steps;
  }

  get done(): boolean {
    return this.step >= this.steps;
  }

  get running(): boolean {
    return this.loop !== null;
  }

  get tokensSeen(): number {
    return this.step * this.configs.bitnet.batchSize * this.configs.bitnet.seqLen;
  }

  /** Trains in the worker until done or paused; resolves when the worker's loop has stopped. */
  run(opts: TwinRunOptions = {}): Promise<void> {
    if (this.loop) return this.loop;
    if (this.state === "disposed" || this.state === "error" || this.done) return Promise.resolve();
    this.opts = opts;
    this.state = "running";
    this.loop = this.ready
      .then(() => {
        if (this.state !== "running") return;
        return this.w.call("run", {run: this.id}).then((r) => {
          if (this.state !== "disposed") {
            this.state = r.state;
            this.error = r.error;
          }
        });
      })
      .catch((e: Error) => {
        this.state = "error";
        this.error = e.message;
      })
      .finally(() => {
        this.loop = null;
      });
    return this.loop;
  }

  /** Stops after the step in flight (in the worker); resolves when the loop has stopped. */
  async pause(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    await this.w.call("pause", {run: this.id}).catch(() => undefined);
    await loop;
  }

  async exportBitNet(): Promise<ModelWeights> {
    await this.pause();
    if (this.state === "disposed") throw new Error("train: the run was reset");
    return this.w.call("export", {run: this.id});
  }

  /** Both models' states and the history (for the autosave). */
  async saveStates(): Promise<SavedTwin> {
    await this.ready;
    return this.w.call("save", {run: this.id});
  }

  dispose(): void {
    if (this.state === "disposed") return;
    this.state = "disposed";
    this.w.forget(this.id);
    void this.w.call("dispose", {run: this.id}).catch(() => undefined);
  }

  /** Events from the worker. */
  receive(m: RunEvent): void {
    if (this.state === "disposed") return;
    if (m.event === "steps") {
      // One message carries every step finished since the last (the worker posts a few times a second).
      for (const p of m.points) this.points.push(p);
      this.lastStats = m.stats;
      this.opts.onStep?.(m.points[m.points.length - 1], m.stats);
    } else if (m.event === "eval") {
      const last = this.evals.at(-1);
      if (last?.step === m.e.step) this.evals[this.evals.length - 1] = m.e;
      else this.evals.push(m.e);
      this.opts.onEval?.(m.e);
    } else {
      this.state = m.state;
      this.error = m.error;
    }
  }
}
