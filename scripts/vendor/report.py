#!/usr/bin/env python3
"""provenance.json + the agreement table for the vendor fixtures (scripts/vendor_fixtures.sh report).

For every GGUF: metadata facts, tensor names/types, whether W_q/W_k rows are permuted relative to the HF rows (checked
by decoding the GGUF's ternary codes and comparing them row by row to the codes transformers' WeightQuant gives for the
master weights, as-is and under llama.cpp's convert permute), which I2_S layout decodes to the HF codes, how its I2_S
scales relate to HF's mean|W| / weight_scale; and bitnet.cpp's logits against transformers' logits on the same tokens.
"""
import argparse
import glob
import hashlib
import json
import os
import platform
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_inspect import GGUF, TOKEN_TYPES, decode_i2s  # noqa: E402

PROJ = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
        "ffn_down": "mlp.down_proj"}
NORMS = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_sub_norm": "self_attn.attn_sub_norm",
         "ffn_sub_norm": "mlp.ffn_sub_norm"}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60).stdout.strip().splitlines()[0]
    except Exception as e:  # noqa: BLE001
        return f"unavailable ({e})"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def llama_permute(w, n_head):
    # llama.cpp convert.py / convert_hf_to_gguf.py LlamaModel.permute (HF rotate-half rows -> GGUF adjacent pairs)
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hf_reference(model_dir):
    import torch
    from safetensors.torch import load_file
    sd = load_file(os.path.join(model_dir, "model.safetensors"))
    ref = {}
    for k, v in sd.items():
        w = v.float()
        if any(k.endswith(p + ".weight") for p in PROJ.values()):
            mean = w.abs().mean().clamp(min=1e-5)
            s = 1.0 / mean
            codes = (w * s).round().clamp(-1, 1).to(torch.int8).numpy()
            ref[k] = {"codes": codes, "mean_abs_f32": float(mean), "one_over_s_f32": float(1.0 / s),
                      "weight_scale_bf16": float((1.0 / s).to(torch.bfloat16))}
        else:
            ref[k] = {"value": w.numpy()}
    return ref


def layout_of(name):
    if name.endswith(".arm.gguf"):
        return "arm"
    if name.endswith(".rows.gguf"):
        return "rows"
    return "x86"


