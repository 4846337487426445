// Token sampling and the generation loop, over any DecodeSession (CPU reference or WebGPU engine).
// Order of the filters, as in transformers: temperature, then top-k, then top-p (nucleus).
import type {DecodeSession, SamplingOptions} from "./backend.js";
import {Rng} from "./rng.js";

export const GREEDY: SamplingOptions = {temperature: 0, topK: 0, topP: 1, seed: 0};

/** The smallest positive temperature: below it 1/T leaves float32's range on the GPU, and the draw is
 *  greedy for any logits a model produces anyway. 0 means greedy. */
export const MIN_TEMPERATURE = 1e-6;

export function validateSampling(s: SamplingOptions): void {
  if (!(s.temperature >= 0 && Number.isFinite(s.temperature)))
    throw new Error(`sampling: temperature must be ≥ 0, got ${s.temperature}`);
  if (s.temperature > 0 && s.temperature < MIN_TEMPERATURE)
    throw new Error(
      `sampling: temperature must be 0 (greedy) or ≥ ${MIN_TEMPERATURE.toExponential()}, got ${s.temperature}`,
    );
  if (s.vocabLimit !== undefined && !(Number.isSafeInteger(s.vocabLimit) && s.vocabLimit >= 1))
    throw new Error(`sampling: vocabLimit must be a positive integer, got ${s.vocabLimit}`);
  if (!(Number.isInteger(s.topK) && s.topK >= 0))
    throw new Error(`sampling: topK must be a non-negative integer, got ${s.topK}`);
  if (!(s.topP > 0 && s.topP <= 1)) throw new Error(`sampling: topP must be in (0, 1], got ${s.topP}`);
}

/** Index of the largest logit among the first `limit`; ties go to the lowest index. */
export function argmax(logits: ArrayLike<number>, limit = logits.length): number {
  const n = Math.min(limit, logits.length);
  let best = 0;
  for (let i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** The probabilities sampling draws from after temperature, top-k and top-p (zeros for filtered tokens).
 *  Greedy (temperature 0) puts all mass on the argmax. Ties at a top-k / top-p edge keep the lower index. */
export function samplingDistribution(logits: ArrayLike<number>, s: SamplingOptions): Float64Array {
  validateSampling(s);
  const p = new Float64Array(logits.length);
  // Padded ids (≥ vocabLimit) keep probability 0.
  const V = Math.min(logits.length, s.vocabLimit ?? logits.length);
  if (V === 0) return p;
  if (s.temperature === 0) {
    p[argmax(logits, V)] = 1;
    return p;
  }
  // Candidates sorted by logit, descending, index ascending on ties.
  const order = Array.from({length: V}, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
  const k = s.topK > 0 ? Math.min(s.topK, V) : V;
  const mx = logits[order[0]];
  let z = 0;
  for (let r = 0; r < k; r++) {
    const i = order[r];
    // (x − max)/T ≤ 0: cannot overflow however small T is (x/T − max/T can: Inf − Inf).
    p[i] = Math.exp((logits[i] - mx) / s.temperature);
    z += p[i];
  }
  if (!(z > 0 && Number.isFinite(z))) {
    // NaN or infinite logits (a broken model): greedy on what compares, never a silent last-id stream.
    p.fill(0);
    p[order[0]] = 1;
    return p;
  }
  for (let r = 0; r < k; r++) p[order[r]] /= z;
  if (s.topP < 1) {
    let cum = 0;
    let r = 0;
    for (; r < k; r++) {
      cum += p[order[r]];
      if (cum >= s.topP) {
        r++;
        break;
      }
    }
    for (let j = r; j < k; j++) p[order[j]] = 0;
    let z2 = 0;
    for (let j = 0; j < r; j++) z2 += p[order[j]];
    for (let j = 0; j < r; j++) p[order[j]] /= z2;
  }
  return p;
}

/** Draws one token. */
export function sampleToken(logits: ArrayLike<number>, s: SamplingOptions, rng: Rng): number {
  if (s.temperature === 0) return argmax(logits, s.vocabLimit);
  const p = samplingDistribution(logits, s);
  const u = rng.uniform();
  let cum = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    last = i;
    cum += p[i];
    if (u < cum) return i;
  }
  return last; // u within rounding of 1
}

export interface GenerateOptions {
  maxTokens: number;
  sampling?: Partial<SamplingOptions>;
  /** Token ids that end generation (the stop token is included in the output). */
  stopAt?: readonly number[];
  /** Called for each new token; return false to stop. */
  onToken?: (id: number, index: number) => void | boolean;
  /** Keep what the session already holds instead of resetting it first. */
  continueSession?: boolean;
}

export interface GenerateResult {
  tokens: number[];
  stop: "max-tokens" | "stop-token" | "callback" | "context-full";
}

/** Prefills the prompt, then samples up to maxTokens tokens one decode step at a time. */
export async function generate(
  session: DecodeSession,
  promptIds: readonly number[],
  opts: GenerateOptions,
): Promise<GenerateResult> {
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 0)
    throw new Error(`generate: maxTokens must be a non-negative integer, got ${opts.maxTokens}`);
  if (promptIds.length === 0) throw new Error("generate: the prompt has no tokens (prepend BOS)");
  const s: SamplingOptions = {...GREEDY, ...opts.sampling};
  validateSampling(s);
  const rng = new Rng(s.seed);
  const stop = new Set(opts.stopAt ?? []);
  const limit = "maxPositions" in session && typeof session.maxPositions === "number" ? session.maxPositions : Infinity;
  if (!opts.continueSession) session.reset();
  const tokens: number[] = [];
  if (opts.maxTokens === 0) return {tokens, stop: "max-tokens"};
  let logits = await session.append(promptIds);
  for (;;) {
    const id = sampleToken(logits, s, rng);
    tokens.push(id);
    if (opts.onToken?.(id, tokens.length - 1) === false) return {tokens, stop: "callback"};
    if (stop.has(id)) return {tokens, stop: "stop-token"};
    if (tokens.length >= opts.maxTokens) return {tokens, stop: "max-tokens"};
    if (session.length >= limit) return {tokens, stop: "context-full"};
    logits = await session.append([id]);
  }
}
