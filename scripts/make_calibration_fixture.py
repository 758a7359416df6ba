#!/usr/bin/env python3
"""Generate tests/fixtures/sklearn_calibration.json: scikit-learn's calibration numbers
(calibration_curve with uniform and quantile bins, brier_score_loss, log_loss,
temperature scaling, Platt and isotonic maps) on
long-tailed, over-confident probabilities, so that emo's (src/metrics/calibration.rs)
can be held to them.

Temperature scaling: CalibratedClassifierCV(FrozenEstimator(head), method="temperature")
fitted on validation logits of an over- and an under-confident head, and its test
probabilities. Platt scaling: the same with method="sigmoid" on one label's scores, a
common label and a rare one.

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
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss, log_loss

class Logits(ClassifierMixin, BaseEstimator):
    """A head already trained: its 'features' are its logits."""

    def __init__(self, k=2):
        self.k = k

    def fit(self, X, y):
        self.classes_ = np.arange(self.k)
        return self

    def decision_function(self, X):
        return np.asarray(X)

    def predict(self, X):
        return np.asarray(X).argmax(axis=1)


def temperature(name, z_valid, y_valid, z_test):
    """scikit-learn's temperature scaling fitted on validation logits, applied to test."""
    k = z_valid.shape[1]
    cal = CalibratedClassifierCV(FrozenEstimator(Logits(k).fit(z_valid, y_valid)), method="temperature")
    cal.fit(z_valid, y_valid)
    (fitted,) = cal.calibrated_classifiers_
    return {"name": name, "n_classes": k, "valid_logits": z_valid.ravel().tolist(),
            "valid_labels": [int(v) for v in y_valid], "test_logits": z_test.ravel().tolist(),
            "beta": float(fitted.calibrators[0].beta_), "test_probs": cal.predict_proba(z_test).ravel().tolist()}


class Scores(ClassifierMixin, BaseEstimator):
    """One label of a trained multi-label head: its 'features' are its scores."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def decision_function(self, X):
        return np.asarray(X).ravel()

    def predict(self, X):
        return (np.asarray(X).ravel() > 0).astype(int)


def platt(name, f_valid, y_valid, f_test):
    """scikit-learn's sigmoid (Platt) calibration of one label's scores."""
    cal = CalibratedClassifierCV(FrozenEstimator(Scores().fit(f_valid, y_valid)), method="sigmoid")
    cal.fit(f_valid.reshape(-1, 1), y_valid)
    (fitted,) = cal.calibrated_classifiers_
    return {"name": name, "valid_scores": f_valid.tolist(), "valid_outcome": [int(v) for v in y_valid],
            "test_scores": f_test.tolist(), "a": float(fitted.calibrators[0].a_),
            "b": float(fitted.calibrators[0].b_), "test_probs": cal.predict_proba(f_test.reshape(-1, 1))[:, 1].tolist()}


def isotonic(name, f_valid, y_valid, f_test):
    """scikit-learn's isotonic calibration of one label's scores."""
    cal = CalibratedClassifierCV(FrozenEstimator(Scores().fit(f_valid, y_valid)), method="isotonic")
    cal.fit(f_valid.reshape(-1, 1), y_valid)
    return {"name": name, "valid_scores": f_valid.tolist(), "valid_outcome": [int(v) for v in y_valid],
            "test_scores": f_test.tolist(), "test_probs": cal.predict_proba(f_test.reshape(-1, 1))[:, 1].tolist()}


def one_vs_rest(method, z_valid, y_valid, z_test):
    """scikit-learn's per-class sigmoid or isotonic maps of a softmax head, renormalised."""
    k = z_valid.shape[1]
    cal = CalibratedClassifierCV(FrozenEstimator(Logits(k).fit(z_valid, y_valid)), method=method)
    cal.fit(z_valid, y_valid)
    return {"method": method, "n_classes": k, "valid_logits": z_valid.ravel().tolist(),
            "valid_labels": [int(v) for v in y_valid], "test_logits": z_test.ravel().tolist(),
            "test_probs": cal.predict_proba(z_test).ravel().tolist()}


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
    # Temperature scaling: an over-confident 8-class head (validation = the first 400
    # rows, test the rest) and an under-confident 3-class one.
    z = logits * 3.0
    temps = [temperature("8 classes, over-confident", z[:400], y[:400], z[400:])]
    y3 = rng.integers(0, 3, 300)
    z3 = 0.3 * (rng.normal(0, 1, (300, 3)) + 2.0 * np.eye(3)[y3])
    temps.append(temperature("3 classes, under-confident", z3[:150], y3[:150], z3[150:]))
    # Platt scaling of one label's scores: a common label with over-confident scores,
    # and a rare one (12 positives in 600).
    f = np.log(prob / (1 - prob)) * 2.5
    platts = [platt("a common label, over-confident", f[:450], outcome[:450], f[450:])]
    rare_y = np.zeros(600, dtype=int)
    rare_y[rng.choice(600, 12, replace=False)] = 1
    rare_f = rng.normal(-2.0, 1.0, 600) + 2.5 * rare_y
    platts.append(platt("a rare label", rare_f[:300], rare_y[:300], rare_f[300:]))
    # Isotonic maps of one label (a common one; a rare one whose scores repeat, so
    # that tied scores are pooled), and the per-class maps of the 8-class head.
    isos = [isotonic("a common label, over-confident", f[:450], outcome[:450], f[450:]),
            isotonic("a rare label, tied scores", np.round(rare_f[:300], 1), rare_y[:300], rare_f[300:])]
    ovr = [one_vs_rest(m, z[:400], y[:400], z[400:]) for m in ("sigmoid", "isotonic")]
    with open(out, "w") as f:
        json.dump({"generator": "scripts/make_calibration_fixture.py", "sklearn": sklearn.__version__,
                   "multiclass": cases, "binary": binary, "temperature": temps, "platt": platts,
                   "isotonic": isos, "one_vs_rest": ovr},
                  f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
