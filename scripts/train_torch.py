#!/usr/bin/env python3
"""PyTorch mirror of the project's tfjs trainer (src/lib/train/*), for training the shipped models on a CUDA GPU.

Same architecture, variants and recipe as src/lib/model.ts and src/lib/train/{model,trainer,config}.ts:
RMSNorm, RoPE (rotate_half), GQA, SwiGLU / ReLU²-GLU, sub-norms, tied head; absmean ternary weights and the
per-variant activation quantizers (absmax INT8, absmean INT4, top-K + INT8, Hadamard before W_o / W_down for
v2), every quantizer straight-through (x + (q(x) − x).detach()); AdamW β (0.9, 0.95), decay on matrices only,
global-norm clipping, the two-stage LR/WD schedule and the activation stages of configs/*.json.

Subcommands (numpy is the only dependency besides torch; safetensors are written by hand):
  train   one recipe:  --config configs/b1.58.json --data .train-data --out runs/b1.58 [--steps N]
          [--batch-size B] [--lr-scale X] [--eval-every N] [--save-branch] [--from STATE.pt] [--deadline UNIX_S]
  all     the six shipped models: fp, b1.58, a4.8, v2-a8 in parallel processes, then v2-a4 and
          v2-a4-nohadamard continued from v2-a8's state at 80% of the steps; --pack DIR bundles the results
  check   the forward against TS reference logits of random weights (scripts/import-torch.ts --make-check)

Each trained run exports model.st.gz: a gzipped safetensors file with, per BitLinear weight, the int8 ternary
codes and s = 1/max(γ, ε) as F32 (γ = mean|W| accumulated in float64 and rounded to float32, exactly like
src/lib/quant.ts quantizeWeightsAbsmean), BF16 embedding/norms (and BF16 projections for fp), plus the f32
latent values of two projections so the import can check the ternarization against TS's. scripts/import-torch.ts
turns it into the project's packed checkpoint with src/lib/checkpoint.ts writeCheckpoint.

Numerics: training runs in float32 with TF32 matmuls; the fixture has two forwards of the exported model —
`exact`, a float32-storage / float64-accumulation replica of the CPU reference (src/lib/model.ts) on the CPU,
and `train`, the training forward itself in float32 on the GPU with TF32 off.
"""
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

EPS = 1e-5
SQRT7 = math.sqrt(7)
NAMES = ["fp", "b1.58", "a4.8", "v2-a8", "v2-a4", "v2-a4-nohadamard"]


def js_round(x):
    """Math.round of JavaScript (half up), which the TS config code uses for step boundaries and K."""
    return math.floor(x + 0.5)


# ------------------------------------------------------------------ config (src/lib/config.ts, train/config.ts)

def default_config(variant, shape=None):
    c = {
        "model_type": "bitnet", "vocab_size": 4096, "hidden_size": 256, "intermediate_size": 688,
        "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
        "rms_norm_eps": 1e-5, "rope_theta": 10000, "hidden_act": "relu2" if variant == "a4.8" else "silu",
        "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2, "bitnet_variant": variant,
        "bitnet_activation_bits": 4 if variant == "a4.8" else 8, "bitnet_hadamard": variant == "v2",
        "bitnet_topk_ratio": 0.5, "bitnet_kv_bits": 3 if variant == "a4.8" else 16,
        "bitnet_kv_bos_bits": 4 if variant == "a4.8" else 0, "bitnet_sub_norms": variant != "fp",
    }
    c.update(shape or {})
    return c


def head_dim(c):
    return c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]


DEFAULT_TRAIN = {
    "seed": 1, "batchSize": 16, "seqLen": 256, "steps": 1000,
    "optimizer": {"betas": [0.9, 0.95], "eps": 1e-8, "gradClip": 1},
    "lr": {"warmup": 100, "stage1": [3e-3, 2e-3], "stage2": [1e-3, 0], "split": 0.5},
    "weightDecay": [0.1, 0], "evalEvery": 200, "evalBatches": 8, "logEvery": 10, "checkpointEvery": 500,
}


def load_train_config(path, steps=None, batch_size=None, lr_scale=None, eval_every=None):
    """A configs/*.json recipe with defaults filled in and the command line's overrides applied."""
    with open(path) as f:
        raw = json.load(f)
    cfg = json.loads(json.dumps(DEFAULT_TRAIN))
    for k, v in raw.items():
        if k == "comment":
            continue
        if isinstance(v, dict) and k in ("optimizer", "lr"):
            cfg[k].update(v)
        else:
            cfg[k] = v
    if steps is not None:
        cfg["steps"] = int(steps)
    if batch_size is not None:
        cfg["batchSize"] = int(batch_size)
    if lr_scale is not None and lr_scale != 1:
        cfg["lr"]["stage1"] = [x * lr_scale for x in cfg["lr"]["stage1"]]
        cfg["lr"]["stage2"] = [x * lr_scale for x in cfg["lr"]["stage2"]]
    if eval_every is not None:
        cfg["evalEvery"] = int(eval_every)
    if "bitnet_variant" not in cfg.get("model", {}):
        raise SystemExit(f"{path}: model.bitnet_variant is missing")
    return cfg


