#!/usr/bin/env bash
# Vendor-made BitNet fixtures: GGUF files written by microsoft/BitNet's own converters and quantizer, and
# logits computed by bitnet.cpp itself and by transformers, for a small seeded BitNetForCausalLM.
#
#   BITNET_SRC=/path/to/microsoft-BitNet LLAMA_FORK_SRC=/path/to/BitNet-linux \
#     scripts/vendor_fixtures.sh [all|src|build|model|convert|logits|hf-logits|report] ...
#   scripts/vendor_fixtures.sh run-logits FILE.gguf OUT.json [--build x86|rows|arm] [--seqs SEQS.txt] [--step]
#
# BITNET_SRC     microsoft/BitNet at $BITNET_COMMIT (utils/ converters, src/ggml-bitnet-mad.cpp, include/gemm-config.h)
# LLAMA_FORK_SRC ygqdan/BitNet-linux at $FORK_COMMIT: the BitNet tree with the llama.cpp fork vendored in
#                3rdparty/llama.cpp (microsoft's own submodule points at a fork branch not reachable here).
#                Its gguf-py (patched, see scripts/vendor/patches/) is what the converters import.
# Either one unset: the pinned commit is git-cloned from GitHub into $VENDOR_WORK.
# VENDOR_WORK    scratch (sources, builds, venv, big intermediates); default ${TMPDIR:-/tmp}/bitnet-lab-vendor
# VENDOR_PY      python with torch, transformers, accelerate, safetensors, sentencepiece, tokenizers, numpy
#                (default: $VENDOR_WORK/venv/bin/python, created with `python3 -m venv` + pip if missing)
# JOBS           build parallelism (default 2; builds run under nice -n 10)
# Stages:
#   src       copy the trees into $VENDOR_WORK/src/{act,rows}, overlay microsoft's ggml-bitnet-mad.cpp and
#             gemm-config.h, apply patches (rows: ACT_PARALLEL off), make the patched gguf-py
#   build     [x86|rows|arm ...] llama-quantize + logits_dump (scripts/vendor/logits_dump.cpp) per build:
#             x86 = AVX2 build, ACT_PARALLEL on (default layout); rows = AVX2 build, ACT_PARALLEL off;
#             arm = aarch64 cross build (aarch64-linux-gnu-g++), run under qemu-aarch64
#   model     the transformers model, tokenizer, and transformers' logits (scripts/vendor/make_model.py)
#   convert   GGUFs by both vendor converter paths (+ llama-quantize for each layout)
#   logits    bitnet.cpp's logits on every GGUF with the build matching its layout
#   report    provenance.json + summary table (scripts/vendor/report.py)
#   run-logits FILE.gguf OUT.json [--build B] [--seqs F] [--step]: bitnet.cpp's logits for any GGUF (default build
#             from the name: *.arm.gguf -> arm, *.rows.gguf -> rows, else x86; default SEQS: data/fixtures/vendor/
#             sequences.txt; --step: one llama_decode per token instead of one per sequence)
set -euo pipefail

BITNET_COMMIT=16da220ae2b510caff437d403288882687f44ae5
FORK_COMMIT=6d113cd299af7ab14cb1aaf40d2b507c8cdb5402
COMMIT_GGUF="a-hf-bf16.i2_s a-hf-packed.i2_s b-ms.i2_s.x86 b-ms.i2_s.rows b-ms.i2_s.arm"
COMMIT_LOGITS="a-hf-bf16.i2_s.bitnetcpp a-hf-packed.i2_s.bitnetcpp b-ms.i2_s.x86.bitnetcpp b-ms.i2_s.rows.bitnetcpp
  b-ms.i2_s.arm.bitnetcpp b-ms.i2_s.x86.bitnetcpp.step b-ms.i2_s.arm.bitnetcpp.step b-ms.f32.bitnetcpp"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/vendor"
OUT="$ROOT/data/fixtures/vendor"
W="${VENDOR_WORK:-${TMPDIR:-/tmp}/bitnet-lab-vendor}"
JOBS="${JOBS:-2}"
mkdir -p "$W"
W="$(cd "$W" && pwd)"
LOG="$W/commands.log"

