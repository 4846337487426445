#!/usr/bin/env python3
"""Reduced-shape BitNet b1.58 2B4T-style checkpoints written by Hugging Face's own code, with transformers'
logits for them: the independent writer and oracle for BitNet Lab's format readers (src/lib/formats/).

    TORCHDYNAMO_DISABLE=1 python3 scripts/hf_fixtures.py OUTDIR [SHIPPED_TOKENIZER_JSON]   (GPU host)

Shape: 2 layers, hidden 256, FFN 512 (ReLU²), 4 heads / 2 KV heads (head 64), vocab 1024, tied embedding,
sub-norms (transformers' BitNet always has them), rope_theta 500000.
  OUTDIR/hf-bf16/      BitNetForCausalLM.save_pretrained in bfloat16 (master weights), config.json given
                       quantization_config {bitnet, autobitlinear, online} like microsoft's -bf16 release.
  OUTDIR/hf-packed/    transformers.integrations.bitnet.pack_weights of the codes WeightQuant computes from those
                       master weights; weight_scale = mean|W| (BF16, multiplies), linear_class autobitlinear,
                       quantization_mode offline, like microsoft/bitnet-b1.58-2B-4T.
  OUTDIR/hf-bitlinear/ the same codes with weight_scale = 1/mean|W| (divides), linear_class bitlinear (Falcon-E).
Each folder gets logits.json: transformers loading that folder back (float32, eager attention, CPU) and running
SEQUENCES, or the error it raised. OUTDIR/tokenizers.json: the shipped tokenizer.json's encodings by
transformers' PreTrainedTokenizerFast, and a Llama-3-style tokenizer (Split regex, ignore_merges, 256 added
specials, BOS template) with its encodings by the `tokenizers` library; OUTDIR/llama3-style-tokenizer.json.
"""
import json
import os
import sys
import traceback

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

import torch  # noqa: E402

SEQUENCES = [[1, 5, 77, 200, 299, 42, 8, 150, 0, 13], [1, 1000, 3, 3, 3, 511]]
SHAPE = dict(vocab_size=1024, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=500000.0,
             hidden_act="relu2", tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0)
PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = ["The state of the Union is strong.", "Hello world's 12345 IT'S  ok", "  leading spaces\n\n\nnewlines\r\nand tabs\t\tx",
           "naïve café 🎉 — 3.14159", "", "a", "1234567 99 0"]
LLAMA3_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


def r9(x):
    if isinstance(x, list):
        return [r9(v) for v in x]
    return float("%.9g" % x)


