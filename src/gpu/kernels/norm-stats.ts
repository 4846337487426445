// The record a producer of a vector leaves per workgroup for the next BitLinear's RMSNorm → INT8 prologue (issue 25):
//   [Σx² hi, Σx² lo, Â = max fround(|γ·x|), n_c, (x, γ) × ncand]
// (see linear.ts normStatsOutWGSL and normquant.ts statsPrologueWGSL). `ncand` is a knob only so tests can force the
// whole-row path (ncand 0: every record overflows); the engine keeps 4.
export const statsLayout = {ncand: 4};
export const statsStride = () => 4 + 2 * statsLayout.ncand;
/** Binding slots: the producer's output record and the consumer's γ (8, 9), the consumer's input (10). */
export const STATS_BINDINGS = {out: 8, gamma: 9, in: 10} as const;