def model_config_at(cfg, step):
    m = dict(cfg["model"])
    for s in cfg.get("stages") or []:
        if step >= js_round(s["at"] * cfg["steps"]):
            m.update(s["model"])
    return default_config(cfg["model"]["bitnet_variant"], m)


def stage_index_at(cfg, step):
    k = 0
    for i, s in enumerate(cfg.get("stages") or []):
        if step >= js_round(s["at"] * cfg["steps"]):
            k = i + 1
    return k


def schedule_at(cfg, step):
    """(lr, wd, stage) of the update taking the model from `step` to step+1 (train/config.ts scheduleAt)."""
    S = cfg["steps"]
    split = js_round(cfg["lr"]["split"] * S)
    warmup = cfg["lr"]["warmup"]
    s1 = cfg["lr"]["stage1"]
    s2 = cfg["lr"]["stage2"]
    if step < split:
        if step < warmup:
            lr = s1[0] * (step + 1) / warmup
        else:
            lr = s1[0] + (s1[1] - s1[0]) * (step - warmup) / max(1, split - warmup)
        return lr, cfg["weightDecay"][0], 1
    w2 = (step + 1) / warmup if split == 0 and warmup > 0 and step < warmup else 1
    lr = w2 * (s2[0] + (s2[1] - s2[0]) * (step - split) / max(1, S - split))
    return lr, cfg["weightDecay"][1], 2


# ------------------------------------------------------------------ Hadamard (src/lib/hadamard.ts, same construction)

MAX_PALEY_ORDER = 1024


def _is_prime(q):
    if q < 2:
        return False
    if q % 2 == 0:
        return q == 2
    d = 3
    while d * d <= q:
        if q % d == 0:
            return False
        d += 2
    return True


def _paley_for(m):
    if m % 4:
        return None
    if _is_prime(m - 1) and (m - 1) % 4 == 3:
        return ("paley1", m - 1)
    q2 = m // 2 - 1
    if _is_prime(q2) and q2 % 4 == 1:
        return ("paley2", q2)
    return None


def hadamard_plan(n):
    v = 0
    while ((n >> v) & 1) == 0:
        v += 1
    odd = n >> v
    if odd == 1:
        return {"n": n, "kind": "sylvester", "block": n, "m": 1, "norm": 1 / math.sqrt(n)}
    j = 2
    while j <= v and odd * 2 ** j <= MAX_PALEY_ORDER:
        m = odd * 2 ** j
        p = _paley_for(m)
        if p:
            return {"n": n, "kind": "kronecker", "block": n // m, "m": m, "construction": p[0], "q": p[1], "norm": 1 / math.sqrt(n)}
        j += 1
    if v >= 1:
        b = 2 ** v
        return {"n": n, "kind": "block-diagonal", "block": b, "m": n // b, "norm": 1 / math.sqrt(b)}
    raise ValueError(f"hadamard: no orthogonal Hadamard construction for odd length {n}")


def hadamard_matrix(order):
    """The unnormalized ±1 matrix of hadamard.ts hadamardMatrix (Sylvester, Paley I or Paley II)."""
    if order & (order - 1) == 0:
        i = np.arange(order)
        x = i[:, None] & i[None, :]
        pc = np.zeros_like(x)
        while x.any():
            pc += x & 1
            x = x >> 1
        return np.where(pc % 2 == 0, 1, -1).astype(np.int8)
    p = _paley_for(order)
    if not p:
        raise ValueError(f"hadamard: no Paley or Sylvester construction of order {order}")
    q = p[1]
    chi = -np.ones(q, dtype=np.int64)
    chi[0] = 0
    for x in range(1, q):
        chi[(x * x) % q] = 1

    def jac(i, j):
        return chi[((j - i) % q + q) % q]

    if p[0] == "paley1":
        m = q + 1
        H = np.zeros((m, m), dtype=np.int8)
        for i in range(m):
            for j in range(m):
                if i == 0:
                    s = 0 if j == 0 else 1
                elif j == 0:
                    s = -1
                else:
                    s = jac(i - 1, j - 1)
                H[i, j] = (1 if i == j else 0) + s
        return H
    c = q + 1
    m = 2 * c
    H = np.zeros((m, m), dtype=np.int8)
    for i in range(c):
        for j in range(c):
            cij = 0 if i == j else (1 if i == 0 or j == 0 else jac(i - 1, j - 1))
            blk = [1, -1, -1, -1] if cij == 0 else [cij, cij, cij, -cij]
            H[2 * i, 2 * j], H[2 * i, 2 * j + 1], H[2 * i + 1, 2 * j], H[2 * i + 1, 2 * j + 1] = blk
    return H


def explicit_hadamard(n):
    """The normalized n×n matrix H of hadamardPlan(n), float64, row-major: y = H·x."""
    plan = hadamard_plan(n)
    b = plan["block"]
    Hb = hadamard_matrix(b).astype(np.float64)
    if plan["kind"] == "kronecker":
        M = hadamard_matrix(plan["m"]).astype(np.float64)
    else:
        M = np.eye(plan["m"])
    return np.kron(M, Hb) * plan["norm"]


# ------------------------------------------------------------------ safetensors by hand

_ST_DTYPES = {"F32": ("<f4", 4), "BF16": ("<u2", 2), "I8": ("i1", 1), "U8": ("u1", 1), "F64": ("<f8", 8), "U16": ("<u2", 2)}


def write_safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw little-endian bytes). Returns the file's bytes."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    pos = 0
    order = sorted(tensors, key=lambda t: -_ST_DTYPES[t[1]][1])
    for name, dt, shape, data in order:
        assert len(data) == int(np.prod(shape)) * _ST_DTYPES[dt][1], name
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [pos, pos + len(data)]}
        pos += len(data)
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    out = io.BytesIO()
    out.write(len(hb).to_bytes(8, "little"))
    out.write(hb)
    for _, _, _, data in order:
        out.write(data)
    return out.getvalue()


