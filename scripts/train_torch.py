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
          v2-a4-nohadamard continued from v2-a8's state at 95% of the steps (the configs switched at 80% before 2026-11-30); --pack DIR bundles the results
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


# ------------------------------------------------------------------ the resolved recipe (src/lib/train/plan.ts)

def head_dim(c):
    return c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]


def load_plan(path):
    """The TS trainer's resolved recipe (`bitnet-lab train --config X --plan --json --data DIR`, gzipped or not)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        plan = json.load(f)
    if plan.get("format") != "bitnet-lab-train-plan" or plan.get("version") not in (1, 2):
        raise SystemExit(f"{path}: not a version-1 or -2 bitnet-lab train plan")
    return plan


def site_entry(v):
    """A plan's site as {quantizer, hadamard, dim, topK}: version 2 is variant.ts's sitePlanJSON, version 1
    spelled them {scheme, hadamard, n}."""
    return {"quantizer": v.get("quantizer", v.get("scheme")), "hadamard": v["hadamard"], "dim": v.get("dim", v.get("n"))}


def with_sites(model, sites, hadamard):
    """A plan stage's model config with its per-site quantizers and Hadamard table attached (keys starting
    with '_' are the mirror's own and are stripped from exports). Sites: qkv, o, gate_up, down (variant.ts)."""
    norm = {("gate_up" if k == "gateup" else k): site_entry(v) for k, v in sites.items()}
    return dict(model, _sites=norm, _hadamard=hadamard)


def public(c):
    return {k: v for k, v in c.items() if not k.startswith("_")}


def plan_stage_at(plan, step):
    k = 0
    for i, st in enumerate(plan["stages"]):
        if step >= st["fromStep"]:
            k = i
    return k


def plan_model_at(plan, step):
    st = plan["stages"][plan_stage_at(plan, step)]
    return with_sites(st["model"], st["sites"], plan["hadamard"])


def hadamard_from_plan(h):
    """The normalized matrix y = norm · (M ⊗ H_b) x of a plan's Hadamard entry, float64 [n, n]."""
    sign = lambda s, m: np.where(np.frombuffer(s.encode(), dtype=np.uint8) == ord("+"), 1.0, -1.0).reshape(m, m)
    pl = h["plan"]
    Hb = sign(h["block"], pl["block"])
    M = sign(h["mix"], pl["m"]) if pl["kind"] == "kronecker" else np.eye(pl["m"])
    return np.kron(M, Hb) * pl["norm"]


_HAD_CACHE = {}


def explicit_hadamard(c, n):
    """The normalized n×n H of the config's Hadamard table (from the TS plan), float64."""
    key = (id(c["_hadamard"]), n)
    if key not in _HAD_CACHE:
        h = c["_hadamard"].get(str(n))
        if h is None:
            raise ValueError(f"hadamard: the plan has no matrix of length {n}")
        _HAD_CACHE[key] = hadamard_from_plan(h)
    return _HAD_CACHE[key]


def sha256_signs(H):
    import hashlib
    return hashlib.sha256(bytes(np.where(H > 0, ord("+"), ord("-")).astype(np.uint8).ravel())).hexdigest()


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


# ------------------------------------------------------------------ quantizers (train/model.ts, quant.ts)

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


# ------------------------------------------------------------------ data (train/data.ts)

def load_data(d, device):
    tr = np.fromfile(os.path.join(d, "train.u16"), dtype="<u2").astype(np.int64)
    va = np.fromfile(os.path.join(d, "val.u16"), dtype="<u2").astype(np.int64)
    return torch.from_numpy(tr).to(device), torch.from_numpy(va).to(device)


BOS = 1


def split_val(va):
    """The validation addresses (each starts with BOS) in two halves by position: even-numbered addresses
    form the selection split (checkpoint choice), odd-numbered ones the reported split."""
    starts = [int(i) for i in np.nonzero(va == BOS)[0]] + [len(va)]
    docs = [va[starts[i]:starts[i + 1]] for i in range(len(starts) - 1)]
    sel = np.concatenate(docs[0::2]) if docs else va[:0]
    rep = np.concatenate(docs[1::2]) if len(docs) > 1 else va[:0]
    return sel, rep, len(docs)


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

