// MiniCPM's config.json → the fields the architecture table reads (config.ts MiniCPMBody). The reference is OpenBMB's
// own modeling_minicpm.py (github.com/OpenBMB/MiniCPM, model/modeling_minicpm.py at 5977a63, the MiniCPMConfig in
// model/configuration_minicpm.py beside it); the defaults here are that MiniCPMConfig's. What that code computes
// differently under a setting the lab does not run is refused by name.
import type {MiniCPMBody} from "./config.js";

type Raw = Record<string, unknown>;

export interface MiniCPMFields {
  body: MiniCPMBody;
  defaults: {tie_word_embeddings: true; rms_norm_eps: number; rope_theta: number};
}

export function minicpmFields(c: Raw, fail: (msg: string) => never): MiniCPMFields {
  const at = (k: string) => `config.json: ${k}`;
  const num = (k: string): number => {
    const v = c[k] ?? 1;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      fail(`${at(k)} must be a positive number, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const act = c.hidden_act ?? "silu";
  if (act !== "silu") fail(`${at("hidden_act")} must be "silu" (MiniCPM's SwiGLU), got ${JSON.stringify(act)}`);
  // pretraining_tp > 1 takes another branch of MiniCPMForCausalLM.forward, which skips the division by
  // hidden_size / dim_model_base
  if (c.pretraining_tp !== undefined && c.pretraining_tp !== 1)
    fail(
      `${at("pretraining_tp")} ${JSON.stringify(c.pretraining_tp)}: only 1 (the logits' branch that divides by hidden_size / dim_model_base)`,
    );
  // MiniCPM4's remote code adds InfLLM-v2 sparse attention when sparse_config is set: not this reference's attention
  if (c.sparse_config !== undefined && c.sparse_config !== null)
    fail(
      `${at("sparse_config")} is set: MiniCPM4's sparse attention (InfLLM v2) is not run; the lab's attention is dense`,
    );
  return {
    body: {scale_emb: num("scale_emb"), scale_depth: num("scale_depth"), dim_model_base: num("dim_model_base")},
    defaults: {tie_word_embeddings: true, rms_norm_eps: 1e-6, rope_theta: 10000},
  };
}
