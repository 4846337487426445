// Messages between the training page and its Web Worker (src/app/train/worker.ts). The page never imports
// TensorFlow.js: the worker owns tfjs, its backends and the models, so a training step can take seconds on a slow
// backend without blocking a single click, and tfjs reads the worker's own URL (which has no query string) —
// never the page's, so no library flag can be set from a shared link.
import type {
  PageTfBackend,
  TfBackendChoice,
  CpuBackendMeasurement,
  RunSettings,
  SavedTwin,
  SizeMeasurement,
  SizeName,
  TwinEval,
  TwinPoint,
  RunState,
} from "../../lib/chapters/train.js";
import type {ModelWeights} from "../../lib/tensor.js";
import type {StepStats, TrainData} from "../../lib/train/trainer.js";

export interface WorkerBackend extends TfBackendChoice {
  /** Why this backend (a software-emulated WebGPU adapter is skipped by "auto"). */
  reason: string;
  /** tfjs flags that came from a URL (must be none: the page owns its URL). */
  urlFlags: string[];
  /** "auto" without a hardware GPU: ms per tiny step pair on each CPU-side backend that started. */
  measured?: CpuBackendMeasurement;
}

/** Requests the page sends; each gets one Reply with the same `req`. */
export type Request =
  | {
      req: number;
      method: "init";
      backend: PageTfBackend | "auto";
      data: TrainData;
      vocabSize: number;
      wasmPaths?: Record<string, string>;
    }
  | {req: number; method: "measure"; sizes: SizeName[]; lr: number; seed: number; vocabSize: number}
  | {req: number; method: "create"; run: number; settings: RunSettings; restore?: SavedTwin}
  | {req: number; method: "run"; run: number}
  | {req: number; method: "pause"; run: number}
  | {req: number; method: "dispose"; run: number}
  | {req: number; method: "export"; run: number}
  | {req: number; method: "save"; run: number};

export interface Results {
  init: WorkerBackend;
  measure: SizeMeasurement[];
  create: {step: number; state: RunState};
  run: {state: RunState; error: string | null};
  pause: {state: RunState; error: string | null};
  dispose: null;
  export: ModelWeights;
  save: SavedTwin;
}

export type Reply = {req: number; ok: true; value: unknown} | {req: number; ok: false; error: string};

/** Events the worker sends while a run trains. Steps come in batches: the worker posts at most a few messages a
 *  second (every step it finished since the last message), so a fast backend never floods the page's thread. */
export type RunEvent =
  | {event: "steps"; run: number; points: TwinPoint[]; stats: StepStats}
  | {event: "eval"; run: number; e: TwinEval}
  | {event: "state"; run: number; state: RunState; error: string | null};

export type FromWorker = Reply | RunEvent;
