#!/usr/bin/env python3
"""Reduced-size checkpoints of the ternary families whose body is not Llama's, written by transformers' own classes,
with transformers' logits and embeddings: the independent writer and oracle for src/lib/architecture.ts. CPU only:

    TORCHDYNAMO_DISABLE=1 /work/vendor/venv/bin/python scripts/family_body_fixtures.py data/fixtures

fam-gemma3-embedding/  BitNet-embedding-270M style: transformers' Gemma3ForCausalLM (model_type "gemma3_text") whose
    seven projections are AutoBitLinear online with use_rms_norm (a plain RMSNorm inside each BitLinear, weights ~1;
    the released 270M checkpoint calls them `<proj>.norm.weight`, transformers `<proj>.rms_norm.weight`), Gemma's
    (1 + w) RMSNorms (input, post-attention, pre-feedforward, post-feedforward, q/k heads, final; weights ~0),
    embedding × √hidden, GELU-tanh GLU, query_pre_attn_scalar 24 (≠ head_dim 32), layer_types sliding / sliding /
    full with sliding_window 4 (so the 10-token sequence is cut by the window) and RoPE θ 10000 (sliding) / 1e6
    (full), 4 query heads over 1 KV head as the 270M has, tied head. sentence-transformers last-token pooling +
    Normalize (the 270M's card: last-token pooling, L2). Shape: 3 layers, hidden 96, FFN 160, head_dim 32, vocab 512.
fam-minicpm-bitcpm/  BitCPM4 style: OpenBMB's own MiniCPMForCausalLM (model/modeling_minicpm.py and configuration_minicpm.py of
    github.com/OpenBMB/MiniCPM at 5977a63, the last commit holding them; pass that folder as MINICPM_SRC — their code
    is not copied here) run under transformers 5.17 with three shims that change no computation (is_torch_fx_available,
    gone in v5, used only for torch.fx tracing; rope_scaling read as None for the default RoPE as in v4; the tied-weight
    list as v5's mapping). Fake-quantized weights as BitCPM4 ships them: every projection ternary × α (one α per tensor)
    stored float16, no quantization_config. scale_emb 12, scale_depth 1.4 (× 1.4/√2 per block), dim_model_base 32
    (LM head input ÷ 3), 2 layers, hidden 96, 4 heads / 2 KV, FFN 160, vocab 512, tied, θ 10000.
logits.json: transformers loading the folder back (float32, eager attention, CPU) and running SEQUENCES; embeddings =
normalize(last_hidden_state[:, -1]). provenance in fam-body-provenance.json.
"""
import json
import os
import sys
import traceback

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

import torch  # noqa: E402

SEQUENCES = [[2, 5, 77, 200, 299, 42, 8, 150, 0, 13], [2, 511, 3, 3, 3, 256]]
PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
COMMAND = "TORCHDYNAMO_DISABLE=1 /work/vendor/venv/bin/python scripts/family_body_fixtures.py data/fixtures"


