// Token-by-token generation for pages: like generate() (src/lib/generate.ts) but an async iterator that gives
// the event loop a turn between decode steps, so a CPU session never freezes the page and a reader can stop.
import type {DecodeSession, SamplingOptions} from "./backend.js";
import {GREEDY, sampleToken, validateSampling} from "./generate.js";
import {Rng} from "./rng.js";

export interface StreamEvent {
  /** The new token id. */
  id: number;
  /** 0-based index among the generated tokens. */
  index: number;
  /** Milliseconds the prefill (index 0) or this decode step took. */
  ms: number;
}

export interface StreamOptions {
  maxTokens: number;
  sampling?: Partial<SamplingOptions>;
  stopAt?: readonly number[];
  /** Resolves when the page may continue (default: a macrotask, so rendering and input get a turn). */
  yieldToPage?: () => Promise<void>;
  now?: () => number;
}

const macrotask = () => new Promise<void>((r) => setTimeout(r, 0));

/** Resets the session, prefills the prompt, then yields one sampled token per decode step. */
export async function* streamTokens(
  session: DecodeSession,
  promptIds: readonly number[],
  opts: StreamOptions,
): AsyncGenerator<StreamEvent> {
  if (promptIds.length === 0) throw new Error("streamTokens: the prompt has no tokens (prepend BOS)");
  const s: SamplingOptions = {...GREEDY, ...opts.sampling};
  validateSampling(s);
  const rng = new Rng(s.seed);
  const stop = new Set(opts.stopAt ?? []);
  const now = opts.now ?? (() => performance.now());
  const pause = opts.yieldToPage ?? macrotask;
  session.reset();
  let t0 = now();
  let logits = await session.append(promptIds);
  for (let index = 0; index < opts.maxTokens; index++) {
    const id = sampleToken(logits, s, rng);
    yield {id, index, ms: now() - t0};
    if (stop.has(id) || session.length >= maxPositions(session)) return;
    await pause();
    t0 = now();
    logits = await session.append([id]);
  }
}

function maxPositions(session: DecodeSession): number {
  const m = (session as {maxPositions?: number}).maxPositions;
  return typeof m === "number" ? m : Infinity;
}

/** Decode speed over a stream's events, leaving out the prefill (index 0). */
export function decodeRate(events: readonly StreamEvent[]): {
  tokensPerSecond: number;
  prefillMs: number;
  decodeMs: number;
} {
  const decode = events.filter((e) => e.index > 0);
  const decodeMs = decode.reduce((a, e) => a + e.ms, 0);
  return {
    tokensPerSecond: decode.length && decodeMs > 0 ? (1000 * decode.length) / decodeMs : 0,
    prefillMs: events[0]?.ms ?? 0,
    decodeMs,
  };
}
