#!/usr/bin/env python3
"""A small seeded BitNet b1.58 (2B4T structure) written by transformers, a byte-level BPE tokenizer for it, the
fixed token sequences, and transformers' logits for them.

    TORCHDYNAMO_DISABLE=1 python make_model.py WORKDIR FIXTURE_OUT

WORKDIR/hf-bf16/    BitNetForCausalLM.save_pretrained in bfloat16 (master weights); config.json given
                    quantization_config {bitnet, autobitlinear, online} like microsoft/bitnet-b1.58-2B-4T-bf16.
WORKDIR/hf-packed/  transformers.integrations.bitnet.pack_weights of the codes WeightQuant computes from the
                    master weights; weight_scale = mean|W| (bf16, multiplies); {bitnet, autobitlinear, offline}
                    like microsoft/bitnet-b1.58-2B-4T.
Both folders carry the tokenizer (tokenizer.json + tokenizer_config.json, PreTrainedTokenizerFast).
FIXTURE_OUT/tokenizer.json (trained here only if absent), FIXTURE_OUT/sequences.txt|json, FIXTURE_OUT/logits/hf-{bf16,packed}.transformers.json (float32, eager, CPU),
FIXTURE_OUT/model-meta.json (versions, scales, config choices).

Shape: 2 layers, hidden 256, FFN 512 (ReLU^2), 4 heads / 2 KV heads (head 64), vocab 512 (510 BPE + BOS + EOS),
tied embedding, sub-norms, rope_theta 500000. Weights: N(0,1)/sqrt(fan_in) projections, 0.5*N(0,1) embedding,
1+0.1*N(0,1) norms except sub-norms 3*(1+0.1*N(0,1)) (seed 1234); otherwise as scripts/hf_fixtures.py does.
"""
import json
import os
import shutil
import sys

os.environ.setdefault("TORCHDYNAMO_DISABLE", "1")
import torch  # noqa: E402

VOCAB = 512
BOS, EOS = 510, 511
SHAPE = dict(vocab_size=VOCAB, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, hidden_act="relu2",
             tie_word_embeddings=True, bos_token_id=BOS, eos_token_id=EOS)
ROPE_THETA = 500000.0
PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
LLAMA3_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
                "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
CORPUS = """The state of the Union is strong. Ternary weights take the values minus one, zero and plus one.
BitNet b1.58 quantizes every linear layer of the transformer to ternary weights and 8-bit activations.
The model reads the prompt, computes attention over the previous tokens and predicts the next token.
Hello world! It's a small model, it's not a large one; they're tests, we've written them, I'm sure.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 12 123 1234 12345 3.14159 2.71828 1000000.
The quick brown fox jumps over the lazy dog. A rotary position embedding rotates pairs of dimensions.
Weights are packed four to a byte; the scale is the mean absolute value of the master weights.
"""
TEXTS = ["The state of the Union is strong.",
         "Hello world! It's 12345 tokens of ternary weights, packed four to a byte."]


def r9(x):
    if isinstance(x, list):
        return [r9(v) for v in x]
    return float("%.9g" % x)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def make_tokenizer():
    from tokenizers import Tokenizer, Regex, models, pre_tokenizers, decoders, processors, trainers
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - 2, min_frequency=1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator([CORPUS] * 4, trainer=trainer)
    assert tok.get_vocab_size() == VOCAB - 2, tok.get_vocab_size()
    tok.add_special_tokens(["<|begin_of_text|>", "<|end_of_text|>"])
    assert tok.token_to_id("<|begin_of_text|>") == BOS and tok.token_to_id("<|end_of_text|>") == EOS
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", BOS)])])
    return tok


def save_tokenizer(tok, d):
    from transformers import PreTrainedTokenizerFast
    t = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>")
    t.save_pretrained(d)
    return t


def logits_of(path, sequences):
    from transformers import BitNetForCausalLM
    model = BitNetForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval().to("cpu")
    q = model.model.layers[0].self_attn.q_proj
    res = {"linear_class": type(q).__name__}
    ws = getattr(q, "weight_scale", None)
    if ws is not None:
        res["q_proj_weight_scale"] = r9(ws.float().flatten().tolist())
    res["rope"] = {k: (float(v) if isinstance(v, (int, float)) else v) for k, v in
                   (getattr(model.config, "rope_parameters", None) or {}).items()}
    with torch.no_grad():
        res["logits"] = [r9(model(torch.tensor([s]), use_cache=False).logits[0].float().tolist()) for s in sequences]
    res["tokens"] = sequences
    return res


