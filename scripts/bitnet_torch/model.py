"""Parameters, the quantizers with the straight-through estimator, and the training forward."""
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


LINEARS = ["q", "k", "v", "o", "gate", "up", "down"]


def lname(i, l):
    if l in ("q", "k", "v", "o"):
        return f"model.layers.{i}.self_attn.{l}_proj.weight"
    return f"model.layers.{i}.mlp.{l}_proj.weight"


def norm_names(i):
    return {
        "in": f"model.layers.{i}.input_layernorm.weight",
        "post": f"model.layers.{i}.post_attention_layernorm.weight",
        "attn_sub": f"model.layers.{i}.self_attn.attn_sub_norm.weight",
        "ffn_sub": f"model.layers.{i}.mlp.ffn_sub_norm.weight",
    }


EMBED = "model.embed_tokens.weight"


FINAL_NORM = "model.norm.weight"


LM_HEAD = "lm_head.weight"


def param_shapes(c):
    C, D, F_ = c["hidden_size"], head_dim(c), c["intermediate_size"]
    H, KV = c["num_attention_heads"], c["num_key_value_heads"]
    out = [(EMBED, [c["vocab_size"], C])]
    for i in range(c["num_hidden_layers"]):
        n = norm_names(i)
        out.append((n["in"], [C]))
        out += [(lname(i, "q"), [H * D, C]), (lname(i, "k"), [KV * D, C]), (lname(i, "v"), [KV * D, C]), (lname(i, "o"), [C, H * D])]
        if c["bitnet_sub_norms"]:
            out.append((n["attn_sub"], [H * D]))
        out.append((n["post"], [C]))
        out += [(lname(i, "gate"), [F_, C]), (lname(i, "up"), [F_, C]), (lname(i, "down"), [C, F_])]
        if c["bitnet_sub_norms"]:
            out.append((n["ffn_sub"], [F_]))
    out.append((FINAL_NORM, [C]))
    if not c["tie_word_embeddings"]:
        out.append((LM_HEAD, [c["vocab_size"], C]))
    return out


def linear_names(c):
    return [lname(i, l) for i in range(c["num_hidden_layers"]) for l in LINEARS]


def init_params(c, seed, device, std, norm_value):
    """N(0, std²) for matrices, norm_value for norms (the plan's init, as train/model.ts initParams; torch's
    RNG, not the TS one, so the draws differ)."""
    g = torch.Generator().manual_seed(seed)
    P = {}
    for name, shape in param_shapes(c):
        if len(shape) == 1:
            t = torch.full(shape, float(norm_value))
        else:
            t = torch.randn(shape, generator=g) * std
        P[name] = t.to(device).requires_grad_(True)
    return P


def act_scheme(c, site):
    """The site's activation quantizer, as the TS plan resolved it (train/model.ts actScheme)."""
    return c["_sites"][site]["quantizer"]


def uses_hadamard(c, site):
    return c["_sites"][site]["hadamard"]


def topk_count(dim, ratio):
    return min(dim, max(0, js_round(ratio * dim)))


def weight_quant(w):
    """W̃ / s with s = 1/max(mean|W|, ε) (b1.58 eq. 1–3), as the tfjs weightQuant."""
    s = 1.0 / w.abs().mean().clamp_min(EPS)
    return (w * s).round().clamp(-1, 1) / s


def absmax_int8(x):
    s = 127.0 / x.abs().amax(-1, keepdim=True).clamp_min(EPS)
    return (x * s).round().clamp(-128, 127) / s


def absmean_int4(x):
    # s in float64 then float32, like quant.ts (√7 is not a float32 number)
    b = x.abs().mean(-1, keepdim=True).clamp_min(EPS)
    s = (SQRT7 / b.double()).float()
    return (x * s).round().clamp(-8, 7) / s


def topk_int8(x, ratio):
    dim = x.shape[-1]
    K = topk_count(dim, ratio)
    q = absmax_int8(x)
    if K >= dim:
        return q
    if K == 0:
        return torch.zeros_like(x)
    a = x.abs()
    thr = a.topk(K, dim=-1).values[..., K - 1:K]
    return q * (a >= thr).to(x.dtype)


def ste(x, q):
    """Forward q, backward identity."""
    return x + (q - x).detach()


def quantize_activation(x, scheme, ratio):
    if scheme == "none":
        return x
    if scheme == "absmax-int8":
        return ste(x, absmax_int8(x))
    if scheme == "absmean-int4":
        return ste(x, absmean_int4(x))
    return ste(x, topk_int8(x, ratio))


