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
"""
import json
import os
import sys
import traceback

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")

import torch  # noqa: E402

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


if __name__ == "__main__":
    main()
