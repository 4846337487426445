#!/usr/bin/env python3
"""The independent twin: load BitNet Lab checkpoints with Hugging Face transformers' BitNetForCausalLM and
print their logits for fixed token sequences as JSON on stdout (diagnostics on stderr).

    PYTHONUNBUFFERED=1 python3 scripts/hf_twin.py data/fixtures/tiny-b158 data/fixtures/tiny-fp > twin.json

Runs on the CPU in float32 with eager attention, so the numbers are transformers' reference math without
TF32 or fused kernels. TORCHDYNAMO_DISABLE=1 turns transformers' @torch.compile helpers (BitLinear's
activation_quant, unpack_weights) into plain eager calls: same math, no compiler needed.

A checkpoint with quantization_config {quant_method: bitnet, linear_class: bitlinear} loads every
projection as transformers' BitLinear (packed uint8 weights, weight_scale, per-token absmax INT8
activations); one without quantization_config loads plain nn.Linear (the fp twin).

Output: {"transformers", "torch", "sequences", "models": {name: {"ok", "linear_class", "loading_info",
"rope", "logits": [sequence][position][vocab], "hidden_states": [layer+1][position][hidden] (sequence 0),
"layer0": {proj: {"input", "output"}} (sequence 0), "error"}}}.

Agreement study (the twin beyond a few positions; runs on the accelerator machine):

    python3 scripts/hf_twin.py agree --model DIR --data DATA --windows 200 --out agree.json

loads DIR with transformers (BitNetForCausalLM, or LlamaForCausalLM for an fp model exported as LLaMA), on
the CPU in float32 with eager attention, and scripts/train_torch.py's forward_exact (the float64-accumulation
replica of the CPU reference) on the same checkpoint; for evenly spread validation windows of 256 tokens it
compares every BitLinear input per layer and site, the INT8 codes both sides quantize them to (transformers'
activation_quant recomputed on its own captured input), and the logits at every position.
"""
import gzip
import json
import os
import sys
import time
import traceback

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

try:
    import torch  # noqa: E402
except ImportError:  # `pack` needs numpy only
    torch = None

# Fixed token sequences (BOS = 1 first), positions up to 10; the unit test reads them back from the output.
SEQUENCES = [
    [1, 5, 77, 200, 299, 42, 8, 150, 0, 13],
    [1, 260, 260, 260],
    [1],
]


def r9(x):
    """float32 values with 9 significant digits (enough to round-trip a float32)."""
    if isinstance(x, list):
        return [r9(v) for v in x]
    return float("%.9g" % x)


def load(path):
    import transformers
    from transformers import BitNetForCausalLM

    kwargs = dict(attn_implementation="eager", output_loading_info=True)
    try:
        model, info = BitNetForCausalLM.from_pretrained(path, dtype=torch.float32, **kwargs)
    except TypeError:
        model, info = BitNetForCausalLM.from_pretrained(path, torch_dtype=torch.float32, **kwargs)
    model = model.eval()
    return model, {k: sorted(str(x) for x in v) for k, v in info.items() if isinstance(v, (list, set, tuple))}


def run_model(path):
    res = {"ok": False}
    try:
        model, info = load(path)
        res["loading_info"] = info
        layer0 = model.model.layers[0]
        res["linear_class"] = type(layer0.self_attn.q_proj).__name__
        ws = getattr(layer0.self_attn.q_proj, "weight_scale", None)
        if ws is not None:
            res["q_proj_weight_scale"] = r9(ws.float().flatten().tolist())
        cfg = model.config
        res["rope"] = {
            "rope_theta": getattr(cfg, "rope_theta", None),
            "rope_parameters": getattr(cfg, "rope_parameters", None),
            "inv_freq_0_1": r9(model.model.rotary_emb.inv_freq[:2].float().tolist()),
        }
        res["config"] = {k: getattr(cfg, k, None) for k in ["hidden_act", "tie_word_embeddings", "rms_norm_eps", "num_key_value_heads", "head_dim"]}
        res["tied"] = model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()

        # Inputs and outputs of layer 0's projections for sequence 0, to localize any disagreement.
        captured = {}
        hooks = []
        for name in ["q_proj", "k_proj", "v_proj", "o_proj"]:
            hooks.append((name, getattr(layer0.self_attn, name)))
        for name in ["gate_proj", "up_proj", "down_proj"]:
            hooks.append((name, getattr(layer0.mlp, name)))
        handles = []
        for name, mod in hooks:
            def hook(m, inp, out, name=name):
                if name not in captured:
                    captured[name] = {"input": r9(inp[0][0].float().tolist()), "output": r9(out[0].float().tolist())}
            handles.append(mod.register_forward_hook(hook))

        dev = next(model.parameters()).device
        res["device"] = str(dev)
        logits = []
        with torch.no_grad():
            for i, seq in enumerate(SEQUENCES):
                out = model(torch.tensor([seq], dtype=torch.long, device=dev), output_hidden_states=(i == 0), use_cache=False)
                logits.append(r9(out.logits[0].float().tolist()))
                if i == 0:
                    res["hidden_states"] = [r9(h[0].float().tolist()) for h in out.hidden_states]
                    for h in handles:
                        h.remove()
        res["layer0"] = captured
        res["logits"] = logits
        res["ok"] = True
    except Exception as e:  # report, don't die: the other model may still work
        res["error"] = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        print(res["error"], file=sys.stderr)
    return res


