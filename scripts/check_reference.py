#!/usr/bin/env python3
"""Says whether a fresh compare-sampling report reproduces the committed reference.

    python3 scripts/check_reference.py NAME                  # reports/NAME against reports/reference/NAME
    python3 scripts/check_reference.py --report DIR --reference DIR
    ... --strict                                             # exit 1 when it differs, 2 when it cannot compare

It judges what a result is, not every digit of metrics.json. Another CPU (AVX-512 against
AVX2, say) or libtorch build rounds differently: a text near a decision boundary changes its
label, the optimiser stops a few iterations earlier or later, a near-tie between two tuning
candidates goes the other way. None of that is a different result.

Tolerance: 0.005 (absolute) on each metric --
  * every method's test and validation accuracy, balanced accuracy, macro- and weighted-average
    precision, recall and F1, per-class precision, recall and F1 and shot-group recall and F1,
    for every seed; the bootstrap intervals (estimate, low, high, per method and per class);
    the subsample statistics; the recommended method's and the runner-up's validation score.
    A difference of two methods (difference from the baseline, vs_ib, the runner-up's margin)
    may move by both terms' allowances.
  * A metric may move further only by what the test predictions that changed can move it, read
    from the two confusion matrices of that run: one changed prediction moves the recall of a
    class with 2 test texts by 0.5, and GoEmotions' macro recall by 0.018. A class's own
    precision, recall and F1 may move by what all its changed predictions can move them
    (2/support for recall, 2/(predicted-2) for precision, 4/(support+predicted-2) for F1, with
    2 changed predictions); a mean over classes (macro average, balanced accuracy, shot group,
    few-recall) by 0.005 plus what at most 2 changed predictions of its most fragile class can
    move it. Validation metrics, whose confusion matrices the report does not keep, assume 2
    changed predictions per class. With identical confusion matrices the tolerance is 0.005.
  Float noise across CPUs stays inside this: even bf16 against fp32 vectors, which change up to
  5% of a method's test labels (far more than rounding across CPUs), moved a seed's macro-F1 by
  at most 0.0015 on GoEmotions and 0.0047 on CARER, where a near-tie flipped a tuning choice
  (../shared/measurements/bench-precision-avx512-bf16.md). A real change of a method, its
  tuning or the data moves at least one metric beyond it.

Counts -- summarised, never failed: confusion-matrix cells, optimiser iterations and epochs
run, the classes a run never predicted, subsample won/lost/tied tallies, tuning diagnostics
(candidates' validation scores, gradients, learned scales and class weights), weight norms.

Choices -- noted, never failed by themselves: a tuned hyper-parameter or the recommended
method that differs (a near-tie flips on float noise); if the choice mattered, the metrics
differ beyond tolerance and that fails the check.

Structure -- a real difference: a method, class, seed or shot group missing or added,
different class counts in the data, a different configuration or encoder.

The last line is one sentence: "matches the reference (differences are float noise across
CPUs: ...)" or "differs from the reference: <the metrics beyond tolerance, named by method,
seed, class and metric, with both values>". Pictures are compared byte for byte, as
information only; timings.json is not compared (times are never equal).

Multi-label reports (metrics.json's "task": "multi-label") are judged in the same spirit:
  * Structure: methods, classes, seeds (runs), the counts of the data (texts per class,
    train_texts, co-occurrence), the configuration (naming the keys that differ) and the encoder
    must match, as must each classification report's keys and supports.
  * Metrics, tolerance 0.005: in every split (test, test_at_0.5, test_at_0.3, validation) per
    class precision, recall and F1, the macro, micro, weighted and samples averages, hamming
    loss, subset accuracy, samples Jaccard, macro AP and per-class AP; each run's
    validation_score; each threshold's validation_f1; the per-method bootstrap intervals
    (macro-, micro-, samples-, rare-F1 and rare recall, per-class F1) and differences from the
    baseline (which may move by both methods' allowances).
  * What changed label decisions can move, read from the per-class confusion matrices
    [[tn, fp], [fn, tp]] of the two reports: a class's decisions that changed are at least
    k = |tp - tp'| + |fp - fp'| (fn and tn follow: the class's positives P = tp + fn are fixed),
    and its metrics depend on tp, fp and fn alone. With n = tp + fn positives and p = tp + fp
    predicted positives (the smaller of the two reports), one changed decision moves recall by
    at most 1/n, precision by at most 1/(p - 1) and F1 = 2tp/(n + p) by at most 2/(n + p - 1);
    so k changed decisions move a class's recall by at most k/n, its precision by
    k/(p - k) and its F1 by 2k/(n + p - k) (each capped at 1), and it may move by that when
    it exceeds 0.005. A macro average (and rare-F1, rare recall) may move by 0.005 plus what at
    most 2 changed decisions of its most fragile class can move it, divided by the number of
    classes averaged. Every split carries its matrices (validation too), so the same reading
    applies to each; bootstrap statistics take the largest allowance of the method's runs on
    test. Micro, weighted and samples averages, hamming loss, subset accuracy, samples Jaccard
    and AP (a ranking, not a decision) get 0.005. validation_score (validation macro-F1 on each
    half of validation) has no matrices: 2 changed decisions per class of half the validation
    counts are assumed.
  * Choices, noted: a threshold's value and source (summarised per method), and the chosen
    settings (C, lr, epochs, tau, ...; candidates' validation_macro_f1 are diagnostics). If they
    mattered, the metrics fail.
  * Counts, summarised: cells of the confusion matrices, iterations, weight norms, the
    candidates' validation scores.

Exit status: 0 whatever the verdict, as `make demo` runs it (scripts/check_reference.sh) and
goes on; with --strict, 1 when it differs and 2 when the reports cannot be compared.
Standard library only.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TOLERANCE = 0.005
TOL_TEXT = "0.005"
FLIPS = 2  # changed predictions assumed per class where unobserved (validation), and the most
# that a mean over classes may excuse in its most fragile class
# Keys that record when or how a run was made, not what it found.
IGNORED = {"command", "emo_version", "created", "seconds"}
# What a run's `chosen` records besides the choice itself (cf. bench_precision.chosen_settings).
DIAGNOSTICS = {"validation", "gradient_max", "iterations", "converged", "tuned_on_seed", "epochs_run"}
COUNTS_OF_RUNS = {"iterations": "iterations", "epochs_run": "epochs run"}
AGGREGATE_NAMES = {"macro avg": "macro", "weighted avg": "weighted"}
METRIC_NAMES = {"f1-score": "F1", "f1": "F1", "precision": "precision", "recall": "recall",
                "macro-f1": "macro-F1", "accuracy": "accuracy", "balanced-accuracy":
                "balanced accuracy", "few-recall": "few-recall"}
BOUNDS = {"estimate": "estimate", "lo": "interval low", "hi": "interval high",
          "mean": "mean", "sd": "sd", "low": "interval low", "high": "interval high"}


def is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def fmt(x) -> str:
    return f"{x:.6f}" if isinstance(x, float) else str(x)


class Judge:
    SCORE_KEYS: tuple = ()  # further keys of `chosen` that hold a candidate's validation score

    def __init__(self, new: dict, ref: dict):
        self.new, self.ref = new, ref
        self.classes = ref.get("classes") or []
        self.failures: list[tuple[float, str]] = []  # (how far beyond, text)
        self.structure: list[str] = []
        self.notes: list[str] = []
        self.compared = 0
        self.largest = (0.0, "")  # largest difference of a metric over all classes, and where
        self.class_moved = 0  # per-class numbers that moved
        self.excused = []  # class-averaged metrics beyond TOLERANCE that changed predictions explain
        self.cells = []  # (method, seed, |difference|)
        self.run_counts: dict[str, dict[str, tuple[int, int]]] = {}  # kind -> method -> worst pair
        self.other_counts: dict[str, list] = {}  # what -> [(|d|, a, b)]
        self.tuning_numbers: dict[str, float] = {}  # what -> largest |difference|
        self.choices: list[str] = []
        self.never_predicted = 0

    # ------------------------------------------------------------------ recording

    def metric(self, name: str, a, b, allowed: float, by_class: bool = False) -> None:
        """Judges one metric; by_class: a single class's metric (summarised apart)."""
        if not (is_number(a) and is_number(b)):
            if a != b:
                self.structure.append(f"{name}: {a!r} here, {b!r} in the reference")
            return
        self.compared += 1
        d = abs(a - b)
        if d > allowed + 1e-12:
            self.failures.append((d / allowed, f"{name} {fmt(a)} here, {fmt(b)} in the reference "
                                               f"(by {d:.4f}; allowed {allowed:.3g})"))
        elif by_class:
            self.class_moved += d > 0
        else:
            if d > self.largest[0]:
                self.largest = (d, name)
            if d > TOLERANCE:
                self.excused.append((d, name, allowed))

    def count(self, what: str, a, b) -> None:
        if a != b:
            d = abs(a - b) if is_number(a) and is_number(b) else 1
            self.other_counts.setdefault(what, []).append((d, a, b))

    def exact(self, name: str, a, b) -> None:
        if a != b:
            self.structure.append(f"{name}: {short(a)} here, {short(b)} in the reference")

    # ------------------------------------------------------------------ allowances

    @staticmethod
    def class_counts(splits: list[dict], cls: str):
        """(support, times predicted; None where unknown) of a class: the smallest over the
        classification reports given, which gives the largest move."""
        supports, predicted = [], []
        for split in splits:
            c = split.get(cls) or {}
            support = c.get("support")
            if not is_number(support):
                continue
            supports.append(support)
            tp = round((c.get("recall") or 0.0) * support)
            precision = c.get("precision") or 0.0
            predicted.append(round(tp / precision) if precision > 0 else None)
        support = min(supports) if supports else None
        return support, (None if None in predicted or not predicted else min(predicted))

    def move(self, kind: str, splits: list[dict], cls: str, flips: int) -> float:
        """The most `flips` changed predictions can move a class's recall, precision or F1."""
        if flips <= 0:
            return 0.0
        support, predicted = self.class_counts(splits, cls)
        if support is None:
            return 1.0
        if kind == "recall":
            return min(1.0, flips / support) if support > 0 else 0.0
        if kind == "precision":
            return 1.0 if predicted is None else min(1.0, flips / max(predicted - flips, 1))
        return min(1.0, 2 * flips / max(support + (predicted or 0) - flips, 1))

    def allowance(self, kind: str, splits: list[dict], classes: list[str], changes) -> float:
        """What a metric of `classes` may move: one class's, or their mean (a macro average, a
        shot group, few-recall). `changes`: class -> test predictions that changed touching
        it, read from the confusion matrices; None where there are none (validation): then
        FLIPS changed predictions are assumed."""
        def flips(cls, cap):
            return FLIPS if changes is None else min(changes.get(cls, 0), cap)

        if len(classes) == 1:
            return max(TOLERANCE, self.move(kind, splits, classes[0], flips(classes[0], 10**9)))
        worst = max((self.move(kind, splits, c, flips(c, FLIPS)) for c in classes), default=0.0)
        return TOLERANCE + worst / max(len(classes), 1)

    def present(self, split: dict) -> list[str]:
        return [c for c in self.classes if ((split.get(c) or {}).get("support") or 0) > 0]

    def group_members(self, group: str, split: dict) -> list[str]:
        t = self.ref.get("group_thresholds") or {}
        counts = self.ref.get("train_counts") or []
        out = []
        for cls, n in zip(self.classes, counts):
            g = "many" if n > t.get("many", 100) else "few" if n < t.get("few", 20) else "medium"
            if g == group and ((split.get(cls) or {}).get("support") or 0) > 0:
                out.append(cls)
        return out

    def changes(self, a, b):
        """class -> test predictions that changed and touch it, or None without two confusion
        matrices: a prediction of a text of class k that moved changes two cells of row k; one
        that moved to or from k, of a text of another class, one cell of column k."""
        if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b) \
                or len(a) != len(self.classes) or any(len(r) != len(s) for r, s in zip(a, b)):
            return None
        n = len(a)
        out = {}
        for k, cls in enumerate(self.classes):
            row = sum(abs(a[k][j] - b[k][j]) for j in range(n))
            col = sum(abs(a[i][k] - b[i][k]) for i in range(n))
            out[cls] = (row + 1) // 2 + col - abs(a[k][k] - b[k][k])
        return out

    def validation_allowance(self, m) -> float:
        """A method's validation macro-F1 (the recommendation's score): no confusion matrix,
        so FLIPS changed predictions are assumed."""
        runs_a = ((self.new.get("methods") or {}).get(m) or {}).get("runs") or []
        runs_b = ((self.ref.get("methods") or {}).get(m) or {}).get("runs") or []
        out = TOLERANCE
        for ra, rb in zip(runs_a, runs_b):
            va, vb = ra.get("validation") or {}, rb.get("validation") or {}
            out = max(out, self.allowance("f1", [va, vb], self.present(vb), None))
        return out

    def method_allowance(self, metric: str, m: str, cls: str | None = None) -> float:
        """A statistic over a method's test predictions, every seed (bootstrap, subsamples):
        the largest of its runs' allowances."""
        if metric == "accuracy":
            return TOLERANCE
        runs_a = ((self.new.get("methods") or {}).get(m) or {}).get("runs") or []
        runs_b = ((self.ref.get("methods") or {}).get(m) or {}).get("runs") or []
        out = TOLERANCE
        for ra, rb in zip(runs_a, runs_b):
            ta, tb = ra.get("test") or {}, rb.get("test") or {}
            ch = self.changes(ra.get("test_confusion"), rb.get("test_confusion"))
            if cls is not None:
                kind = "f1" if metric.startswith("f1") else metric
                out = max(out, self.allowance(kind, [ta, tb], [cls], ch))
            elif metric == "few-recall":
                rare = [c for c in self.ref.get("rare_classes") or [] if c in self.present(tb)]
                out = max(out, self.allowance("recall", [ta, tb], rare, ch))
            else:  # macro-F1, balanced accuracy
                kind = "recall" if metric == "balanced-accuracy" else "f1"
                out = max(out, self.allowance(kind, [ta, tb], self.present(tb), ch))
        return out

    # ------------------------------------------------------------------ the report

    def judge(self) -> None:
        new, ref = self.new, self.ref
        for key in sorted(set(new) | set(ref)):
            if key in IGNORED:
                continue
            if key not in new or key not in ref:
                self.structure.append(f"`{key}` is in {'the reference' if key in ref else 'this report'} only")
                continue
            a, b = new[key], ref[key]
            if key == "methods":
                self.methods(a, b)
            elif key == "bootstrap":
                self.bootstrap(a, b)
            elif key == "subsamples":
                self.subsamples(a, b)
            elif key == "recommended":
                self.recommended(a, b)
            elif key == "verdict":
                if a != b:
                    self.notes.append("the verdict's sentences differ in their wording or rounding "
                                      "(they are written from the metrics judged here)")
            elif key in ("device", "precision"):
                if a != b:
                    self.notes.append(f"{key}: {a} here, {b} in the reference")
            else:
                self.exact(key, a, b)

    def methods(self, a: dict, b: dict) -> None:
        for m in sorted(set(a) | set(b)):
            if m not in a or m not in b:
                self.structure.append(f"method {m} is in {'the reference' if m in b else 'this report'} only")
                continue
            x, y = a[m], b[m]
            if x.get("summary") != y.get("summary"):
                self.notes.append(f"{m}'s one-line description differs")
            ra, rb = x.get("runs") or [], y.get("runs") or []
            if len(ra) != len(rb):
                self.structure.append(f"{m}: {len(ra)} runs here, {len(rb)} in the reference")
            for run_a, run_b in zip(ra, rb):
                self.run(m, run_a, run_b)

    def run(self, m: str, a: dict, b: dict) -> None:
        label = f"{m} seed {b.get('seed')}" + (f" subsample {b['subsample']}" if "subsample" in b else "")
        changes = self.changes(a.get("test_confusion"), b.get("test_confusion"))
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                self.structure.append(f"{label}: `{key}` is in {'the reference' if key in b else 'this report'} only")
                continue
            x, y = a[key], b[key]
            if key in ("test", "validation"):
                self.split(f"{label} {key}", x, y, changes if key == "test" else None)
            elif key.endswith("_balanced_accuracy"):
                split = "test" if key.startswith("test") else "validation"
                sa, sb = a.get(split) or {}, b.get(split) or {}
                allowed = self.allowance("recall", [sa, sb], self.present(sb),
                                         changes if split == "test" else None)
                self.metric(f"{label} {split} balanced accuracy", x, y, allowed)
            elif key == "test_groups":
                self.groups(label, a.get("test") or {}, b.get("test") or {}, x, y, changes)
            elif key == "test_confusion":
                self.confusion(m, b.get("seed"), label, x, y)
            elif key == "test_never_predicted":
                if sorted(x or []) != sorted(y or []):
                    self.never_predicted += 1
            elif key == "chosen":
                self.chosen(m, label, x, y)
            elif key == "weight_norms":
                self.numbers("weight norms", x, y)
            else:
                self.exact(f"{label} {key}", x, y)

    def split(self, label: str, a: dict, b: dict, changes) -> None:
        """One classification report (test: `changes` read from the confusion matrices)."""
        present = self.present(b)
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                self.structure.append(f"{label}: `{key}` is in {'the reference' if key in b else 'this report'} only")
                continue
            x, y = a[key], b[key]
            if not isinstance(x, dict) or not isinstance(y, dict):
                self.metric(f"{label} {METRIC_NAMES.get(key, key)}", x, y, TOLERANCE)
                continue
            for k in sorted(set(x) | set(y)):
                sep = "-" if key == "macro avg" else " "
                name = f"{label} {AGGREGATE_NAMES.get(key, key)}{sep}{METRIC_NAMES.get(k, k)}"
                kind = "f1" if k.startswith("f1") else k
                if k not in x or k not in y:
                    self.structure.append(f"{name}: in one report only")
                elif k == "support":
                    self.exact(name, x[k], y[k])
                elif key == "weighted avg":
                    self.metric(name, x[k], y[k], TOLERANCE)
                elif key == "macro avg":
                    self.metric(name, x[k], y[k], self.allowance(kind, [a, b], present, changes))
                else:
                    self.metric(name, x[k], y[k], self.allowance(kind, [a, b], [key], changes), True)

    def groups(self, label: str, test_a: dict, test_b: dict, a: list, b: list, changes) -> None:
        ga = {g.get("group"): g for g in a or []}
        gb = {g.get("group"): g for g in b or []}
        if set(ga) != set(gb):
            self.structure.append(f"{label}: shot groups {sorted(ga)} here, {sorted(gb)} in the reference")
        for g in sorted(set(ga) & set(gb)):
            x, y = ga[g], gb[g]
            self.exact(f"{label} group {g} classes", x.get("classes"), y.get("classes"))
            members = self.group_members(g, test_b)
            for k in ("recall", "f1"):
                allowed = self.allowance(k, [test_a, test_b], members, changes)
                self.metric(f"{label} test group {g} {METRIC_NAMES[k]}", x.get(k), y.get(k), allowed,
                            len(members) == 1)

    def confusion(self, m: str, seed, label: str, a: list, b: list) -> None:
        if len(a or []) != len(b or []) or any(len(r) != len(s) for r, s in zip(a, b)):
            self.structure.append(f"{label}: the confusion matrices have different shapes")
            return
        for r, s in zip(a, b):
            for x, y in zip(r, s):
                if x != y:
                    self.cells.append((m, seed, abs(x - y)))

    def numbers(self, what: str, a, b) -> None:
        """Largest difference of numbers that are summarised, not judged."""
        pairs = []
        flatten_pairs(a, b, pairs)
        for x, y in pairs:
            if is_number(x) and is_number(y):
                if isinstance(x, int) and isinstance(y, int) and x != y:
                    self.other_counts.setdefault(what, []).append((abs(x - y), x, y))
                elif x != y:
                    self.tuning_numbers[what] = max(self.tuning_numbers.get(what, 0.0), abs(x - y))
            elif x != y:
                self.tuning_numbers.setdefault(what, 0.0)

    def settings(self, x):
        return settings(x)

    def chosen(self, m: str, label: str, a, b) -> None:
        sa, sb = self.settings(a), self.settings(b)
        if sa != sb:
            self.choices.append(f"{label} chose {choice_difference(sa, sb)}")
            return  # the candidates and their diagnostics differ with the choice
        if not isinstance(a, dict) or not isinstance(b, dict):
            return
        self.diagnostics(m, a, b)

    def diagnostics(self, m: str, a: dict, b: dict) -> None:
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key), b.get(key)
            if key in COUNTS_OF_RUNS:
                if is_number(x) and is_number(y) and x != y:
                    kind = self.run_counts.setdefault(COUNTS_OF_RUNS[key], {})
                    worst = kind.get(m)
                    if worst is None or abs(x - y) > abs(worst[0] - worst[1]):
                        kind[m] = (x, y)
                elif x != y:
                    self.tuning_numbers.setdefault(f"{key} recorded", 0.0)
            elif key == "converged":
                if x != y:
                    self.notes.append(f"{m}: the optimiser converged in one report and not in the other")
            elif isinstance(x, list) and isinstance(y, list) and key in ("curve", "trials", "stage1_trials"):
                if len(x) != len(y):
                    self.tuning_numbers.setdefault(f"{key} length", 0.0)
                for p, q in zip(x, y):
                    if isinstance(p, dict) and isinstance(q, dict):
                        if self.settings(p) != self.settings(q):
                            self.tuning_numbers.setdefault("tuning candidates", 0.0)
                        else:
                            self.diagnostics(m, p, q)
            elif isinstance(x, dict) and isinstance(y, dict):
                self.diagnostics(m, x, y)
            elif key in ("validation", "gradient_max") or key in self.SCORE_KEYS:
                what = "final gradients" if key == "gradient_max" else "candidates' validation scores"
                self.numbers(what, x, y)
            elif isinstance(x, list) or isinstance(y, list):
                self.numbers(f"tuning records `{key}`", x, y)
            elif x != y:
                self.notes.append(f"{m}: tuning record `{key}` is {short(x)} here, {short(y)} in the reference")

    def bootstrap(self, a: dict, b: dict) -> None:
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key), b.get(key)
            if key != "methods":
                self.exact(f"bootstrap {key}", x, y)
                continue
            for m in sorted(set(x or {}) | set(y or {})):
                if m not in (x or {}) or m not in (y or {}):
                    where = "the reference" if m in (y or {}) else "this report"
                    self.structure.append(f"bootstrap: method {m} is in {where} only")
                    continue
                p, q = x[m], y[m]
                for part in sorted(set(p) | set(q)):
                    u, v = p.get(part), q.get(part)
                    if not isinstance(u, dict) or not isinstance(v, dict):
                        self.exact(f"{m} bootstrap {part}", u, v)
                        continue
                    for stat in sorted(set(u) | set(v)):
                        s, t = u.get(stat), v.get(stat)
                        if part == "per_class":
                            for k in sorted(set(s or {}) | set(t or {})):
                                allowed = self.method_allowance(k, m, cls=stat)
                                self.bounds(f"{m} bootstrap {stat} {METRIC_NAMES.get(k, k)}",
                                            (s or {}).get(k), (t or {}).get(k), allowed, True)
                        else:
                            allowed = self.method_allowance(stat, m)
                            what = m
                            if part == "difference_from_baseline":
                                base = a.get("baseline") or "ib"
                                allowed += self.method_allowance(stat, base)
                                what = f"{m} minus {base}"
                            self.bounds(f"{what} bootstrap {METRIC_NAMES.get(stat, stat)}", s, t, allowed)

    def bounds(self, name: str, a, b, allowed: float, by_class: bool = False) -> None:
        if not isinstance(a, dict) or not isinstance(b, dict):
            self.exact(name, a, b)
            return
        for k in sorted(set(a) | set(b)):
            self.metric(f"{name} {BOUNDS.get(k, k)}", a.get(k), b.get(k), allowed, by_class)

    def subsamples(self, a, b) -> None:
        if not isinstance(a, dict) or not isinstance(b, dict):
            self.exact("subsamples", a, b)
            return
        for key in sorted(set(a) | set(b)):
            x, y = a.get(key), b.get(key)
            if key != "statistics" or not isinstance(x, dict) or not isinstance(y, dict):
                self.exact(f"subsamples {key}", x, y)
                continue
            for metric in sorted(set(x) | set(y)):
                for m in sorted(set(x.get(metric) or {}) | set(y.get(metric) or {})):
                    p, q = (x.get(metric) or {}).get(m), (y.get(metric) or {}).get(m)
                    name = f"{m} subsamples {METRIC_NAMES.get(metric, metric)}"
                    if not isinstance(p, dict) or not isinstance(q, dict):
                        self.exact(name, p, q)
                        continue
                    allowed = self.method_allowance(metric, m)
                    against_ib = allowed + self.method_allowance(metric, "ib")
                    for k in sorted(set(p) | set(q)):
                        u, v = p.get(k), q.get(k)
                        if k == "scores":
                            if len(u or []) != len(v or []):
                                self.structure.append(f"{name}: {len(u or [])} scores here, "
                                                      f"{len(v or [])} in the reference")
                            for i, (s, t) in enumerate(zip(u or [], v or [])):
                                self.metric(f"{name} of subsample {i}", s, t, allowed)
                        elif k == "vs_ib":
                            if not isinstance(u, dict) or not isinstance(v, dict):
                                self.exact(f"{name} vs ib", u, v)
                                continue
                            for z in sorted(set(u) | set(v)):
                                if z in ("won", "lost", "tied"):
                                    self.count("subsample won/lost/tied tallies", u.get(z), v.get(z))
                                else:
                                    self.metric(f"{name} vs ib {BOUNDS.get(z, z)}", u.get(z), v.get(z),
                                                against_ib)
                        else:
                            self.metric(f"{name} {BOUNDS.get(k, k)}", u, v, allowed)

    def recommended(self, a, b) -> None:
        if not isinstance(a, dict) or not isinstance(b, dict):
            self.exact("recommended", a, b)
            return
        if a.get("method") != b.get("method"):
            self.choices.append(f"the recommended method is {a.get('method')} here, "
                                f"{b.get('method')} in the reference")
        ra, rb = a.get("runner_up") or {}, b.get("runner_up") or {}
        if ra.get("method") != rb.get("method"):
            self.choices.append(f"the runner-up is {ra.get('method')} here, {rb.get('method')} in the reference")
        for key in ("by", "rule"):
            self.exact(f"recommended {key}", a.get(key), b.get(key))
        first, second = b.get("method"), rb.get("method")
        if a.get("method") == first:
            self.metric(f"the recommended method's ({first}) validation score", a.get("validation"),
                        b.get("validation"), self.validation_allowance(first))
        if a.get("method") == first and ra.get("method") == second:
            second_allowed = self.validation_allowance(second)
            self.metric(f"the runner-up's ({second}) validation score", ra.get("validation"),
                        rb.get("validation"), second_allowed)
            self.bounds("the recommendation's margin over the runner-up", ra.get("margin"),
                        rb.get("margin"), self.validation_allowance(first) + second_allowed)

    # ------------------------------------------------------------------ the words

    def noise(self) -> list[str]:
        parts = []
        if self.cells:
            runs = len({(m, s) for m, s, _ in self.cells})
            ones = sum(1 for *_, d in self.cells if d == 1)
            biggest = max(d for *_, d in self.cells)
            if ones == len(self.cells):
                parts.append(f"{plural(len(self.cells), 'confusion cell')} {differ(len(self.cells))} "
                             f"by 1 in {plural(runs, 'run')}")
            else:
                parts.append(f"{plural(len(self.cells), 'confusion cell')} {differ(len(self.cells))} "
                             f"in {plural(runs, 'run')} "
                             f"({ones} by 1, largest {biggest})")
        for kind, per_method in self.run_counts.items():
            x, y = max(per_method.values(), key=lambda p: abs(p[0] - p[1]))
            parts.append(f"{kind} differ for {plural(len(per_method), 'method')} (largest {x} vs {y})")
        for what, diffs in self.other_counts.items():
            d, x, y = max(diffs, key=lambda t: t[0])
            parts.append(f"{what} differ in {len(diffs)} places (largest {x} vs {y})")
        if self.never_predicted:
            parts.append(f"the classes never predicted differ in {plural(self.never_predicted, 'run')}")
        for what, d in self.tuning_numbers.items():
            parts.append(f"{what} differ" + (f" (by up to {d:.2g})" if d else ""))
        if self.choices:
            parts.append(f"{plural(len(self.choices), 'tuning choice')} {differ(len(self.choices))} "
                         f"(see the notes)")
        if self.largest[0] > 0:
            parts.append(f"metrics over all classes move by at most {self.largest[0]:.4f} "
                         f"({self.largest[1]})")
        if self.excused:
            d, name, allowed = max(self.excused)
            parts.append(f"{plural(len(self.excused), 'class-averaged metric')} beyond {TOL_TEXT} "
                         f"explained by changed predictions of a class with few texts (largest "
                         f"{d:.4f}, {name}, allowed {allowed:.4f})")
        if self.class_moved:
            parts.append(f"{plural(self.class_moved, 'per-class number')} "
                         f"{'moves' if self.class_moved == 1 else 'move'}, each within what the "
                         f"changed predictions explain")
        return parts