def read_safetensors(b):
    """name → numpy array (F32/F64 as float32/float64, BF16 widened to float32, integers as they are)."""
    n = int.from_bytes(b[:8], "little")
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        s, e = t["data_offsets"]
        raw = b[8 + n + s:8 + n + e]
        a = np.frombuffer(raw, dtype=_ST_DTYPES[t["dtype"]][0])
        if t["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = a.reshape(t["shape"])
    return out, meta


def bf16_bits(t):
    """Round-to-nearest-even BF16 bits of a float32 torch tensor, as little-endian bytes."""
    return t.detach().to(torch.bfloat16).view(torch.int16).cpu().numpy().astype("<i2").tobytes()


# ------------------------------------------------------------------ parameters (train/model.ts paramShapes)

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


def init_params(c, seed, device, std=0.02):
    """N(0, 0.02²) for matrices, ones for norms (train/model.ts initParams; torch's RNG, not the TS one)."""
    g = torch.Generator().manual_seed(seed)
    P = {}
    for name, shape in param_shapes(c):
        if len(shape) == 1:
            t = torch.ones(shape)
        else:
            t = torch.randn(shape, generator=g) * std
        P[name] = t.to(device).requires_grad_(True)
    return P


# ------------------------------------------------------------------ quantizers (train/model.ts, quant.ts)

def act_scheme(c, site):
    v = c["bitnet_variant"]
    bits = c["bitnet_activation_bits"]
    if v == "fp":
        return "none"
    if v == "b1.58":
        return "absmax-int8"
    if v == "a4.8":
        return "topk-int8" if site == "o" else ("absmax-int8" if site == "down" or bits == 8 else "absmean-int4")
    return "absmean-int4" if bits == 4 else "absmax-int8"


def uses_hadamard(c, site):
    return c["bitnet_variant"] == "v2" and c["bitnet_hadamard"] and site in ("o", "down")


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


# ------------------------------------------------------------------ the training forward (train/model.ts forward)

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

    def hadamard(self, n):
        key = ("had", n)
        if key not in self.cache:
            plan = hadamard_plan(n)
            if plan["kind"] == "block-diagonal":
                # H = I_m ⊗ (H_b/√b): a b×b transform on each contiguous block
                Hb = torch.tensor(hadamard_matrix(plan["block"]).astype(np.float64) * plan["norm"], dtype=torch.float32, device=self.device)
                self.cache[key] = ("block", plan["block"], Hb)
            else:
                self.cache[key] = ("full", n, torch.tensor(explicit_hadamard(n), dtype=torch.float32, device=self.device))
        return self.cache[key]


def apply_hadamard(consts, x):
    """Row-vector form of H·x; autograd gives Hᵀ·g, the transform's inverse (v2 §2)."""
    kind, b, Hm = consts.hadamard(x.shape[-1])
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
            x = apply_hadamard(consts, x)
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
        f = q8(rms_norm(h, P[n["post"]], eps), "gateup")
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


# ------------------------------------------------------------------ ternarization at export (== checkpoint.ts ternarize)

def ternarize_exact(w):
    """codes (int8) and s (float32) exactly as quant.ts quantizeWeightsAbsmean: γ = f32(Σ|W| / n) summed in
    float64, s = f32(1 / max(γ, ε)) computed in float64, codes = RoundClip(f32(W·s), −1, 1) half-to-even."""
    w = w.detach().float().cpu()
    gamma = np.float32(w.double().abs().sum().item() / w.numel())
    s = np.float32(1.0 / max(float(gamma), EPS))
    codes = (w * torch.tensor(s, dtype=torch.float32)).round().clamp(-1, 1).to(torch.int8)
    return codes, s


# ------------------------------------------------------------------ the exact forward (replica of src/lib/model.ts)

def forward_exact(W, c, tokens):
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
            Hm = torch.tensor(explicit_hadamard(x.shape[-1]), dtype=f64)
            xin = (x.double() @ Hm.T).float()
        act = quant(xin, act_scheme(c, site), c["bitnet_topk_ratio"])
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
        g, u = proj([lname(i, "gate"), lname(i, "up")], x2, "gateup")
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


# ------------------------------------------------------------------ data (train/data.ts)

def load_data(d, device):
    tr = np.fromfile(os.path.join(d, "train.u16"), dtype="<u2").astype(np.int64)
    va = np.fromfile(os.path.join(d, "val.u16"), dtype="<u2").astype(np.int64)
    return torch.from_numpy(tr).to(device), torch.from_numpy(va).to(device)


def val_windows(n, T):
    return list(range(0, n - T, T)) if n >= T + 1 else []


@torch.no_grad() if torch else (lambda f: f)
def evaluate(P, c, val, T, consts, weights_quantized=False, batch=128):
    """Mean next-token loss over every non-overlapping window of the validation split (stride T)."""
    starts = torch.tensor([s for s in range(0, val.numel() - T, T)], device=val.device)
    ar = torch.arange(T + 1, device=val.device)
    total = 0.0
    count = 0
    for i in range(0, starts.numel(), batch):
        idx = starts[i:i + batch, None] + ar[None, :]
        w = val[idx]
        logits = forward(P, c, w[:, :-1], consts, weights_quantized)
        loss = F.cross_entropy(logits, w[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += w.shape[0] * T
    return total / count, count


# ------------------------------------------------------------------ training

def build_optimizer(P, cfg):
    decay = [p for n, p in P.items() if p.dim() >= 2]
    nodecay = [p for n, p in P.items() if p.dim() < 2]
    b1, b2 = cfg["optimizer"]["betas"]
    groups = [{"params": decay, "weight_decay": 0.0, "decay": True}, {"params": nodecay, "weight_decay": 0.0, "decay": False}]
    return torch.optim.AdamW(groups, lr=0.0, betas=(b1, b2), eps=cfg["optimizer"]["eps"], weight_decay=0.0,
                             **({"fused": True} if decay[0].is_cuda else {}))


def export_weights(P, c):
    """name → (dtype, tensor for export). Quantized variants: I8 codes + s; floats BF16."""
    out = {}
    quant = c["bitnet_variant"] != "fp"
    lin = set(linear_names(c))
    for name, _ in param_shapes(c):
        t = P[name].detach().float()
        if quant and name in lin:
            out[name] = ternarize_exact(t)
        else:
            out[name] = t.to(torch.bfloat16).float().cpu()
    return out


def exported_train_params(E, c, device):
    """The exported model as parameters of the training forward (weights_quantized=True): W̃/s."""
    P = {}
    for name, v in E.items():
        if isinstance(v, tuple):
            codes, s = v
            P[name] = (codes.float() / torch.tensor(s, dtype=torch.float32)).to(device)
        else:
            P[name] = v.to(device)
    return P


def exported_exact_weights(E):
    W = {}
    for name, v in E.items():
        W[name] = v if isinstance(v, tuple) else v.float().cpu()
    return W


def write_export(path, E, c, latent_checks, metadata):
    tensors = []
    for name, v in E.items():
        if isinstance(v, tuple):
            codes, s = v
            tensors.append((name, "I8", list(codes.shape), codes.numpy().astype(np.int8).tobytes()))
            tensors.append((name.replace(".weight", ".weight_scale"), "F32", [1], np.array([s], dtype="<f4").tobytes()))
        else:
            tensors.append((name, "BF16", list(v.shape), bf16_bits(v)))
    for name, t in latent_checks.items():
        tensors.append(("latent." + name, "F32", list(t.shape), t.detach().float().cpu().numpy().astype("<f4").tobytes()))
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(write_safetensors(tensors, metadata))


def logits_summary(logits, stride=16, top=5):
    """A compact fixture: logits at every stride-th vocabulary id, the full-vocabulary logsumexp and the
    top entries, per position; rounded to 1e-5."""
    L = logits.double()
    lse = torch.logsumexp(L, -1)
    tv, ti = L.topk(top, -1)
    r = lambda x: round(float(x), 5)
    return {
        "subset": [[r(x) for x in row[::stride].tolist()] for row in L],
        "logsumexp": [r(x) for x in lse.tolist()],
        "top": [[[int(i), r(v)] for i, v in zip(ii.tolist(), vv.tolist())] for ii, vv in zip(ti, tv)],
    }


def make_fixture(E, c, val_np, name, device, seq_len=24):
    """Torch logits of the exported model on two fixed validation sequences, both forwards."""
    starts = [0, len(val_np) // 2]
    seqs = [[int(t) for t in val_np[s:s + seq_len]] for s in starts]
    c16 = dict(c, bitnet_kv_bits=16)
    Wx = exported_exact_weights(E)
    Pt = exported_train_params(E, c16, device)
    consts = Consts(device)
    prev = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    out = {"model": name, "torch": torch.__version__, "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
           "sequences": seqs, "starts": starts, "vocabStride": 16, "exact": [], "train": [], "trainVsExactMaxAbs": 0.0}
    with torch.no_grad():
        for s in seqs:
            lx = forward_exact(Wx, c16, s)
            lt = forward(Pt, c16, torch.tensor([s], device=device), consts, weights_quantized=True).float().cpu()
            out["exact"].append(logits_summary(lx))
            out["train"].append(logits_summary(lt))
            out["trainVsExactMaxAbs"] = max(out["trainVsExactMaxAbs"], float((lx - lt).abs().max()))
    torch.backends.cuda.matmul.allow_tf32 = prev
    torch.backends.cudnn.allow_tf32 = prev
    return out


def train(args):
    torch.set_num_threads(2)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    cfg = load_train_config(args.config, args.steps, args.batch_size, args.lr_scale, args.eval_every)
    name = cfg["name"]
    os.makedirs(args.out, exist_ok=True)
    logf = open(os.path.join(args.out, "train.log"), "a")

    def say(msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    train_data, val = load_data(args.data, device)
    val_np = np.fromfile(os.path.join(args.data, "val.u16"), dtype="<u2")
    B, T, S = cfg["batchSize"], cfg["seqLen"], cfg["steps"]
    c0 = model_config_at(cfg, 0)
    log = []
    start = 0
    if args.from_state:
        t0 = time.time()
        while not os.path.exists(args.from_state + ".done"):
            if (args.deadline and time.time() > args.deadline) or time.time() - t0 > 3600:
                raise SystemExit(f"{name}: gave up waiting for {args.from_state}")
            time.sleep(0.5)
        say(f"{name}: {args.from_state} appeared after {time.time() - t0:.0f} s")
        st = torch.load(args.from_state, map_location=device, weights_only=False)
        for k in ("bitnet_variant", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                  "num_attention_heads", "num_key_value_heads", "hidden_act", "bitnet_sub_norms", "tie_word_embeddings"):
            if st["model0"][k] != c0[k]:
                raise SystemExit(f"{name}: the state was trained with {k} = {st['model0'][k]}, the config has {c0[k]}")
        if (st["seed"], st["batchSize"], st["seqLen"], st["steps"]) != (cfg["seed"], B, T, S):
            raise SystemExit(f"{name}: seed, batchSize, seqLen and steps must match the saved state so the data stream continues")
        P = {n: t.detach().clone().requires_grad_(True) for n, t in st["params"].items()}
        opt = build_optimizer(P, cfg)
        opt.load_state_dict(st["opt"])
        start = st["step"]
        log = list(st["log"])
    else:
        P = init_params(c0, cfg["seed"], device)
        opt = build_optimizer(P, cfg)
    params = list(P.values())
    with open(os.path.join(args.out, "train-config.json"), "w") as f:
        json.dump({k: v for k, v in cfg.items()}, f, indent=2)

    # Batches depend only on (seed, step): every run with the same seed, steps and B reads the same windows,
    # so a continued run reads exactly what the uninterrupted one would have.
    gen = torch.Generator().manual_seed(cfg["seed"])
    starts_all = torch.randint(0, train_data.numel() - T, (S, B), generator=gen).to(device)
    ar = torch.arange(T + 1, device=device)
    consts = Consts(device)
    branch = js_round((cfg.get("stages") or [{"at": 0.8}])[0]["at"] * S) if args.save_branch else None
    last_stage = len(cfg.get("stages") or [])
    best = None  # (loss, step, params) among evaluations in the final activation stage

    def do_eval(step):
        nonlocal best
        c = model_config_at(cfg, step)
        loss, ntok = evaluate(P, c, val, T, consts)
        rec = {"kind": "eval", "step": step, "loss": loss, "perplexity": math.exp(loss), "tokens": ntok}
        log.append(rec)
        tag = ""
        if stage_index_at(cfg, max(0, step - 1)) == last_stage and step > 0 and (best is None or loss < best[0]):
            best = (loss, step, {n: t.detach().clone() for n, t in P.items()})
            tag = " (best)"
        say(f"{name} eval step {step}: val loss {loss:.4f} ppl {math.exp(loss):.2f}{tag}")
        return loss

    say(f"{name}: {cfg['model']['bitnet_variant']}, steps {start}→{S} × {B}×{T} tokens, device {device}, torch {torch.__version__}")
    t_start = time.time()
    t_win = time.time()
    steps_win = 0
    truncated = False
    step = start
    loss_t = None
    while step < S:
        if args.deadline and time.time() > args.deadline:
            truncated = True
            say(f"{name}: deadline reached at step {step}/{S}: stopping early")
            break
        c = model_config_at(cfg, step)
        lr, wd, lr_stage = schedule_at(cfg, step)
        idx = starts_all[step][:, None] + ar[None, :]
        w = train_data[idx]
        logits = forward(P, c, w[:, :-1], consts)
        loss_t = F.cross_entropy(logits, w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, cfg["optimizer"]["gradClip"]) if cfg["optimizer"]["gradClip"] > 0 else torch.tensor(0.0)
        for g in opt.param_groups:
            g["lr"] = lr
            g["weight_decay"] = wd if g["decay"] else 0.0
        opt.step()
        step += 1
        steps_win += 1
        if step % cfg["logEvery"] == 0 or step == start + 1 or step == S:
            lv = loss_t.item()
            if not math.isfinite(lv):
                raise SystemExit(f"{name}: loss is {lv} at step {step} (diverged)")
            t = time.time()
            ms = (t - t_win) * 1000 / steps_win
            tps = B * T / (ms / 1000)
            log.append({"kind": "step", "step": step, "loss": lv, "gradNorm": float(gnorm), "lr": lr, "wd": wd, "lrStage": lr_stage,
                        "actStage": stage_index_at(cfg, step - 1), "activationBits": c["bitnet_activation_bits"],
                        "tokens": B * T, "ms": ms, "tokensPerSecond": tps})
            if step % (cfg["logEvery"] * 10) == 0 or step == S or step == start + 1:
                say(f"{name} step {step}/{S} loss {lv:.4f} gnorm {float(gnorm):.3f} lr {lr:.2e} wd {wd} a{c['bitnet_activation_bits']} | {tps / 1000:.1f}k tok/s")
            t_win = t
            steps_win = 0
        if branch is not None and step == branch:
            path = os.path.join(args.out, f"state-{step}.pt")
            torch.save({"params": {n: t.detach() for n, t in P.items()}, "opt": opt.state_dict(), "step": step, "log": log,
                        "model0": c0, "seed": cfg["seed"], "batchSize": B, "seqLen": T, "steps": S}, path)
            open(path + ".done", "w").close()
            say(f"{name}: saved branch state {path}")
        if cfg["evalEvery"] > 0 and step % cfg["evalEvery"] == 0 and step < S:
            do_eval(step)
    torch.cuda.synchronize() if device == "cuda" else None
    seconds = time.time() - t_start
    steps_run = step - start
    final_train = do_eval(step)
    exported_step = step
    if best is not None and best[0] < final_train:
        say(f"{name}: exporting the best evaluation (step {best[1]}, val loss {best[0]:.4f}) rather than the last (step {step}, {final_train:.4f})")
        for n_, t in best[2].items():
            P[n_].data.copy_(t)
        exported_step = best[1]
    cfin = model_config_at(cfg, S)
    E = export_weights(P, cfin)
    # The exported model (ternary codes, BF16 floats) on the whole validation split, TF32 off.
    torch.backends.cuda.matmul.allow_tf32 = False
    Pe = exported_train_params(E, cfin, device)
    ex_loss, ex_tok = evaluate(Pe, cfin, val, T, consts, weights_quantized=True)
    say(f"{name} final (exported model, step {exported_step}): val loss {ex_loss:.4f} ppl {math.exp(ex_loss):.2f} on {ex_tok} tokens")
    latent_checks = {}
    if cfin["bitnet_variant"] != "fp":
        L = cfin["num_hidden_layers"] - 1
        latent_checks = {lname(0, "q"): P[lname(0, "q")], lname(L, "k"): P[lname(L, "k")]}
    summary = {
        "name": name, "trainer": "pytorch", "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "steps": steps_run, "startStep": start, "scheduleSteps": S, "exportedStep": exported_step,
        "tokens": steps_run * B * T, "tokensSeen": exported_step * B * T,
        "epochs": exported_step * B * T / train_data.numel(),
        "seconds": seconds, "tokensPerSecond": steps_run * B * T / max(seconds, 1e-9),
        "final": {"step": exported_step, "loss": ex_loss, "perplexity": math.exp(ex_loss), "tokens": ex_tok},
        "lastTrainNumerics": {"step": step, "loss": final_train},
        "lrScale": args.lr_scale or 1,
    }
    if best is not None:
        summary["best"] = {"step": best[1], "loss": best[0]}
    if truncated:
        summary["truncated"] = True
    write_export(os.path.join(args.out, "model.st.gz"), E, cfin, latent_checks,
                 {"bitnet_lab_torch": json.dumps({"name": name, "config": cfin, "exportedStep": exported_step})})
    fx = make_fixture(E, cfin, val_np, name, device)
    say(f"{name}: fixture written; max |train − exact| logits on the fixture sequences = {fx['trainVsExactMaxAbs']:.3g}")
    with open(os.path.join(args.out, "fixture.json"), "w") as f:
        json.dump(fx, f, separators=(",", ":"))
    with open(os.path.join(args.out, "log.jsonl"), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in log))
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    say(f"{name}: done in {seconds:.1f} s ({summary['tokensPerSecond'] / 1000:.1f}k tok/s, {summary['epochs']:.2f} epochs to the exported step)")


# ------------------------------------------------------------------ the six shipped models

def run_all(args):
    here = os.path.abspath(__file__)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    deadline = time.time() + args.budget if args.budget else 0
    common = ["--data", args.data]
    for flag, v in (("--steps", args.steps), ("--batch-size", args.batch_size), ("--lr-scale", args.lr_scale), ("--eval-every", args.eval_every)):
        if v is not None:
            common += [flag, str(v)]
    if deadline:
        common += ["--deadline", str(deadline)]
    only = args.only.split(",") if args.only else NAMES
    procs = []
    t0 = time.time()
    for name in only:
        extra = []
        if name == "v2-a8" and ("v2-a4" in only or "v2-a4-nohadamard" in only):
            extra = ["--save-branch"]
        if name in ("v2-a4", "v2-a4-nohadamard"):
            cfg = load_train_config(os.path.join(args.configs, "v2-a8.json"), args.steps, args.batch_size)
            at = js_round(0.8 * cfg["steps"])
            extra = ["--from", os.path.join(out, "v2-a8", f"state-{at}.pt")]
        cmd = [sys.executable, here, "train", "--config", os.path.join(args.configs, f"{name}.json"), "--out", os.path.join(out, name)] + common + extra
        procs.append((name, subprocess.Popen(cmd, stdout=sys.stdout, stderr=sys.stderr)))
    bad = []
    pending = dict(procs)
    while pending:
        for name, p in list(pending.items()):
            rc = p.poll()
            if rc is None:
                continue
            del pending[name]
            if rc != 0:
                bad.append(name)
                if name == "v2-a8":  # its continuations would wait for a state that never comes
                    for n2 in ("v2-a4", "v2-a4-nohadamard"):
                        if n2 in pending:
                            pending[n2].terminate()
        time.sleep(0.5)
    wall = time.time() - t0
    results = {}
    for name in only:
        sp = os.path.join(out, name, "summary.json")
        if os.path.exists(sp):
            with open(sp) as f:
                results[name] = json.load(f)
    agg = sum(r["tokens"] for r in results.values()) / max(wall, 1e-9)
    with open(os.path.join(out, "train-torch.json"), "w") as f:
        json.dump({"wallSeconds": wall, "aggregateTokensPerSecond": agg, "argv": sys.argv[1:], "failed": bad, "results": results}, f, indent=2)
    print(f"all: {len(results)} runs in {wall:.0f} s, aggregate {agg / 1000:.0f}k tok/s; failed: {bad or 'none'}", flush=True)
    for n, r in results.items():
        print(f"  {n:18s} steps {r['startStep']}→{r['startStep'] + r['steps']} exported {r['exportedStep']} val {r['final']['loss']:.4f} ppl {r['final']['perplexity']:.2f} {r['tokensPerSecond'] / 1000:.0f}k tok/s {r['epochs']:.1f} ep", flush=True)
    if args.pack:
        pack(out, args.pack, only)
    if bad:
        sys.exit(1)


def pack(out, dest, names):
    """At most 8 files: the exported weights two or three models per tar, everything else in runs.tar.gz."""
    os.makedirs(dest, exist_ok=True)
    groups = [["fp", "b1.58", "a4.8"], ["v2-a8", "v2-a4", "v2-a4-nohadamard"]]
    for k, g in enumerate(groups):
        with tarfile.open(os.path.join(dest, f"models-{k + 1}.tar"), "w") as tf:
            for n in g:
                p = os.path.join(out, n, "model.st.gz")
                if n in names and os.path.exists(p):
                    tf.add(p, arcname=f"{n}/model.st.gz")
    with tarfile.open(os.path.join(dest, "runs.tar.gz"), "w:gz") as tf:
        for n in names:
            for f in ("log.jsonl", "summary.json", "train-config.json", "train.log", "fixture.json"):
                p = os.path.join(out, n, f)
                if os.path.exists(p):
                    tf.add(p, arcname=f"{n}/{f}")
        p = os.path.join(out, "train-torch.json")
        if os.path.exists(p):
            tf.add(p, arcname="train-torch.json")


# ------------------------------------------------------------------ check against TS reference logits

def run_check(args):
    """Random latent weights and reference logits written by `npx tsx scripts/import-torch.ts --make-check DIR`:
    ternarize exactly, run both forwards, print max |Δ| per config."""
    with open(os.path.join(args.dir, "weights.safetensors"), "rb") as f:
        raw, _ = read_safetensors(f.read())
    with open(os.path.join(args.dir, "reference.json")) as f:
        ref = json.load(f)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    worst = {}
    for case in ref["cases"]:
        c = case["config"]
        E = {}
        lin = set(linear_names(c))
        codes_ok = True
        for name, _ in param_shapes(c):
            t = torch.from_numpy(np.array(raw[name], dtype=np.float32))
            if c["bitnet_variant"] != "fp" and name in lin:
                E[name] = ternarize_exact(t)
                want = case["codesSample"].get(name)
                if want is not None:
                    codes, s = E[name]
                    codes_ok &= codes.flatten()[:len(want["codes"])].tolist() == want["codes"] and float(s) == want["scale"]
            else:
                E[name] = t
        toks = case["tokens"]
        V = c["vocab_size"]
        want = torch.tensor(case["logits"], dtype=torch.float32).view(len(toks), V)
        lx = forward_exact(exported_exact_weights(E), c, toks)
        Pt = exported_train_params(E, c, device)
        with torch.no_grad():
            lt = forward(Pt, c, torch.tensor([toks], device=device), Consts(device), weights_quantized=True).float().cpu()
        # the training forward on the latent weights (per-forward ternarization + STE path)
        Pl = {n: torch.from_numpy(np.array(raw[n], dtype=np.float32)).to(device) for n, _ in param_shapes(c)}
        with torch.no_grad():
            ll = forward(Pl, c, torch.tensor([toks], device=device), Consts(device)).float().cpu()
        dx = float((lx - want).abs().max())
        dt = float((lt - want).abs().max())
        dl = float((ll - want).abs().max())
        worst[case["name"]] = (dx, dt, dl, codes_ok)
        print(f"check {case['name']:24s} exact {dx:.3g}  train {dt:.3g}  train-latent {dl:.3g}  codes==TS {codes_ok}  (|logit| max {float(want.abs().max()):.2f})", flush=True)
    with open(os.path.join(args.out or args.dir, "check-result.json"), "w") as f:
        json.dump(worst, f, indent=1)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("train", "all"):
        p = sub.add_parser(name)
        p.add_argument("--data", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--steps", type=int)
        p.add_argument("--batch-size", type=int)
        p.add_argument("--lr-scale", type=float)
        p.add_argument("--eval-every", type=int)
    t = sub.choices["train"]
    t.add_argument("--config", required=True)
    t.add_argument("--save-branch", action="store_true", help="save the state at the first stage's step (round(0.8·steps))")
    t.add_argument("--from", dest="from_state", help="continue from a saved state (waits for STATE.done)")
    t.add_argument("--deadline", type=float, default=0, help="unix time: stop training before it, then evaluate and export")
    a = sub.choices["all"]
    a.add_argument("--configs", default="configs")
    a.add_argument("--only")
    a.add_argument("--budget", type=float, default=0, help="seconds from now for training (each run stops at it)")
    a.add_argument("--pack", help="bundle the results into this folder (at most 8 files)")
    c = sub.add_parser("check")
    c.add_argument("--dir", required=True)
    c.add_argument("--out")
    args = ap.parse_args()
    if torch is None:
        raise SystemExit("train_torch.py needs PyTorch")
    {"train": train, "all": run_all, "check": run_check}[args.cmd](args)


if __name__ == "__main__":
    main()