log() { echo "+ $*" | tee -a "$LOG" >&2; }
run() { log "$@"; "$@"; }

ensure_sources() {
  if [ -z "${BITNET_SRC:-}" ]; then
    BITNET_SRC="$W/upstream/BitNet"
    if [ ! -d "$BITNET_SRC" ]; then
      run git clone https://github.com/microsoft/BitNet "$BITNET_SRC"
      run git -C "$BITNET_SRC" checkout "$BITNET_COMMIT"
    fi
  fi
  if [ -z "${LLAMA_FORK_SRC:-}" ]; then
    LLAMA_FORK_SRC="$W/upstream/BitNet-linux"
    if [ ! -d "$LLAMA_FORK_SRC" ]; then
      run git clone https://github.com/ygqdan/BitNet-linux "$LLAMA_FORK_SRC"
      run git -C "$LLAMA_FORK_SRC" checkout "$FORK_COMMIT"
      run git -C "$LLAMA_FORK_SRC" submodule update --init --recursive || true
    fi
  fi
  BITNET_SRC="$(cd "$BITNET_SRC" && pwd)"; LLAMA_FORK_SRC="$(cd "$LLAMA_FORK_SRC" && pwd)"
  export BITNET_SRC LLAMA_FORK_SRC
  [ -f "$LLAMA_FORK_SRC/3rdparty/llama.cpp/include/llama.h" ] || { echo "no llama.cpp fork in $LLAMA_FORK_SRC/3rdparty/llama.cpp" >&2; exit 1; }
  [ -f "$BITNET_SRC/utils/convert-hf-to-gguf-bitnet.py" ] || { echo "no microsoft/BitNet utils in $BITNET_SRC" >&2; exit 1; }
}

ensure_py() {
  if [ -n "${VENDOR_PY:-}" ]; then PY="$VENDOR_PY"; return; fi
  PY="$W/venv/bin/python"
  if [ ! -x "$PY" ]; then
    run python3 -m venv "$W/venv"
    run "$W/venv/bin/pip" install torch transformers==5.17.0 accelerate safetensors sentencepiece tokenizers numpy
  fi
}

stage_src() {
  ensure_sources
  : > "$LOG"  # a regeneration starts here: provenance.json records the commands from this point on
  rm -rf "$W/src"; mkdir -p "$W/src"
  for v in act rows; do
    run rsync -a --exclude '/build*' --exclude '.git' "$LLAMA_FORK_SRC/" "$W/src/$v/"
    # the BitNet-owned I2_S kernel + its config come from microsoft/BitNet itself
    run cp -p "$BITNET_SRC/src/ggml-bitnet-mad.cpp" "$W/src/$v/src/ggml-bitnet-mad.cpp"
    run cp -p "$BITNET_SRC/include/gemm-config.h" "$W/src/$v/include/gemm-config.h"
    [ -f "$W/src/$v/3rdparty/llama.cpp/common/cmake/build-info-gen-cpp.cmake" ] || \
      run patch -d "$W/src/$v" -p1 -i "$HERE/patches/fork-restore-build-info-gen-cpp.patch"
  done
  run patch -d "$W/src/rows" -p1 -i "$HERE/patches/gemm-config-no-act-parallel.patch"
  # gguf-py: the fork's, plus what microsoft's HEAD converter expects (bitnet-b1.58 arch, I2_S = 36)
  rm -rf "$W/gguf-py"
  run cp -r "$LLAMA_FORK_SRC/3rdparty/llama.cpp/gguf-py" "$W/gguf-py"
  run patch -d "$W/gguf-py" -p1 -i "$HERE/patches/gguf-py-bitnet-b158-i2s.patch"
  # converters: microsoft's utils/ (patched copy: chkhsh of our tokenizer -> llama-bpe)
  rm -rf "$W/utils"
  run cp -r "$BITNET_SRC/utils" "$W/utils"
  for p in "$HERE"/patches/utils-*.patch; do [ -f "$p" ] && run patch -d "$W/utils" -p1 -i "$p"; done
  true
}