def build_optimizer(P, plan):
    """AdamW with the plan's groups: decoupled weight decay on plan.optimizer.decay, none on noDecay."""
    o = plan["optimizer"]
    names = set(P)
    if set(o["decay"]) | set(o["noDecay"]) != names or set(o["decay"]) & set(o["noDecay"]):
        raise SystemExit("the plan's optimizer groups do not partition the parameters")
    decay = [P[n] for n in o["decay"]]
    nodecay = [P[n] for n in o["noDecay"]]
    b1, b2 = o["betas"]
    groups = [{"params": decay, "weight_decay": 0.0, "decay": True, "names": list(o["decay"])},
              {"params": nodecay, "weight_decay": 0.0, "decay": False, "names": list(o["noDecay"])}]
    return torch.optim.AdamW(groups, lr=0.0, betas=(b1, b2), eps=o["eps"], weight_decay=0.0,
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
    c = dict(c)
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


def starts_digest(starts):
    import hashlib
    return hashlib.sha256(np.asarray(starts, dtype="<u4").tobytes()).hexdigest()


def prefix_record(plan, step):
    """What a continued run must share with the run whose state it continues: the recipe before `step`."""
    return {
        "lr": plan["schedule"]["lr"][:step], "wd": plan["schedule"]["wd"][:step],
        "sites": [st["sites"] for st in plan["stages"] if st["fromStep"] < step],
        "hadamard": {n: h["plan"] for n, h in plan["hadamard"].items()
                     if any(v["hadamard"] and str(site_entry(v)["dim"]) == n for st in plan["stages"] if st["fromStep"] < step for v in st["sites"].values())},
        "starts": starts_digest(plan["batching"]["starts"][:step]),
        "params": plan["params"], "init": {k: plan["init"][k] for k in ("matrixStd", "normValue", "seed")},
        "optimizer": {k: plan["optimizer"][k] for k in ("betas", "eps", "gradClip", "decay", "noDecay")},
        "shape": {k: plan["stages"][0]["model"][k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                                             "num_attention_heads", "num_key_value_heads", "hidden_act", "bitnet_sub_norms",
                                                             "tie_word_embeddings", "rms_norm_eps", "rope_theta")},
    }


def train(args):
    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    plan = load_plan(args.plan)
    cfg = plan["config"]
    name = cfg["name"]
    seed = cfg["seed"]
    os.makedirs(args.out, exist_ok=True)
    logf = open(os.path.join(args.out, "train.log"), "a")

    def say(msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    train_data, val = load_data(args.data, device)
    val_np = np.fromfile(os.path.join(args.data, "val.u16"), dtype="<u2")
    sel_np, rep_np, ndocs = split_val(val_np.astype(np.int64))
    sel = torch.from_numpy(sel_np).to(device)
    rep = torch.from_numpy(rep_np).to(device)
    B, T, S = cfg["batchSize"], cfg["seqLen"], cfg["steps"]
    if plan["batching"].get("trainTokens") != train_data.numel():
        raise SystemExit(f"{name}: the plan's batch windows were drawn for {plan['batching'].get('trainTokens')} training tokens, the data has {train_data.numel()}")
    starts_np = np.asarray(plan["batching"]["starts"], dtype=np.int64)
    assert starts_np.shape == (S, B), starts_np.shape
    c0 = plan_model_at(plan, 0)
    log = []
    applied = {"lr": [], "wd": [], "activationBits": [], "actStage": [], "stages": []}
    start = 0
    if args.from_state:
        t0 = time.time()
        while not os.path.exists(args.from_state + ".done"):
            if (args.deadline and time.time() > args.deadline) or time.time() - t0 > 3600:
                raise SystemExit(f"{name}: gave up waiting for {args.from_state}")
            time.sleep(0.5)
        say(f"{name}: {args.from_state} appeared after {time.time() - t0:.0f} s")
        st = torch.load(args.from_state, map_location=device, weights_only=False)
        start = st["step"]
        mine = prefix_record(plan, start)
        for k, v in mine.items():
            if json.dumps(st["prefix"][k], sort_keys=True) != json.dumps(v, sort_keys=True):
                raise SystemExit(f"{name}: the saved state's recipe before step {start} differs in {k}: it cannot be continued as this plan")
        P = {n: t.detach().clone().requires_grad_(True) for n, t in st["params"].items()}
        opt = build_optimizer(P, plan)
        opt.load_state_dict(st["opt"])
        log = list(st["log"])
        applied = json.loads(json.dumps(st["applied"]))
        say(f"{name}: continuing {st['name']}'s state at step {start} (its recipe before that step is this plan's)")
    else:
        P = init_params(c0, seed, device, plan["init"]["matrixStd"], plan["init"]["normValue"])
        opt = build_optimizer(P, plan)
    params = list(P.values())
    with open(os.path.join(args.out, "train-config.json"), "w") as f:
        json.dump(cfg, f, indent=2)

    starts_all = torch.from_numpy(starts_np).to(device)
    ar = torch.arange(T + 1, device=device)
    consts = Consts(device)
    save_at = args.save_at or None
    final_from = plan["stages"][-1]["fromStep"]
    ev = args.eval_every or cfg["evalEvery"]
    ev_final = max(1, ev // 5)
    dense_final = len(plan["stages"]) > 1  # a short last activation stage gets evaluated more often
    best = None  # (selection loss, step, params) among evaluations in the final activation stage

    def do_eval(step):
        nonlocal best
        c = plan_model_at(plan, max(0, step - 1))
        loss, ntok = evaluate(P, c, sel, T, consts)
        log.append({"kind": "eval", "split": "selection", "step": step, "loss": loss, "perplexity": math.exp(loss), "tokens": ntok})
        tag = ""
        if step > final_from and (best is None or loss < best[0]):
            best = (loss, step, {n: t.detach().clone() for n, t in P.items()})
            tag = " (best)"
        say(f"{name} s{seed} eval step {step}: selection-split loss {loss:.4f} ppl {math.exp(loss):.2f}{tag}")
        return loss

    say(f"{name} s{seed}: {c0['bitnet_variant']}, steps {start}→{S} × {B}×{T} tokens, device {device}, torch {torch.__version__}; "
        f"validation {ndocs} addresses: {len(sel_np)} selection / {len(rep_np)} reported tokens")
    t_start = time.time()
    t_win = time.time()
    steps_win = 0
    truncated = False
    step = start
    stage_seen = None
    while step < S:
        if args.deadline and time.time() > args.deadline:
            truncated = True
            say(f"{name}: deadline reached at step {step}/{S}: stopping early")
            break
        k = plan_stage_at(plan, step)
        c = plan_model_at(plan, step)
        if k != stage_seen:
            stage_seen = k
            applied["stages"].append({"fromStep": step, "stage": k, "model": public(c), "sites": c["_sites"],
                                      "hadamardSha256": {str(v["dim"]): sha256_signs(explicit_hadamard(c, v["dim"])) for v in c["_sites"].values() if v["hadamard"]}})
        lr = plan["schedule"]["lr"][step]
        wd = plan["schedule"]["wd"][step]
        idx = starts_all[step][:, None] + ar[None, :]
        w = train_data[idx]
        logits = forward(P, c, w[:, :-1], consts)
        loss_t = F.cross_entropy(logits, w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, plan["optimizer"]["gradClip"]) if plan["optimizer"]["gradClip"] > 0 else torch.tensor(0.0)
        for g in opt.param_groups:
            g["lr"] = lr
            g["weight_decay"] = wd if g["decay"] else 0.0
        applied["lr"].append(opt.param_groups[0]["lr"])
        applied["wd"].append(opt.param_groups[0]["weight_decay"])
        applied["activationBits"].append(c["bitnet_activation_bits"])
        applied["actStage"].append(k)
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
            log.append({"kind": "step", "step": step, "loss": lv, "gradNorm": float(gnorm), "lr": lr, "wd": wd, "lrStage": plan["schedule"]["lrStage"][step - 1],
                        "actStage": k, "activationBits": c["bitnet_activation_bits"], "tokens": B * T, "ms": ms, "tokensPerSecond": tps})
            if step % (cfg["logEvery"] * 10) == 0 or step == S or step == start + 1:
                say(f"{name} s{seed} step {step}/{S} loss {lv:.4f} gnorm {float(gnorm):.3f} lr {lr:.2e} wd {wd} a{c['bitnet_activation_bits']} | {tps / 1000:.1f}k tok/s")
            t_win = t
            steps_win = 0
        if save_at is not None and step == save_at:
            path = os.path.join(args.out, f"state-{step}.pt")
            torch.save({"params": {n: t.detach() for n, t in P.items()}, "opt": opt.state_dict(), "step": step, "log": log, "name": f"{name} s{seed}",
                        "applied": applied, "prefix": prefix_record(plan, step)}, path)
            open(path + ".done", "w").close()
            say(f"{name}: saved branch state {path}")
        if ev > 0 and step < S and (step % ev == 0 or (dense_final and step > final_from and (step - final_from) % ev_final == 0)):
            do_eval(step)
    torch.cuda.synchronize() if device == "cuda" else None
    seconds = time.time() - t_start
    steps_run = step - start
    last_sel = do_eval(step)
    exported_step = step
    if best is not None and best[0] < last_sel:
        say(f"{name}: exporting the best selection-split evaluation (step {best[1]}, {best[0]:.4f}) rather than the last (step {step}, {last_sel:.4f})")
        for n_, t in best[2].items():
            P[n_].data.copy_(t)
        exported_step = best[1]
    cfin = plan_model_at(plan, S - 1)
    E = export_weights(P, cfin)
    # The exported model (ternary codes, BF16 floats) on each split, TF32 off.
    torch.backends.cuda.matmul.allow_tf32 = False
    Pe = exported_train_params(E, cfin, device)
    rep_loss, rep_tok = evaluate(Pe, cfin, rep, T, consts, weights_quantized=True)
    sel_loss, sel_tok = evaluate(Pe, cfin, sel, T, consts, weights_quantized=True)
    all_loss, all_tok = evaluate(Pe, cfin, val, T, consts, weights_quantized=True)
    say(f"{name} s{seed} final (exported model, step {exported_step}): reported-split loss {rep_loss:.4f} ppl {math.exp(rep_loss):.2f} on {rep_tok} tokens; selection split {sel_loss:.4f}")
    latent_checks = {}
    if cfin["bitnet_variant"] != "fp":
        L = cfin["num_hidden_layers"] - 1
        latent_checks = {lname(0, "q"): P[lname(0, "q")], lname(L, "k"): P[lname(L, "k")]}
    summary = {
        "name": name, "seed": seed, "trainer": "pytorch", "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "steps": steps_run, "startStep": start, "scheduleSteps": S, "exportedStep": exported_step,
        "tokens": steps_run * B * T, "tokensSeen": exported_step * B * T,
        "epochs": exported_step * B * T / train_data.numel(),
        "seconds": seconds, "tokensPerSecond": steps_run * B * T / max(seconds, 1e-9),
        "final": {"step": exported_step, "split": "reported", "loss": rep_loss, "perplexity": math.exp(rep_loss), "tokens": rep_tok},
        "selection": {"loss": sel_loss, "tokens": sel_tok},
        "wholeValidation": {"loss": all_loss, "tokens": all_tok},
        "lastTrainNumerics": {"step": step, "selectionLoss": last_sel},
        "split": "validation addresses alternate: even-numbered → selection (checkpoint choice), odd-numbered → reported",
    }
    if best is not None:
        summary["best"] = {"step": best[1], "selectionLoss": best[0]}
    if truncated:
        summary["truncated"] = True
    write_export(os.path.join(args.out, "model.st.gz"), E, cfin, latent_checks,
                 {"bitnet_lab_torch": json.dumps({"name": name, "config": public(cfin), "exportedStep": exported_step, "seed": seed})})
    fx = make_fixture(E, cfin, val_np, name, device)
    say(f"{name}: fixture written; max |train − exact| logits on the fixture sequences = {fx['trainVsExactMaxAbs']:.3g}")
    with open(os.path.join(args.out, "fixture.json"), "w") as f:
        json.dump(fx, f, separators=(",", ":"))
    with open(os.path.join(args.out, "log.jsonl"), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in log))
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    # What the mirror actually applied, for test/unit/train-plan.test.ts to compare with the TS plan.
    recipe = {
        "format": "bitnet-lab-mirror-recipe", "name": name, "seed": seed, "config": cfg, "truncated": truncated,
        "applied": applied,
        "optimizer": {"kind": "adamw", "betas": list(opt.param_groups[0]["betas"]), "eps": opt.param_groups[0]["eps"],
                      "gradClip": plan["optimizer"]["gradClip"],
                      "decay": [g for grp in opt.param_groups if grp["decay"] for g in grp["names"]],
                      "noDecay": [g for grp in opt.param_groups if not grp["decay"] for g in grp["names"]]},
        "init": {"matrixStd": plan["init"]["matrixStd"], "normValue": plan["init"]["normValue"], "seed": seed},
        "params": [[n, list(t.shape)] for n, t in P.items()],
        "batching": {"batchSize": B, "seqLen": T, "trainTokens": int(train_data.numel()), "startsSha256": starts_digest(starts_np)},
    }
    with open(os.path.join(args.out, "mirror-recipe.json"), "w") as f:
        json.dump(recipe, f, separators=(",", ":"))
    say(f"{name} s{seed}: done in {seconds:.1f} s ({summary['tokensPerSecond'] / 1000:.1f}k tok/s, {summary['epochs']:.2f} epochs to the exported step)")


# ------------------------------------------------------------------ the shipped models, several seeds

FULL = ["fp", "b1.58", "a4.8", "v2-a8"]
# Continuations: (parent, reason). The parent's state at the child's first activation stage is the child's
# state there, because their recipes agree before it (checked against the saved prefix record).
BRANCHES = {"v2-a4": "v2-a8", "v2-a4-nohadamard": "b1.58", "v2-a4-rotation-dropped": "v2-a8"}


def run_all(args):
    here = os.path.abspath(__file__)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    deadline = time.time() + args.budget if args.budget else 0
    seeds = [int(x) for x in args.seeds.split(",")]
    only = args.only.split(",") if args.only else FULL + list(BRANCHES)
    common = ["--data", args.data, "--threads", str(args.threads)]
    if args.eval_every:
        common += ["--eval-every", str(args.eval_every)]
    if deadline:
        common += ["--deadline", str(deadline)]
    plan_path = lambda n, s: os.path.join(args.plans, f"{n}-s{s}.json.gz")
    run_dir = lambda n, s: os.path.join(out, n, f"s{s}")
    t0 = time.time()
    procs = {}
    waiting = {}
    for s in seeds:
        for n in only:
            if n in BRANCHES:
                parent = BRANCHES[n]
                at = load_plan(plan_path(n, s))["stages"][-1]["fromStep"]
                waiting[(n, s)] = os.path.join(run_dir(parent, s), f"state-{at}.pt")
                continue
            saves = sorted({load_plan(plan_path(c, s))["stages"][-1]["fromStep"] for c, p in BRANCHES.items() if p == n and c in only})
            if len(saves) > 1:
                raise SystemExit(f"{n}: its continuations branch at different steps {saves}")
            extra = ["--save-at", str(saves[0])] if saves else []
            os.makedirs(run_dir(n, s), exist_ok=True)
            cmd = [sys.executable, here, "train", "--plan", plan_path(n, s), "--out", run_dir(n, s)] + common + extra
            procs[(n, s)] = subprocess.Popen(cmd, stdout=open(os.path.join(run_dir(n, s), "stdout.log"), "w"), stderr=subprocess.STDOUT)
    bad = []
    while procs or waiting:
        for key, state in list(waiting.items()):
            n, s = key
            if os.path.exists(state + ".done"):
                del waiting[key]
                os.makedirs(run_dir(n, s), exist_ok=True)
                cmd = [sys.executable, here, "train", "--plan", plan_path(n, s), "--out", run_dir(n, s), "--from", state] + common
                procs[key] = subprocess.Popen(cmd, stdout=open(os.path.join(run_dir(n, s), "stdout.log"), "w"), stderr=subprocess.STDOUT)
            elif (BRANCHES[n], s) not in procs:  # the parent ended without saving the state
                del waiting[key]
                bad.append(f"{n}-s{s}")
        for key, p in list(procs.items()):
            rc = p.poll()
            if rc is None:
                continue
            del procs[key]
            if rc != 0:
                bad.append(f"{key[0]}-s{key[1]}")
        time.sleep(0.5)
    wall = time.time() - t0
    results = {}
    for n in only:
        for s in seeds:
            sp = os.path.join(run_dir(n, s), "summary.json")
            if os.path.exists(sp):
                with open(sp) as f:
                    results.setdefault(n, {})[str(s)] = json.load(f)
    # The shipped checkpoint of each model: the seed with the lowest selection-split loss (never the reported split).
    shipped = {n: min(r, key=lambda s: r[s]["selection"]["loss"]) for n, r in results.items()}
    agg = sum(x["tokens"] for r in results.values() for x in r.values()) / max(wall, 1e-9)
    with open(os.path.join(out, "train-torch.json"), "w") as f:
        json.dump({"wallSeconds": wall, "aggregateTokensPerSecond": agg, "argv": sys.argv[1:], "seeds": seeds, "failed": bad,
                   "shipped": shipped, "results": results}, f, indent=2)
    print(f"all: {sum(len(r) for r in results.values())} runs in {wall:.0f} s, aggregate {agg / 1000:.0f}k tok/s; failed: {bad or 'none'}", flush=True)
    for n, r in results.items():
        for s, x in r.items():
            print(f"  {n:24s} s{s} steps {x['startStep']}→{x['startStep'] + x['steps']} exported {x['exportedStep']} reported {x['final']['loss']:.4f} "
                  f"selection {x['selection']['loss']:.4f}{' (shipped)' if shipped[n] == s else ''} {x['tokensPerSecond'] / 1000:.0f}k tok/s{' TRUNCATED' if x.get('truncated') else ''}", flush=True)
    if args.pack:
        pack(out, args.pack, results, shipped)
    if bad:
        sys.exit(1)


def pack(out, dest, results, shipped):
    """At most 8 files of at most 16 MiB: the shipped exports in models-0/1/2.tar (a third each: all of them
    together, 22 MB, were over the limit), logs in runs.tar.gz."""
    os.makedirs(dest, exist_ok=True)
    names = sorted(shipped)
    for k in range(3):
        with tarfile.open(os.path.join(dest, f"models-{k}.tar"), "w") as tf:
            for n in names[k::3]:
                p = os.path.join(out, n, f"s{shipped[n]}", "model.st.gz")
                if os.path.exists(p):
                    tf.add(p, arcname=f"{n}/s{shipped[n]}/model.st.gz")
    with tarfile.open(os.path.join(dest, "runs.tar.gz"), "w:gz") as tf:
        for n, r in results.items():
            for s in r:
                for f in ("log.jsonl", "summary.json", "train-config.json", "train.log", "fixture.json", "mirror-recipe.json", "stdout.log"):
                    p = os.path.join(out, n, f"s{s}", f)
                    if os.path.exists(p):
                        tf.add(p, arcname=f"{n}/s{s}/{f}")
        for n in os.listdir(out):  # logs of runs that failed before writing a summary
            d = os.path.join(out, n)
            if os.path.isdir(d):
                for s in os.listdir(d):
                    p = os.path.join(d, s, "stdout.log")
                    if os.path.exists(p) and not (n in results and s[1:] in results[n]):
                        tf.add(p, arcname=f"{n}/{s}/stdout.log")
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
        c = with_sites(case["config"], case["sites"], case["hadamard"])  # the TS plan's site table (plan.ts sitePlan)
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
        p.add_argument("--eval-every", type=int, help="evaluate on the selection split every N steps (every N/5 in the last activation stage)")
        p.add_argument("--threads", type=int, default=1, help="CPU threads per training process")
    t = sub.choices["train"]
    t.add_argument("--plan", required=True, help="the TS recipe: bitnet-lab train --config X --plan --json --data DIR (.json or .json.gz)")
    t.add_argument("--save-at", type=int, help="save the full state (weights, optimizer, applied recipe) after this step")
    t.add_argument("--from", dest="from_state", help="continue from a saved state (waits for STATE.done; the recipes before it must agree)")
    t.add_argument("--deadline", type=float, default=0, help="unix time: stop training before it, then evaluate and export")
    a = sub.choices["all"]
    a.add_argument("--plans", required=True, help="folder of <name>-s<seed>.json.gz plans")
    a.add_argument("--seeds", default="1,2,3")
    a.add_argument("--only")
    a.add_argument("--budget", type=float, default=0, help="seconds from now for training (each run stops at it)")
    a.add_argument("--pack", help="bundle the results into this folder (at most 8 files)")
    d = sub.add_parser("dry-plan", help="print the recipe the mirror would apply (needs numpy only)")
    d.add_argument("--plan", required=True)
    c = sub.add_parser("check")
    c.add_argument("--dir", required=True)
    c.add_argument("--out")
    args = ap.parse_args()
    if args.cmd == "dry-plan":
        return dry_plan(args)
    if torch is None:
        raise SystemExit("train_torch.py needs PyTorch")
    {"train": train, "all": run_all, "check": run_check}[args.cmd](args)


def dry_plan(args):
    """The parts of the recipe the mirror derives itself from a plan, without torch."""
    plan = load_plan(args.plan)
    out = {"name": plan["config"]["name"], "steps": plan["config"]["steps"],
           "stages": [{"fromStep": st["fromStep"], "sites": st["sites"],
                       "hadamardSha256": {str(site_entry(v)["dim"]): sha256_signs(explicit_hadamard(with_sites(st["model"], st["sites"], plan["hadamard"]), site_entry(v)["dim"]))
                                          for v in st["sites"].values() if v["hadamard"]}} for st in plan["stages"]],
           "startsSha256": starts_digest(plan["batching"]["starts"]) if "starts" in plan["batching"] else None}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
