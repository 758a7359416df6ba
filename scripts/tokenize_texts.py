#!/usr/bin/env python3
"""Token ids of texts by Hugging Face's `tokenizers` library, for tests/tokenizer_coverage.rs.

    tokenize_texts.py TOKENIZER_JSON MAX_LENGTH TEXTS_JSONL OUT_JSONL

TEXTS_JSONL holds one JSON string a line; OUT_JSONL gets one JSON array of ids a line, in
the same order: the tokenizer's own normaliser, pre-tokeniser, model and post-processor
(special tokens), truncated to MAX_LENGTH tokens, no padding — what sentence-transformers
feeds its encoder.
"""
import json
import sys

from tokenizers import Tokenizer


def main():
    path, max_length, texts_path, out_path = sys.argv[1:5]
    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.enable_truncation(max_length=int(max_length))
    with open(texts_path, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    with open(out_path, "w", encoding="utf-8") as out:
        for start in range(0, len(texts), 4096):
            for enc in tok.encode_batch(texts[start:start + 4096]):
                out.write(json.dumps(enc.ids, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