cmake_common=(-DCMAKE_BUILD_TYPE=Release -DBITNET_X86_TL2=OFF -DBITNET_ARM_TL1=OFF -DBUILD_SHARED_LIBS=OFF
  -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON)

build_one() {
  local b="$1" src bdir cxx flags=()
  case "$b" in
    x86)  src="$W/src/act";  flags=(-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON) ; cxx=g++ ;;
    rows) src="$W/src/rows"; flags=(-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON) ; cxx=g++ ;;
    arm)  src="$W/src/act";  cxx=aarch64-linux-gnu-g++
          flags=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64
                 -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++
                 "-DCMAKE_C_FLAGS=-march=armv8.2-a+dotprod+fp16"
                 # -fno-tree-vectorize: Debian 12's aarch64-linux-gnu-g++ 12.2 dies with an internal compiler error
                 # (vect_transform_reduction) on quantize_i2_s in ggml-bitnet-mad.cpp otherwise
                 "-DCMAKE_CXX_FLAGS=-march=armv8.2-a+dotprod+fp16 -fno-tree-vectorize") ;;
    *) echo "unknown build $b" >&2; exit 2 ;;
  esac
  bdir="$W/build/$b"
  run cmake -S "$src" -B "$bdir" "${cmake_common[@]}" "${flags[@]}" > "$W/cmake-$b.log"
  run nice -n 10 cmake --build "$bdir" --target llama-quantize llama ggml -j"$JOBS" > "$W/build-$b.log" 2>&1 \
    || { tail -40 "$W/build-$b.log" >&2; exit 1; }
  local lg=(); [ "$b" = arm ] || lg=(-lpthread)
  run nice -n 10 $cxx -O2 -std=c++17 $( [ "$b" = arm ] && echo "-march=armv8.2-a+dotprod+fp16 -static" ) \
    -I"$src/3rdparty/llama.cpp/include" -I"$src/3rdparty/llama.cpp/ggml/include" \
    "$HERE/logits_dump.cpp" -o "$bdir/bin/logits_dump" \
    $(find "$bdir" -name libllama.a | head -1) $(find "$bdir" -name 'libggml*.a' | sort) -lpthread -lm
  if [ "$b" = arm ]; then run file "$bdir/bin/llama-quantize" "$bdir/bin/logits_dump"; fi
}

