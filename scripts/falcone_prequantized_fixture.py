#!/usr/bin/env python3
"""A reduced Falcon-E "prequantized" checkpoint, written the way its own code reads and writes it, with reference
logits. CPU only, seconds:

    TORCHDYNAMO_DISABLE=1 /work/vendor/venv/bin/python scripts/falcone_prequantized_fixture.py data/fixtures

What the prequantized revision is (tiiuae/onebitllms @ 8a92775, the package Falcon-E's model cards send fine-tuners
to): the model card loads it with plain AutoModelForCausalLM.from_pretrained(revision="prequantized") and then
calls onebitllms.replace_linear_with_bitnet_linear (utils/monkey_patching.py), which swaps every nn.Linear except
lm_head for BitNetLinear (layers/bitnet.py). So the revision is a plain LlamaForCausalLM checkpoint — no
quantization_config (transformers would otherwise build its own BitLinear, which is not an nn.Linear and would not
be swapped) — holding the latent bf16 master weights, NOT ternary values. BitNetLinear.forward quantizes on every
call: weights by weight_quant_triton (kernels/weight_quant.py: s = 1 / max(mean|W|, 1e-5), clamp(floor(W·s + 0.5),
-1, 1) / s, one scale per tensor) and activations by activation_quant_triton (kernels/activation_quant.py: per token
s = 127 / max(max|x|, 1e-5), clamp(floor(x·s + 0.5), -128, 127) / s); no norm inside the linear. quantize_to_1bit
(utils/quantization_utils.py) later packs the same codes with weight_scale = s (the dividing convention) and the
legacy {"quant_method": "bitnet"} config; convert_to_bf16 writes codes / s (a pseudo-quantized float model).
onebitllms' kernels are Triton on CUDA only, so the reference below is a CPU transcription of those two kernels'
arithmetic (float32), checked against transformers' own AutoBitLinear online on the same weights.

fam-falcone-prequantized/  LlamaForCausalLM.save_pretrained in bfloat16 (shape of scripts/family_fixtures.py:
    2 layers, hidden 96, 4/2 heads, head_dim 32, FFN 160, vocab 512, untied head, θ 1000042), no quantization_config.
    logits.json: "logits" = onebitllms' computation (BitNetLinear everywhere but lm_head), "float_logits" =
    transformers' LlamaForCausalLM as loaded (what the file computes without onebitllms),
    "transformers_online_logits" = the same weights with quantization_config autobitlinear/online (transformers'
    AutoBitLinear), and the max |Δ| between the onebitllms transcription and it.
"""
import json
import os
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from family_fixtures import SEQUENCES, r9, random_model, write_json  # noqa: E402


def weight_quant(w):
    # onebitllms kernels/weight_quant.py: one absmean scale per tensor, round half up, clamp to ±1, dequantize
    s = 1.0 / max(w.abs().mean().item(), 1e-5)
    return torch.clamp(torch.floor(w * s + 0.5), -1, 1) / s


def activation_quant(x):
    # onebitllms kernels/activation_quant.py: per token absmax, 127 / max, round half up, clamp to [-128, 127]
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return torch.clamp(torch.floor(x * s + 0.5), -128, 127) / s


class BitNetLinearCPU(torch.nn.Module):
    """onebitllms layers/bitnet.py BitNetLinear.forward (inference: the straight-through terms are the quantized values)."""

    def __init__(self, linear):
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias

    def forward(self, x):
        return torch.nn.functional.linear(activation_quant(x), weight_quant(self.weight), self.bias)


def replace_linear(module):
    # onebitllms utils/monkey_patching.py: every nn.Linear except the one named lm_head
    for name, child in module.named_children():
        if len(list(child.children())) > 0:
            replace_linear(child)
        if name != "lm_head" and isinstance(child, torch.nn.Linear):
            setattr(module, name, BitNetLinearCPU(child))
    return module


def main():
    import transformers
    from transformers import LlamaForCausalLM
    out = os.path.join(sys.argv[1], "fam-falcone-prequantized")
    os.makedirs(out, exist_ok=True)
    model = random_model(2314).to(torch.bfloat16)
    model.save_pretrained(out, safe_serialization=True)
    for fn in os.listdir(out):
        if fn.startswith("generation_config"):
            os.remove(os.path.join(out, fn))
    cfg = json.load(open(os.path.join(out, "config.json")))
    assert "quantization_config" not in cfg

    def run(m):
        with torch.no_grad():
            return [m(torch.tensor([s]), use_cache=False).logits[0].float() for s in SEQUENCES]

    load = lambda: LlamaForCausalLM.from_pretrained(out, dtype=torch.float32, attn_implementation="eager").eval()
    float_logits = run(load())
    ob = run(replace_linear(load()))
    # transformers' own online BitLinear on the same folder: a config copy with the quantization_config added
    tdir = out + "-tf-online.tmp"
    os.makedirs(tdir, exist_ok=True)
    for fn in os.listdir(out):
        if fn != "config.json":
            os.link(os.path.join(out, fn), os.path.join(tdir, fn)) if not os.path.exists(os.path.join(tdir, fn)) else None
    c2 = dict(cfg, quantization_config={"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "online"})
    write_json(os.path.join(tdir, "config.json"), c2)
    tf_online = run(LlamaForCausalLM.from_pretrained(tdir, dtype=torch.float32, attn_implementation="eager").eval())
    for fn in os.listdir(tdir):
        os.remove(os.path.join(tdir, fn))
    os.rmdir(tdir)
    d = max((a - b).abs().max().item() for a, b in zip(ob, tf_online))
    res = {
        "ok": True,
        "sequences": SEQUENCES,
        "logits": [r9(x.tolist()) for x in ob],
        "float_logits": [r9(x.tolist()) for x in float_logits],
        "transformers_online_logits": [r9(x.tolist()) for x in tf_online],
        "onebitllms_vs_transformers_online_max_abs": d,
        "reference": "onebitllms BitNetLinear (CPU transcription of its Triton kernels' arithmetic, tiiuae/onebitllms@8a92775) on every Linear but lm_head, float32, eager attention",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "command": "TORCHDYNAMO_DISABLE=1 /work/vendor/venv/bin/python scripts/falcone_prequantized_fixture.py data/fixtures",
    }
    write_json(os.path.join(out, "logits.json"), res)
    print(f"fam-falcone-prequantized: onebitllms vs transformers online max |Δ| {d:.3g}; vs float {max((a - b).abs().max().item() for a, b in zip(ob, float_logits)):.3g}", file=sys.stderr)


if __name__ == "__main__":
    main()
