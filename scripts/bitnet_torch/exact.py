"""The exported model's forward in float32 storage / float64 accumulation: a replica of src/lib/model.ts."""
# flake8: noqa: F401
import argparse
import gzip
import io
import json
import math
import os
import subprocess
import sys
import tarfile
import time

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the pure parts (config, schedule, Hadamard, safetensors) work without torch
    torch = None
    F = None

from .safetensors_io import *  # noqa: F401,F403
from .plan import *  # noqa: F401,F403
from .model import *  # noqa: F401,F403


def ternarize_exact(w):
    """codes (int8) and s (float32) exactly as quant.ts quantizeWeightsAbsmean: γ = f32(Σ|W| / n) summed in
    float64, s = f32(1 / max(γ, ε)) computed in float64, codes = RoundClip(f32(W·s), −1, 1) half-to-even."""
    w = w.detach().float().cpu()
    gamma = np.float32(w.double().abs().sum().item() / w.numel())
    s = np.float32(1.0 / max(float(gamma), EPS))
    codes = (w * torch.tensor(s, dtype=torch.float32)).round().clamp(-1, 1).to(torch.int8)
    return codes, s


def forward_exact(W, c, tokens, trace=None):
    """Logits [T, V] (float32) of one sequence on the CPU with the reference's numerics: float32 storage,
    float64 accumulation, exact integer products, round-half-even, top-K ties to the lower index.
    W: name → float32 tensor for float tensors; for BitLinear weights of quantized variants
    (codes int8 tensor, s_w float) with γ = 1/s_w. KV cache unquantized."""
    T = len(tokens)
    C, H, KV, D, F_ = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], head_dim(c), c["intermediate_size"]
    eps = c["rms_norm_eps"]
    f64 = torch.float64

    def rms(x, w):
        ss = (x.double() ** 2).sum(-1, keepdim=True)
        r = 1.0 / torch.sqrt(ss / x.shape[-1] + eps)
        return w * (x.double() * r).float()

    def quant(x, scheme, ratio):
        """(codes as float64, s float32 [T,1]) or None."""
        if scheme == "none":
            return None
        dim = x.shape[-1]
        if scheme in ("absmax-int8", "topk-int8"):
            g = x.abs().amax(-1, keepdim=True)
            s = (127.0 / g.double().clamp_min(EPS)).float()
            q = (x * s).round().clamp(-128, 127)
            if scheme == "topk-int8":
                K = topk_count(dim, ratio)
                if K < dim:
                    order = torch.sort(x.abs().double(), dim=-1, descending=True, stable=True).indices
                    mask = torch.zeros_like(x, dtype=torch.bool)
                    mask.scatter_(-1, order[:, :K], True)
                    q = torch.where(mask, q, torch.zeros_like(q))
        else:
            b = (x.abs().double().sum(-1, keepdim=True) / dim).float()
            s = (SQRT7 / b.double().clamp_min(EPS)).float()
            q = (x * s).round().clamp(-8, 7)
        return q.double(), s

    def lin(name, x, act):
        w = W[name]
        if isinstance(w, tuple):
            codes, sw = w
            gamma = 1.0 / float(sw)
            post = gamma / act[1].double()
            return ((act[0] @ codes.double().T) * post).float()
        xin = act[0] / act[1].double() if act is not None else x.double()  # (never: float weights with quantized input)
        return (xin @ w.double().T).float()

    def proj(names, x, site):
        xin = x
        if uses_hadamard(c, site):
            Hm = torch.tensor(explicit_hadamard(c, x.shape[-1]), dtype=f64)
            xin = (x.double() @ Hm.T).float()
        act = quant(xin, act_scheme(c, site), c["bitnet_topk_ratio"])
        if trace is not None:  # per-site input (float32), codes and scale, in call order
            trace.append({"site": site, "names": names, "x": xin, "codes": None if act is None else act[0], "s": None if act is None else act[1]})
        return [lin(n, xin, act) for n in names]

    inv = 1.0 / torch.pow(torch.tensor(float(c["rope_theta"]), dtype=f64), torch.arange(0, D, 2, dtype=f64) / D)
    ang = torch.arange(T, dtype=f64)[:, None] * inv[None, :]
    cos, sin = ang.cos(), ang.sin()

    def rope(x, heads):  # x [T, heads·D] float32
        x = x.view(T, heads, D).double()
        x1, x2 = x[..., :D // 2], x[..., D // 2:]
        cs, sn = cos[:, None, :], sin[:, None, :]
        return torch.cat([x1 * cs - x2 * sn, x2 * cs + x1 * sn], -1).float()

    tok = torch.tensor(tokens, dtype=torch.long)
    h = W[EMBED][tok].clone()
    group = H // KV
    scale = 1.0 / math.sqrt(D)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for i in range(c["num_hidden_layers"]):
        n = norm_names(i)
        x = rms(h, W[n["in"]])
        q, k, v = proj([lname(i, "q"), lname(i, "k"), lname(i, "v")], x, "qkv")
        q = rope(q, H)  # [T, H, D]
        k = rope(k, KV)
        v = v.view(T, KV, D)
        out = torch.empty(T, H, D, dtype=torch.float32)
        for hh in range(H):
            kv = hh // group
            sc = (q[:, hh, :].double() @ k[:, kv, :].double().T) * scale
            sc = sc.masked_fill(mask, float("-inf"))
            p = torch.softmax(sc, -1)
            out[:, hh, :] = (p @ v[:, kv, :].double()).float()
        a = out.reshape(T, H * D)
        if c["bitnet_sub_norms"]:
            a = rms(a, W[n["attn_sub"]])
        h = h + proj([lname(i, "o")], a, "o")[0]
        x2 = rms(h, W[n["post"]])
        g, u = proj([lname(i, "gate"), lname(i, "up")], x2, "gate_up")
        if c["hidden_act"] == "relu2":
            r = g.clamp_min(0)
            m = (r * r) * u
        else:
            gd = g.double()
            m = (gd / (1 + torch.exp(-gd))).float() * u
        if c["bitnet_sub_norms"]:
            m = rms(m, W[n["ffn_sub"]])
        h = h + proj([lname(i, "down")], m, "down")[0]
    fin = rms(h, W[FINAL_NORM])
    head = W[EMBED] if c["tie_word_embeddings"] else W[LM_HEAD]
    return (fin.double() @ head.double().T).float()
