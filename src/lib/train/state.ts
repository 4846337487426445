// The metadata of a saved training state (state.safetensors: "bitnet_lab_train_state"), validated as strictly
// as a checkpoint before a run resumes from it: a step that is not an integer in [0, steps], a log that is not
// a list of step/eval records, or bad JSON would otherwise resume wrongly (train nothing and exit 0, fail later
// with a bare TypeError, or report a misleading divergence).
import {
  fromFloat32,
  parseSafetensorsHeader,
  tensorBytes,
  toFloat32,
  writeSafetensors,
  type TensorEntry,
} from "../safetensors.js";
import {modelConfigAt, parseTrainConfig, type TrainConfig} from "./config.js";
import type {FlatLayout} from "./flat.js";
import type {LogRecord} from "./log.js";
import {recipePrefixDiff} from "./plan.js";

/** The safetensors metadata key of a training state. */
export const STATE_KEY = "bitnet_lab_train_state";

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

/** The training state file: the flat latent parameters, AdamW's moments and the EMA if kept (F32), and the metadata (step, config,
 *  log, parameter layout) under STATE_KEY. */
export function writeState(s: {
  params: Float32Array;
  adamM: Float32Array;
  adamV: Float32Array;
  /** the EMA of the parameters, when the config keeps one (TrainConfig.ema) */
  ema?: Float32Array;
  step: number;
  config: TrainConfig;
  log: readonly LogRecord[];
  layout: FlatLayout;
}): Uint8Array {
  const entries: TensorEntry[] = [
    ["params", s.params],
    ["adam_m", s.adamM],
    ["adam_v", s.adamV],
    ...(s.ema ? [["ema", s.ema]] : []),
  ].map(([name, data]) => ({
    name: name as string,
    dtype: "F32",
    shape: [s.layout.total],
    data: fromFloat32(data as Float32Array, "F32"),
  }));
  const meta = {
    version: 2,
    step: s.step,
    config: s.config,
    log: s.log,
    layout: s.layout.entries.map((e) => [e.name, e.shape, e.offset]),
  };
  return writeSafetensors(entries, {[STATE_KEY]: JSON.stringify(meta)});
}

/** Reads a training state: its validated metadata, the config to continue under (`cfg` replaces the saved one when
 *  the steps before the state are the same computation under both, with the same shapes, seed, batch and sequence
 *  length) and its tensors by name. */
export function readState(
  bytes: Uint8Array,
  cfg?: TrainConfig,
): {meta: StateMeta; config: TrainConfig; load: (name: string) => Float32Array} {
  const h = parseSafetensorsHeader(bytes);
  const metaRaw = h.metadata[STATE_KEY];
  if (!metaRaw) throw new Error(`trainer: not a training state (no "${STATE_KEY}" metadata)`);
  const meta = parseStateMeta(metaRaw, "trainer: training state");
  const saved = parseTrainConfig(meta.config, "saved state config");
  const c = cfg ?? saved;
  if (cfg) {
    const a = modelConfigAt(saved, 0);
    const b = modelConfigAt(c, 0);
    for (const k of [
      "vocab_size",
      "hidden_size",
      "intermediate_size",
      "num_hidden_layers",
      "num_attention_heads",
      "num_key_value_heads",
      "hidden_act",
      "bitnet_sub_norms",
      "tie_word_embeddings",
    ] as const) {
      if (a[k] !== b[k])
        throw new Error(
          `trainer: the state was trained with ${k} = ${JSON.stringify(a[k])}, the config has ${JSON.stringify(b[k])}`,
        );
    }
    // The steps before the state must be the same computation under both recipes (not the same variant
    // name: the no-rotation ablation continues b1.58, and v2-a8 cannot stand in for it).
    const differs = recipePrefixDiff(saved, c, meta.step);
    if (differs)
      throw new Error(`trainer: the state's recipe before step ${meta.step} differs from the config's in ${differs}`);
    if (saved.seed !== c.seed || saved.batchSize !== c.batchSize || saved.seqLen !== c.seqLen) {
      throw new Error("trainer: seed, batchSize and seqLen must match the saved state so the data stream continues");
    }
  }
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const load = (name: string) => {
    const t = byName.get(name);
    if (!t) throw new Error(`trainer: state lacks ${name}`);
    return toFloat32(tensorBytes(bytes, h, t), t.dtype);
  };
  return {meta, config: c, load};
}
