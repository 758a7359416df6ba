#!/usr/bin/env python3
"""Generate tests/fixtures/sklearn_logreg.json: scikit-learn's LogisticRegression fitted to
convergence on a small long-tailed problem, so that emo's converged logistic regression
(src/logreg.rs) can be held to it.

Data: 6 classes with 230, 210, 150, 60, 50 and 12 training rows (the seed author's profile),
16-dimensional Gaussian clusters with overlapping means, rows L2-normalised as MiniLM's are;
a test set of 100 rows per class from the same clusters. Fits: C in 0.1, 1, 10, each plain
and with class_weight='balanced'; lbfgs, tol 1e-10, max_iter 100000.

Reproduce (scripts/pyenv.sh's Python has scikit-learn):
    .deps/py/bin/python scripts/make_logreg_fixture.py tests/fixtures/sklearn_logreg.json
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sklearn_logreg.json"
    rng = np.random.default_rng(2020)
    counts = [230, 210, 150, 60, 50, 12]
    k, d = len(counts), 16
    means = rng.normal(size=(k, d)) * 0.6

    def draw(per_class):
        y = np.repeat(np.arange(k), per_class)
        x = means[y] + rng.normal(size=(len(y), d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32), y

    x_train, y_train = draw(counts)
    x_test, y_test = draw([100] * k)
    fits = []
    for c in (0.1, 1.0, 10.0):
        for balanced in (False, True):
            m = LogisticRegression(C=c, class_weight="balanced" if balanced else None,
                                   tol=1e-10, max_iter=100000)
            m.fit(x_train.astype(np.float64), y_train)
            pred = m.predict(x_test.astype(np.float64))
            fits.append({
                "C": c,
                "balanced": balanced,
                "n_iter": int(m.n_iter_[0]),
                "coef": m.coef_.tolist(),
                "intercept": m.intercept_.tolist(),
                "test_pred": pred.tolist(),
                "test_accuracy": accuracy_score(y_test, pred),
                "test_macro_f1": f1_score(y_test, pred, average="macro"),
            })
    with open(out, "w") as f:
        json.dump({"generator": "scripts/make_logreg_fixture.py", "sklearn": sklearn.__version__,
                   "n_classes": k, "dim": d,
                   "x_train": x_train.tolist(), "y_train": y_train.tolist(),
                   "x_test": x_test.tolist(), "y_test": y_test.tolist(), "fits": fits},
                  f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
