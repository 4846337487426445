"""One training run: data, evaluation, AdamW, export (model.st.gz), the fixture."""
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
