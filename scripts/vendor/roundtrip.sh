#!/usr/bin/env bash
# Round trip through the owners' runtimes (issue 20): files written by `bitnet-lab convert` are run by bitnet.cpp
# and by transformers, and their logits compared with those of the vendor-made files of the same weights.
#   VENDOR_WORK=<the vendor_fixtures.sh scratch with its builds> scripts/vendor/roundtrip.sh [OUTDIR]
# Needs: the x86/arm/rows builds (scripts/vendor_fixtures.sh build), a python with transformers ($VENDOR_PY).
# Writes OUTDIR (default $VENDOR_WORK/roundtrip) and data/fixtures/vendor/roundtrip.json (the comparison table).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
W="${VENDOR_WORK:?set VENDOR_WORK to the scratch folder of scripts/vendor_fixtures.sh}"
PY="${VENDOR_PY:-$W/../venv/bin/python}"
[ -x "$PY" ] || PY="$W/venv/bin/python"
O="${1:-$W/roundtrip}"
F="$ROOT/data/fixtures/vendor"
mkdir -p "$O"
cd "$ROOT"
for L in x86 arm rows; do
  node bin/bitnet-lab.js convert "$F/hf-packed" --to gguf --out "$O/ours.$L.gguf" --to-i2s-layout "$L" --force
done
bash scripts/vendor_fixtures.sh run-logits "$O/ours.x86.gguf" "$O/ours.x86.json" --build x86
bash scripts/vendor_fixtures.sh run-logits "$O/ours.x86.gguf" "$O/ours.x86.step.json" --build x86 --step
bash scripts/vendor_fixtures.sh run-logits "$O/ours.arm.gguf" "$O/ours.arm.step.json" --build arm --step
bash scripts/vendor_fixtures.sh run-logits "$O/ours.rows.gguf" "$O/ours.rows.json" --build rows
node bin/bitnet-lab.js convert "$F/b-ms.i2_s.x86.gguf" --i2s-layout x86 --to hf --out "$O/ms-to-hf" --force
"$PY" scripts/vendor/hf_logits.py "$O/ms-to-hf" "$O/ms-to-hf.transformers.json"
python3 scripts/vendor/roundtrip_table.py "$O" > "$F/roundtrip.json"
cat "$F/roundtrip.json"