def main():
    import transformers

    torch.set_grad_enabled(False)
    torch.backends.cuda.matmul.allow_tf32 = False  # only matters if transformers placed the model on a GPU
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    paths = sys.argv[1:]
    if not paths:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}", file=sys.stderr)
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "sequences": SEQUENCES, "models": {}}
    for p in paths:
        name = os.path.basename(os.path.normpath(p))
        r = run_model(p)
        print(f"{name}: ok={r['ok']} linear_class={r.get('linear_class')} loading_info={r.get('loading_info')} rope={r.get('rope')}", file=sys.stderr)
        out["models"][name] = r
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    sys.exit(0 if all(m["ok"] for m in out["models"].values()) else 1)


# ------------------------------------------------------------------ agreement study over many windows

SITE_MODULES = [("qkv", "self_attn.q_proj"), ("o", "self_attn.o_proj"), ("gate_up", "mlp.gate_proj"), ("down", "mlp.down_proj")]


def read_checkpoint_for_exact(path, tt):
    """Our packed checkpoint (config.json + model.safetensors) as forward_exact weights and config."""
    import numpy as np
    with open(os.path.join(path, "config.json")) as f:
        cj = json.load(f)
    with open(os.path.join(path, "model.safetensors"), "rb") as f:
        raw, _ = tt.read_safetensors(f.read())
    variant = cj.get("bitnet_variant", "fp")
    if variant not in ("fp", "b1.58"):
        raise SystemExit(f"{path}: transformers has no class for the {variant} variant")
    scheme = "none" if variant == "fp" else "absmax-int8"
    c = dict(cj, bitnet_variant=variant, bitnet_sub_norms=cj.get("bitnet_sub_norms", variant != "fp"), bitnet_topk_ratio=cj.get("bitnet_topk_ratio", 1))
    c = tt.with_sites(c, {s: {"quantizer": scheme, "hadamard": False, "dim": 0} for s in ("qkv", "o", "gate_up", "down")}, {})
    W = {}
    for name, shape in tt.param_shapes(c):
        a = raw[name]
        if a.dtype == np.uint8:  # packed ternary: row i·R + p lives in bits 2i of byte row p (src/lib/pack.ts)
            R = a.shape[0]
            codes = np.concatenate([((a >> (2 * i)) & 3).astype(np.int8) - 1 for i in range(4)], 0)[:shape[0]]
            s_w = np.float32(raw[name.replace(".weight", ".weight_scale")].reshape(-1)[0])
            W[name] = (torch.from_numpy(codes.copy()), s_w)
        else:
            W[name] = torch.from_numpy(np.array(a, dtype=np.float32))
    return W, c


def hf_codes(x):
    """transformers' BitLinear.activation_quant on its own input: scale = 127 / max|x| (float32), round, clamp."""
    scale = 127 / x.abs().max(dim=-1, keepdim=True).values.clamp(min=1e-5)
    return (x * scale).round().clamp(-128, 127), scale


