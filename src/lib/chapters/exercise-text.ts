// The arithmetic inside exercise questions and explanations, DOM-free so that test/unit/exercise-text.test.ts can
// recompute every number they print (issue 24: an explanation called 237,360 "inside the blocks" when it was the
// total). Each function returns the numbers and the sentence built from them.
import {hadamardOpCount} from "./hadamard.js";

const n0 = (v: number) => v.toLocaleString("en-US");

export interface HadamardOpsExercise {
  /** The question, with what a student needs to derive the count (the block structure for n not a power of two). */
  question: string;
  value: number;
  inBlocks: number;
  mixing: number;
  dense: number;
  /** Within this many operations counts: exact for a power of two (n·log₂n is derivable), 10% otherwise. */
  tolerance: number;
  explain: string;
}

/** Hadamard chapter, exercise 3: additions/subtractions of the fast transform for one vector of n. */
export function hadamardOpsExercise(n: number): HadamardOpsExercise {
  const {fast, dense, plan} = hadamardOpCount(n);
  const lb = Math.log2(plan.block);
  const inBlocks = n * lb;
  const mixing = fast - inBlocks;
  if (plan.kind === "sylvester") {
    return {
      question: `How many additions and subtractions does the fast transform need for one vector of n = ${n} (a power of two: log₂ n = ${lb} stages of butterflies)?`,
      value: fast,
      inBlocks,
      mixing,
      dense,
      tolerance: 0,
      explain: `n · log₂ n = ${n} × ${lb} = ${n0(fast)}: ${lb} stages of ${n / 2} butterflies, two operations each. The matrix product would take ${n0(dense)}.`,
    };
  }
  if (plan.kind === "kronecker") {
    return {
      question: `How many additions and subtractions does the fast transform need for one vector of n = ${n}? Here n = ${plan.m} × ${plan.block}: a fast ${plan.block}-point transform (log₂ ${plan.block} = ${lb} stages) on each of ${plan.m} blocks, then a dense ${plan.m} × ${plan.m} ±1 mix at each of the ${plan.block} positions (count ${plan.m} × ${plan.m} operations per position). Within 10% counts.`,
      value: fast,
      inBlocks,
      mixing,
      dense,
      tolerance: Math.round(0.1 * fast),
      explain: `Inside the blocks: ${plan.m} blocks × ${plan.block} × ${lb} = n · log₂ ${plan.block} = ${n0(inBlocks)}; mixing the blocks: ${plan.block} positions × ${plan.m} × ${plan.m} = ${n0(mixing)}; together ${n0(fast)}. The matrix product would take ${n0(dense)}.`,
    };
  }
  return {
    question: `How many additions and subtractions does the fast transform need for one vector of n = ${n}? Here n = ${plan.m} × ${plan.block} and H is block-diagonal: ${plan.m} independent ${plan.block}-point transforms of log₂ ${plan.block} = ${lb} stages each.`,
    value: fast,
    inBlocks,
    mixing,
    dense,
    tolerance: 0,
    explain: `${plan.m} blocks × ${plan.block} × ${lb} = n · log₂ ${plan.block} = ${n0(fast)}, with no mixing between blocks. The matrix product would take ${n0(dense)}.`,
  };
}

/** Ternary chapter, exercise 3: which code sits in the lowest two bits of a packed byte (code = w + 1). */
export function packedByteExplain(byte: number, row: number): {value: -1 | 0 | 1; explain: string} {
  const low = byte & 3;
  const value = (low - 1) as -1 | 0 | 1;
  const hex = `0x${byte.toString(16).padStart(2, "0").toUpperCase()}`;
  const t = value < 0 ? "−1" : value > 0 ? "+1" : "0";
  return {
    value,
    explain: `Bits 1–0 of ${hex} are ${low.toString(2).padStart(2, "0")} = ${low}; minus 1 gives ${t}, the code the model loaded for row ${row}.`,
  };
}

/** Ternary chapter, exercise 1's explanation: for Gaussian weights, the share with |W| < γ/2, γ = E|W| = σ√(2/π). */
export function gaussianZeroShare(): number {
  // P(|Z| < a) = erf(a/√2), a = √(2/π)/2
  const a = Math.sqrt(2 / Math.PI) / 2;
  return erf(a / Math.SQRT2);
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7)
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return Math.sign(x) * y;
}