def logits_of(path):
    from transformers import BitNetForCausalLM
    res = {"ok": False}
    try:
        try:
            model = BitNetForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
        except TypeError:
            model = BitNetForCausalLM.from_pretrained(path, torch_dtype=torch.float32, attn_implementation="eager")
        model = model.eval().to("cpu")
        q = model.model.layers[0].self_attn.q_proj
        res["linear_class"] = type(q).__name__
        ws = getattr(q, "weight_scale", None)
        if ws is not None:
            res["q_proj_weight_scale"] = r9(ws.float().flatten().tolist())
        with torch.no_grad():
            res["logits"] = [r9(model(torch.tensor([s]), use_cache=False).logits[0].float().tolist()) for s in SEQUENCES]
        res["ok"] = True
    except Exception as e:
        res["error"] = "".join(traceback.format_exception(type(e), e, e.__traceback__))[-3000:]
        print(res["error"], file=sys.stderr)
    return res


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def main():
    import transformers
    from transformers import BitNetConfig, BitNetForCausalLM
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    meta = {"transformers": transformers.__version__, "torch": torch.__version__, "sequences": SEQUENCES,
            "command": "TORCHDYNAMO_DISABLE=1 python3 scripts/hf_fixtures.py OUTDIR data/models/b1.58/tokenizer.json"}
    torch.manual_seed(1234)
    cfg = BitNetConfig(**SHAPE)
    if hasattr(cfg, "rope_parameters") and isinstance(getattr(cfg, "rope_parameters"), dict):
        cfg.rope_parameters = {"rope_type": "default", "rope_theta": 500000.0}
    model = BitNetForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1 + 0.1 * torch.randn_like(p))  # norms that matter
            elif "embed_tokens" in name:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
    model = model.to(torch.bfloat16)
    bf16_dir = os.path.join(out, "hf-bf16")
    model.save_pretrained(bf16_dir, safe_serialization=True)
    cpath = os.path.join(bf16_dir, "config.json")
    with open(cpath) as f:
        config = json.load(f)
    config["quantization_config"] = {"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "online"}
    write_json(cpath, config)
    for fn in os.listdir(bf16_dir):
        if fn.startswith("generation_config"):
            os.remove(os.path.join(bf16_dir, fn))

    # packed copies, from the same master weights, with transformers' packing code
    from safetensors.torch import save_file
    try:
        from transformers.integrations.bitnet import pack_weights
    except Exception as e:
        meta["pack_weights_error"] = repr(e)
        pack_weights = None
    sd = {k: v.detach().clone() for k, v in model.state_dict().items() if not (k == "lm_head.weight" and SHAPE["tie_word_embeddings"])}
    meta["scales"] = {}
    if pack_weights is not None:
        for cls, mode_scale in [("autobitlinear", "multiply"), ("bitlinear", "divide")]:
            d = os.path.join(out, "hf-packed" if cls == "autobitlinear" else "hf-bitlinear")
            os.makedirs(d, exist_ok=True)
            psd = {}
            for k, v in sd.items():
                if any(k.endswith(f"{p}.weight") for p in PROJ):
                    w = v.float()
                    s = 1.0 / w.abs().mean().clamp_(min=1e-5)  # transformers' WeightQuant
                    codes = (w * s).round().clamp(-1, 1)
                    psd[k] = pack_weights(codes.clone().to(torch.int8)).contiguous()
                    scale = (1.0 / s) if mode_scale == "multiply" else s
                    psd[k.replace(".weight", ".weight_scale")] = scale.reshape(1).to(torch.bfloat16)
                    if k.endswith("layers.0.self_attn.q_proj.weight"):
                        meta["scales"][cls] = float(scale)
                else:
                    psd[k] = v.contiguous()
            save_file(psd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
            c2 = dict(config)
            c2["quantization_config"] = {"quant_method": "bitnet", "linear_class": cls, "quantization_mode": "offline"}
            write_json(os.path.join(d, "config.json"), c2)
    for name in ["hf-bf16", "hf-packed", "hf-bitlinear"]:
        d = os.path.join(out, name)
        if os.path.isdir(d):
            r = logits_of(d)
            r.update({k: meta[k] for k in ["transformers", "torch", "sequences", "command"]})
            write_json(os.path.join(d, "logits.json"), r)
            print(f"{name}: ok={r['ok']} class={r.get('linear_class')}", file=sys.stderr)

    # tokenizers
    tok = {}
    if len(sys.argv) > 2:
        from transformers import PreTrainedTokenizerFast
        from tokenizers import Tokenizer
        shipped_path = sys.argv[2]
        t = PreTrainedTokenizerFast(tokenizer_file=shipped_path)
        tok["shipped"] = {"prompts": PROMPTS, "with_special": [t(p)["input_ids"] for p in PROMPTS],
                          "without_special": [t(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]}
        with open(shipped_path) as f:
            j = json.load(f)
        n = len(j["model"]["vocab"])
        names = ["<|begin_of_text|>", "<|end_of_text|>"] + [f"<|reserved_special_token_{i}|>" for i in range(253)] + ["<|eot_id|>"]
        j["added_tokens"] = [a for a in j["added_tokens"] if a["id"] < n] + [
            {"id": n + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for i, c in enumerate(names)]
        j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
        j["model"]["ignore_merges"] = True
        bos = names[0]
        j["post_processor"] = {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos: {"id": bos, "ids": [n], "tokens": [bos]}}}]}
        write_json(os.path.join(out, "llama3-style-tokenizer.json"), j)
        lt = Tokenizer.from_file(os.path.join(out, "llama3-style-tokenizer.json"))
        tok["llama3_style"] = {"prompts": PROMPTS, "bos": n, "with_special": [lt.encode(p).ids for p in PROMPTS],
                               "without_special": [lt.encode(p, add_special_tokens=False).ids for p in PROMPTS]}
    tok.update({k: meta[k] for k in ["transformers", "torch", "command"]})
    write_json(os.path.join(out, "tokenizers.json"), tok)
    write_json(os.path.join(out, "meta.json"), meta)


if __name__ == "__main__":
    main()
