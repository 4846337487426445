// The papers' published cost numbers next to what this model computes from shapes and bits. Every row says how the
// model value was computed, the tolerance it is held to (and why), and — when it misses — why.
import {energyRows, memoryRows} from "./repro-memory.js";
import type {ReproRow} from "./repro-rows.js";
import {latencyRows, sparsityRows, throughputRows} from "./repro-speed.js";

export {energyRows, memoryRows} from "./repro-memory.js";
export {B158_RUNTIME, calibrateRuntimeTokens, type ReproGroup, type ReproRow, type Tolerance} from "./repro-rows.js";
export {latencyRows, sparsityRows, table3Scenario, throughputRows} from "./repro-speed.js";

/** Every reproduced figure. */
export function reproductionTable(): ReproRow[] {
  return [...memoryRows(), ...energyRows(), ...latencyRows(), ...throughputRows(), ...sparsityRows()];
}
