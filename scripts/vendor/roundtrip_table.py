#!/usr/bin/env python3
"""The round-trip comparison table (scripts/vendor/roundtrip.sh) as JSON on stdout."""
import json
import os
import sys

O = sys.argv[1]
V = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../data/fixtures/vendor/logits")


def load(p):
    return json.load(open(p))["logits"]


def cmp(a, b):
    d, agree, n, nan = [], 0, 0, 0
    for s in range(len(a)):
        for p in range(len(a[s])):
            x, y = a[s][p], b[s][p]
            if None in x or None in y:
                nan += 1
                continue
            d.extend(abs(u - v) for u, v in zip(x, y))
            agree += x.index(max(x)) == y.index(max(y))
            n += 1
    d.sort()
    q = lambda f: d[min(len(d) - 1, int(f * len(d)))] if d else None  # noqa: E731
    return {"max": d[-1] if d else None, "p50": q(0.5), "p99": q(0.99), "argmax": f"{agree}/{n}", "non_finite_positions": nan}


rows = [
    ("bitnet-lab convert --to gguf (x86) run by bitnet.cpp x86", "ours.x86.json", "vendor a-hf-packed.i2_s run by bitnet.cpp x86 (same weights)", f"{V}/a-hf-packed.i2_s.bitnetcpp.json"),
    ("bitnet-lab convert --to gguf (x86) run by bitnet.cpp x86", "ours.x86.json", "transformers hf-packed", f"{V}/hf-packed.transformers.json"),
    ("bitnet-lab convert --to gguf (arm) run by bitnet.cpp aarch64 (qemu), one token per decode", "ours.arm.step.json", "transformers hf-packed", f"{V}/hf-packed.transformers.json"),
    ("bitnet-lab convert --to gguf (arm), aarch64 build", "ours.arm.step.json", "the same weights as x86 run by the x86 build (one token per decode)", "ours.x86.step.json"),
    ("vendor b-ms.i2_s.arm, aarch64 build (for scale)", f"{V}/b-ms.i2_s.arm.bitnetcpp.step.json", "vendor b-ms.i2_s.x86, x86 build", f"{V}/b-ms.i2_s.x86.bitnetcpp.step.json"),
    ("bitnet-lab convert --to gguf (rows) run by bitnet.cpp's rows build", "ours.rows.json", "transformers hf-packed", f"{V}/hf-packed.transformers.json"),
    ("vendor b-ms.i2_s.rows run by bitnet.cpp's rows build (for scale: that build is broken)", f"{V}/b-ms.i2_s.rows.bitnetcpp.json", "transformers hf-bf16", f"{V}/hf-bf16.transformers.json"),
    ("bitnet-lab convert --to hf of vendor b-ms.i2_s.x86, run by transformers", "ms-to-hf.transformers.json", "transformers hf-bf16 (the weights b-ms was made from)", f"{V}/hf-bf16.transformers.json"),
]
out = []
for what, a, against, b in rows:
    pa = a if os.path.isabs(a) else os.path.join(O, a)
    pb = b if os.path.isabs(b) else os.path.join(O, b)
    out.append({"logits_of": what, "against": against, **cmp(load(pa), load(pb))})
print(json.dumps({"command": "VENDOR_WORK=/work/vendor/work scripts/vendor/roundtrip.sh", "rows": out}, indent=1))