stage_build() {
  [ -d "$W/src/act" ] || stage_src
  local bs=("$@"); [ ${#bs[@]} -gt 0 ] || bs=(x86 rows arm)
  for b in "${bs[@]}"; do build_one "$b"; done
}

# run a vendor binary of build B (qemu for arm)
vbin() {
  local b="$1" exe="$2"; shift 2
  if [ "$b" = arm ]; then run qemu-aarch64 -L /usr/aarch64-linux-gnu "$W/build/arm/bin/$exe" "$@"
  else run "$W/build/$b/bin/$exe" "$@"; fi
}

stage_model() {
  ensure_py
  mkdir -p "$W/model"
  run env TORCHDYNAMO_DISABLE=1 "$PY" "$HERE/make_model.py" "$W/model" "$OUT"
  # committed: hf-packed whole (0.6 MB); hf-bf16 without its 2.6 MB safetensors (regenerated by this stage, sha256 in provenance)
  rm -rf "$OUT/hf-packed" "$OUT/hf-bf16"; mkdir -p "$OUT/hf-packed" "$OUT/hf-bf16"
  cp "$W/model/hf-packed/"* "$OUT/hf-packed/"
  cp "$W/model/hf-bf16/config.json" "$W/model/hf-bf16/tokenizer.json" "$W/model/hf-bf16/tokenizer_config.json" "$OUT/hf-bf16/"
}

stage_convert() {
  ensure_py; [ -d "$W/utils" ] || stage_src
  local M="$W/model" G="$W/gguf"
  rm -rf "$G"; mkdir -p "$G" "$OUT"
  export PYTHONPATH="$W/gguf-py"
  # path (a): microsoft's HEAD convert-hf-to-gguf-bitnet.py, its own python I2_S writer, on both HF folders
  for v in bf16 packed; do
    run "$PY" "$W/utils/convert-hf-to-gguf-bitnet.py" "$M/hf-$v" --outtype i2_s --outfile "$G/a-hf-$v.i2_s.gguf" > "$G/a-hf-$v.i2_s.log" 2>&1 \
      || { tail -30 "$G/a-hf-$v.i2_s.log" >&2; echo "path (a) on hf-$v failed" >&2; }
    run "$PY" "$W/utils/convert-hf-to-gguf-bitnet.py" "$M/hf-$v" --outtype f32 --outfile "$G/a-hf-$v.f32.gguf" > "$G/a-hf-$v.f32.log" 2>&1 \
      || { tail -30 "$G/a-hf-$v.f32.log" >&2; echo "path (a) f32 on hf-$v failed" >&2; }
  done
  # path (b): utils/convert-helper-bitnet.py's sequence, step by step, on the bf16 master weights:
  # preprocess-huggingface-bitnet.py -> convert-ms-to-gguf-bitnet.py --vocab-type bpe --outtype f32 -> llama-quantize I2_S 1
  # (convert-ms-to-gguf-bitnet.py names the model after the model folder's parent: keep that name fixed)
  local MS="$W/ms/bitnet-lab-tiny/hf-bf16"
  rm -rf "$W/ms"; mkdir -p "$(dirname "$MS")"; cp -r "$M/hf-bf16" "$MS"
  run mv "$MS/model.safetensors" "$MS/model.safetensors.backup"
  run "$PY" "$W/utils/preprocess-huggingface-bitnet.py" --input "$MS/model.safetensors.backup" --output "$MS/model.safetensors" > "$G/b-preprocess.log" 2>&1
  rm -f "$MS/model.safetensors.backup"
  run "$PY" "$W/utils/convert-ms-to-gguf-bitnet.py" "$MS" --vocab-type bpe --outtype f32 --concurrency 1 --outfile "$G/b-ms.f32.gguf" > "$G/b-convert.log" 2>&1 \
    || { tail -30 "$G/b-convert.log" >&2; exit 1; }
  for b in x86 rows arm; do
    [ -x "$W/build/$b/bin/llama-quantize" ] || { echo "no $b build; skipping its quantize" >&2; continue; }
    vbin "$b" llama-quantize "$G/b-ms.f32.gguf" "$G/b-ms.i2_s.$b.gguf" I2_S 1 > "$G/b-quantize-$b.log" 2>&1 \
      || { tail -20 "$G/b-quantize-$b.log" >&2; echo "quantize ($b) failed" >&2; }
    # and the vendor quantizer on path (a)'s f32 output too (x86 only: the layouts are shown by path (b))
    if [ "$b" = x86 ]; then
      vbin "$b" llama-quantize "$G/a-hf-bf16.f32.gguf" "$G/a-hf-bf16.f32-quantize.i2_s.$b.gguf" I2_S 1 > "$G/a-quantize-$b.log" 2>&1 \
        || { tail -20 "$G/a-quantize-$b.log" >&2; echo "quantize a ($b) failed" >&2; }
    fi
  done
  # into the repo: the I2_S files of both paths and all three layouts (the f32 GGUFs are 5 MB each and stay in
  # $VENDOR_WORK; a-hf-bf16.f32-quantize.i2_s.x86.gguf too: its tensors are byte-identical to b-ms.i2_s.x86.gguf's)
  for n in $COMMIT_GGUF; do [ -f "$G/$n.gguf" ] && cp "$G/$n.gguf" "$OUT/"; done
  cp "$G"/*.log "$W/" 2>/dev/null || true
}

build_of() {  # which build matches a gguf's I2_S layout, from its file name
  case "$1" in *.arm.gguf) echo arm ;; *.rows.gguf) echo rows ;; *) echo x86 ;; esac
}

run_logits() {
  local f="$1" o="$2" b="" seqs="$OUT/sequences.txt" step=(); shift 2
  while [ $# -gt 0 ]; do case "$1" in --build) b="$2"; shift 2 ;; --seqs) seqs="$2"; shift 2 ;; --step) step=(--step); shift ;;
    *) echo "bad arg $1" >&2; exit 2 ;; esac; done
  [ -n "$b" ] || b="$(build_of "$f")"
  [ -x "$W/build/$b/bin/logits_dump" ] || { [ -d "$W/src/act" ] || { ensure_sources; stage_src; }; stage_build "$b"; }
  mkdir -p "$W/logs"; local el="$W/logs/$(basename "$o").stderr.log"
  vbin "$b" logits_dump "$f" "$seqs" "$o" "${step[@]}" 2> "$el" || { tail -30 "$el" >&2; return 1; }
  echo "wrote $o (build $b)" >&2
}

stage_logits() {
  mkdir -p "$OUT/logits"; rm -rf "$W/logits"; mkdir -p "$W/logits"
  for f in "$W"/gguf/*.gguf; do
    local n; n="$(basename "$f" .gguf)"
    run_logits "$f" "$W/logits/$n.bitnetcpp.json" --build "$(build_of "$f")" || echo "FAILED: $n" >&2
  done
  # one llama_decode per token (the generation kernels), for path (b)'s three layouts
  for f in "$W"/gguf/b-ms.i2_s.*.gguf; do
    run_logits "$f" "$W/logits/$(basename "$f" .gguf).bitnetcpp.step.json" --step || echo "FAILED (step): $f" >&2
  done
  # batch-size probe on the arm build: prefixes of the third sequence, each decoded as one batch
  if [ -x "$W/build/arm/bin/logits_dump" ] && [ -f "$W/gguf/b-ms.i2_s.arm.gguf" ]; then
    local s3; s3="$(sed -n 3p "$OUT/sequences.txt")"; : > "$W/probe-lens.txt"
    for n in 2 4 6 8 10 11 12 13 14 15 16 17 18 19 20 21; do echo "$s3" | cut -d' ' -f1-$n >> "$W/probe-lens.txt"; done
    run_logits "$W/gguf/b-ms.i2_s.arm.gguf" "$W/probe-arm.json" --build arm --seqs "$W/probe-lens.txt" || true
    run_logits "$W/gguf/b-ms.i2_s.x86.gguf" "$W/probe-x86.json" --build x86 --seqs "$W/probe-lens.txt" || true
  fi
  for n in $COMMIT_LOGITS; do [ -f "$W/logits/$n.json" ] && cp "$W/logits/$n.json" "$OUT/logits/"; done
  # each I2_S layout is only meaningful to the build that wrote it; cross-runs are recorded as what they give
  mkdir -p "$W/cross"
  for f in "$W"/gguf/*.i2_s*.gguf; do
    for b in x86 rows arm; do
      [ "$b" = "$(build_of "$f")" ] && continue
      [ -x "$W/build/$b/bin/logits_dump" ] || continue
      run_logits "$f" "$W/cross/$(basename "$f" .gguf).on-$b.json" --build "$b" || echo "cross-run FAILED: $f on $b" >&2
    done
  done
}

stage_report() {
  ensure_py
  run env PYTHONPATH="$W/gguf-py" "$PY" "$HERE/report.py" --work "$W" --out "$OUT" --bitnet-src "$BITNET_SRC" --fork-src "$LLAMA_FORK_SRC"
}

cmd="${1:-all}"; shift || true
case "$cmd" in
  src) stage_src ;;
  build) ensure_sources; stage_build "$@" ;;
  model) stage_model ;;
  convert) ensure_sources; stage_convert ;;
  logits) stage_logits ;;
  report) ensure_sources; stage_report ;;
  run-logits) run_logits "$@" ;;
  all) stage_src; stage_build x86 rows arm; stage_model; stage_convert; stage_logits; stage_report ;;
  *) echo "unknown stage $cmd" >&2; exit 2 ;;
esac