def agree(argv):
    import argparse
    import numpy as np
    import transformers
    from transformers import AutoModelForCausalLM
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import train_torch as tt
    ap = argparse.ArgumentParser(prog="hf_twin.py agree")
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--windows", type=int, default=200)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    torch.set_grad_enabled(False)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    W, c = read_checkpoint_for_exact(a.model, tt)
    try:
        model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = AutoModelForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation="eager")
    model = model.eval()
    cls = type(model).__name__
    quant = c["bitnet_variant"] != "fp"
    captured = {}
    for i, layer in enumerate(model.model.layers):
        for site, path in SITE_MODULES:
            mod = layer
            for part in path.split("."):
                mod = getattr(mod, part)
            mod.register_forward_pre_hook(lambda m, inp, key=(i, site): captured.__setitem__(key, inp[0][0].float().clone()))
    val = np.fromfile(os.path.join(a.data, "val.u16"), dtype="<u2").astype(np.int64)
    T = a.seq_len
    all_starts = list(range(0, len(val) - T, T))
    n = min(a.windows, len(all_starts))
    starts = [all_starts[(k * len(all_starts)) // n] for k in range(n)]
    L = c["num_hidden_layers"]
    pos_max = []          # per position: max |Δlogit|
    pos_argmax = []       # per position: argmax equal
    pos_before_flip = []  # per position: True if no code differed at or before it in any earlier layer/site... (position-wise)
    windows = []
    flips_total = 0
    codes_total = 0
    first_sites = {}
    input_diff_clean = 0.0   # max |Δ input| at sites/positions before the first code flip of the window
    edge_worst = 0.0         # max over flips of |x·s − (k + ½)| on the reference side: how close to a rounding edge
    for w_i, s0 in enumerate(starts):
        toks = [int(t) for t in val[s0:s0 + T]]
        trace = []
        ref = tt.forward_exact(W, c, toks, trace=trace)
        captured.clear()
        hf = model(torch.tensor([toks], dtype=torch.long), use_cache=False).logits[0].float()
        d = (ref - hf).abs().max(-1).values
        am = ref.argmax(-1) == hf.argmax(-1)
        rec = {"start": s0, "maxAbs": float(d.max()), "argmaxAgree": int(am.sum()), "positions": T, "flips": 0}
        first = None
        if quant:
            # trace order per layer: qkv, o, gateup, down
            for k, tr in enumerate(trace):
                layer, site = k // 4, tr["site"]
                xh = captured[(layer, site)]
                qh, sh = hf_codes(xh)
                qr = tr["codes"].float()
                diff = (qh != qr)
                nf = int(diff.sum())
                codes_total += qh.numel()
                flips_total += nf
                rec["flips"] += nf
                dx_rows = (tr["x"].float() - xh).abs().max(-1).values
                if nf:
                    rows = diff.any(-1).nonzero().flatten()
                    t_first = int(rows[0])
                    prod = (tr["x"].double() * tr["s"].double())[diff]
                    edge = float((prod - (prod.floor() + 0.5)).abs().max())
                    edge_worst = max(edge_worst, edge)
                    if first is None or t_first < first["position"]:
                        first = {"layer": layer, "site": site, "position": t_first, "codes": nf, "edgeDistance": edge,
                                 "inputDiffAtSite": float(dx_rows[t_first])}
                # input disagreement at positions before any flip so far
                lim = first["position"] if first is not None else T
                if lim > 0:
                    input_diff_clean = max(input_diff_clean, float(dx_rows[:lim].max()))
        rec["firstFlip"] = first
        fpos = first["position"] if first else T
        rec["maxAbsBeforeFirstFlip"] = float(d[:fpos].max()) if fpos > 0 else 0.0
        rec["maxAbsFromFirstFlip"] = float(d[fpos:].max()) if fpos < T else 0.0
        if first:
            key = f"layer {first['layer']} {first['site']}"
            first_sites[key] = first_sites.get(key, 0) + 1
        pos_max.append(d.numpy())
        pos_argmax.append(am.numpy())
        pos_before_flip.append(np.arange(T) < fpos)
        windows.append(rec)
        if w_i % 20 == 19:  # partial results survive a time limit
            _agree_summary(a, n, T, t0, cls, pos_max, pos_argmax, pos_before_flip, windows, codes_total, flips_total, first_sites, edge_worst, input_diff_clean)
        if w_i % 20 == 0:
            print(f"agree {a.model} window {w_i}/{n}: max|Δ| {rec['maxAbs']:.3g} flips {rec['flips']} first {first}", file=sys.stderr, flush=True)
    out = _agree_summary(a, n, T, t0, cls, pos_max, pos_argmax, pos_before_flip, windows, codes_total, flips_total, first_sites, edge_worst, input_diff_clean)
    print(json.dumps({k: v for k, v in out.items() if k != "windowRecords"}, indent=1), file=sys.stderr)


def _agree_summary(a, n, T, t0, cls, pos_max, pos_argmax, pos_before_flip, windows, codes_total, flips_total, first_sites, edge_worst, input_diff_clean):
    import numpy as np
    import transformers
    pm = np.concatenate(pos_max)
    pa = np.concatenate(pos_argmax)
    pb = np.concatenate(pos_before_flip)
    wm = np.array([r["maxAbs"] for r in windows])
    q = lambda x, p: float(np.quantile(x, p)) if len(x) else None
    out = {
        "model": a.model, "class": cls, "transformers": transformers.__version__, "torch": torch.__version__,
        "windows": len(windows), "windowsPlanned": n, "seqLen": T, "positions": int(pm.size), "seconds": time.time() - t0,
        "perPositionMaxAbs": {"p50": q(pm, 0.5), "p90": q(pm, 0.9), "p99": q(pm, 0.99), "max": float(pm.max()),
                              "fractionAbove1e-4": float((pm > 1e-4).mean()), "fractionAbove1e-2": float((pm > 1e-2).mean())},
        "perWindowMaxAbs": {"p50": q(wm, 0.5), "p90": q(wm, 0.9), "max": float(wm.max()), "windowsAbove1e-4": int((wm > 1e-4).sum())},
        "beforeFirstFlip": {"positions": int(pb.sum()), "maxAbs": float(pm[pb].max()) if pb.any() else None,
                            "p99": q(pm[pb], 0.99)},
        "fromFirstFlip": {"positions": int((~pb).sum()), "maxAbs": float(pm[~pb].max()) if (~pb).any() else None,
                          "p50": q(pm[~pb], 0.5), "p90": q(pm[~pb], 0.9)},
        "argmaxAgreement": float(pa.mean()),
        "codes": {"compared": codes_total, "flipped": flips_total, "rate": flips_total / codes_total if codes_total else 0.0,
                  "windowsWithFlip": sum(1 for r in windows if r["flips"]), "firstFlipSites": first_sites,
                  "maxEdgeDistanceOfFlips": edge_worst, "maxInputDiffBeforeFirstFlip": input_diff_clean},
        "windowRecords": windows,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    return out


def pack_export(argv):
    """A train_torch.py export (model.st.gz) as a transformers-loadable packed checkpoint (pack.ts's layout),
    with the given config.json: pack --export model.st.gz --config config.json --out DIR."""
    import argparse
    import numpy as np
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import train_torch as tt
    ap = argparse.ArgumentParser(prog="hf_twin.py pack")
    ap.add_argument("--export", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    with gzip.open(a.export, "rb") as f:
        raw, meta = tt.read_safetensors(f.read())
    tensors = []
    for name, arr in raw.items():
        if name.startswith("latent.") or name.endswith(".weight_scale"):
            continue
        if arr.dtype == np.int8:
            rows, cols = arr.shape
            R = (rows + 3) // 4
            packed = np.zeros((R, cols), dtype=np.uint8)
            for i in range(4):
                blk = np.ones((R, cols), dtype=np.uint8)  # padding rows hold code 0 (stored as 1)
                part = arr[i * R:(i + 1) * R]
                blk[:part.shape[0]] = (part + 1).astype(np.uint8)
                packed |= blk << (2 * i)
            tensors.append((name, "U8", [R, cols], packed.tobytes()))
            sc = raw[name.replace(".weight", ".weight_scale")]
            tensors.append((name.replace(".weight", ".weight_scale"), "F32", [1], np.asarray(sc, dtype="<f4").reshape(1).tobytes()))
        else:  # BF16 values widened to float32 by the reader: the top 16 bits are the BF16 bits
            bits = (np.asarray(arr, dtype="<f4").view("<u4") >> 16).astype("<u2")
            tensors.append((name, "BF16", list(arr.shape), bits.tobytes()))
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(tt.write_safetensors(tensors, {"format": "pt"}))
    with open(a.config) as f:
        cj = json.load(f)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cj, f, indent=2)
    print(f"pack: wrote {a.out} ({len(tensors)} tensors) from {a.export}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "agree":
        agree(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "pack":
        pack_export(sys.argv[2:])
    else:
        main()
