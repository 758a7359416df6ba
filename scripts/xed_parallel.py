#!/usr/bin/env python3
"""English training files for XED transfer without the translations of a test split.

XED's German, Spanish and French lines are English lines' annotations projected onto their
translations, and the Finnish subtitles come from many of the same films: an English
training set holds translations of another language's test texts, labelled alike. No
alignment ships with the files, so this script finds likely translations by margin score
(Artetxe & Schwenk 2019, ratio margin over 4 nearest neighbours each way) on a multilingual
encoder's vectors, computed by `emo embed`.

Writes to --out:
- en-all.jsonl: every English line ({"text", "labels"}), as emo's xed-en reads them;
- en-without-L-parallel.jsonl: without the --k best English lines by margin of each test
  text of language L (the test split is read from the ids in L's predictions.csv);
- en-without-L-random.jsonl, en-without-L-random-1.jsonl, en-without-L-random-2.jsonl:
  without as many English lines drawn at random (seeds 0, 1, 2), the control for training on
  less data;
- parallel.json: what was removed, and the evidence that the nearest lines are translations:
  how often the rank-r English neighbour of an L line carries exactly its label set, against
  two English lines drawn at random.

Usage: xed_parallel.py --emo EMO --encoder NAME --k 5 --out DIR L=predictions.csv ..."""
import argparse
import csv
import json
import pathlib
import random
import subprocess

import numpy as np
from safetensors.numpy import load_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLASSES = ["anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust"]
FILES = {"en": "en-annotated.tsv", "fi": "fi-annotated.tsv"}


def data_root() -> pathlib.Path:
    shared = ROOT.parent / "shared" / "datasets"
    return shared if (shared / "xed" / "en-annotated.tsv").exists() else ROOT / ".deps" / "datasets"


def read(lang: str) -> tuple[str, list[tuple[str, str, frozenset]]]:
    """(file name, [(id, text, labels)]) with emo's ids (file:line of the record's start) and
    the records emo leaves out (quoted text running over alignment metadata) left out."""
    name = FILES.get(lang, f"{lang}-projections.tsv")
    rows, start = [], 1
    with open(data_root() / "xed" / name, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        for rec in reader:
            line, start = start, reader.line_num + 1
            if len(rec) == 2 and ("\t" in rec[0] or "\n" in rec[0]):
                continue
            labels = frozenset(CLASSES[int(i) - 1] for i in rec[1].split(","))
            rows.append((f"{name}:{line}", rec[0].strip(), labels))
    return name, rows


def embed(emo: str, encoder: str, texts: list[str], path: pathlib.Path) -> np.ndarray:
    src = path.with_suffix(".jsonl")
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    subprocess.run([emo, "embed", "-i", str(src), "--encoder", encoder, "-o", str(path)], check=True)
    vectors = load_file(str(path))["embeddings"]
    assert vectors.shape[0] == len(texts), (path, vectors.shape, len(texts))
    return vectors


def knn_mean(a: np.ndarray, b: np.ndarray, k: int = 4, block: int = 2048) -> np.ndarray:
    out = np.empty(len(a), np.float32)
    for s in range(0, len(a), block):
        sims = a[s : s + block] @ b.T
        out[s : s + block] = np.partition(sims, -k, axis=1)[:, -k:].mean(1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--emo", required=True)
    ap.add_argument("--encoder", required=True)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("tests", nargs="+", help="LANG=predictions.csv of that language's study")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    _, english = read("en")
    en_vectors = embed(args.emo, args.encoder, [t for _, t, _ in english], args.out / "en.safetensors")

    def write(path: pathlib.Path, drop: set[int]) -> None:
        with open(path, "w", encoding="utf-8") as f:
            for i, (_, text, labels) in enumerate(english):
                if i not in drop:
                    f.write(json.dumps({"text": text, "labels": sorted(labels)}, ensure_ascii=False) + "\n")

    write(args.out / "en-all.jsonl", set())
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(english), 20000), rng.integers(0, len(english), 20000)
    chance = float(np.mean([english[i][2] == english[j][2] for i, j in zip(a, b)]))
    report = {
        "encoder": args.encoder,
        "k": args.k,
        "english_lines": len(english),
        "score": "ratio margin: cos(x, y) / mean of the mean cosine of x's and y's 4 nearest neighbours in the other language",
        "same_labels_at_random": chance,
        "languages": {},
    }
    for spec in args.tests:
        lang, predictions = spec.split("=", 1)
        _, rows = read(lang)
        with open(predictions, newline="", encoding="utf-8") as f:
            test_ids = {r["id"] for r in csv.DictReader(f)}
        index = {rid: i for i, (rid, _, _) in enumerate(rows)}
        missing = test_ids - index.keys()
        if missing:
            raise SystemExit(f"{predictions}: {len(missing)} test ids not in the {lang} file, e.g. {min(missing)}")
        vectors = embed(args.emo, args.encoder, [t for _, t, _ in rows], args.out / f"{lang}.safetensors")
        own, theirs = knn_mean(vectors, en_vectors), knn_mean(en_vectors, vectors)
        ranks = 20
        near = np.empty((len(rows), ranks), np.int64)
        for s in range(0, len(rows), 1024):
            margin = (vectors[s : s + 1024] @ en_vectors.T) / ((own[s : s + 1024, None] + theirs[None, :]) / 2)
            top = np.argpartition(-margin, ranks, axis=1)[:, :ranks]
            order = np.take_along_axis(margin, top, 1).argsort(1)[:, ::-1]
            near[s : s + 1024] = np.take_along_axis(top, order, 1)
        same = [
            float(np.mean([rows[i][2] == english[near[i, r]][2] for i in range(len(rows))])) for r in range(ranks)
        ]
        test = sorted(index[t] for t in test_ids)
        drop = {int(j) for i in test for j in near[i, : args.k]}
        write(args.out / f"en-without-{lang}-parallel.jsonl", drop)
        for draw in range(3):
            random_drop = set(random.Random(draw).sample(range(len(english)), len(drop)))
            suffix = "" if draw == 0 else f"-{draw}"
            write(args.out / f"en-without-{lang}-random{suffix}.jsonl", random_drop)
        report["languages"][lang] = {
            "lines": len(rows),
            "test_lines": len(test),
            "english_lines_removed": len(drop),
            "same_labels_by_rank": same,
        }
        print(f"{lang}: {len(test)} test lines, {len(drop)} English lines removed; "
              f"same labels at rank 1 {same[0]:.3f}, rank {ranks} {same[-1]:.3f}, at random {chance:.3f}")
    (args.out / "parallel.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
