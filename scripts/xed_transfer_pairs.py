#!/usr/bin/env python3
"""Paired differences on XED, from predictions on the same test texts:
- transfer: English without the test texts' parallel lines against English without as many
  random lines (does parallel text inflate transfer?), and every English line against the
  random control (what the removed lines were worth);
- in-language: the multilingual encoder's chosen method against MiniLM's, per language
  (the studies' predictions.csv hold the first seed's answers, so where a chosen method
  varies with the seed this difference is the first seed's, not the seeds' mean).

Reads reports/languages/transfer-L[-without-CUT]-ENC/predictions.csv; macro-F1 is
scikit-learn's (zero_division=0, as emo's metrics.json says), checked against emo's own
number for each model before any difference is taken. Percentile bootstrap over test texts,
1000 resamples, seed 0. Writes reports/languages/pairs.json.

Usage: xed_transfer_pairs.py (run by scripts/xed_languages.sh, Python of .deps/py)."""
import csv
import json
import pathlib

import numpy as np
from sklearn.metrics import f1_score

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "languages"
LANGS = ["fi", "de", "es", "fr"]
ENCODERS = ["minilm", "e5q4"]
PAIRS = [("without-parallel", "without-random"), ("all", "without-random")]


def load(folder: pathlib.Path) -> tuple[list[str], np.ndarray, np.ndarray, float]:
    metrics = json.loads((folder / "metrics.json").read_text())
    classes = metrics["classes"]
    method = metrics["recommended"]["method"]
    rows = list(csv.DictReader(open(folder / "predictions.csv", newline="", encoding="utf-8")))

    def matrix(col: str) -> np.ndarray:
        m = np.zeros((len(rows), len(classes)), dtype=np.int8)
        for i, r in enumerate(rows):
            for name in filter(None, r[col].split(",")):
                m[i, classes.index(name)] = 1
        return m

    emo = metrics["methods"][method]["bootstrap"]["intervals"]["macro-f1"]["estimate"]
    return [r["id"] for r in rows], matrix("true"), matrix(method), emo


def macro_f1(y: np.ndarray, p: np.ndarray) -> float:
    return f1_score(y, p, average="macro", zero_division=0)


def main() -> None:
    rng = np.random.default_rng(0)
    result = {
        "statistic": "macro-F1 (scikit-learn, zero_division=0)",
        "interval": "95% percentile bootstrap over test texts, 1000 resamples, paired",
        "pairs": [],
    }
    for enc in ENCODERS:
        for lang in LANGS:
            models = {}
            for cut in ["all", "without-parallel", "without-random"]:
                name = f"{lang}-{enc}" if cut == "all" else f"{lang}-{cut}-{enc}"
                ids, y, p, emo = load(OUT / f"transfer-{name}")
                ours = macro_f1(y, p)
                if abs(ours - emo) > 1e-9:
                    raise SystemExit(f"transfer-{name}: scikit-learn's macro-F1 {ours} is not emo's {emo}")
                models[cut] = (ids, y, p)
            n = len(models["all"][0])
            draws = [rng.integers(0, n, n) for _ in range(1000)]
            for a, b in PAIRS:
                (ia, y, pa), (ib, yb, pb) = models[a], models[b]
                assert ia == ib and (y == yb).all()
                est = macro_f1(y, pa) - macro_f1(y, pb)
                diffs = np.array([macro_f1(y[d], pa[d]) - macro_f1(y[d], pb[d]) for d in draws])
                lo, hi = np.percentile(diffs, [2.5, 97.5])
                result["pairs"].append(
                    {"encoder": enc, "language": lang, "a": a, "b": b, "estimate": est, "lo": float(lo), "hi": float(hi)}
                )
                print(f"{enc} {lang}: {a} − {b}: {100 * est:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points")
    result["in_language"] = []
    for lang in ["en"] + LANGS:
        (ia, y, pa, _), (ib, yb, pb, _) = (load(OUT / f"xed-{lang}-{enc}") for enc in ["e5q4", "minilm"])
        assert ia == ib and (y == yb).all()
        n = len(ia)
        est = macro_f1(y, pa) - macro_f1(y, pb)
        diffs = np.array([macro_f1(y[d], pa[d]) - macro_f1(y[d], pb[d]) for d in (rng.integers(0, n, n) for _ in range(1000))])
        lo, hi = np.percentile(diffs, [2.5, 97.5])
        result["in_language"].append({"language": lang, "a": "e5q4", "b": "minilm", "estimate": est, "lo": float(lo), "hi": float(hi)})
        print(f"{lang}: e5q4 − minilm in-language (first seed): {100 * est:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}] points")
    (OUT / "pairs.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
