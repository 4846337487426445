// The metadata of a saved training state (state.safetensors: "bitnet_lab_train_state"), validated as strictly
// as a checkpoint before a run resumes from it: a step that is not an integer in [0, steps], a log that is not
// a list of step/eval records, or bad JSON would otherwise resume wrongly (train nothing and exit 0, fail later
// with a bare TypeError, or report a misleading divergence).
import type {LogRecord} from "./log.js";

export interface StateMeta {
  version: number;
  step: number;
  config: unknown;
  log: LogRecord[];
  layout: [string, number[], number][];
}

export class StateError extends Error {
  override name = "StateError";
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** Parses and validates the metadata string; `where` names the file in every message. `maxStep` (the run's
 *  total steps, when known) bounds the step. */
export function parseStateMeta(raw: string, where: string, maxStep = Infinity): StateMeta {
  const fail = (msg: string): never => {
    throw new StateError(`${where}: ${msg}`);
  };
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch (e) {
    return fail(`the training-state metadata is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObj(m)) return fail("the training-state metadata must be a JSON object");
  if (m.version !== 2) fail(`training state version ${JSON.stringify(m.version)} is not supported (expected 2)`);
  const step = m.step;
  if (typeof step !== "number" || !Number.isSafeInteger(step) || step < 0)
    fail(`"step" must be a non-negative integer, got ${JSON.stringify(step)}`);
  if ((step as number) > maxStep) fail(`"step" ${step} is beyond the run's ${maxStep} steps`);
  if (!isObj(m.config))
    fail(`"config" must be a training config object, got ${JSON.stringify(m.config)?.slice(0, 60)}`);
  if (!Array.isArray(m.log))
    fail(`"log" must be a list of step/eval records, got ${JSON.stringify(m.log)?.slice(0, 60)}`);
  const log = m.log as unknown[];
  log.forEach((r, i) => {
    if (!isObj(r) || (r.kind !== "step" && r.kind !== "eval"))
      fail(`"log"[${i}] must be a {kind: "step" | "eval", …} record`);
    const rec = r as Record<string, unknown>;
    if (!Number.isSafeInteger(rec.step) || (rec.step as number) < 0 || (rec.step as number) > (step as number))
      fail(`"log"[${i}].step must be an integer in [0, ${step}], got ${JSON.stringify(rec.step)}`);
    if (rec.kind === "eval" ? !isNum(rec.loss) : typeof rec.loss !== "number")
      fail(`"log"[${i}].loss must be a number, got ${JSON.stringify(rec.loss)}`);
  });
  if (
    !Array.isArray(m.layout) ||
    !m.layout.every(
      (e) =>
        Array.isArray(e) &&
        e.length === 3 &&
        typeof e[0] === "string" &&
        Array.isArray(e[1]) &&
        e[1].every((d: unknown) => Number.isSafeInteger(d) && (d as number) > 0) &&
        Number.isSafeInteger(e[2]) &&
        e[2] >= 0,
    )
  ) {
    fail(`"layout" must be a list of [name, shape, offset] entries`);
  }
  return m as unknown as StateMeta;
}
