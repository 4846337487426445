#!/usr/bin/env python3
"""Reduced-size checkpoints of the released ternary families that are Llama-architecture models, written by
transformers' own classes (LlamaForCausalLM, its bitnet quantizer and pack_weights), with transformers' logits
for each: the independent writer and oracle for BitNet Lab's family support (src/lib/architecture.ts,
src/lib/formats/pseudo.ts). CPU only, seconds:

    TORCHDYNAMO_DISABLE=1 /work/vendor/venv/bin/python scripts/family_fixtures.py data/fixtures

Shape (all folders): 2 layers, hidden 96, 4 heads / 2 KV heads with head_dim 32 (≠ 96/4 = 24), FFN 160 (SiLU
GLU), vocab 512, untied float LM head, no sub-norms, rope_theta 1000042 (Falcon3's θ).
  fam-llama-legacy/     LlamaForCausalLM + quantization_config {"quant_method": "bitnet"} and nothing else, as
                        Falcon3-*-1.58bit and HF1BitLLM/Llama3-8B-1.58 ship it: transformers then builds BitLinear
                        (linear_class default "bitlinear"), whose weight_scale DIVIDES (stored 1/mean|W|).
  fam-llama-autobitlinear/  the same codes, linear_class "autobitlinear", offline: weight_scale = mean|W| MULTIPLIES.
  fam-llama-online/     the float16 master weights, linear_class "autobitlinear", quantization_mode "online":
                        ternarized on every forward (Falcon-E bf16 revision / 1bitLLM style).
  fam-1bitllm/          the same float16 master weights with 1bitLLM/bitnet_b1_58-*'s config keys
                        (architectures ["BitnetForCausalLM"], model_type "llama", weight_bits 1, input_bits 8, no
                        quantization_config). Its logits are fam-llama-online's: 1bitLLM's utils_quant.BitLinear
                        (weight_quant: s = 1/mean|W|.clamp(1e-5), round, clamp(-1, 1), / s; activation_quant: per
                        token 127/absmax.clamp(1e-5), round, clamp(-128, 127), / s) is the computation transformers'
                        AutoBitLinear online does; 1bitLLM's own remote code is not available offline.
  fam-trilm-unpacked/   TriLM/Spectra "unpacked" style: a plain LlamaForCausalLM (no quantization_config, no
                        activation quantization) in float16 whose projection values are ternary × scale, one scale
                        per model-parallel shard: 2 row groups for q/k/v/gate/up (column-parallel), 2 column groups
                        for o/down (row-parallel). provenance records the codes' scales for the detector's test.
Each folder gets logits.json: transformers loading that folder back (float32, eager attention, CPU) and running
SEQUENCES, or the error it raised. provenance.json: versions, command, what each folder is.
"""
import json
import os
import sys
import traceback

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

import torch  # noqa: E402

SEQUENCES = [[1, 5, 77, 200, 299, 42, 8, 150, 0, 13], [1, 511, 3, 3, 3, 256]]
THETA = 1000042.0
SHAPE = dict(vocab_size=512, hidden_size=96, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, head_dim=32, max_position_embeddings=128, rms_norm_eps=1e-6,
             hidden_act="silu", tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0,
             attention_bias=False, mlp_bias=False)
PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
ROW_PARALLEL = ["o_proj", "down_proj"]
NPZ = os.environ.get("FAM_NPZ", "/tmp/fam-gguf-src.npz")


def r9(x):
    if isinstance(x, list):
        return [r9(v) for v in x]
    return float("%.9g" % x)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def logits_of(path, sequences=None):
    sequences = sequences or SEQUENCES
    from transformers import LlamaForCausalLM, Qwen3ForCausalLM
    res = {"ok": False}
    try:
        cls = Qwen3ForCausalLM if "qwen3" in path else LlamaForCausalLM
        model = cls.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval().to("cpu")
        q = model.model.layers[0].self_attn.q_proj
        res["linear_class"] = type(q).__name__
        res["lm_head_class"] = type(model.lm_head).__name__
        ws = getattr(q, "weight_scale", None)
        if ws is not None:
            res["q_proj_weight_scale"] = r9(ws.float().flatten().tolist())
        with torch.no_grad():
            res["logits"] = [r9(model(torch.tensor([s]), use_cache=False).logits[0].float().tolist()) for s in sequences]
            if "qwen3" in path:
                q = model.model.layers[0].self_attn.q_proj
                res["q_proj_has_rms_norm"] = q.rms_norm is not None
                emb = []
                for s in sequences:
                    hs = model.model(torch.tensor([s]), use_cache=False).last_hidden_state[0, -1].float()
                    emb.append(r9(torch.nn.functional.normalize(hs, dim=-1).tolist()))
                res["embeddings"] = emb
                res["pooling"] = "last token of last_hidden_state (after the final norm), L2-normalized (sentence-transformers Pooling lasttoken + Normalize)"
        res["sequences"] = sequences
        res["ok"] = True
    except Exception as e:
        res["error"] = "".join(traceback.format_exception(type(e), e, e.__traceback__))[-3000:]
        print(res["error"], file=sys.stderr)
    return res


