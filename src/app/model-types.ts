// What a chapter's model picker lists (ModelInfo) and what loading one gives (LoadedModel), for every source: the
// shipped models (models.ts), the checkpoint kept by the Open page (format-store.ts) and the model trained in the
// browser.
import type {BitNetConfig, Variant} from "../lib/config.js";
import type {SafetensorsHeader} from "../lib/safetensors.js";
import type {ModelWeights} from "../lib/tensor.js";
import type {Tokenizer} from "../lib/tokenizer.js";

export interface ModelInfo {
  name: string;
  label: string;
  variant: Variant;
  /** Config overrides for the random stand-in (activation bits, Hadamard ablation). */
  shape: Partial<BitNetConfig>;
}

export interface LoadedModel {
  info: ModelInfo;
  weights: ModelWeights;
  tokenizer: Tokenizer;
  /** True for a trained model from data/models; false for the random stand-in. */
  shipped: boolean;
  /** Why this is not the trained model (null when it is). */
  notice: string | null;
  /** The shipped model.safetensors as stored (for showing real packed bytes); absent for the stand-in. */
  file?: {bytes: Uint8Array; header: SafetensorsHeader};
  /** Token ids for a prompt, BOS first (the models were trained on BOS-prefixed documents). */
  encode(text: string): number[];
}