def main():
    import transformers
    from transformers import BitNetConfig, BitNetForCausalLM
    from safetensors.torch import save_file
    from transformers.integrations.bitnet import pack_weights
    work, out = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    os.makedirs(os.path.join(out, "logits"), exist_ok=True)
    meta = {"transformers": transformers.__version__, "torch": torch.__version__, "seed": 1234, "shape": SHAPE,
            "rope_theta": ROPE_THETA, "bos": BOS, "eos": EOS}

    # the committed tokenizer is the fixture's source of truth (its chkhsh is patched into the converter);
    # it is trained afresh only when absent
    from tokenizers import Tokenizer
    tpath = os.path.join(out, "tokenizer.json")
    if os.path.exists(tpath):
        tok = Tokenizer.from_file(tpath)
        meta["tokenizer"] = "loaded from " + os.path.relpath(tpath, out)
    else:
        tok = make_tokenizer()
        tok.save(tpath)
        meta["tokenizer"] = "trained by make_tokenizer() (tokenizers BpeTrainer on CORPUS)"
    enc = [tok.encode(t).ids for t in TEXTS]
    sequences = [enc[0], [BOS, 5, 77, 200, 299, 42, 8, 150, 0, 13, 509, 3, 3, 3, 255, EOS], enc[1]]
    for s in sequences:
        assert s[0] == BOS and len(s) >= 10 and max(s) < VOCAB, s
    meta["texts"] = TEXTS
    meta["sequences"] = sequences
    write_json(os.path.join(out, "sequences.json"), {"sequences": sequences, "texts": [TEXTS[0], None, TEXTS[1]],
                                                    "bos": BOS, "eos": EOS, "vocab_size": VOCAB})
    with open(os.path.join(out, "sequences.txt"), "w") as f:
        f.write("".join(" ".join(map(str, s)) + "\n" for s in sequences))

    torch.manual_seed(1234)
    cfg = BitNetConfig(**SHAPE, rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA})
    model = BitNetForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                # sub-norm weights ~3: the layers, not the tied embedding's self-similarity, then decide the argmax
                # (with ~1 the argmax is the input token at every position, which makes argmax checks empty)
                p.copy_((3.0 if "sub_norm" in name else 1.0) * (1 + 0.1 * torch.randn_like(p)))
            elif "embed_tokens" in name:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
    model = model.to(torch.bfloat16)
    bf16_dir = os.path.join(work, "hf-bf16")
    shutil.rmtree(bf16_dir, ignore_errors=True)
    model.save_pretrained(bf16_dir, safe_serialization=True)
    cpath = os.path.join(bf16_dir, "config.json")
    with open(cpath) as f:
        config = json.load(f)
    meta["config_as_saved_by_transformers"] = dict(config)
    # transformers 5 writes rope_theta only inside rope_parameters; the vendor converters read config["rope_theta"]
    # (as in microsoft's released config.json, written by transformers 4.x). Add the top-level key too.
    config["rope_theta"] = ROPE_THETA
    config["quantization_config"] = {"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "online"}
    write_json(cpath, config)
    for fn in os.listdir(bf16_dir):
        if fn.startswith("generation_config"):
            os.remove(os.path.join(bf16_dir, fn))
    save_tokenizer(tok, bf16_dir)

    sd = {k: v.detach().clone() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    d = os.path.join(work, "hf-packed")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    psd, scales = {}, {}
    for k, v in sd.items():
        if any(k.endswith(f"{p}.weight") for p in PROJ):
            w = v.float()
            s = 1.0 / w.abs().mean().clamp_(min=1e-5)  # transformers' WeightQuant
            codes = (w * s).round().clamp(-1, 1)
            psd[k] = pack_weights(codes.clone().to(torch.int8)).contiguous()
            psd[k.replace(".weight", ".weight_scale")] = (1.0 / s).reshape(1).to(torch.bfloat16)
            scales[k] = {"mean_abs_f32": float(w.abs().mean()), "one_over_s_f32": float(1.0 / s),
                         "weight_scale_bf16": float((1.0 / s).to(torch.bfloat16))}
        else:
            psd[k] = v.contiguous()
    save_file(psd, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    c2 = dict(config)
    c2["quantization_config"] = {"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "offline"}
    write_json(os.path.join(d, "config.json"), c2)
    save_tokenizer(tok, d)
    meta["scales"] = scales

    for name in ["hf-bf16", "hf-packed"]:
        r = logits_of(os.path.join(work, name), sequences)
        r.update({k: meta[k] for k in ["transformers", "torch"]})
        r["maker"] = "transformers BitNetForCausalLM.from_pretrained(dtype=float32, attn_implementation='eager'), CPU"
        write_json(os.path.join(out, "logits", f"{name}.transformers.json"), r)
        print(f"{name}: class={r['linear_class']} rope={r['rope']}", file=sys.stderr)
    write_json(os.path.join(out, "model-meta.json"), meta)


if __name__ == "__main__":
    main()
