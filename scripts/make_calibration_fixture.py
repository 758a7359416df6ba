#!/usr/bin/env python3
"""Generate tests/fixtures/sklearn_calibration.json: scikit-learn's calibration numbers
(calibration_curve with uniform and quantile bins, brier_score_loss, log_loss) on
long-tailed, over-confident probabilities, so that emo's (src/metrics/calibration.rs)
can be held to them.

Cases: an 8-class softmax classifier, sharpened (over-confident) and as it is; a
3-class one with probabilities on bin edges and a true class given probability 0;
one binary outcome (a label of a multi-label model) with its probabilities.

Reproduce (make pyenv installs scikit-learn into .deps/py):
    .deps/py/bin/python scripts/make_calibration_fixture.py tests/fixtures/sklearn_calibration.json
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss, log_loss

BINS = [("uniform", 15), ("uniform", 10), ("quantile", 10), ("quantile", 7)]


def curves(prob, outcome):
    out = []
    for strategy, n in BINS:
        t, p = calibration_curve(outcome, prob, n_bins=n, strategy=strategy)
        out.append({"strategy": strategy, "n_bins": n, "prob_true": t.tolist(), "prob_pred": p.tolist()})
    return out


def multiclass(name, probs, y):
    k = probs.shape[1]
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(int)
    return {
        "name": name,
        "n_classes": k,
        "labels": [int(v) for v in y],
        "probs": probs.ravel().tolist(),
        "brier": brier_score_loss(y, probs, labels=list(range(k))),
        "log_loss": log_loss(y, probs, labels=list(range(k))),
        "top_label": curves(conf, correct),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sklearn_calibration.json"
    rng = np.random.default_rng(2017)
    counts = [230, 210, 150, 60, 60, 50, 30, 12]
    y = np.repeat(np.arange(len(counts)), counts)
    rng.shuffle(y)
    logits = rng.normal(0, 1, (len(y), len(counts))) + 1.5 * np.eye(len(counts))[y] + np.log(counts)
    cases = []
    for name, scale in [("8 classes, over-confident", 3.0), ("8 classes, as trained", 1.0)]:
        z = logits * scale
        p = np.exp(z - z.max(axis=1, keepdims=True))
        cases.append(multiclass(name, p / p.sum(axis=1, keepdims=True), y))
    edges = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0],
                      [0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.7, 0.2, 0.1]])
    cases.append(multiclass("3 classes, edges and a zero", edges, np.array([0, 2, 1, 1, 0, 1, 2, 0])))
    prob = 1 / (1 + np.exp(-(rng.normal(-1.5, 1.5, 900))))
    outcome = (rng.random(900) < prob ** 1.4).astype(int)
    binary = {"name": "one label of a multi-label model", "prob": prob.tolist(),
              "outcome": outcome.tolist(), "brier": brier_score_loss(outcome, prob),
              "curves": curves(prob, outcome)}
    with open(out, "w") as f:
        json.dump({"generator": "scripts/make_calibration_fixture.py", "sklearn": sklearn.__version__,
                   "multiclass": cases, "binary": binary}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
