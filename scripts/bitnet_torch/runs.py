"""The shipped models over several seeds (continuations from their parents' states), packing, and the forward check."""
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


FULL = [r["name"] for r in RECIPES if not r.get("continues")]


# Continuations: child → parent. The parent's state at the child's first activation stage is the child's
# state there, because their recipes agree before it (checked against the saved prefix record).
BRANCHES = {r["name"]: r["continues"] for r in RECIPES if r.get("continues")}


def run_all(args):
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train_torch.py")  # the command line
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
