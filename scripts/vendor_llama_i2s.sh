#!/usr/bin/env bash
# A llama-architecture I2_S GGUF made by the vendor's own tools, as microsoft/BitNet's setup_env.py makes the
# Falcon3 / HF1BitLLM ones: utils/convert-hf-to-gguf-bitnet.py --outtype f32 (its LlamaModel: unpacks the codes,
# divides by weight_scale — line 810 — and permutes W_q/W_k for llama.cpp's adjacent-pair RoPE — lines 940–956),
# then llama-quantize … I2_S 1 (the x86 build); bitnet.cpp's logits for it by scripts/vendor/logits_dump.cpp.
# The source model is transformers' LlamaForCausalLM with the legacy bitnet quantization_config
# (scripts/vendor/make_llama_model.py, its logits are transformers').
#
#   scripts/vendor_llama_i2s.sh      (after scripts/vendor_fixtures.sh src + build x86 made $VENDOR_WORK)
#
# VENDOR_WORK, VENDOR_PY as in scripts/vendor_fixtures.sh (defaults: ${TMPDIR:-/tmp}/bitnet-lab-vendor,
# $VENDOR_WORK/venv/bin/python). Heavy vendor builds stay out of CI: this script is run by hand.
# Writes data/fixtures/vendor/{hf-llama/, c-llama.i2_s.x86.gguf, logits/c-llama.i2_s.x86.bitnetcpp.json,
# logits/llama.transformers.json, llama-provenance.json}.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/data/fixtures/vendor"
W="${VENDOR_WORK:-${TMPDIR:-/tmp}/bitnet-lab-vendor}"
PY="${VENDOR_PY:-$W/venv/bin/python}"
G="$W/llama"
B="$W/build/x86/bin"
[ -x "$B/llama-quantize" ] && [ -x "$B/logits_dump" ] || { echo "no x86 build in $W: run scripts/vendor_fixtures.sh src && scripts/vendor_fixtures.sh build x86" >&2; exit 1; }
[ -f "$W/utils/convert-hf-to-gguf-bitnet.py" ] || { echo "no patched utils in $W: run scripts/vendor_fixtures.sh src" >&2; exit 1; }
rm -rf "$G"; mkdir -p "$G" "$OUT/logits"
LOG="$G/commands.log"; : > "$LOG"
run() { echo "+ $*" | tee -a "$LOG" >&2; "$@"; }

run env TORCHDYNAMO_DISABLE=1 "$PY" "$ROOT/scripts/vendor/make_llama_model.py" "$G/hf-llama" "$OUT"
run env PYTHONPATH="$W/gguf-py" "$PY" "$W/utils/convert-hf-to-gguf-bitnet.py" "$G/hf-llama" --outtype f32 \
  --outfile "$G/c-llama.f32.gguf" > "$G/convert.log" 2>&1 || { tail -30 "$G/convert.log" >&2; exit 1; }
run "$B/llama-quantize" "$G/c-llama.f32.gguf" "$G/c-llama.i2_s.x86.gguf" I2_S 1 > "$G/quantize.log" 2>&1 \
  || { tail -30 "$G/quantize.log" >&2; exit 1; }
run "$B/logits_dump" "$G/c-llama.i2_s.x86.gguf" "$OUT/sequences.txt" "$G/c-llama.i2_s.x86.bitnetcpp.json" 2> "$G/dump.log"
run "$B/logits_dump" "$G/c-llama.f32.gguf" "$OUT/sequences.txt" "$G/c-llama.f32.bitnetcpp.json" 2> "$G/dump-f32.log"

rm -rf "$OUT/hf-llama"; mkdir -p "$OUT/hf-llama"
cp "$G/hf-llama/"* "$OUT/hf-llama/"
cp "$G/c-llama.i2_s.x86.gguf" "$OUT/"
cp "$G/c-llama.i2_s.x86.bitnetcpp.json" "$OUT/logits/"
"$PY" - "$G" "$OUT" <<'EOF'
import hashlib, json, os, re, sys
g, out = sys.argv[1], sys.argv[2]
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
files = ["c-llama.i2_s.x86.gguf", "logits/c-llama.i2_s.x86.bitnetcpp.json", "logits/llama.transformers.json",
         "hf-llama/model.safetensors", "hf-llama/config.json"]
q = open(os.path.join(g, "quantize.log")).read()
prov = {
    "what": "llama-architecture I2_S GGUF by microsoft/BitNet's convert-hf-to-gguf-bitnet.py (f32) + bitnet.cpp llama-quantize I2_S (x86 build, ACT_PARALLEL layout); bitnet.cpp's logits by logits_dump",
    "source_model": "scripts/vendor/make_llama_model.py: transformers LlamaForCausalLM, quantization_config {quant_method: bitnet} (legacy BitLinear, weight_scale = 1/mean|W| divides), packed by transformers' pack_weights",
    "conventions_in_vendor_source": {
        "divide": "utils/convert-hf-to-gguf-bitnet.py:810 data_torch / scale_map[...] (LlamaModel.write_tensors)",
        "permute": "utils/convert-hf-to-gguf-bitnet.py:940-956 LlamaModel.permute on q_proj (n_head) and k_proj (n_head_kv): rows reordered for adjacent-pair RoPE",
        "rope": "3rdparty/llama.cpp/src/llama.cpp:20089 llama_rope_type: LLM_ARCH_LLAMA -> LLAMA_ROPE_TYPE_NORM (pairs of consecutive values)",
        "setup_env": "setup_env.py:139-147: convert-hf-to-gguf-bitnet.py --outtype f32, then llama-quantize f32 -> I2_S 1 (the Falcon3 / Llama3-8B-1.58 path)",
    },
    "quantize": [l.strip() for l in q.splitlines() if re.search(r"converting to|type =", l)],
    "commands": open(os.path.join(g, "commands.log")).read().splitlines(),
    "sha256": {f: sha(os.path.join(out, f)) for f in files},
    "i2s_layout": "x86 (not recorded in the file: tests pass it, as for the other vendor files)",
}
json.dump(prov, open(os.path.join(out, "llama-provenance.json"), "w"), indent=1)
print("wrote", os.path.join(out, "llama-provenance.json"))
EOF
