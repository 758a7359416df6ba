#!/usr/bin/env python3
"""Generate tests/fixtures/quapy_quantify.json: QuaPy 0.2.3's CC, PCC, ACC, PACC and
EMQ (SLD) estimates from given posteriors and predictions, so that emo's
(src/quantify/estimators.rs) can be held to them.

Each case is a frozen classifier's outputs: validation posteriors, predicted classes
and true labels (what a saved emo model keeps), and a test sample's posteriors and
predicted classes whose class mix is far from validation's. QuaPy is given a
classifier whose "features" are its posteriors, with fit_classifier=False, and
fitted on the validation rows, as its documentation describes for a classifier
trained elsewhere; EMQ's training prevalence is then validation's, as in emo.

Cases: 6 classes with the long-tailed profile 230, 210, 150, 60, 50, 12; 4 classes
with one absent from validation (QuaPy's identity column and EMQ's smoothing); a
common and a rare label of a multi-label model as binary problems, predicted at a
threshold other than 0.5; a shift so strong that ACC's unconstrained solution
leaves the simplex (the constrained search decides).

And one case of EMQ with bias-corrected temperature scaling (calib="bcts", QuaPy's
call into the abstention package), what emo quantify does for single-label models:
a head leaning toward the common classes by a per-class offset, the calibrated test
posteriors and the SLD estimate.

Reproduce (needs quapy==0.2.3, abstention, scikit-learn):
    python scripts/make_quantify_fixture.py tests/fixtures/quapy_quantify.json
"""
import json
import sys

import numpy as np
import quapy as qp
from quapy.method.aggregative import ACC, CC, EMQ, PACC, PCC
from sklearn.base import BaseEstimator, ClassifierMixin


class Frozen(ClassifierMixin, BaseEstimator):
    """A trained classifier: its features are its posteriors; it predicts by argmax,
    or (binary, `threshold` set) positive when the posterior reaches the threshold."""

    def __init__(self, k=2, threshold=None):
        self.k = k
        self.threshold = threshold
        self.classes_ = np.arange(k)

    def fit(self, X, y):
        self.classes_ = np.arange(self.k)
        return self

    def predict_proba(self, X):
        return np.asarray(X)

    def predict(self, X):
        X = np.asarray(X)
        if self.threshold is not None:
            return (X[:, 1] >= self.threshold).astype(int)
        return X.argmax(axis=1)


def draw(rng, counts, sharp, noise, trained_on):
    """Posteriors for texts of the given class counts from a classifier trained on the
    mix `trained_on`, which leans toward that mix's common classes."""
    k = len(counts)
    y = np.repeat(np.arange(k), counts)
    rng.shuffle(y)
    z = sharp * np.eye(k)[y] + rng.normal(0, noise, (len(y), k)) + 0.4 * np.log(np.asarray(trained_on) / sum(trained_on))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True), y


def case(name, pv, yv, pt, threshold=None):
    k = pv.shape[1]
    clf = Frozen(k, threshold)
    estimates = {}
    for label, method in [("cc", CC), ("pcc", PCC), ("acc", ACC), ("pacc", PACC), ("sld", EMQ)]:
        q = method(clf, fit_classifier=False)
        q.fit(pv, yv)
        estimates[label] = q.quantify(pt).tolist()
        if label in ("acc", "pacc"):
            # What QuaPy's adjustment minimised, for comparing optima.
            base = q.cc.aggregate(clf.predict(pt)) if label == "acc" else q.pcc.aggregate(pt)
            estimates[label + "_matrix"] = q.Pte_cond_estim_.ravel().tolist()
            estimates[label + "_unadjusted"] = base.tolist()
    return {"name": name, "k": k, "valid_posteriors": pv.ravel().tolist(), "valid_labels": yv.tolist(),
            "valid_predicted": clf.predict(pv).tolist(), "test_posteriors": pt.ravel().tolist(),
            "test_predicted": clf.predict(pt).tolist(), "threshold": threshold, "quapy": estimates}


def bcts_case():
    rng = np.random.default_rng(2020)
    profile = [230, 210, 150, 60, 50, 12]
    offset = 0.8 * np.log(np.asarray(profile) / sum(profile))

    def lean(p):
        z = np.log(p) + offset
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    pv, yv = draw(rng, profile, 2.0, 1.0, profile)
    pt, _ = draw(rng, profile[::-1], 2.0, 1.0, profile)
    pv, pt = lean(pv), lean(pt)
    q = EMQ(Frozen(6), fit_classifier=False, val_split=(pv, yv), calib="bcts")
    q.fit(pv, yv)
    # The logits a head would give: any per-row shift of log p is the same softmax.
    return {"k": 6, "valid_logits": np.log(pv).ravel().tolist(), "valid_labels": yv.tolist(),
            "test_logits": np.log(pt).ravel().tolist(),
            "calibrated_valid_posteriors": q._calibrate_if_requested(pv).ravel().tolist(),
            "calibrated_test_posteriors": q._calibrate_if_requested(pt).ravel().tolist(),
            "sld": q.quantify(pt).tolist()}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/quapy_quantify.json"
    rng = np.random.default_rng(2002)
    cases = []
    profile = [230, 210, 150, 60, 50, 12]
    pv, yv = draw(rng, profile, 2.0, 1.0, profile)
    pt, _ = draw(rng, profile[::-1], 2.0, 1.0, profile)
    cases.append(case("6 classes, long-tailed validation, reversed test mix", pv, yv, pt))
    pv, yv = draw(rng, [120, 80, 0, 40], 1.5, 1.0, [120, 80, 10, 40])
    pt, _ = draw(rng, [20, 30, 50, 100], 1.5, 1.0, [120, 80, 10, 40])
    cases.append(case("4 classes, one absent from validation", pv, yv, pt))
    for name, n_pos, n_neg, t_pos, t_neg, t in [("a common label", 300, 700, 600, 400, 0.4),
                                                ("a rare label", 15, 985, 120, 380, 0.25)]:
        pv, yv = draw(rng, [n_neg, n_pos], 1.8, 1.0, [n_neg, n_pos])
        pt, _ = draw(rng, [t_neg, t_pos], 1.8, 1.0, [n_neg, n_pos])
        cases.append(case(name + " (binary, threshold " + str(t) + ")", pv, yv, pt, threshold=t))
    pv, yv = draw(rng, [400, 300, 300], 0.8, 1.2, [400, 300, 300])
    pt, _ = draw(rng, [2, 3, 995], 3.0, 0.5, [400, 300, 300])
    cases.append(case("3 classes, a shift past what the adjustment can explain", pv, yv, pt))
    with open(out, "w") as f:
        json.dump({"generator": "scripts/make_quantify_fixture.py", "quapy": qp.__version__, "cases": cases,
                   "bcts": bcts_case()},
                  f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
