#!/usr/bin/env python3
"""transformers' logits for a BitNet folder on data/fixtures/vendor/sequences.json: the owner's runtime reading a
folder that `bitnet-lab convert --to hf` wrote.   python3 scripts/vendor/hf_logits.py FOLDER OUT.json"""
import json
import os
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
sys.path.insert(0, os.path.dirname(__file__))
from make_model import logits_of  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
seqs = json.load(open(os.path.join(here, "../../data/fixtures/vendor/sequences.json")))["sequences"]
res = logits_of(sys.argv[1], seqs)
import transformers, torch  # noqa: E402,E401
res.update(transformers=transformers.__version__, torch=torch.__version__, maker=f"transformers BitNetForCausalLM.from_pretrained({sys.argv[1]})")
json.dump(res, open(sys.argv[2], "w"))
print("wrote", sys.argv[2], res["linear_class"])
