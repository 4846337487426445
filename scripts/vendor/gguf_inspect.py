#!/usr/bin/env python3
"""A small GGUF v3 parser (independent of gguf-py) with bitnet.cpp's three I2_S layouts.

    python gguf_inspect.py FILE.gguf [--layout x86|rows|arm]     prints metadata (token arrays summarised) and tensors

I2_S tensor data = n/4 bytes of 2-bit codes (0 -> -1, 1 -> 0, 2 -> +1) followed by 32 bytes whose first 4 are the
float32 scale (one per tensor). Code order (src/ggml-bitnet-mad.cpp quantize_i2_s), on the flat row-major array
(ne0 = input features contiguous):
  x86  (AVX/SSSE3 with ACT_PARALLEL, the default gemm-config.h): 128-element blocks -> 32 bytes; element j of a block
       is in byte j%32 at shift 6-2*(j//32)
  arm  (NEON): 64-element blocks -> 16 bytes; element j in byte j%16 at shift 6-2*(j//16)
  rows (AVX/SSSE3 without ACT_PARALLEL, "1x4"): for each group of 4 rows, one byte per column:
       q(row0)<<6 | q(row1)<<4 | q(row2)<<2 | q(row3)
"""
import struct
import sys

import numpy as np

GGML_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 8: "Q8_0", 14: "Q6_K", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0",
              36: "I2_S", 38: "TL1", 39: "TL2"}
VT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
TOKEN_TYPES = {1: "NORMAL", 2: "UNKNOWN", 3: "CONTROL", 4: "USER_DEFINED", 5: "UNUSED", 6: "BYTE"}


class GGUF:
    def __init__(self, path):
        self.path = path
        self.buf = open(path, "rb").read()
        self.pos = 0
        magic = self.buf[:4]
        assert magic == b"GGUF", magic
        self.pos = 4
        self.version = self._u32()
        nt, nkv = self._u64(), self._u64()
        self.kv, self.kv_types = {}, {}
        for _ in range(nkv):
            k = self._str()
            t = self._u32()
            self.kv[k] = self._val(t)
            self.kv_types[k] = t
        self.tensors = {}
        order = []
        for _ in range(nt):
            name = self._str()
            nd = self._u32()
            ne = [self._u64() for _ in range(nd)]
            typ = self._u32()
            off = self._u64()
            self.tensors[name] = {"ne": ne, "type": typ, "type_name": GGML_TYPES.get(typ, str(typ)), "offset": off}
            order.append(name)
        self.order = order
        align = int(self.kv.get("general.alignment", 32))
        self.data_start = (self.pos + align - 1) // align * align
        offs = sorted((self.tensors[n]["offset"], n) for n in order)
        for i, (o, n) in enumerate(offs):
            end = offs[i + 1][0] if i + 1 < len(offs) else len(self.buf) - self.data_start
            self.tensors[n]["span"] = end - o  # bytes up to the next tensor (includes padding)

    def _u32(self):
        v = struct.unpack_from("<I", self.buf, self.pos)[0]; self.pos += 4; return v

    def _u64(self):
        v = struct.unpack_from("<Q", self.buf, self.pos)[0]; self.pos += 8; return v

    def _str(self):
        n = self._u64(); s = self.buf[self.pos:self.pos + n]; self.pos += n
        return s.decode("utf-8", errors="replace")

    def _val(self, t):
        if t == 8:
            return self._str()
        if t == 9:
            at = self._u32(); n = self._u64()
            return [self._val(at) for _ in range(n)]
        fmt = VT[t]
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]; self.pos += struct.calcsize(fmt)
        return v

    def raw(self, name, nbytes=None):
        t = self.tensors[name]
        o = self.data_start + t["offset"]
        return self.buf[o:o + (nbytes if nbytes is not None else t["span"])]

    def array(self, name, layout="x86"):
        """float32 array shaped [ne1, ne0] (rows x cols) for F32/F16/I2_S; I2_S returns (codes int8, scale)."""
        t = self.tensors[name]
        ne = t["ne"]
        n = int(np.prod(ne))
        shape = tuple(reversed(ne))
        if t["type"] == 0:
            return np.frombuffer(self.raw(name, 4 * n), dtype="<f4").reshape(shape)
        if t["type"] == 1:
            return np.frombuffer(self.raw(name, 2 * n), dtype="<f2").astype(np.float32).reshape(shape)
        if t["type"] == 36:
            codes, scale = decode_i2s(self.raw(name, n // 4 + 32), ne[1] if len(ne) > 1 else 1, ne[0], layout)
            return codes, scale
        raise ValueError(f"type {t['type_name']} not handled")


def decode_i2s(b, nrow, ncol, layout):
    n = nrow * ncol
    q = np.frombuffer(b[:n // 4], dtype=np.uint8)
    scale = float(np.frombuffer(b[n // 4:n // 4 + 4], dtype="<f4")[0])
    if layout == "x86" or layout == "arm":
        blk, width = (128, 32) if layout == "x86" else (64, 16)
        qb = q.reshape(-1, width)  # one block per row
        parts = [(qb >> (6 - 2 * g)) & 3 for g in range(4)]  # group g = elements g*width .. g*width+width-1
        flat = np.concatenate(parts, axis=1).reshape(-1)
        codes = flat.reshape(nrow, ncol)
    elif layout == "rows":
        qb = q.reshape(nrow // 4, ncol)
        codes = np.stack([(qb >> (6 - 2 * r)) & 3 for r in range(4)], axis=1).reshape(nrow, ncol)
    else:
        raise ValueError(layout)
    m = np.array([-1, 0, 1, 0], dtype=np.int8)
    return m[codes], scale


def summary(g):
    kv = {}
    for k, v in g.kv.items():
        if isinstance(v, list) and len(v) > 16:
            kv[k] = {"array_len": len(v), "head": v[:4]}
        else:
            kv[k] = v
    return kv


def main():
    path = sys.argv[1]
    layout = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--layout" else "x86"
    g = GGUF(path)
    print(f"GGUF v{g.version} {path}")
    for k, v in summary(g).items():
        print(f"  {k} = {v!r}"[:200])
    toks, types = g.kv.get("tokenizer.ggml.tokens"), g.kv.get("tokenizer.ggml.token_type")
    for key in ["tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"]:
        if key in g.kv and toks:
            i = g.kv[key]
            print(f"  {key}: {i} {toks[i]!r} type={TOKEN_TYPES.get(types[i], types[i]) if types else None}")
    for n in g.order:
        t = g.tensors[n]
        extra = ""
        if t["type"] == 36:
            codes, scale = g.array(n, layout)
            extra = f" scale={scale:.9g} codes(-1,0,1)={[(codes == c).sum() for c in (-1, 0, 1)]}"
        print(f"  {n:28s} {t['type_name']:5s} ne={t['ne']} off={t['offset']} span={t['span']}{extra}")


if __name__ == "__main__":
    main()