class Consts:
    """RoPE tables and Hadamard matrices per device."""

    def __init__(self, device):
        self.device = device
        self.cache = {}

    def rope(self, c, T):
        key = ("rope", T, head_dim(c), c["rope_theta"])
        if key not in self.cache:
            D = head_dim(c)
            inv = 1.0 / torch.pow(torch.tensor(float(c["rope_theta"]), dtype=torch.float64), torch.arange(0, D, 2, dtype=torch.float64) / D)
            ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
            cos = torch.cat([ang.cos(), ang.cos()], -1).float().to(self.device)
            sin = torch.cat([ang.sin(), ang.sin()], -1).float().to(self.device)
            self.cache[key] = (cos, sin)
        return self.cache[key]

    def hadamard(self, c, n):
        key = ("had", n)
        if key not in self.cache:
            pl = c["_hadamard"][str(n)]["plan"]
            H = explicit_hadamard(c, n)
            if pl["kind"] == "block-diagonal":
                # H = I_m ⊗ (H_b/√b): a b×b transform on each contiguous block
                b = pl["block"]
                self.cache[key] = ("block", b, torch.tensor(H[:b, :b], dtype=torch.float32, device=self.device))
            else:
                self.cache[key] = ("full", n, torch.tensor(H, dtype=torch.float32, device=self.device))
        return self.cache[key]


def apply_hadamard(consts, c, x):
    """Row-vector form of H·x; autograd gives Hᵀ·g, the transform's inverse (v2 §2)."""
    kind, b, Hm = consts.hadamard(c, x.shape[-1])
    if kind == "block":
        return (x.reshape(*x.shape[:-1], -1, b) @ Hm.T).reshape(x.shape)
    return x @ Hm.T


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    D = x.shape[-1]
    return torch.cat([-x[..., D // 2:], x[..., :D // 2]], -1)


def _torch_at_least(major, minor):
    v = torch.__version__.split("+")[0].split(".")
    return (int(v[0]), int(v[1])) >= (major, minor)


def attention(q, k, v):
    """Causal attention, q [B, H, T, D], k/v [B, KV, T, D]. GQA: query head h reads KV head ⌊h / (H/KV)⌋
    (transformers' repeat_kv)."""
    if _torch_at_least(2, 5):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    rep = q.shape[1] // k.shape[1]  # older torch (local CPU tests): the same computation spelled out
    k = k.repeat_interleave(rep, 1)
    v = v.repeat_interleave(rep, 1)
    T = q.shape[2]
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool, device=q.device), 1), float("-inf"))
    return torch.softmax(s, -1) @ v


def forward(P, c, tokens, consts, weights_quantized=False):
    """Logits [B·T, vocab] of token ids [B, T]; P maps tensor names to latent (or, with weights_quantized,
    already ternarized) parameters."""
    B, T = tokens.shape
    C, H, KV, D, F_ = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], head_dim(c), c["intermediate_size"]
    eps = c["rms_norm_eps"]
    quant_w = c["bitnet_variant"] != "fp" and not weights_quantized
    wq = {}

    def W(name):
        if name not in wq:
            wq[name] = ste(P[name], weight_quant(P[name])) if quant_w else P[name]
        return wq[name]

    def q8(x, site):
        if uses_hadamard(c, site):
            x = apply_hadamard(consts, c, x)
        return quantize_activation(x, act_scheme(c, site), c["bitnet_topk_ratio"])

    cos, sin = consts.rope(c, T)
    h = P[EMBED][tokens].reshape(B * T, C)
    for i in range(c["num_hidden_layers"]):
        n = norm_names(i)
        a = q8(rms_norm(h, P[n["in"]], eps), "qkv")
        qkv = a @ torch.cat([W(lname(i, "q")), W(lname(i, "k")), W(lname(i, "v"))], 0).T
        q, k, v = qkv.split([H * D, KV * D, KV * D], -1)
        q = q.view(B, T, H, D).transpose(1, 2)
        k = k.view(B, T, KV, D).transpose(1, 2)
        v = v.view(B, T, KV, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = attention(q, k, v)
        att = att.transpose(1, 2).reshape(B * T, H * D)
        if c["bitnet_sub_norms"]:
            att = rms_norm(att, P[n["attn_sub"]], eps)
        h = h + q8(att, "o") @ W(lname(i, "o")).T
        f = q8(rms_norm(h, P[n["post"]], eps), "gate_up")
        gu = f @ torch.cat([W(lname(i, "gate")), W(lname(i, "up"))], 0).T
        g, u = gu.split([F_, F_], -1)
        act = F.relu(g).square() if c["hidden_act"] == "relu2" else F.silu(g)
        inner = act * u
        if c["bitnet_sub_norms"]:
            inner = rms_norm(inner, P[n["ffn_sub"]], eps)
        h = h + q8(inner, "down") @ W(lname(i, "down")).T
    h = rms_norm(h, P[FINAL_NORM], eps)
    head = P[EMBED] if c["tie_word_embeddings"] else P[LM_HEAD]
    return h @ head.T