def r9(x):
    if isinstance(x, list):
        return [r9(v) for v in x]
    return float("%.9g" % x)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def gemma3(out):
    from safetensors.torch import save_file
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig
    torch.manual_seed(2320)
    cfg = Gemma3TextConfig(vocab_size=512, hidden_size=96, intermediate_size=160, num_hidden_layers=3,
                           num_attention_heads=4, num_key_value_heads=1, head_dim=32, max_position_embeddings=128,
                           rms_norm_eps=1e-6, hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
                           bos_token_id=2, eos_token_id=1, pad_token_id=0, query_pre_attn_scalar=24,
                           sliding_window=4, layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                           rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                            "full_attention": {"rope_type": "default", "rope_theta": 1000000.0}})
    m = Gemma3ForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 1:
                p.copy_(0.1 * torch.randn_like(p))  # Gemma's norms multiply by (1 + w)
            elif "embed_tokens" in name:
                p.copy_(0.1 * torch.randn_like(p))  # × √96 ≈ 9.8 on the way in
            else:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
    m = m.to(torch.float16)
    d = os.path.join(out, "fam-gemma3-embedding")
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    sd = {k: v.detach().clone().contiguous() for k, v in m.state_dict().items() if k != "lm_head.weight"}
    for k in list(sd):
        if any(k.endswith(f"{p}.weight") for p in PROJ):
            sd[k.replace(".weight", ".rms_norm.weight")] = (1 + 0.1 * torch.randn(sd[k].shape[1])).to(torch.float16)
    save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    c = cfg.to_dict()
    c.update(architectures=["Gemma3ForCausalLM"], torch_dtype="float16",
             quantization_config={"quant_method": "bitnet", "linear_class": "autobitlinear",
                                  "quantization_mode": "online", "use_rms_norm": True, "rms_norm_eps": 1e-6})
    for k in ["transformers_version", "dtype"]:
        c.pop(k, None)
    write_json(os.path.join(d, "config.json"), c)
    write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": 96, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": True, "include_prompt": True})

    res = {"ok": False}
    try:
        mm = Gemma3ForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        q = mm.model.layers[0].self_attn.q_proj
        res.update(linear_class=type(q).__name__, lm_head_class=type(mm.lm_head).__name__,
                   q_proj_has_rms_norm=q.rms_norm is not None, layer_types=mm.config.layer_types,
                   sliding_window=mm.config.sliding_window,
                   embed_scale=float(mm.model.embed_tokens.embed_scale))
        with torch.no_grad():
            res["logits"] = [r9(mm(torch.tensor([s]), use_cache=False).logits[0].float().tolist()) for s in SEQUENCES]
            emb = []
            for s in SEQUENCES:
                hs = mm.model(torch.tensor([s]), use_cache=False).last_hidden_state[0, -1].float()
                emb.append(r9(torch.nn.functional.normalize(hs, dim=-1).tolist()))
            res["embeddings"] = emb
            # the same model without the window (every layer full attention): shows the window changes the answer
            mm.config.sliding_window = 10_000
            for layer in mm.model.layers:
                layer.self_attn.sliding_window = 10_000
            res["logits_without_window_last"] = r9(mm(torch.tensor([SEQUENCES[0]]), use_cache=False).logits[0, -1].float().tolist())
        res["pooling"] = "last token of last_hidden_state (after the final norm), L2-normalized (sentence-transformers Pooling lasttoken + Normalize)"
        res["sequences"] = SEQUENCES
        res["ok"] = True
    except Exception as e:
        res["error"] = "".join(traceback.format_exception(type(e), e, e.__traceback__))[-3000:]
        print(res["error"], file=sys.stderr)
    return d, res


