#!/usr/bin/env python3
"""Generate tests/fixtures/sklearn_ovr_logreg.json: scikit-learn's
OneVsRestClassifier(LogisticRegression(C)) fitted to convergence on a small long-tailed
multi-label problem, so that emo's one-vs-rest logistic regression (src/logreg.rs,
fit_ovr) can be held to it.

Data: 8 classes with 230, 150, 90, 60, 40, 25, 12 and 5 positive training rows among
500, each class's rows drawn independently, so labels co-occur by chance and about a
quarter of the rows carry no label. A row's features are the sum of its labels' means
(16-dimensional, overlapping) plus Gaussian noise, L2-normalised as MiniLM's are. A
held-out set of 160 rows from the same process, every class with at least 4 positives.
Fits: C in 0.1, 1, 10, each plain and with class_weight='balanced' (inside each binary
fit: positives n/(2·n_pos), negatives n/(2·n_neg)); lbfgs, tol 1e-10, max_iter 100000.

Numbers are stored as strings, so the test reads exactly what was written (serde_json
without float_roundtrip can be one ulp off): features and held-out decision values as
the shortest decimal of their f32 value (emo computes in f32), coefficients and
intercepts as Python's shortest repr of the f64. For each fit it also records, per
class, the norm of the scaled objective's gradient at scikit-learn's solution and the
smallest eigenvalue of its Hessian there: scikit-learn's lbfgs stops on its relative
decrease (ftol = 64·eps) before tol, and their ratio says how far from the optimum that
left it, which is what the test's tolerance is made of.

Reproduce (scripts/pyenv.sh's Python has scikit-learn):
    .deps/py/bin/python scripts/make_ovr_logreg_fixture.py tests/fixtures/sklearn_ovr_logreg.json
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier


def f32(v):
    return str(np.float32(v))


def f64(v):
    return repr(float(v))


def optimum_distance(x, y, w, b, c, balanced):
    """At (w, b), the gradient's norm and the Hessian's smallest eigenvalue of the
    scaled objective (C·Σ sᵢ·BCE + ½‖w‖²)/(C·Σs) that emo's solver minimises (and stops
    on): their ratio bounds, to first order, the distance from (w, b) to the optimum."""
    n = len(y)
    n_pos = y.sum()
    s = np.where(y == 1, n / (2 * n_pos), n / (2 * (n - n_pos))) if balanced else np.ones(n)
    x1 = np.hstack([x, np.ones((n, 1))])
    p = 1 / (1 + np.exp(-(x @ w + b)))
    g = x1.T @ (s * (p - y)) / s.sum()
    g[:-1] += w / (c * s.sum())
    h = (x1 * (s * p * (1 - p))[:, None]).T @ x1 / s.sum()
    h[:-1, :-1] += np.eye(len(w)) / (c * s.sum())
    return float(np.linalg.norm(g)), float(np.linalg.eigvalsh(h)[0])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/sklearn_ovr_logreg.json"
    rng = np.random.default_rng(2022)
    counts = [230, 150, 90, 60, 40, 25, 12, 5]
    k, d, n, n_test = len(counts), 16, 500, 160
    means = rng.normal(size=(k, d)) * 0.9

    def draw(rows, per_class):
        y = np.zeros((rows, k), dtype=np.int64)
        for j, m in enumerate(per_class):
            y[rng.choice(rows, size=m, replace=False), j] = 1
        x = y @ means + rng.normal(size=(rows, d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x.astype(np.float32), y

    x_train, y_train = draw(n, counts)
    x_test, y_test = draw(n_test, [max(4, round(m * n_test / n)) for m in counts])
    x64, xt64 = x_train.astype(np.float64), x_test.astype(np.float64)
    fits = []
    for c in (0.1, 1.0, 10.0):
        for balanced in (False, True):
            m = OneVsRestClassifier(LogisticRegression(
                C=c, class_weight="balanced" if balanced else None, tol=1e-10, max_iter=100000))
            m.fit(x64, y_train)
            coef = np.stack([e.coef_[0] for e in m.estimators_])
            intercept = np.array([e.intercept_[0] for e in m.estimators_])
            decision = m.decision_function(xt64)
            pred = m.predict(xt64)
            assert (pred == (decision > 0)).all()
            gradient_norm, hessian_min = zip(*[
                optimum_distance(x64, y_train[:, j], coef[j], intercept[j], c, balanced)
                for j in range(k)])
            fits.append({
                "C": c,
                "balanced": balanced,
                "n_iter": [int(e.n_iter_[0]) for e in m.estimators_],
                "gradient_norm": [f64(v) for v in gradient_norm],
                "hessian_min_eigenvalue": [f64(v) for v in hessian_min],
                "coef": [[f64(v) for v in row] for row in coef],
                "intercept": [f64(v) for v in intercept],
                "test_decision": [[f32(v) for v in row] for row in decision],
                "test_pred": pred.astype(int).tolist(),
            })
    with open(out, "w") as f:
        json.dump({"generator": "scripts/make_ovr_logreg_fixture.py", "sklearn": sklearn.__version__,
                   "n_classes": k, "dim": d,
                   "x_train": [[f32(v) for v in row] for row in x_train], "y_train": y_train.tolist(),
                   "x_test": [[f32(v) for v in row] for row in x_test], "y_test": y_test.tolist(),
                   "fits": fits},
                  f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
