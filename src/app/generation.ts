// One generation run into a token-stream view, shared by the forward chapter and the embeddable generation figure.
// A lost GPU device (driver reset, the browser reclaiming it, device.destroy()) ends the stream with an error; the
// run then opens a new session on a new page device — or the CPU reference — and carries on from the tokens it
// already has, telling the reader in plain words (never the driver's text).
import type {SamplingOptions} from "../lib/backend.js";
import {decodeRate, streamTokens} from "../lib/stream.js";
import type {StreamEvent} from "../lib/stream.js";
import {fmt} from "../lib/chapters/format.js";
import {generationRefusal} from "../lib/chapters/opened-model.js";
import type {ModelWeights} from "../lib/tensor.js";
import type {Tokenizer} from "../lib/tokenizer.js";
import type {WebGPUStatus} from "../lib/webgpu-status.js";
import type {StreamView} from "../components/forward-views.js";
import {deviceLostMessage, openSession, recoverSession, wasDeviceLost} from "./sessions.js";
import type {BackendChoice, OpenedSession} from "./sessions.js";

export interface GenerationModel {
  weights: ModelWeights;
  tokenizer: Tokenizer;
  encode(text: string): number[];
}

export interface GenerationOptions {
  backend: BackendChoice;
  gpu: WebGPUStatus;
  maxTokens: number;
  sampling: Partial<SamplingOptions>;
  /** True once the page no longer wants this run (its cell was invalidated). */
  stopped: () => boolean;
  /** Every session the run opens, so the page can dispose of them. */
  onSession?: (s: OpenedSession) => void;
}

/** Streams `prompt`'s continuation into `v`; sets data-live on the view at the first token and data-output /
 *  data-token-ids / data-state when done, data-recovered ("gpu" | "cpu") after a device loss. Never throws. */
export async function runGeneration(
  v: StreamView,
  mm: GenerationModel,
  prompt: string,
  o: GenerationOptions,
): Promise<void> {
  // an embedding model (of the opened families) has no next token to draw: say so instead of sampling noise
  const refusal = generationRefusal(mm.weights.config);
  if (refusal) return v.done("refused", refusal);
  let opened: OpenedSession;
  try {
    opened = await openSession(mm.weights, {backend: o.backend, gpu: o.gpu});
  } catch (e) {
    v.done("error", `Could not start: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  o.onSession?.(opened);
  const promptIds = mm.encode(prompt);
  const events: StreamEvent[] = [];
  let text = "";
  for (let attempt = 0; !o.stopped(); attempt++) {
    try {
      const ids = [...promptIds, ...events.map((e) => e.id)];
      // a checkpoint's vocabulary padded beyond its tokenizer (opened models of any family): padding ids are never drawn
      const vocabLimit = Math.min(mm.weights.config.vocab_size, mm.tokenizer.vocabSize);
      for await (const e of streamTokens(opened.session, ids, {
        maxTokens: o.maxTokens - events.length,
        sampling: {...o.sampling, vocabLimit},
        stopAt: [mm.tokenizer.eosId],
      })) {
        if (o.stopped()) break;
        events.push(e);
        const piece = mm.tokenizer.decode([e.id]);
        text += piece;
        v.push(piece);
        if (!v.hasAttribute("data-live")) v.setAttribute("data-live", opened.backend); // first live view (bench/page-times.ts)
        const rate = decodeRate(events);
        v.status(
          `${events.length} tokens · ${rate.tokensPerSecond ? `${fmt(rate.tokensPerSecond, 3)} tokens/s` : "prefill"} · prefill ${fmt(rate.prefillMs, 3)} ms for ${promptIds.length} prompt tokens · ${opened.label}`,
        );
      }
      const rate = decodeRate(events);
      v.done(
        o.stopped() ? "stopped" : "done",
        `${events.length} tokens · ${fmt(rate.tokensPerSecond, 3)} tokens/s decode · prefill ${fmt(rate.prefillMs, 3)} ms for ${promptIds.length} prompt tokens · ${opened.label}`,
      );
      v.setAttribute("data-output", text);
      v.setAttribute("data-token-ids", events.map((e) => e.id).join(","));
      return;
    } catch (e) {
      if (o.stopped()) return;
      if (attempt < 3 && (await wasDeviceLost(opened.gpu, e))) {
        const rec = await recoverSession(mm.weights, o.gpu);
        o.onSession?.(rec.opened);
        opened = rec.opened;
        v.notice(deviceLostMessage(rec.outcome));
        v.setAttribute("data-recovered", rec.outcome);
        continue;
      }
      v.done("error", `Stopped by an error: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
  }
}
