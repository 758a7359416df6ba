#!/usr/bin/env python3
"""What `emo --layers SPEC` is held to (tests/layers.rs): Hugging Face's hidden states
(`output_hidden_states=True`) of a sentence-transformers folder, pooled by that folder's
own Pooling module and normalised when it has a Normalize module.

    layers_reference.py JOBS_JSON

JOBS_JSON is a list of {"model": DIR, "texts": [..], "specs": [SPEC, ..], "out": FILE} and
optionally "pooling": a mode as emo's --pooling names it, pooled by a sentence-transformers
Pooling module of that mode instead of the folder's; for each job FILE gets
{SPEC: [[float, ..] per text], ..}. SPEC as emo takes it: last, one layer
(0 is the embedding layer's output, -1 the last), mean:A..B (averaged token by token, then
pooled), concat:A..B or concat:A,B,C (each pooled and normalised on its own, then laid end
to end in ascending layer order). Parsed here independently of emo.
"""
import json
import sys

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.models import Normalize, Pooling, Transformer


def resolve(spec: str, n: int) -> tuple[str, list[int]]:
    def one(i: int) -> int:
        a = n + 1 + i if i < 0 else i
        assert 0 <= a <= n, f"{spec}: layer {i} outside 0..{n}"
        return a

    if spec == "last":
        return "mean", [n]
    if ":" not in spec:
        return "mean", [one(int(spec))]
    how, rest = spec.split(":", 1)
    if ".." in rest:
        a, b = (one(int(x)) for x in rest.split(".."))
        layers = list(range(a, b + 1))
    else:
        layers = sorted(one(int(x)) for x in rest.split(","))
    return how, layers


# emo's --pooling names, as sentence-transformers' pooling_mode names them.
MODES = {"mean": "mean", "cls": "cls", "max": "max", "mean-sqrt-len": "mean_sqrt_len_tokens",
         "weighted-mean": "weightedmean", "last-token": "lasttoken"}


def embed(model: SentenceTransformer, texts: list[str], specs: list[str], mode: str | None) -> dict:
    modules = list(model)
    transformer = next(m for m in modules if isinstance(m, Transformer))
    pooling = next(m for m in modules if isinstance(m, Pooling))
    if mode is not None:
        pooling = Pooling(transformer.get_word_embedding_dimension(), pooling_mode=MODES[mode])
    normalize = any(isinstance(m, Normalize) for m in modules)
    features = model.tokenize(texts)
    with torch.no_grad():
        out = transformer.auto_model(
            input_ids=features["input_ids"],
            attention_mask=features["attention_mask"],
            output_hidden_states=True,
        )
    states = out.hidden_states
    n = len(states) - 1

    def pooled(hidden: torch.Tensor) -> torch.Tensor:
        v = pooling({"token_embeddings": hidden, "attention_mask": features["attention_mask"]})[
            "sentence_embedding"
        ]
        return torch.nn.functional.normalize(v, p=2, dim=1) if normalize else v

    result = {}
    for spec in specs:
        how, layers = resolve(spec, n)
        if how == "mean":
            v = pooled(sum(states[i] for i in layers) / len(layers))
        else:
            v = torch.cat([pooled(states[i]) for i in layers], dim=1)
        result[spec] = v.tolist()
    return result


def main(jobs_path: str) -> None:
    for job in json.load(open(jobs_path)):
        model = SentenceTransformer(job["model"], device="cpu")
        with open(job["out"], "w") as f:
            json.dump(embed(model, job["texts"], job["specs"], job.get("pooling")), f)


if __name__ == "__main__":
    main(sys.argv[1])