def inspect_gguf(path, ref, n_head, n_head_kv):
    g = GGUF(path)
    arch = g.kv["general.architecture"]
    toks, ttypes = g.kv.get("tokenizer.ggml.tokens"), g.kv.get("tokenizer.ggml.token_type")
    info = {"arch": arch, "gguf_version": g.version,
            "keys": {k: (v if not (isinstance(v, list) and len(v) > 16) else f"<array of {len(v)}>") for k, v in g.kv.items()},
            "tokenizer.ggml.pre": g.kv.get("tokenizer.ggml.pre"),
            "rope.freq_base_present": f"{arch}.rope.freq_base" in g.kv,
            "rope.freq_base": g.kv.get(f"{arch}.rope.freq_base"),
            "special_tokens": {}, "tensors": [], "checks": {}}
    for key in ["bos", "eos", "eot", "pad", "unknown"]:
        k = f"tokenizer.ggml.{key}_token_id"
        if k in g.kv and toks:
            i = g.kv[k]
            info["special_tokens"][key] = {"id": i, "text": toks[i], "type": TOKEN_TYPES.get(ttypes[i], ttypes[i]) if ttypes else None}
    layout = layout_of(path)
    info["layout_by_name"] = layout
    scales = {}
    for name in g.order:
        t = g.tensors[name]
        info["tensors"].append({"name": name, "type": t["type_name"], "ne": t["ne"], "offset": t["offset"],
                                "bytes": (int(np.prod(t["ne"])) // 4 + 32) if t["type"] == 36 else None})
        m = re.match(r"blk\.(\d+)\.(\w+)\.weight$", name)
        hfname = None
        if m and m.group(2) in PROJ:
            hfname = f"model.layers.{m.group(1)}.{PROJ[m.group(2)]}.weight"
        elif m and m.group(2) in NORMS:
            hfname = f"model.layers.{m.group(1)}.{NORMS[m.group(2)]}.weight"
        elif name == "token_embd.weight":
            hfname = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            hfname = "model.norm.weight"
        if hfname is None or hfname not in ref:
            info["checks"][name] = {"hf": None}
            continue
        r = ref[hfname]
        chk = {"hf": hfname}
        if "codes" in r:
            nh = n_head if m.group(2) == "attn_q" else n_head_kv
            if t["type"] == 36:
                raw = g.raw(name, int(np.prod(t["ne"])) // 4 + 32)
                per_layout = {}
                for lay in ["x86", "rows", "arm"]:
                    codes, scale = decode_i2s(raw, t["ne"][1], t["ne"][0], lay)
                    per_layout[lay] = float((codes == r["codes"]).mean())
                codes, scale = decode_i2s(raw, t["ne"][1], t["ne"][0], layout)
                chk["match_by_layout"] = per_layout
                chk["i2s_scale"] = scale
                scales[name] = {"i2s_scale_f32": scale, "hf_mean_abs_f32": r["mean_abs_f32"], "hf_one_over_s_f32": r["one_over_s_f32"],
                                "hf_weight_scale_bf16": r["weight_scale_bf16"]}
            else:
                w = g.array(name)
                sc = np.abs(w).max()
                codes = np.round(w / sc).astype(np.int8)
                chk["max_abs_value"] = float(sc)
                scales[name] = {"f32_max_abs": float(sc), "hf_mean_abs_f32": r["mean_abs_f32"], "hf_one_over_s_f32": r["one_over_s_f32"],
                                "hf_weight_scale_bf16": r["weight_scale_bf16"]}
            chk["rows_equal_hf"] = float((codes == r["codes"]).mean())
            if m.group(2) in ("attn_q", "attn_k"):
                chk["rows_equal_llama_permuted_hf"] = float((codes == llama_permute(r["codes"], nh)).mean())
        else:
            if t["type"] in (0, 1):
                w = g.array(name)
                v = r["value"].reshape(w.shape)
                chk["max_abs_diff_vs_hf"] = float(np.abs(w - v).max())
        info["checks"][name] = chk
    info["scales"] = scales
    return info


def compare(a, b):
    out = {"per_sequence": []}
    alld, agree, n = [], 0, 0
    nonfinite = 0
    for la, lb in zip(a, b):
        la, lb = np.asarray(la, dtype=np.float64), np.asarray(lb, dtype=np.float64)
        ok = np.isfinite(la).all(1) & np.isfinite(lb).all(1)
        nonfinite += int((~ok).sum())
        if not ok.any():
            out["per_sequence"].append({"nonfinite_positions": int((~ok).sum())})
            continue
        la, lb = la[ok], lb[ok]
        d = np.abs(la - lb)
        am = (la.argmax(1) == lb.argmax(1))
        corr = [float(np.corrcoef(la[i], lb[i])[0, 1]) for i in range(len(la))]
        out["per_sequence"].append({"max_abs": float(d.max()), "argmax_agree": am.astype(int).tolist(),
                                    "pearson_per_position": [round(c, 6) for c in corr],
                                    "ref_max_abs_logit": float(np.abs(lb).max())})
        out.setdefault("_corr", []).extend(corr)
        alld.append(d.reshape(-1))
        agree += int(am.sum()); n += am.size
    if not alld:
        out.update({"max_abs": float("nan"), "q50": float("nan"), "q90": float("nan"), "q99": float("nan"),
                    "argmax_agree": "0/0", "bitwise_equal": False, "min_pearson": float("nan"),
                    "nonfinite_positions": nonfinite, "positions_compared": 0})
        return out
    d = np.concatenate(alld)
    out.update({"max_abs": float(d.max()), "q50": float(np.quantile(d, 0.5)), "q90": float(np.quantile(d, 0.9)),
                "q99": float(np.quantile(d, 0.99)), "argmax_agree": f"{agree}/{n}", "bitwise_equal": bool((d == 0).all()),
                "min_pearson": float(min(out.pop("_corr"))), "nonfinite_positions": nonfinite,
                "positions_compared": n})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bitnet-src", required=True)
    ap.add_argument("--fork-src", required=True)
    a = ap.parse_args()
    W, OUT = a.work, a.out
    import torch
    import transformers
    import tokenizers
    import safetensors
    meta = json.load(open(os.path.join(OUT, "model-meta.json")))
    shape = meta["shape"]
    ref = {"bf16": hf_reference(os.path.join(W, "model", "hf-bf16"))}

    def rel(p):
        return os.path.relpath(p, os.path.dirname(os.path.dirname(os.path.dirname(OUT))))

    fork_gguf_ver = "?"
    try:
        fork_gguf_ver = re.search(r'version = "([^"]+)"', open(os.path.join(a.fork_src, "3rdparty/llama.cpp/gguf-py/pyproject.toml")).read()).group(1)
    except Exception:  # noqa: BLE001
        pass
    prov = {
        "what": "GGUF files written by microsoft/BitNet's own converters and bitnet.cpp's llama-quantize, for a small seeded "
                "BitNetForCausalLM made by transformers; bitnet.cpp's and transformers' logits for fixed token sequences.",
        "sources": {
            "microsoft/BitNet": {"commit": "16da220ae2b510caff437d403288882687f44ae5", "used": "utils/ (converters, preprocess), src/ggml-bitnet-mad.cpp, include/gemm-config.h"},
            "ygqdan/BitNet-linux": {"commit": "6d113cd299af7ab14cb1aaf40d2b507c8cdb5402",
                                   "used": "3rdparty/llama.cpp (Eddie-Wang1120/llama.cpp merge-dev fork, vendored: I2_S = type 36, bitnet-25 / bitnet-b1.58 archs) and its gguf-py; "
                                           "the rest of the tree (CMakeLists.txt, src/CMakeLists.txt); its src/ggml-bitnet-mad.cpp differs from microsoft's HEAD only by a comment line, and microsoft's copy is the one built"},
            "note": "microsoft/BitNet HEAD's .gitmodules points 3rdparty/llama.cpp at isHuangXin/llama.cpp (branch release-bitnet-embedding-0.6b-270m), "
                    "which is not reachable from this sandbox; the BitNet-linux fork's vendored llama.cpp (Eddie-Wang1120 merge-dev, the previous submodule) is used instead.",
        },
        "patches": {
            "scripts/vendor/patches/gguf-py-bitnet-b158-i2s.patch": "fork gguf-py: add MODEL_ARCH.BITNET_B158 = 'bitnet-b1.58' (tensor list copied from BITNET_25) and GGMLQuantizationType.I2_S = 36 with size (1, 1) as in ggml.c; microsoft's HEAD convert-hf-to-gguf-bitnet.py needs both",
            "scripts/vendor/patches/utils-chkhsh-llama-bpe.patch": "microsoft utils/convert-hf-to-gguf-bitnet.py: map this fixture tokenizer's pre-tokenizer hash (chkhsh) to 'llama-bpe', as llama.cpp's convert_hf_to_gguf_update.py would",
            "scripts/vendor/patches/fork-restore-build-info-gen-cpp.patch": "fork: restore common/cmake/build-info-gen-cpp.cmake (absent from the BitNet-linux tree; the build stops without it); build metadata only",
            "scripts/vendor/patches/gemm-config-no-act-parallel.patch": "rows build only: comment out '#define ACT_PARALLEL' in include/gemm-config.h",
        },
        "builds": {
            "common_cmake_flags": "-DCMAKE_BUILD_TYPE=Release -DBITNET_X86_TL2=OFF -DBITNET_ARM_TL1=OFF -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON",
            "x86": "-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON; gemm-config.h as shipped (ACT_PARALLEL defined): I2_S 128-element blocks of 32 bytes",
            "rows": "same flags as x86, ACT_PARALLEL off (patch): I2_S '1x4 rows' layout",
            "arm": "aarch64-linux-gnu-gcc/g++ cross build, -march=armv8.2-a+dotprod+fp16 (C and C++), -fno-tree-vectorize (C++ only: gcc 12.2 ICE in quantize_i2_s otherwise), run with qemu-aarch64 -L /usr/aarch64-linux-gnu; I2_S 64-element blocks of 16 bytes",
            "targets": "llama-quantize, llama, ggml; scripts/vendor/logits_dump.cpp linked against libllama.a + libggml.a (static; -static for arm)",
        },
        "versions": {
            "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__, "numpy": np.__version__,
            "gguf-py": f"BitNet-linux 3rdparty/llama.cpp/gguf-py {fork_gguf_ver} + patch",
            "gcc": sh("gcc --version"), "aarch64-linux-gnu-gcc": sh("aarch64-linux-gnu-gcc --version"),
            "qemu-aarch64": sh("qemu-aarch64 --version"), "cmake": sh("cmake --version"),
            "host": platform.platform(),
        },
        "model": {"maker": "scripts/vendor/make_model.py (transformers BitNetConfig + BitNetForCausalLM, seed 1234)", **{k: meta[k] for k in ["shape", "rope_theta", "bos", "eos", "seed", "tokenizer"]},
                  "config_note": "transformers 5 writes rope_theta only inside rope_parameters; make_model.py adds a top-level rope_theta to config.json (as in microsoft's released config.json) because both vendor converters read config['rope_theta'] and would otherwise write no rope.freq_base (bitnet.cpp then uses 10000)",
                  "hf-bf16": "save_pretrained in bfloat16 (master weights), quantization_config {bitnet, autobitlinear, online}; not committed (2.6 MB) -- regenerate with `scripts/vendor_fixtures.sh model`; sha256 below",
                  "hf-packed": "pack_weights of WeightQuant codes, weight_scale = bf16(1/s) = bf16(mean|W|) multiplies, {bitnet, autobitlinear, offline} (committed under hf-packed/)"},
        "sequences": meta["sequences"],
        "files": {}, "gguf": {}, "agreement": {}, "cross_layout_runs": {}, "commands": [],
    }
    # commands (placeholders for local paths)
    subs = [(W, "$VENDOR_WORK"), (a.bitnet_src, "$BITNET_SRC"), (a.fork_src, "$LLAMA_FORK_SRC"),
            (os.path.dirname(os.path.dirname(os.path.dirname(OUT))), "$REPO"), (sys.executable, "python")]
    subs.sort(key=lambda x: -len(x[0]))  # longest first ($LLAMA_FORK_SRC may extend $BITNET_SRC's path)
    if os.path.exists(os.path.join(W, "commands.log")):
        seen = []
        for line in open(os.path.join(W, "commands.log")):
            line = line.rstrip("\n")[2:]
            for s_, r_ in subs:
                line = line.replace(s_, r_)
            if any(x in line for x in ["convert", "quantize", "preprocess", "make_model", "logits_dump", "cmake", "g++", "patch", "report.py", "cp ", "rsync", "mv "]):
                if line not in seen:
                    seen.append(line)
        prov["commands"] = seen

    makers = {
        "a-hf-bf16.i2_s.gguf": ("path (a)", "$BITNET_SRC/utils/convert-hf-to-gguf-bitnet.py (patched chkhsh) hf-bf16 --outtype i2_s: the converter's own python quantize_to_i2_s (always writes the x86 ACT_PARALLEL layout)", "hf-bf16"),
        "a-hf-packed.i2_s.gguf": ("path (a)", "$BITNET_SRC/utils/convert-hf-to-gguf-bitnet.py (patched chkhsh) hf-packed --outtype i2_s: unpacks the uint8 codes, I2_S scale = weight_scale (override_scale), python quantize_to_i2_s (x86 layout)", "hf-packed"),
        "a-hf-bf16.f32.gguf": ("path (a)", "$BITNET_SRC/utils/convert-hf-to-gguf-bitnet.py hf-bf16 --outtype f32 (projections = WeightQuant'ed floats +-1/s or 0)", "hf-bf16"),
        "a-hf-packed.f32.gguf": ("path (a)", "$BITNET_SRC/utils/convert-hf-to-gguf-bitnet.py hf-packed --outtype f32 (projections = codes / weight_scale: the converter DIVIDES by the multiply-scale)", "hf-packed"),
        "a-hf-bf16.f32-quantize.i2_s.x86.gguf": ("path (a) + quantize", "a-hf-bf16.f32.gguf -> llama-quantize (x86 build) I2_S 1", "hf-bf16"),
        "b-ms.f32.gguf": ("path (b)", "$BITNET_SRC/utils/preprocess-huggingface-bitnet.py then convert-ms-to-gguf-bitnet.py --vocab-type bpe --outtype f32 --concurrency 1 (utils/convert-helper-bitnet.py's sequence)", "hf-bf16"),
        "b-ms.i2_s.x86.gguf": ("path (b)", "b-ms.f32.gguf -> llama-quantize (x86 build, ACT_PARALLEL) I2_S 1", "hf-bf16"),
        "b-ms.i2_s.rows.gguf": ("path (b)", "b-ms.f32.gguf -> llama-quantize (x86 build, ACT_PARALLEL off) I2_S 1", "hf-bf16"),
        "b-ms.i2_s.arm.gguf": ("path (b)", "b-ms.f32.gguf -> llama-quantize (aarch64 build under qemu-aarch64) I2_S 1", "hf-bf16"),
    }
    hf_logits = {v: json.load(open(os.path.join(OUT, "logits", f"hf-{v}.transformers.json"))) for v in ["bf16", "packed"]}
    for path in sorted(glob.glob(os.path.join(W, "gguf", "*.gguf"))):
        name = os.path.basename(path)
        path_kind, maker, src = makers.get(name, ("?", "?", "hf-bf16"))
        info = inspect_gguf(path, ref["bf16"], shape["num_attention_heads"], shape["num_key_value_heads"])
        committed = os.path.exists(os.path.join(OUT, name))
        info.update({"path": path_kind, "maker": maker, "from": src, "sha256": sha256(path), "size": os.path.getsize(path),
                     "committed": committed, "build_for_logits": layout_of(name)})
        basep = os.path.join(W, "gguf", "b-ms.i2_s.x86.gguf")
        if os.path.exists(basep) and path != basep:
            g0, g1 = GGUF(basep), GGUF(path)
            same, diff = [], []
            for tn in g1.order:
                if tn not in g0.tensors:
                    continue
                t1, t0 = g1.tensors[tn], g0.tensors[tn]
                nb = lambda t: (int(np.prod(t["ne"])) // 4 + 32) if t["type"] == 36 else int(np.prod(t["ne"])) * {0: 4, 1: 2}.get(t["type"], 0)
                (same if (t1["type"] == t0["type"] and g1.raw(tn, nb(t1)) == g0.raw(tn, nb(t0))) else diff).append(tn)
            info["tensor_bytes_vs_b-ms.i2_s.x86"] = {"identical": len(same), "different": diff}
        info["logits_committed"] = os.path.exists(os.path.join(OUT, "logits", name.replace(".gguf", ".bitnetcpp.json")))
        prov["gguf"][name] = info
        lj = os.path.join(W, "logits", name.replace(".gguf", ".bitnetcpp.json"))
        if os.path.exists(lj):
            bl = json.load(open(lj))
            assert bl["tokens"] == meta["sequences"]
            prov["agreement"][name] = {"vs_" + k: compare(bl["logits"], hf_logits[k]["logits"]) for k in ["bf16", "packed"]}
            prov["agreement"][name]["reference"] = "vs_" + src.replace("hf-", "")
            prov["agreement"][name]["rope_type_reported_by_llama_rope_type"] = bl.get("rope_type")
            prov["agreement"][name]["desc"] = bl.get("desc")
        sj = os.path.join(W, "logits", name.replace(".gguf", ".bitnetcpp.step.json"))
        if os.path.exists(sj):
            bl = json.load(open(sj))
            k = src.replace("hf-", "")
            prov["agreement"][name + " (--step)"] = {"vs_" + k: compare(bl["logits"], hf_logits[k]["logits"]), "reference": "vs_" + k}
        for cj in sorted(glob.glob(os.path.join(W, "cross", name.replace(".gguf", "") + ".on-*.json"))):
            bl = json.load(open(cj))
            c = compare(bl["logits"], hf_logits[src.replace("hf-", "")]["logits"])
            prov["cross_layout_runs"][os.path.basename(cj)] = {k: c[k] for k in ["max_abs", "q50", "q99", "argmax_agree"]}
    # transformers bf16 vs packed, and bitnet.cpp file vs file
    prov["agreement"]["transformers hf-packed vs hf-bf16"] = compare(hf_logits["packed"]["logits"], hf_logits["bf16"]["logits"])
    bc = {os.path.basename(p).replace(".bitnetcpp.json", "").replace(".bitnetcpp.step.json", " (--step)"): json.load(open(p))["logits"]
          for p in glob.glob(os.path.join(W, "logits", "*.bitnetcpp*.json"))}
    base = "b-ms.i2_s.x86"
    if base in bc:
        prov["bitnetcpp_file_vs_file"] = {f"{k} vs {base}": {kk: v for kk, v in compare(bc[k], bc[base]).items() if kk != "per_sequence"}
                                          for k in sorted(bc) if k != base}
    # arm batch-size probe: which batch sizes give non-finite logits
    for b in ["arm", "x86"]:
        pj = os.path.join(W, f"probe-{b}.json")
        if os.path.exists(pj):
            pr = json.load(open(pj))
            prov.setdefault("batch_size_probe", {})[f"b-ms.i2_s.{b}.gguf on the {b} build"] = {
                str(len(t)): ("non-finite" if any(v is None for row in l for v in row) else "finite") for t, l in zip(pr["tokens"], pr["logits"])}
    # how sharp the fixture is: transformers with W_q/W_k rows llama-permuted (the adjacent-pair RoPE mistake)
    try:
        from transformers import BitNetForCausalLM
        m = BitNetForCausalLM.from_pretrained(os.path.join(W, "model", "hf-bf16"), dtype=torch.float32, attn_implementation="eager").eval()
        with torch.no_grad():
            for layer in m.model.layers:
                layer.self_attn.q_proj.weight.copy_(torch.from_numpy(llama_permute(layer.self_attn.q_proj.weight.numpy(), shape["num_attention_heads"])))
                layer.self_attn.k_proj.weight.copy_(torch.from_numpy(llama_permute(layer.self_attn.k_proj.weight.numpy(), shape["num_key_value_heads"])))
            bad = [m(torch.tensor([sq]), use_cache=False).logits[0].float().numpy() for sq in meta["sequences"]]
        c = compare(bad, hf_logits["bf16"]["logits"])
        prov["sensitivity_qk_permuted_vs_correct_transformers"] = {k: c[k] for k in ["max_abs", "q50", "q90", "q99", "argmax_agree", "min_pearson"]}
    except Exception as e:  # noqa: BLE001
        prov["sensitivity_qk_permuted_vs_correct_transformers"] = repr(e)
    # all committed files
    for p in sorted(glob.glob(os.path.join(OUT, "**", "*"), recursive=True)):
        if os.path.isfile(p) and not p.endswith("provenance.json"):
            prov["files"][os.path.relpath(p, OUT)] = {"sha256": sha256(p), "size": os.path.getsize(p)}
    for v in ["hf-bf16", "hf-packed"]:
        p = os.path.join(W, "model", v, "model.safetensors")
        prov["files"].setdefault(f"(not committed) {v}/model.safetensors" if v == "hf-bf16" else f"{v}/model.safetensors", {"sha256": sha256(p), "size": os.path.getsize(p)})
    # the table
    rows = []
    for name, ag in prov["agreement"].items():
        if name.startswith("transformers"):
            c = ag; refn = "hf-bf16 (transformers hf-packed)"
        else:
            c = ag[ag["reference"]]; refn = "hf-" + ag["reference"][3:]
        rows.append(f"| {name} | {refn} | {c['max_abs']:.4g} | {c['q50']:.3g} | {c['q90']:.3g} | {c['q99']:.3g} | {c['argmax_agree']} | {c['min_pearson']:.5f} | {c['nonfinite_positions']} |")
    table = ("| bitnet.cpp logits of | vs transformers on | max abs diff | p50 | p90 | p99 | argmax agree | min Pearson r (per position) | positions with non-finite logits (excluded) |\n"
             "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows))
    # how weak a test argmax agreement is here: tied embedding + random weights -> the argmax is often the input token
    seqs = meta["sequences"]
    hb = hf_logits["bf16"]["logits"]
    same = sum(int(np.argmax(hb[k][i]) == seqs[k][i]) for k in range(len(seqs)) for i in range(len(seqs[k])))
    prov["argmax_is_input_token_in_transformers_bf16"] = f"{same}/{sum(map(len, seqs))}"
    json.dump(prov, open(os.path.join(OUT, "provenance.json"), "w"), indent=1)
    sens = prov.get("sensitivity_qk_permuted_vs_correct_transformers")
    if isinstance(sens, dict):
        table += (f"\n| (sensitivity) transformers with W_q/W_k llama-permuted | hf-bf16 | {sens['max_abs']:.4g} | {sens['q50']:.3g} | "
                  f"{sens['q90']:.3g} | {sens['q99']:.3g} | {sens['argmax_agree']} | {sens['min_pearson']:.5f} | 0 |")
    table += f"\n\n(transformers' own argmax equals the input token at {same}/{sum(map(len, seqs))} positions: argmax agreement is a weak check on this random model; the Pearson column is the sharper one.)"
    prov["summary_table_markdown"] = table
    json.dump(prov, open(os.path.join(OUT, "provenance.json"), "w"), indent=1)
    open(os.path.join(W, "table.md"), "w").write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
