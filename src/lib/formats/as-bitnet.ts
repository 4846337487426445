// Float Llama checkpoints that are BitNet models only once a training library swaps their linears: Falcon-E's
// "prequantized" revision is a plain LlamaForCausalLM (no quantization_config) holding the latent bf16 master
// weights, and onebitllms' replace_linear_with_bitnet_linear turns every nn.Linear but lm_head into BitNetLinear
// (weights absmean-ternarized per tensor, activations INT8 per token, on every forward — tiiuae/onebitllms
// layers/bitnet.py, kernels/). Nothing in the files says so, so it is never guessed: the reader is asked
// (OpenOptions.asBitNet, `--as-bitnet`), and the config then reads as transformers' equivalent, AutoBitLinear online.
import {FormatError} from "./source.js";

/** config.json as the run-as-BitNet request makes it read; refused by name where it does not apply. */
export function asOnlineBitNet(raw: unknown, label: string): Record<string, unknown> {
  const c = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  if (c.model_type !== "llama")
    throw new FormatError(
      `${label}: "run as BitNet" is for float Llama checkpoints (Falcon-E's prequantized revision); this config.json has model_type ${JSON.stringify(c.model_type)}`,
    );
  if (c.quantization_config !== undefined || c.weight_bits !== undefined || c.bitnet_variant !== undefined)
    throw new FormatError(
      `${label}: "run as BitNet" is for float Llama checkpoints; this config.json already says how its projections are quantized (quantization_config / weight_bits / bitnet_variant): open it without the request`,
    );
  return {
    ...c,
    quantization_config: {quant_method: "bitnet", linear_class: "autobitlinear", quantization_mode: "online"},
  };
}

export const AS_BITNET_HOW =
  "asked to run as BitNet (onebitllms' replace_linear_with_bitnet_linear, as Falcon-E's prequantized revision is meant to be run): config.json alone describes a float Llama; every projection is ternarized at load (absmean per tensor) and its input quantized to INT8 per token — transformers' AutoBitLinear online";

/** Said when a float Llama is opened as it is: its projections may be a BitNet model's latent weights. */
export const AS_BITNET_HINT =
  "the projections are continuous float values (not ternary × α): run as the float Llama config.json describes. If this is a BitNet model's latent weights — Falcon-E's prequantized revision, which onebitllms runs as BitNet — open it with \"run as BitNet\" (--as-bitnet)";
