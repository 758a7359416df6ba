#!/usr/bin/env python3
"""Paired differences on XED, from predictions on the same test texts:
- transfer: English without the test texts' parallel lines against English without as many
  random lines (does parallel text inflate transfer?), each side the mean over three models
  (training seeds 0, 1, 2; for random, three draws), and every English line against the
  random control (what the removed lines were worth);
- in-language: the multilingual encoder's chosen method against MiniLM's, per language
  (the studies' predictions.csv hold the first seed's answers, so where a chosen method
  varies with the seed this difference is the first seed's, not the seeds' mean).

Macro-F1 over the labels with zero_division=0, as emo's metrics.json says; each model's value
on the texts as they are is checked against scikit-learn's and against emo's own number
before any difference is taken. Percentile bootstrap over test texts, 1000 resamples, seed 0;
on each redraw a side with several models averages their macro-F1. Writes
reports/languages/pairs.json.

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
RESAMPLES = 1000


def load(folder: pathlib.Path, check_emo: bool) -> tuple[list[str], np.ndarray, np.ndarray]:
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

    y, p = matrix("true"), matrix(method)
    ours = macro_f1(np.ones((1, len(rows))), y, p)[0]
    sk = f1_score(y, p, average="macro", zero_division=0)
    if abs(ours - sk) > 1e-12:
        raise SystemExit(f"{folder.name}: macro-F1 {ours} here, scikit-learn {sk}")
    if check_emo:
        emo = metrics["methods"][method]["bootstrap"]["intervals"]["macro-f1"]["estimate"]
        if abs(ours - emo) > 1e-9:
            raise SystemExit(f"{folder.name}: macro-F1 {ours} here, emo {emo}")
    return [r["id"] for r in rows], y, p


def macro_f1(weights: np.ndarray, y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Macro-F1 of predictions `p` against `y` (texts × labels) on each row of `weights`
    (redraws × texts: how often each text is drawn)."""
    tp = weights @ (y & p)
    fp = weights @ ((1 - y) & p)
    fn = weights @ (y & (1 - p))
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)
    return f1.mean(axis=1)


def redraws(n: int, rng: np.random.Generator) -> np.ndarray:
    w = np.zeros((RESAMPLES, n))
    for b in range(RESAMPLES):
        w[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return w


def difference(w: np.ndarray, y: np.ndarray, a: list[np.ndarray], b: list[np.ndarray]) -> dict:
    side = lambda preds, weights: np.mean([macro_f1(weights, y, p) for p in preds], axis=0)
    ones = np.ones((1, len(y)))
    est = float(side(a, ones)[0] - side(b, ones)[0])
    lo, hi = np.percentile(side(a, w) - side(b, w), [2.5, 97.5])
    return {"estimate": est, "lo": float(lo), "hi": float(hi)}


def main() -> None:
    rng = np.random.default_rng(0)
    result = {
        "statistic": "macro-F1 (zero_division=0; equal to scikit-learn's, checked)",
        "interval": f"95% percentile bootstrap over test texts, {RESAMPLES} resamples, paired; a side with several models averages them on each redraw",
        "pairs": [],
        "models": {},
    }
    for enc in ENCODERS:
        for lang in LANGS:
            models = {}
            for cut in ["all"] + [f"without-{c}{s}" for c in ["parallel", "random"] for s in ["", "-1", "-2"]]:
                name = f"{lang}-{enc}" if cut == "all" else f"{lang}-{cut}-{enc}"
                models[cut] = load(OUT / f"transfer-{name}", check_emo=True)
            ids, y, _ = models["all"]
            assert all(m[0] == ids and (m[1] == y).all() for m in models.values())
            f1 = {cut: float(macro_f1(np.ones((1, len(y))), y, m[2])[0]) for cut, m in models.items()}
            result["models"][f"{enc} {lang}"] = f1
            w = redraws(len(ids), rng)
            parallel = [models[f"without-parallel{s}"][2] for s in ["", "-1", "-2"]]
            random_ = [models[f"without-random{s}"][2] for s in ["", "-1", "-2"]]
            for a, b, pa, pb in [("without-parallel", "without-random", parallel, random_),
                                 ("all", "without-random", [models["all"][2]], random_)]:
                d = difference(w, y, pa, pb)
                result["pairs"].append({"encoder": enc, "language": lang, "a": a, "b": b, "models": [len(pa), len(pb)], **d})
                print(f"{enc} {lang}: {a} − {b} ({len(pa)} vs {len(pb)} models): "
                      f"{100 * d['estimate']:+.1f} [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}] points")
    result["in_language"] = []
    for lang in ["en"] + LANGS:
        (ia, y, pa), (ib, yb, pb) = (load(OUT / f"xed-{lang}-{enc}", check_emo=False) for enc in ["e5q4", "minilm"])
        assert ia == ib and (y == yb).all()
        d = difference(redraws(len(ia), rng), y, [pa], [pb])
        result["in_language"].append({"language": lang, "a": "e5q4", "b": "minilm", **d})
        print(f"{lang}: e5q4 − minilm in-language (first seed): "
              f"{100 * d['estimate']:+.1f} [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}] points")
    (OUT / "pairs.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
