#!/usr/bin/env python3
"""Generate tests/fixtures/sklearn_multilabel.json: scikit-learn's multi-label
metrics on a few indicator matrices, so that emo's (src/metrics/multilabel.rs) can
be held to them by tests/metrics_multilabel_sklearn.rs.

Cases: a random long-tailed case (400 texts, 12 classes, 0-4 labels a text, scores
correlated with the truth, predictions at 0.5) and the same truth under a poor
predictor biased to the head; then small edge cases: a class never true, a class
never predicted, a class neither, texts with empty truth and/or empty prediction,
every prediction empty, a perfect prediction, scores with ties across positives and
negatives, and a split in which no text carries any label.

Each case records y_true and y_pred as label lists per text, the scores (float32
values, each as the string of its shortest decimal, so the Rust test parses the very
same f32), training counts for the shot groups, and scikit-learn's numbers:
classification_report(output_dict=True, zero_division=0) per class and micro,
macro, weighted and samples averages; multilabel_confusion_matrix; hamming_loss;
accuracy_score (subset accuracy); jaccard_score(average="samples",
zero_division=0); average_precision_score per class and macro (and, emo's own, the
mean of those per-class values over the classes in y_true); and the many /
medium / few group means of scikit-learn's per-class recall and F1 (the groups of
src/metrics/mod.rs: more than 100 training texts many, fewer than 20 few, over the
classes that occur in y_true).

Reproduce (scikit-learn 1.9.1 in .deps/py, `make pyenv`):
    .deps/py/bin/python scripts/make_multilabel_sklearn_fixture.py tests/fixtures/sklearn_multilabel.json
"""
import json
import sys
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, average_precision_score, classification_report,
                             hamming_loss, jaccard_score, multilabel_confusion_matrix)

MANY, FEW = 100, 20


def group_of(n):
    return "many" if n > MANY else ("few" if n < FEW else "medium")


def f32_text(v):
    # The shortest decimal that reads back as this float32. A string, because
    # serde_json (without its float_roundtrip feature) may read a JSON number one
    # float64 ulp off, which can move a float32 tie; Rust's str::parse::<f32> is exact.
    text = str(np.float32(v))
    assert np.float32(text) == v
    return text


def sets(ind):
    return [[int(c) for c in np.flatnonzero(row)] for row in ind]


def case(name, y_true, y_pred, y_score, train_counts):
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    y_score = np.asarray(y_score, dtype=np.float32)
    n, c = y_true.shape
    assert y_pred.shape == (n, c) and y_score.shape == (n, c) and len(train_counts) == c
    with warnings.catch_warnings():
        # The no-positive class of average_precision_score warns; its value is recorded.
        warnings.simplefilter("ignore")
        report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
        ap = average_precision_score(y_true, y_score, average=None)
        ap_macro = average_precision_score(y_true, y_score, average="macro")
    per_class = [report[str(k)] for k in range(c)]
    averages = {}
    for key, avg in [("micro", "micro avg"), ("macro", "macro avg"), ("weighted", "weighted avg"),
                     ("samples", "samples avg")]:
        r = report[avg]
        averages[key] = {"precision": r["precision"], "recall": r["recall"],
                         "f1": r["f1-score"], "support": int(r["support"])}
    support = y_true.sum(axis=0)
    groups = []
    for g in ["many", "medium", "few"]:
        members = [k for k in range(c) if group_of(train_counts[k]) == g and support[k] > 0]
        if members:
            groups.append({"group": g, "classes": len(members),
                           "recall": float(np.mean([per_class[k]["recall"] for k in members])),
                           "f1": float(np.mean([per_class[k]["f1-score"] for k in members]))})
    return {
        "name": name,
        "n_classes": c,
        "y_true": sets(y_true),
        "y_pred": sets(y_pred),
        "y_score": [[f32_text(v) for v in row] for row in y_score],
        "train_counts": [int(v) for v in train_counts],
        "precision": [r["precision"] for r in per_class],
        "recall": [r["recall"] for r in per_class],
        "f1": [r["f1-score"] for r in per_class],
        "support": [int(r["support"]) for r in per_class],
        "averages": averages,
        "confusion": multilabel_confusion_matrix(y_true, y_pred).tolist(),
        "hamming_loss": hamming_loss(y_true, y_pred),
        "subset_accuracy": accuracy_score(y_true, y_pred),
        "jaccard_samples": jaccard_score(y_true, y_pred, average="samples", zero_division=0),
        "average_precision": [float(v) for v in ap],
        "macro_average_precision": float(ap_macro),
        # Not scikit-learn's: its per-class APs averaged over the classes in y_true.
        "macro_average_precision_present":
            float(np.mean(ap[support > 0])) if (support > 0).any() else 0.0,
        "groups": groups,
    }


