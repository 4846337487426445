"""PyTorch mirror of the project's tfjs trainer (src/lib/train/*), for training the shipped models on a CUDA GPU.

Same architecture, variants and recipe as src/lib/model.ts and src/lib/train/{model,trainer,config}.ts:
RMSNorm, RoPE (rotate_half), GQA, SwiGLU / ReLU²-GLU, sub-norms, tied head; absmean ternary weights and the
per-variant activation quantizers (absmax INT8, absmean INT4, top-K + INT8, Hadamard before W_o / W_down for
v2), every quantizer straight-through (x + (q(x) − x).detach()); AdamW β (0.9, 0.95), decay on matrices only,
global-norm clipping, the two-stage LR/WD schedule and the activation stages of configs/*.json.

Subcommands of scripts/train_torch.py (numpy is the only dependency besides torch; safetensors are written by hand):
  train   one recipe:  --config configs/b1.58.json --data .train-data --out runs/b1.58 [--steps N]
          [--batch-size B] [--lr-scale X] [--eval-every N] [--save-branch] [--from STATE.pt] [--deadline UNIX_S]
  all     the six shipped models: fp, b1.58, a4.8, v2-a8 in parallel processes, then v2-a4 and
          v2-a4-nohadamard continued from their parents' states (src/lib/recipes.ts) at their first activation stage; --pack DIR bundles the results
  check   the forward against TS reference logits of random weights (scripts/import-torch.ts --make-check)

Each trained run exports model.st.gz: a gzipped safetensors file with, per BitLinear weight, the int8 ternary
codes and s = 1/max(γ, ε) as F32 (γ = mean|W| accumulated in float64 and rounded to float32, exactly like
src/lib/quant.ts quantizeWeightsAbsmean), BF16 embedding/norms (and BF16 projections for fp), plus the f32
latent values of two projections so the import can check the ternarization against TS's. scripts/import-torch.ts
turns it into the project's packed checkpoint with src/lib/checkpoint.ts writeCheckpoint.

Numerics: training runs in float32 with TF32 matmuls; the fixture has two forwards of the exported model —
`exact`, a float32-storage / float64-accumulation replica of the CPU reference (src/lib/model.ts) on the CPU,
and `train`, the training forward itself in float32 on the GPU with TF32 off.

The code, by concern: scripts/bitnet_torch/{safetensors_io, plan, model, exact, train, runs, cli}.py."""
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
from .exact import *  # noqa: F401,F403
from .train import *  # noqa: F401,F403
from .runs import *  # noqa: F401,F403


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
