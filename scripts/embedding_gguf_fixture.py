#!/usr/bin/env python3
"""The GGUF of the BitNet-embedding (Qwen3 body) fixture, written by Microsoft's own converter
(microsoft/BitNet utils/convert-bitnet-embedding-to-gguf.py, 16da220) run on data/fixtures/fam-qwen3-embedding:

    PYTHONPATH=/work/vendor/work/gguf-py TORCHDYNAMO_DISABLE=1 /work/vendor/venv/bin/python \
        scripts/embedding_gguf_fixture.py data/fixtures

Two steps of the converter cannot run on the fixture as it is, and are the only ones replaced:
- its tensor map (lines 62-75) names the per-projection norms `<proj>.norm.weight` (Microsoft's export); the
  fixture, written by transformers, has `<proj>.rms_norm.weight`: the staged copy renames them (values untouched).
- transformers 5 nests rope_theta under rope_parameters; the converter reads the top-level key of the released
  (transformers 4) config.json (line 361), so the staged config.json has it there too.
- the fork's gguf-py has I2_S but not PoolingType.LAST (line 386): upstream's value 3 is supplied.
- set_vocab (174-245) needs a Qwen3 tokenizer whose pre-tokenizer hash it recognises (lines 130-134, "qwen2"),
  which the fixture does not have: the replacement writes the same keys as _set_vocab_bpe (tokenizer.ggml.model
  "gpt2", tokenizer.ggml.pre "qwen2", tokens, token types, merges, eos, add_eos_token = true) over a byte-level
  vocab of the fixture's 512 ids. eos is the config's (2): the converter's 151643 is outside this vocab.
Everything else — metadata (339-392: key/value length, pooling from 1_Pooling, file_type 40), tensor names,
I2_S packing (428-492: per-tensor scale mean|W|, 128-element blocks), f16 norms and embedding, no output.weight —
is the converter's code. gguf-py: /work/vendor/work/gguf-py (the BitNet fork's, which has GGML type I2_S = 36).
Output: fam-qwen3-embedding.i2_s.gguf (+ provenance in fam-embedding-gguf-provenance.json).
"""
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

CONVERTER = "/work/vendor/BitNet/utils/convert-bitnet-embedding-to-gguf.py"


def main():
    out = Path(sys.argv[1])
    src = out / "fam-qwen3-embedding"
    spec = importlib.util.spec_from_file_location("conv", CONVERTER)
    conv = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conv)
    gguf = conv.gguf
    from safetensors.torch import load_file, save_file

    stage = Path(tempfile.mkdtemp()) / "fam-qwen3-embedding"
    stage.mkdir()
    shutil.copy(src / "modules.json", stage / "modules.json")
    # transformers 5 nests rope_theta in rope_parameters; the released model's config.json (transformers 4) has it at
    # the top level, where the converter reads it (line 361): stage it there
    cfg = json.loads((src / "config.json").read_text())
    cfg["rope_theta"] = cfg["rope_parameters"]["rope_theta"]
    (stage / "config.json").write_text(json.dumps(cfg))
    shutil.copytree(src / "1_Pooling", stage / "1_Pooling")
    t = load_file(str(src / "model.safetensors"))
    save_file({k.replace(".rms_norm.weight", ".norm.weight"): v for k, v in t.items()}, str(stage / "model.safetensors"))

    def set_vocab(w, dir_model, hparams, arch):
        # the keys of _set_vocab_bpe (lines 228-245), over a byte-level vocab
        b2u = {}
        n = 0
        for b in range(256):
            if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
                b2u[b] = chr(b)
            else:
                b2u[b] = chr(256 + n)
                n += 1
        toks = [b2u[b] for b in range(256)]
        merges = []
        while len(toks) < hparams["vocab_size"] - 3:
            a, c = toks[len(toks) % 64 + 65], toks[len(toks) % 61 + 97]
            if a + c not in toks:
                merges.append(f"{a} {c}")
                toks.append(a + c)
            else:
                toks.append(f"[PAD{len(toks)}]")
        toks += ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        types = [gguf.TokenType.NORMAL] * (len(toks) - 3) + [gguf.TokenType.CONTROL] * 3
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("qwen2")
        w.add_token_list(toks)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_eos_token_id(hparams["eos_token_id"])
        w.add_bos_token_id(hparams["bos_token_id"])
        w.add_add_eos_token(True)

    conv.set_vocab = set_vocab
    # the fork's gguf-py (which has I2_S) predates PoolingType.LAST, which the converter uses (line 386):
    # upstream gguf-py's values (NONE 0, MEAN 1, CLS 2, LAST 3)
    import enum
    if not hasattr(gguf.PoolingType, "LAST"):
        gguf.PoolingType = enum.IntEnum("PoolingType", {"NONE": 0, "MEAN": 1, "CLS": 2, "LAST": 3})
    dst = out / "fam-qwen3-embedding.i2_s.gguf"
    sys.argv = [CONVERTER, str(stage), "--outtype", "i2_s", "--outfile", str(dst)]
    conv.main()
    prov = {
        "converter": "microsoft/BitNet utils/convert-bitnet-embedding-to-gguf.py",
        "converter_sha256": hashlib.sha256(open(CONVERTER, "rb").read()).hexdigest(),
        "gguf_py": "/work/vendor/work/gguf-py",
        "source": "fam-qwen3-embedding (its .rms_norm.weight renamed .norm.weight)",
        "replaced": "set_vocab: byte-level 512-id vocab, tokenizer.ggml.pre qwen2, eos = config eos_token_id",
        "command": "PYTHONPATH=/work/vendor/work/gguf-py TORCHDYNAMO_DISABLE=1 /work/vendor/venv/bin/python scripts/embedding_gguf_fixture.py data/fixtures",
        "files": {dst.name: {"sha256": hashlib.sha256(dst.read_bytes()).hexdigest(), "bytes": dst.stat().st_size}},
    }
    (out / "fam-embedding-gguf-provenance.json").write_text(json.dumps(prov, indent=1) + "\n")
    shutil.rmtree(stage.parent)


if __name__ == "__main__":
    main()