def base_config():
    from transformers import LlamaConfig
    cfg = LlamaConfig(**SHAPE)
    if isinstance(getattr(cfg, "rope_parameters", None), dict):
        cfg.rope_parameters = {"rope_type": "default", "rope_theta": THETA}
    else:
        cfg.rope_theta = THETA
    return cfg


def random_model(seed):
    from transformers import LlamaForCausalLM
    torch.manual_seed(seed)
    model = LlamaForCausalLM(base_config()).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif "embed_tokens" in name or "lm_head" in name:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
    return model


def save(model, d, dtype, patch):
    model = model.to(dtype)
    model.save_pretrained(d, safe_serialization=True)
    for fn in os.listdir(d):
        if fn.startswith("generation_config"):
            os.remove(os.path.join(d, fn))
    cpath = os.path.join(d, "config.json")
    with open(cpath) as f:
        config = json.load(f)
    patch(config)
    write_json(cpath, config)
    return config


def main():
    import transformers
    from safetensors.torch import save_file
    from transformers.integrations.bitnet import pack_weights
    out = sys.argv[1]
    meta = {"transformers": transformers.__version__, "torch": torch.__version__, "sequences": SEQUENCES,
            "command": "TORCHDYNAMO_DISABLE=1 /work/vendor/venv/bin/python scripts/family_fixtures.py data/fixtures",
            "shape": SHAPE, "rope_theta": THETA, "folders": {}}

    # ---- latent master weights (float16): online + 1bitLLM
    model = random_model(2310)
    online = os.path.join(out, "fam-llama-online")

    def qc_online(c):
        c["quantization_config"] = {"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "online"}
    cfg_online = save(model, online, torch.float16, qc_online)
    meta["folders"]["fam-llama-online"] = "LlamaForCausalLM.save_pretrained in float16 + quantization_config autobitlinear/online"

    onebit = os.path.join(out, "fam-1bitllm")
    os.makedirs(onebit, exist_ok=True)
    import shutil
    shutil.copy(os.path.join(online, "model.safetensors"), os.path.join(onebit, "model.safetensors"))
    c1 = {k: v for k, v in cfg_online.items() if k != "quantization_config"}
    c1["architectures"] = ["BitnetForCausalLM"]
    c1["weight_bits"] = 1
    c1["input_bits"] = 8
    c1["auto_map"] = {"AutoConfig": "configuration_bitnet.BitnetConfig", "AutoModelForCausalLM": "modeling_bitnet.BitnetForCausalLM"}
    write_json(os.path.join(onebit, "config.json"), c1)
    meta["folders"]["fam-1bitllm"] = "fam-llama-online's safetensors with 1bitLLM's config keys; logits = fam-llama-online's (same computation)"

    # ---- packed from the same master weights (transformers' WeightQuant codes, pack_weights)
    sd = {k: v.detach().clone() for k, v in model.to(torch.float16).state_dict().items()}
    meta["q0_scale"] = {}
    for folder, cls in [("fam-llama-legacy", None), ("fam-llama-autobitlinear", "autobitlinear")]:
        d = os.path.join(out, folder)
        os.makedirs(d, exist_ok=True)
        psd = {}
        for k, v in sd.items():
            if any(k.endswith(f"{p}.weight") for p in PROJ):
                w = v.float()
                s = 1.0 / w.abs().mean().clamp_(min=1e-5)
                codes = (w * s).round().clamp(-1, 1)
                psd[k] = pack_weights(codes.clone().to(torch.int8)).contiguous()
                scale = (1.0 / s) if cls == "autobitlinear" else s
                psd[k.replace(".weight", ".weight_scale")] = scale.reshape(1).to(torch.bfloat16)
                if k.endswith("layers.0.self_attn.q_proj.weight"):
                    meta["q0_scale"][folder] = float(scale.to(torch.bfloat16))
            else:
                psd[k] = v.contiguous()
        save_file(psd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
        c2 = {k: v for k, v in cfg_online.items()}
        c2["quantization_config"] = {"quant_method": "bitnet"} if cls is None else {"quant_method": "bitnet", "linear_class": cls, "quantization_mode": "offline"}
        c2["torch_dtype"] = "bfloat16"
        write_json(os.path.join(d, "config.json"), c2)
    meta["folders"]["fam-llama-legacy"] = "pack_weights(WeightQuant codes), weight_scale = 1/mean|W| (bf16), quantization_config {quant_method: bitnet} only"
    meta["folders"]["fam-llama-autobitlinear"] = "pack_weights(WeightQuant codes), weight_scale = mean|W| (bf16), autobitlinear/offline"

    # ---- TriLM-style unpacked: ternary x per-shard scale, stored float16, plain Llama (weight-only ternary)
    tri = random_model(2311)
    scales = {}
    with torch.no_grad():
        for name, p in tri.named_parameters():
            if not any(name.endswith(f"{q}.weight") for q in PROJ):
                continue
            w = p.detach().float()
            row_parallel = any(name.endswith(f"{q}.weight") for q in ROW_PARALLEL)
            parts = torch.chunk(w, 2, dim=1 if row_parallel else 0)
            qs, al = [], []
            for part in parts:
                a = part.abs().mean().clamp(min=1e-5)
                a = a.to(torch.float16).float()  # the scale as the float16 file can hold it
                qs.append((part / a).round().clamp(-1, 1) * a)
                al.append(float(a))
            p.copy_(torch.cat(qs, dim=1 if row_parallel else 0))
            scales[name] = {"axis": "cols" if row_parallel else "rows", "groups": 2, "alphas": al}
    tri_dir = os.path.join(out, "fam-trilm-unpacked")
    save(tri, tri_dir, torch.float16, lambda c: None)
    meta["folders"]["fam-trilm-unpacked"] = "LlamaForCausalLM float16, projections = codes x alpha per shard (2 row groups; o/down 2 column groups)"
    meta["trilm_scales"] = {k: v for k, v in scales.items() if ".layers.0." in k}

    # ---- the source of the GGUF fixtures (scripts/family_gguf_fixtures.py): TQ1_0/TQ2_0 need rows of 256·k, so a
    # wider shape (hidden 256, FFN 512, 4 heads of 128 ≠ 256/4 over 2 KV heads, vocab 256), packed autobitlinear with
    # weight_scale = mean|W| rounded to float16 first (stored F32), so a TQ block's f16 scale is that value exactly.
    saved = dict(SHAPE)
    SHAPE.update(dict(saved, vocab_size=256, hidden_size=256, intermediate_size=512, num_attention_heads=4, num_key_value_heads=2, head_dim=128))
    src = random_model(2312).to(torch.float16)
    SHAPE.clear()
    SHAPE.update(saved)
    gdir = os.path.join(out, "fam-gguf-src")
    os.makedirs(gdir, exist_ok=True)
    gsd = {k: v.detach().clone() for k, v in src.state_dict().items()}
    psd, dump = {}, {}
    for k, v in gsd.items():
        if any(k.endswith(f"{p}.weight") for p in PROJ):
            w = v.float()
            gamma = w.abs().mean().clamp(min=1e-5).to(torch.float16).float()
            codes = (w / gamma).round().clamp(-1, 1)
            psd[k] = pack_weights(codes.clone().to(torch.int8)).contiguous()
            psd[k.replace(".weight", ".weight_scale")] = gamma.reshape(1).to(torch.float32)
            dump[k] = codes.to(torch.int8).numpy()
            dump[k + "@gamma"] = gamma.reshape(1).numpy()
        else:
            psd[k] = v.contiguous()
            dump[k] = v.float().numpy()
    save_file(psd, os.path.join(gdir, "model.safetensors"), metadata={"format": "pt"})
    cg = src.config.to_dict()
    cg = {k: v for k, v in cg.items() if k in cfg_online}
    cg.update(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=256, hidden_size=256, intermediate_size=512,
              num_attention_heads=4, num_key_value_heads=2, head_dim=128,
              quantization_config={"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "offline"})
    write_json(os.path.join(gdir, "config.json"), cg)
    import numpy as np
    np.savez(NPZ, **dump)  # read by family_gguf_fixtures.py (its venv has gguf-py, no torch); not committed
    meta["folders"]["fam-gguf-src"] = "hidden 256, FFN 512, head_dim 128 (4 heads), vocab 256; packed autobitlinear, weight_scale = f16(mean|W|) stored F32: the HF source of fam-gguf-*.gguf"

    # ---- BitNet-embedding style: a Qwen3 body (QK head norms, head_dim 32 ≠ 96/4, tied) whose seven projections are
    # transformers' AutoBitLinear online with use_rms_norm (an RMSNorm inside each BitLinear), sentence-transformers
    # last-token pooling + Normalize. Reference: transformers' logits and normalize(last_hidden_state[:, -1]).
    from transformers import Qwen3Config, Qwen3ForCausalLM
    torch.manual_seed(2313)
    qcfg = Qwen3Config(vocab_size=512, hidden_size=96, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=32, max_position_embeddings=128, rms_norm_eps=1e-6,
                       hidden_act="silu", tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0,
                       use_sliding_window=False, attention_bias=False)
    if isinstance(getattr(qcfg, "rope_parameters", None), dict):
        qcfg.rope_parameters = {"rope_type": "default", "rope_theta": 1000000.0}
    qm = Qwen3ForCausalLM(qcfg).eval()
    with torch.no_grad():
        for name, p in qm.named_parameters():
            if p.dim() == 1:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif "embed_tokens" in name:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
    qm = qm.to(torch.float16)
    edir = os.path.join(out, "fam-qwen3-embedding")
    os.makedirs(os.path.join(edir, "1_Pooling"), exist_ok=True)
    esd = {k: v.detach().clone().contiguous() for k, v in qm.state_dict().items() if k != "lm_head.weight"}
    for k in list(esd):
        if any(k.endswith(f"{p}.weight") for p in PROJ):
            esd[k.replace(".weight", ".rms_norm.weight")] = (1 + 0.1 * torch.randn(esd[k].shape[1])).to(torch.float16)
    save_file(esd, os.path.join(edir, "model.safetensors"), metadata={"format": "pt"})
    ec = qcfg.to_dict()
    ec.update(architectures=["Qwen3ForCausalLM"], torch_dtype="float16",
              quantization_config={"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "online", "use_rms_norm": True, "rms_norm_eps": 1e-6})
    for k in ["transformers_version", "dtype"]:
        ec.pop(k, None)
    write_json(os.path.join(edir, "config.json"), ec)
    write_json(os.path.join(edir, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write_json(os.path.join(edir, "1_Pooling", "config.json"), {
        "word_embedding_dimension": 96, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": False,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": True, "include_prompt": True})
    meta["folders"]["fam-qwen3-embedding"] = "Qwen3ForCausalLM float16 + quantization_config autobitlinear/online/use_rms_norm; sentence-transformers last-token pooling + Normalize"

    for name in ["fam-qwen3-embedding", "fam-llama-legacy", "fam-llama-autobitlinear", "fam-llama-online", "fam-trilm-unpacked", "fam-gguf-src"]:
        d = os.path.join(out, name)
        r = logits_of(d, [[t % 256 for t in s] for s in SEQUENCES] if name == "fam-gguf-src" else None)
        r.update({k: meta[k] for k in ["transformers", "torch", "command"]})
        write_json(os.path.join(d, "logits.json"), r)
        print(f"{name}: ok={r['ok']} class={r.get('linear_class')} head={r.get('lm_head_class')}", file=sys.stderr)
        if name == "fam-llama-online":
            r1 = dict(r)
            r1["note"] = "fam-llama-online's logits: 1bitLLM's BitLinear computes what AutoBitLinear online does"
            write_json(os.path.join(out, "fam-1bitllm", "logits.json"), r1)
    write_json(os.path.join(out, "fam-provenance.json"), meta)


if __name__ == "__main__":
    main()
