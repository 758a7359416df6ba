#!/usr/bin/env python3
"""Generate tests/fixtures/sklearn_metrics.json: scikit-learn's metrics on a few
label vectors, so that emo's metrics (src/metrics.rs) can be held to them.

Cases: random long-tailed labels with a good and a poor predictor, a class that is
never predicted (precision 0/0), a class absent from y_true (recall 0/0), and a
predictor that always says the majority class.

Reproduce (the venv of scripts/make_parity_fixture.py has scikit-learn):
    /tmp/pyref/bin/python scripts/make_sklearn_fixture.py tests/fixtures/sklearn_metrics.json
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, classification_report,
                             confusion_matrix, f1_score, precision_recall_fscore_support)


def case(name, y_true, y_pred, n_classes):
    labels = list(range(n_classes))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    report = classification_report(y_true, y_pred, labels=labels, output_dict=True, zero_division=0)
    return {
        "name": name,
        "n_classes": n_classes,
        "y_true": [int(v) for v in y_true],
        "y_pred": [int(v) for v in y_pred],
        "precision": p.tolist(),
        "recall": r.tolist(),
        "f1": f.tolist(),
        "support": s.tolist(),
        "accuracy": accuracy_score(y_true, y_pred),
        "macro_precision": report["macro avg"]["precision"],
        "macro_recall": report["macro avg"]["recall"],
        "macro_f1": f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
        "weighted_precision": report["weighted avg"]["precision"],
        "weighted_recall": report["weighted avg"]["recall"],
        "weighted_f1": f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sklearn_metrics.json"
    rng = np.random.default_rng(20200)
    cases = []
    counts = [230, 210, 150, 60, 60, 50, 30, 12]
    y = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(y)
    good = np.where(rng.random(len(y)) < 0.7, y, rng.integers(0, len(counts), len(y)))
    poor = np.where(rng.random(len(y)) < 0.3, y, rng.integers(0, 3, len(y)))
    cases.append(case("long-tailed, good predictor", y, good, len(counts)))
    cases.append(case("long-tailed, poor predictor biased to the head", y, poor, len(counts)))
    never = np.where(good == 7, 0, good)
    cases.append(case("class 7 never predicted", y, never, len(counts)))
    yt = np.where(y == 6, 5, y)
    cases.append(case("class 6 absent from y_true but predicted", yt, good, len(counts)))
    cases.append(case("always the majority class", y, np.zeros_like(y), len(counts)))
    with open(out, "w") as f:
        json.dump({"generator": "scripts/make_sklearn_fixture.py", "sklearn": sklearn.__version__,
                   "zero_division": 0, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