class MultiLabelJudge(Judge):
    """A multi-label report (`"task": "multi-label"`): each split is a classification report
    of indicator matrices with per-class confusion matrices [[tn, fp], [fn, tp]]; thresholds
    are chosen per class; the bootstrap is per method."""

    SCORE_KEYS = ("validation_macro_f1",)
    SPLITS = ("test", "test_at_0.5", "test_at_0.3", "validation")
    # Numbers over every text or every label decision: a few changed decisions move them by
    # far less than the tolerance.
    OVERALL = {"hamming_loss": "hamming loss", "subset_accuracy": "subset accuracy",
               "jaccard_samples": "samples Jaccard", "macro_average_precision": "macro AP"}
    AVERAGES = {"macro avg": "macro-", "micro avg": "micro-", "samples avg": "samples-",
                "weighted avg": "weighted "}

    def __init__(self, new: dict, ref: dict):
        super().__init__(new, ref)
        self.thresholds_moved: dict[str, list] = {}  # method -> [(seed, class, here, reference)]
        self.sources_moved: dict[str, list] = {}

    def settings(self, x):
        return settings(x, DIAGNOSTICS | set(self.SCORE_KEYS))

    def exact(self, name: str, a, b) -> None:
        """As for single-label, naming the keys of a dict (the configuration, say) that differ."""
        if isinstance(a, dict) and isinstance(b, dict) and a != b:
            for k in sorted(set(a) | set(b)):
                if k not in a or k not in b:
                    self.structure.append(f"{name}: `{k}` is in {'the reference' if k in b else 'this report'} only")
                else:
                    self.exact(f"{name} {k}", a[k], b[k])
            return
        super().exact(name, a, b)

    # ------------------------------------------------------------------ allowances

    def decisions(self, a: dict, b: dict):
        """(class -> label decisions that changed, or None without both confusion matrices;
        class -> (positives, predicted positives), the smaller of the two reports)."""
        ma, mb = a.get("multilabel_confusion_matrix"), b.get("multilabel_confusion_matrix")
        if shaped(ma, len(self.classes)) and shaped(mb, len(self.classes)):
            changes, counts = {}, {}
            for cls, x, y in zip(self.classes, ma, mb):
                (_, fp_a), (fn_a, tp_a) = x
                (_, fp_b), (fn_b, tp_b) = y
                changes[cls] = abs(tp_a - tp_b) + abs(fp_a - fp_b)
                counts[cls] = (min(tp_a + fn_a, tp_b + fn_b), min(tp_a + fp_a, tp_b + fp_b))
            return changes, counts
        return None, {cls: self.class_counts([a, b], cls) for cls in self.classes}

    @staticmethod
    def shift(kind: str, positives, predicted, k: int) -> float:
        """The most k changed decisions of a class move its recall, precision or F1."""
        if k <= 0 or positives == 0:
            return 0.0  # with no positive texts, tp stays 0: each metric stays 0
        if positives is None:
            return 1.0
        if kind == "recall":
            return min(1.0, k / positives)
        if kind == "precision":
            return 1.0 if predicted is None else min(1.0, k / max(predicted - k, 1))
        return min(1.0, 2 * k / max(positives + (predicted or 0) - k, 1))

    def ml_allowance(self, kind: str, classes: list[str], changes, counts) -> float:
        """One class's metric: TOLERANCE or what all its changed decisions can move it; a mean
        over classes: TOLERANCE plus what at most FLIPS changed decisions of its most fragile
        class can move it. `changes` None: FLIPS changed decisions assumed."""
        def k(cls, cap):
            return FLIPS if changes is None else min(changes.get(cls, 0), cap)

        if len(classes) == 1:
            c = classes[0]
            return max(TOLERANCE, self.shift(kind, *counts.get(c, (None, None)), k(c, 10**9)))
        worst = max((self.shift(kind, *counts.get(c, (None, None)), k(c, FLIPS)) for c in classes),
                    default=0.0)
        return TOLERANCE + worst / max(len(classes), 1)

    def score_allowance(self, validation_a: dict, validation_b: dict) -> float:
        """validation_score: validation macro-F1 on each half of validation at thresholds chosen
        without that half -- no confusion matrices of the halves, so FLIPS changed decisions
        per class, each half holding half of validation's texts."""
        _, counts = self.decisions(validation_a, validation_b)
        halves = {c: (None if s is None else s // 2, None if p is None else p // 2)
                  for c, (s, p) in counts.items()}
        return self.ml_allowance("f1", list(self.classes), None, halves)

    def method_allowance(self, metric: str, m: str, cls: str | None = None) -> float:
        """A bootstrap statistic over a method's test decisions, every seed: the largest of its
        runs' allowances."""
        runs_a = ((self.new.get("methods") or {}).get(m) or {}).get("runs") or []
        runs_b = ((self.ref.get("methods") or {}).get(m) or {}).get("runs") or []
        out = TOLERANCE
        for ra, rb in zip(runs_a, runs_b):
            changes, counts = self.decisions(ra.get("test") or {}, rb.get("test") or {})
            if cls is not None:
                out = max(out, self.ml_allowance("f1", [cls], changes, counts))
            elif metric == "macro-f1":
                out = max(out, self.ml_allowance("f1", list(self.classes), changes, counts))
            elif metric in ("rare-f1", "rare-recall"):
                rare = [c for c in self.ref.get("rare_classes") or [] if c in self.classes]
                kind = "recall" if metric == "rare-recall" else "f1"
                out = max(out, self.ml_allowance(kind, rare, changes, counts))
        return out  # micro-F1, samples-F1: over every decision or text

    # ------------------------------------------------------------------ the report

    def judge(self) -> None:
        super().judge()
        for m, moved in self.thresholds_moved.items():
            seed, cls, x, y = max(moved, key=lambda t: abs(t[2] - t[3]))
            runs = len({t[0] for t in moved})
            self.choices.append(f"{m}: {plural(len(moved), 'per-class threshold')} {differ(len(moved))} "
                                f"in {plural(runs, 'run')} (largest: seed {seed} {cls} {x:.4f} here, "
                                f"{y:.4f} in the reference)")
        for m, moved in self.sources_moved.items():
            seed, cls, x, y = moved[0]
            self.choices.append(f"{m}: {plural(len(moved), 'threshold')} chosen from other data "
                                f"(seed {seed} {cls}: {x} here, {y} in the reference)")

    def methods(self, a: dict, b: dict) -> None:
        super().methods(a, b)
        for m in sorted(set(a) & set(b)):
            x, y = a[m], b[m]
            if x.get("title") != y.get("title"):
                self.notes.append(f"{m}'s title differs")
            for key in sorted((set(x) | set(y)) - {"runs", "summary", "title", "bootstrap"}):
                self.exact(f"{m} {key}", x.get(key), y.get(key))
            self.method_bootstrap(m, x.get("bootstrap"), y.get("bootstrap"))

    def run(self, m: str, a: dict, b: dict) -> None:
        label = f"{m} seed {b.get('seed')}"
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                self.structure.append(f"{label}: `{key}` is in {'the reference' if key in b else 'this report'} only")
                continue
            x, y = a[key], b[key]
            if key in self.SPLITS:
                if not isinstance(x, dict) or not isinstance(y, dict):
                    self.exact(f"{label} {key}", x, y)
                else:
                    self.ml_split(m, b.get("seed"), f"{label} {key.replace('_', ' ')}", x, y)
            elif key == "validation_score":
                allowed = self.score_allowance(a.get("validation") or {}, b.get("validation") or {})
                self.metric(f"{label} validation score", x, y, allowed)
            elif key == "thresholds":
                self.thresholds(m, b.get("seed"), label, x, y, a.get("validation") or {},
                                b.get("validation") or {})
            elif key == "chosen":
                self.chosen(m, label, x, y)
            elif key == "weight_norms":
                self.numbers("weight norms", x, y)
            else:
                self.exact(f"{label} {key}", x, y)

    def ml_split(self, m: str, seed, label: str, a: dict, b: dict) -> None:
        changes, counts = self.decisions(a, b)
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                self.structure.append(f"{label}: `{key}` is in {'the reference' if key in b else 'this report'} only")
                continue
            x, y = a[key], b[key]
            if key == "multilabel_confusion_matrix":
                if not shaped(x, len(self.classes)) or not shaped(y, len(self.classes)):
                    self.structure.append(f"{label}: the confusion matrices have different shapes")
                    continue
                for p, q in zip(x, y):
                    for r, s in zip(p, q):
                        for u, v in zip(r, s):
                            if u != v:
                                self.cells.append((m, seed, abs(u - v)))
            elif key == "average_precision":
                if not isinstance(x, list) or not isinstance(y, list) or len(x) != len(y) \
                        or len(y) != len(self.classes):
                    self.structure.append(f"{label}: per-class average precision for "
                                          f"{len(x or [])} classes here, {len(y or [])} in the reference")
                    continue
                for cls, u, v in zip(self.classes, x, y):
                    self.metric(f"{label} {cls} AP", u, v, TOLERANCE, True)
            elif not isinstance(x, dict) or not isinstance(y, dict):
                self.metric(f"{label} {self.OVERALL.get(key, key)}", x, y, TOLERANCE)
            else:
                for k in sorted(set(x) | set(y)):
                    kind = "f1" if k.startswith("f1") else k
                    name = (f"{label} {self.AVERAGES[key]}{METRIC_NAMES.get(k, k)}" if key in self.AVERAGES
                            else f"{label} {key} {METRIC_NAMES.get(k, k)}")
                    if k not in x or k not in y:
                        self.structure.append(f"{name}: in one report only")
                    elif k == "support":
                        self.exact(name, x[k], y[k])
                    elif key == "macro avg":
                        self.metric(name, x[k], y[k], self.ml_allowance(kind, list(self.classes), changes, counts))
                    elif key in self.AVERAGES:
                        self.metric(name, x[k], y[k], TOLERANCE)
                    else:
                        self.metric(name, x[k], y[k], self.ml_allowance(kind, [key], changes, counts), True)

    def thresholds(self, m: str, seed, label: str, a, b, validation_a: dict, validation_b: dict) -> None:
        """Each class's threshold: its value and source are choices; the validation F1 it was
        chosen with a metric (that class's validation F1)."""
        if not isinstance(a, dict) or not isinstance(b, dict):
            self.exact(f"{label} thresholds", a, b)
            return
        if set(a) != set(b):
            self.structure.append(f"{label}: thresholds for {sorted(a)} here, {sorted(b)} in the reference")
        changes, counts = self.decisions(validation_a, validation_b)
        for cls in sorted(set(a) & set(b)):
            x, y = a[cls] or {}, b[cls] or {}
            for k in sorted(set(x) | set(y)):
                u, v = x.get(k), y.get(k)
                if k == "value":
                    if u != v and is_number(u) and is_number(v):
                        self.thresholds_moved.setdefault(m, []).append((seed, cls, u, v))
                    elif u != v:
                        self.exact(f"{label} {cls} threshold", u, v)
                elif k == "source":
                    if u != v:
                        self.sources_moved.setdefault(m, []).append((seed, cls, u, v))
                elif k == "validation_f1":
                    self.metric(f"{label} {cls} threshold's validation F1", u, v,
                                self.ml_allowance("f1", [cls], changes, counts), True)
                else:
                    self.exact(f"{label} {cls} threshold {k}", u, v)

    def method_bootstrap(self, m: str, a, b) -> None:
        if not isinstance(a, dict) or not isinstance(b, dict):
            self.exact(f"{m} bootstrap", a, b)
            return
        base = (self.ref.get("bootstrap") or {}).get("baseline")
        for part in sorted(set(a) | set(b)):
            u, v = a.get(part), b.get(part)
            if not isinstance(u, dict) or not isinstance(v, dict):
                self.exact(f"{m} bootstrap {part}", u, v)
                continue
            for stat in sorted(set(u) | set(v)):
                s, t = u.get(stat), v.get(stat)
                if part == "per_class_f1":
                    self.bounds(f"{m} bootstrap {stat} F1", s, t, self.method_allowance("f1", m, cls=stat), True)
                elif part == "difference_from_baseline":
                    allowed = self.method_allowance(stat, m) + self.method_allowance(stat, base)
                    self.bounds(f"{m} minus {base} bootstrap {METRIC_NAMES.get(stat, stat)}", s, t, allowed)
                else:
                    self.bounds(f"{m} bootstrap {METRIC_NAMES.get(stat, stat)}", s, t,
                                self.method_allowance(stat, m))


# ---------------------------------------------------------------------- helpers


def settings(x, drop=DIAGNOSTICS):
    """What the tuner chose, without the scores it chose by, its trials and curves (lists),
    or the optimiser's diagnostics."""
    if isinstance(x, dict):
        return {k: settings(v, drop) for k, v in x.items() if k not in drop and not isinstance(v, list)}
    return x


def flat_settings(s, prefix="") -> dict:
    if not isinstance(s, dict):
        return {prefix.rstrip(".") or "setting": s}
    out = {}
    for k, v in s.items():
        if isinstance(v, dict):
            out.update(flat_settings(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def choice_difference(a, b) -> str:
    """'lr 4.0, epochs 20 here; lr 8.0, epochs 10 in the reference': the settings that differ."""
    fa, fb = flat_settings(a), flat_settings(b)
    keys = [k for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    here = ", ".join(f"{k} {fa.get(k, '(none)')}" for k in keys)
    there = ", ".join(f"{k} {fb.get(k, '(none)')}" for k in keys)
    return f"{here} here; {there} in the reference"


def flatten_pairs(a, b, out) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in set(a) & set(b):
            flatten_pairs(a[k], b[k], out)
    elif isinstance(a, list) and isinstance(b, list):
        for x, y in zip(a, b):
            flatten_pairs(x, y, out)
        if len(a) != len(b):
            out.append((len(a), len(b)))
    else:
        out.append((a, b))


def shaped(x, n: int) -> bool:
    """Whether x is n per-class confusion matrices [[tn, fp], [fn, tp]]."""
    return isinstance(x, list) and len(x) == n and all(
        isinstance(c, list) and len(c) == 2 and all(isinstance(r, list) and len(r) == 2 for r in c)
        for c in x)


def short(x) -> str:
    s = json.dumps(x, sort_keys=True)
    return s if len(s) <= 80 else s[:77] + "..."


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def differ(n: int) -> str:
    return "differs" if n == 1 else "differ"


# ---------------------------------------------------------------------- main


def compare(new: Path, ref: Path) -> tuple[int, list[str]]:
    """(0 matches, 1 differs, 2 cannot compare; the lines to print)."""
    if not ref.is_dir():
        return 2, [f"no committed reference at {ref}"]
    try:
        a = json.loads((new / "metrics.json").read_text())
        b = json.loads((ref / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        return 2, [f"{new}: cannot compare with the reference: {e}"]
    if b.get("task") == "multi-label":
        j = MultiLabelJudge(a, b)
        j.judge()
        lines = [f"{new} against the committed reference {ref}: {j.compared:,} metrics of a "
                 f"multi-label report, each within {TOL_TEXT} or what the label decisions that "
                 f"changed can move it (read from the per-class confusion matrices); counts, "
                 f"thresholds, tuning choices and diagnostics summarised, not judged"]
    else:
        j = Judge(a, b)
        j.judge()
        lines = [f"{new} against the committed reference {ref}: {j.compared:,} metrics, each within "
                 f"{TOL_TEXT} or what the test predictions that changed can move it (a class with few "
                 f"texts); counts, tuning choices and diagnostics summarised, not judged"]
    missing = sorted(p.name for p in ref.glob("*.png") if not (new / p.name).is_file())
    pictures = sorted(p.name for p in ref.glob("*.png")
                      if (new / p.name).is_file() and (new / p.name).read_bytes() != p.read_bytes())
    if pictures:
        lines.append(f"  pictures that differ by some pixels (information only): {', '.join(pictures)}")
    if missing:
        lines.append(f"  pictures not in this report (information only): {', '.join(missing)}")
    for note in j.choices:
        lines.append(f"  note: {note} (a near-tie can flip on float noise; judged by the metrics)")
    for note in j.notes:
        lines.append(f"  note: {note}")
    noise = j.noise()
    if noise:
        lines.append("  float noise: " + "; ".join(noise))
    if j.structure or j.failures:
        j.failures.sort(key=lambda f: -f[0])
        for s in j.structure[:20]:
            lines.append(f"  structure: {s}")
        if len(j.structure) > 20:
            lines.append(f"  ... and {len(j.structure) - 20} more structural differences")
        for _, f in j.failures[:20]:
            lines.append(f"  beyond tolerance: {f}")
        if len(j.failures) > 20:
            lines.append(f"  ... and {len(j.failures) - 20} more metrics beyond tolerance")
        named = j.structure[:3] + [f for _, f in j.failures[:5]]
        more = len(j.structure) + len(j.failures) - len(named)
        lines.append(f"{new} differs from the reference: " + "; ".join(named)
                     + (f"; and {more} more" if more > 0 else ""))
        return 1, lines
    if noise or j.choices or j.notes or pictures or missing:
        lines.append(f"{new} matches the reference (differences are float noise across CPUs: "
                     + "; ".join(noise or ["pictures and notes only"]) + ")")
    else:
        lines.append(f"{new} matches the reference (every metric, count and choice identical)")
    return 0, lines


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description="Whether a compare-sampling report reproduces the "
                                "committed reference (metrics within 0.005; see the docstring).")
    p.add_argument("name", nargs="?", help="reports/NAME against reports/reference/NAME")
    p.add_argument("--report", help="the report folder to check (instead of NAME)")
    p.add_argument("--reference", help="the reference folder (instead of NAME)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when it differs, 2 when it cannot compare (default: exit 0, informative)")
    args = p.parse_args(argv)
    if args.name and (args.report or args.reference):
        p.error("give NAME or --report and --reference, not both")
    if args.name:
        new, ref = Path("reports") / args.name, Path("reports/reference") / args.name
    elif args.report and args.reference:
        new, ref = Path(args.report), Path(args.reference)
    else:
        p.error("give NAME, or --report DIR and --reference DIR")
    code, lines = compare(new, ref)
    print("\n".join(lines), flush=True)
    return code if args.strict else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
