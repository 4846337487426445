#!/usr/bin/env python3
"""GGUF files of a Llama-architecture ternary model written by llama.cpp's own gguf-py (0.19): arch "llama",
TQ1_0 and TQ2_0 projections quantized by gguf.quants, W_q/W_k rows permuted the way llama.cpp's converters do
for NORM (adjacent-pair) RoPE (convert_hf_to_gguf.py LlamaModel.permute), F32 norms, F16 embedding and head.

    TORCHDYNAMO_DISABLE=1 /work/vendor/venv/bin/python scripts/family_fixtures.py data/fixtures   # writes /tmp/fam-gguf-src.npz
    python3 -m venv /work/fam-venv --system-site-packages && /work/fam-venv/bin/pip install gguf numpy
    /work/fam-venv/bin/python scripts/family_gguf_fixtures.py data/fixtures

The source is data/fixtures/fam-gguf-src (HF packed, autobitlinear, weight_scale = f16(mean|W|)): a TQ block's
scale is max|W| of its 256 values = that γ exactly, so the GGUF holds the same weights and transformers' logits
of the HF folder (fam-gguf-src/logits.json) are the reference for both files. gguf-py cannot write bitnet.cpp's
I2_S (a fork type), so no `llama` I2_S fixture is made here.
Outputs: fam-gguf-tq2_0.gguf, fam-gguf-tq1_0.gguf, fam-gguf-provenance.json (with gguf-py's own dequantization
of layer 0's W_q first 256 values, for the decoder's test).
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

NPZ = os.environ.get("FAM_NPZ", "/tmp/fam-gguf-src.npz")
PROJ = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
        "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def permute(w, n_head, n_head_kv):
    # convert_hf_to_gguf.py LlamaModel.permute: rotate-half rows → adjacent pairs per head
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def main():
    out = sys.argv[1]
    cfg = json.load(open(os.path.join(out, "fam-gguf-src", "config.json")))
    z = np.load(NPZ)
    H, KV, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    theta = cfg.get("rope_parameters", {}).get("rope_theta", cfg.get("rope_theta"))
    prov = {"gguf": getattr(gguf, "__version__", None) or "0.19.0", "numpy": np.__version__, "source": "fam-gguf-src",
            "command": "/work/fam-venv/bin/python scripts/family_gguf_fixtures.py data/fixtures", "files": {}}
    try:
        from importlib.metadata import version
        prov["gguf"] = version("gguf")
    except Exception:
        pass
    for qt, name in [(Q.TQ2_0, "fam-gguf-tq2_0.gguf"), (Q.TQ1_0, "fam-gguf-tq1_0.gguf")]:
        path = os.path.join(out, name)
        w = gguf.GGUFWriter(path, "llama")
        w.add_name("bitnet-lab family fixture")
        w.add_vocab_size(cfg["vocab_size"])
        w.add_context_length(cfg["max_position_embeddings"])
        w.add_embedding_length(cfg["hidden_size"])
        w.add_block_count(cfg["num_hidden_layers"])
        w.add_feed_forward_length(cfg["intermediate_size"])
        w.add_head_count(H)
        w.add_head_count_kv(KV)
        w.add_key_length(d)
        w.add_value_length(d)
        w.add_rope_dimension_count(d)
        w.add_rope_freq_base(theta)
        w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
        w.add_file_type(gguf.LlamaFileType.MOSTLY_TQ2_0 if qt == Q.TQ2_0 else gguf.LlamaFileType.MOSTLY_TQ1_0)
        w.add_bos_token_id(cfg["bos_token_id"])
        w.add_eos_token_id(cfg["eos_token_id"])
        w.add_quantization_version(gguf.GGML_QUANT_VERSION)

        def f16(x):
            return x.astype(np.float16)

        w.add_tensor("token_embd.weight", f16(z["model.embed_tokens.weight"]))
        for l in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{l}."
            w.add_tensor(f"blk.{l}.attn_norm.weight", z[p + "input_layernorm.weight"].astype(np.float32))
            for hf, g in PROJ.items():
                key = p + ("self_attn." if hf.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else "mlp.") + hf + ".weight"
                W = z[key].astype(np.float32) * z[key + "@gamma"][0]
                if hf == "q_proj":
                    W = permute(W, H, H)
                elif hf == "k_proj":
                    W = permute(W, H, KV)
                qd = gguf.quants.quantize(W, qt)
                w.add_tensor(f"blk.{l}.{g}.weight", qd, raw_shape=qd.shape, raw_dtype=qt)
                if l == 0 and hf == "q_proj":
                    deq = gguf.quants.dequantize(qd, qt)
                    prov["files"][name] = {"blk.0.attn_q.weight[0,:256] dequantized by gguf-py": [float(v) for v in deq[0, :256]],
                                           "blk.0.attn_q.weight raw bytes of block 0 (hex)": qd[0, :qt and gguf.GGML_QUANT_SIZES[qt][1]].tobytes().hex()}
            w.add_tensor(f"blk.{l}.ffn_norm.weight", z[p + "post_attention_layernorm.weight"].astype(np.float32))
        w.add_tensor("output_norm.weight", z["model.norm.weight"].astype(np.float32))
        w.add_tensor("output.weight", f16(z["lm_head.weight"]))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        prov["files"][name]["bytes"] = os.path.getsize(path)
        print(name, os.path.getsize(path), file=sys.stderr)
    json.dump(prov, open(os.path.join(out, "fam-gguf-provenance.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