def minicpm(out, src):
    import hashlib
    import importlib.util
    import transformers.utils.import_utils as iu
    from safetensors.torch import load_file, save_file
    iu.is_torch_fx_available = lambda: False  # shim 1: removed in transformers 5; only guards torch.fx wrapping
    pkg = os.path.join(src, "model")
    sys.path.insert(0, src)
    from model.configuration_minicpm import MiniCPMConfig  # noqa: E402
    from model.modeling_minicpm import MiniCPMForCausalLM  # noqa: E402
    # shim 2: v5 aliases rope_scaling to rope_parameters ({"rope_type": "default", …}); this code reads None as no scaling
    MiniCPMConfig.rope_scaling = property(
        lambda self: None if (self.rope_parameters or {}).get("rope_type", "default") == "default" else self.rope_parameters,
        lambda self, v: setattr(self, "rope_parameters", v))
    # shim 3: v5 wants the tied weights as a mapping, not v4's list
    MiniCPMForCausalLM._tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}
    files = {f: hashlib.sha256(open(os.path.join(pkg, f), "rb").read()).hexdigest()
             for f in ["modeling_minicpm.py", "configuration_minicpm.py"]}
    shape = dict(vocab_size=512, hidden_size=96, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, hidden_act="silu",
                 tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, rope_theta=10000.0, scale_emb=12,
                 scale_depth=1.4, dim_model_base=32)
    cfg = MiniCPMConfig(**shape)
    cfg._attn_implementation = "eager"
    torch.manual_seed(2321)
    m = MiniCPMForCausalLM(cfg).eval()
    alphas = {}
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 1:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif "embed_tokens" in name:
                p.copy_(0.05 * torch.randn_like(p))  # × scale_emb 12 on the way in
            else:
                w = torch.randn_like(p) / p.shape[1] ** 0.5
                a = w.abs().mean().to(torch.float16).float()
                p.copy_((w / a).round().clamp(-1, 1) * a)  # BitCPM4's fake quantization: ternary × α
                if ".layers.0." in name:
                    alphas[name] = float(a)
    d = os.path.join(out, "fam-minicpm-bitcpm")
    os.makedirs(d, exist_ok=True)
    sd = {k: v.detach().to(torch.float16).contiguous() for k, v in m.state_dict().items() if k != "lm_head.weight"}
    save_file(sd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    config = dict(shape, architectures=["MiniCPMForCausalLM"], model_type="minicpm", torch_dtype="float16",
                  auto_map={"AutoConfig": "configuration_minicpm.MiniCPMConfig",
                            "AutoModelForCausalLM": "modeling_minicpm.MiniCPMForCausalLM"},
                  pretraining_tp=1, rope_scaling=None, attention_bias=False, attention_dropout=0.0)
    write_json(os.path.join(d, "config.json"), config)
    res = {"ok": False}
    try:
        ref = MiniCPMForCausalLM(cfg).eval()
        ref.load_state_dict({k: v.float() for k, v in load_file(os.path.join(d, "model.safetensors")).items()}, strict=False)
        ref.tie_weights()
        assert torch.equal(ref.lm_head.weight, ref.model.embed_tokens.weight)
        with torch.no_grad():
            res["logits"] = [r9(ref(torch.tensor([s]), use_cache=False).logits[0].float().tolist()) for s in SEQUENCES]
        res.update(sequences=SEQUENCES, ok=True, alphas_layer0=alphas, reference_files_sha256=files,
                   reference="github.com/OpenBMB/MiniCPM model/modeling_minicpm.py @ 5977a63783814ae3478cbbf53d52071ac2837522")
    except Exception as e:
        res["error"] = "".join(traceback.format_exception(type(e), e, e.__traceback__))[-3000:]
        print(res["error"], file=sys.stderr)
    return d, res


def main():
    import transformers
    out = sys.argv[1]
    meta = {"transformers": transformers.__version__, "torch": torch.__version__, "sequences": SEQUENCES,
            "command": COMMAND, "folders": {}}
    d, res = gemma3(out)
    res.update({k: meta[k] for k in ["transformers", "torch", "command"]})
    write_json(os.path.join(d, "logits.json"), res)
    meta["folders"]["fam-gemma3-embedding"] = ("Gemma3ForCausalLM (gemma3_text) float16 + quantization_config "
                                               "autobitlinear/online/use_rms_norm; sliding/sliding/full layers, window 4; "
                                               "sentence-transformers last-token pooling + Normalize")
    print(f"fam-gemma3-embedding: ok={res['ok']} class={res.get('linear_class')}", file=sys.stderr)
    src = os.environ.get("MINICPM_SRC")
    if src:
        d, res = minicpm(out, src)
        res.update({k: meta[k] for k in ["transformers", "torch", "command"]})
        write_json(os.path.join(d, "logits.json"), res)
        meta["folders"]["fam-minicpm-bitcpm"] = ("OpenBMB's MiniCPMForCausalLM (MINICPM_SRC, 5977a63) under transformers 5.17 + 3 "
                                                 "shims; float16 projections = ternary × α per tensor; no quantization_config")
        meta["minicpm_command"] = "MINICPM_SRC=<OpenBMB/MiniCPM checkout at 5977a63> " + COMMAND
        print(f"fam-minicpm-bitcpm: ok={res['ok']}", file=sys.stderr)
    write_json(os.path.join(out, "fam-body-provenance.json"), meta)


if __name__ == "__main__":
    main()