def long_tailed_truth(rng, n, c):
    prior = 0.9 * np.arange(1, c + 1) ** -1.1
    cardinality = rng.choice(5, size=n, p=[0.08, 0.42, 0.3, 0.13, 0.07])
    y = np.zeros((n, c), dtype=int)
    for i, k in enumerate(cardinality):
        y[i, rng.choice(c, size=k, replace=False, p=prior / prior.sum())] = 1
    return y


def noisy_scores(rng, y, signal):
    logits = signal * (y - 0.5) - 1.0 + rng.normal(0.0, 1.0, y.shape)
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sklearn_multilabel.json"
    rng = np.random.default_rng(20220)
    cases = []

    # Training counts that straddle both group boundaries (100 is medium, 20 medium, 19 few).
    train12 = [900, 600, 400, 250, 150, 101, 100, 60, 30, 20, 19, 5]
    y = long_tailed_truth(rng, 400, 12)
    s = noisy_scores(rng, y, 3.0)
    cases.append(case("long-tailed, scores correlated with truth, threshold 0.5", y,
                      (s >= 0.5).astype(int), s, train12))
    head = np.array([0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.0, 0.0])
    s2 = noisy_scores(rng, y, 0.8)
    poor = ((rng.random(y.shape) < head) | ((s2 >= 0.6) & (rng.random(y.shape) < 0.5))).astype(int)
    cases.append(case("long-tailed, poor predictor biased to the head", y, poor, s2, train12))

    # Small edge cases on 5 classes: class 3 never true but predicted, class 4 true but
    # never predicted, class 2 neither; rows 0-2 empty truth (row 0 also empty
    # prediction), rows 3-4 empty prediction only.
    yt = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 0, 0, 0, 1],
                   [0, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 0, 0, 0, 1], [0, 1, 0, 0, 1],
                   [1, 0, 0, 0, 0], [0, 0, 0, 0, 1]])
    yp = np.array([[0, 0, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0],
                   [0, 0, 0, 0, 0], [1, 1, 0, 1, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0],
                   [0, 1, 0, 0, 0], [1, 0, 0, 1, 0]])
    train5 = [300, 120, 40, 10, 3]
    se = np.clip(0.15 + 0.6 * yt + 0.25 * yp + rng.normal(0.0, 0.1, yt.shape), 0.0, 1.0)
    cases.append(case("edge: class never true, class never predicted, class neither, empty rows",
                      yt, yp, se, train5))
    cases.append(case("edge: every prediction empty", yt, np.zeros_like(yt), se, train5))
    cases.append(case("edge: perfect prediction (empty rows included)", yt, yt.copy(),
                      np.where(yt == 1, 0.9, 0.1), train5))
    # Scores on a coarse grid: ties between positive and negative texts of a class, and a
    # class (1, three positives) whose every score is the same.
    grid = np.round(np.clip(0.25 + 0.4 * yt + rng.normal(0.0, 0.25, yt.shape), 0, 1) * 4) / 4
    grid[:, 1] = 0.5
    cases.append(case("edge: tied scores", yt, (grid >= 0.5).astype(int), grid, train5))
    # No text carries any label (a split of "no emotion" texts): every class has
    # support 0, the weighted average has no weights, every class's AP has no positive.
    none = np.zeros((6, 4), dtype=int)
    pn = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0],
                   [0, 0, 0, 1]])
    cases.append(case("edge: no text carries a label", none, pn, rng.random((6, 4)),
                      [500, 50, 5, 0]))
    # A long-tailed case with ties inside larger score blocks (scores rounded to 0.05).
    y3 = long_tailed_truth(rng, 120, 8)
    s3 = np.round(noisy_scores(rng, y3, 2.0) * 20) / 20
    cases.append(case("long-tailed, scores rounded to 0.05 (many ties)", y3,
                      (s3 >= 0.3).astype(int), s3, [400, 200, 150, 90, 40, 20, 12, 2]))

    with open(out, "w") as f:
        json.dump({"generator": "scripts/make_multilabel_sklearn_fixture.py",
                   "sklearn": sklearn.__version__, "numpy": np.__version__, "zero_division": 0,
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
