"""The recipe the TS trainer resolves (bitnet-lab train --plan --json): stages, sites, Hadamard matrices; the model list."""
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


EPS = 1e-5


SQRT7 = math.sqrt(7)


# The model recipes, written once in src/lib/recipes.ts; configs/models.json is its copy for this script.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "models.json")) as _f:
    RECIPES = json.load(_f)["models"]


NAMES = [r["name"] for r in RECIPES if not r.get("diagnostic")]


def js_round(x):
    """Math.round of JavaScript (half up), which the TS config code uses for step boundaries and K."""
    return math.floor(x + 0.5)


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
