#!/usr/bin/env python3
"""A small seeded Llama-architecture ternary model as Falcon3-*-1.58bit and HF1BitLLM ship it — transformers'
LlamaForCausalLM with quantization_config {"quant_method": "bitnet"} and nothing else (legacy BitLinear: packed
codes, weight_scale = 1/mean|W| that DIVIDES) — plus transformers' logits on data/fixtures/vendor/sequences.json.
The source of the vendor's llama-architecture I2_S GGUF (scripts/vendor_llama_i2s.sh).

    TORCHDYNAMO_DISABLE=1 python make_llama_model.py WORKDIR/hf-llama FIXTURE_OUT

Shape: 2 layers, hidden 256, FFN 512 (SiLU GLU), 4 heads / 2 KV heads (head 64 = 256/4: the fork's converter
writes no key_length, so head_dim must be hidden/heads), vocab 512 with the vendor fixtures' tokenizer (BOS 510),
untied float LM head, no sub-norms, rope_theta 1000042 (Falcon3's θ). Seed 4242; weights as make_model.py.
"""
import json
import os
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_model import r9, write_json  # noqa: E402

THETA = 1000042.0
SHAPE = dict(vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, hidden_act="silu",
             tie_word_embeddings=False, bos_token_id=510, eos_token_id=511, attention_bias=False, mlp_bias=False)
PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main():
    import transformers
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from transformers.integrations.bitnet import pack_weights
    from tokenizers import Tokenizer
    d, out = sys.argv[1], sys.argv[2]
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(4242)
    cfg = LlamaConfig(**SHAPE)
    cfg.rope_parameters = {"rope_type": "default", "rope_theta": THETA}
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif "embed_tokens" in name or "lm_head" in name:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
    model = model.to(torch.bfloat16)
    model.save_pretrained(d, safe_serialization=True)
    for fn in os.listdir(d):
        if fn.startswith("generation_config"):
            os.remove(os.path.join(d, fn))
    # packed as transformers' bitnet quantizer stores it: WeightQuant codes, pack_weights, weight_scale = 1/mean|W|
    psd = {}
    for k, v in model.state_dict().items():
        if any(k.endswith(f"{p}.weight") for p in PROJ):
            w = v.float()
            s = 1.0 / w.abs().mean().clamp_(min=1e-5)
            codes = (w * s).round().clamp(-1, 1)
            psd[k] = pack_weights(codes.to(torch.int8)).contiguous()
            psd[k.replace(".weight", ".weight_scale")] = s.reshape(1).to(torch.bfloat16)
        else:
            psd[k] = v.contiguous()
    save_file(psd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    c["quantization_config"] = {"quant_method": "bitnet"}
    c["rope_theta"] = THETA  # the fork's converter reads the top-level key (transformers 5 writes rope_parameters)
    c["torch_dtype"] = "bfloat16"
    write_json(os.path.join(d, "config.json"), c)
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>").save_pretrained(d)

    seqs = json.load(open(os.path.join(out, "sequences.json")))["sequences"]
    m = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    q = m.model.layers[0].self_attn.q_proj
    res = {"linear_class": type(q).__name__, "q_proj_weight_scale": r9(q.weight_scale.float().flatten().tolist()),
           "transformers": transformers.__version__, "torch": torch.__version__,
           "maker": "scripts/vendor/make_llama_model.py: LlamaForCausalLM.from_pretrained (float32, eager, CPU)"}
    with torch.no_grad():
        res["logits"] = [r9(m(torch.tensor([s]), use_cache=False).logits[0].float().tolist()) for s in seqs]
    res["tokens"] = seqs
    write_json(os.path.join(out, "logits", "llama.transformers.json"), res)
    print("wrote", d, "and logits/llama.transformers.json", res["linear_class"], file=sys.stderr)


if __name__ == "__main__":
    main()
