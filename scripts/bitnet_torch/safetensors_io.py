"""Safetensors written and read by hand (numpy only), and bf16 bits."""
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



_ST_DTYPES = {"F32": ("<f4", 4), "BF16": ("<u2", 2), "I8": ("i1", 1), "U8": ("u1", 1), "F64": ("<f8", 8), "U16": ("<u2", 2)}


def write_safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw little-endian bytes). Returns the file's bytes."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    pos = 0
    order = sorted(tensors, key=lambda t: -_ST_DTYPES[t[1]][1])
    for name, dt, shape, data in order:
        assert len(data) == int(np.prod(shape)) * _ST_DTYPES[dt][1], name
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [pos, pos + len(data)]}
        pos += len(data)
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    out = io.BytesIO()
    out.write(len(hb).to_bytes(8, "little"))
    out.write(hb)
    for _, _, _, data in order:
        out.write(data)
    return out.getvalue()


def read_safetensors(b):
    """name → numpy array (F32/F64 as float32/float64, BF16 widened to float32, integers as they are)."""
    n = int.from_bytes(b[:8], "little")
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        s, e = t["data_offsets"]
        raw = b[8 + n + s:8 + n + e]
        a = np.frombuffer(raw, dtype=_ST_DTYPES[t["dtype"]][0])
        if t["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = a.reshape(t["shape"])
    return out, meta


def bf16_bits(t):
    """Round-to-nearest-even BF16 bits of a float32 torch tensor, as little-endian bytes."""
    return t.detach().to(torch.bfloat16).view(torch.int16).cpu().numpy().astype("<i2").tobytes()
