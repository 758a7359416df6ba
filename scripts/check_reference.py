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

    def chosen(self, m: str, label: str, a, b) -> None:
        sa, sb = settings(a), settings(b)
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
                        if settings(p) != settings(q):
                            self.tuning_numbers.setdefault("tuning candidates", 0.0)
                        else:
                            self.diagnostics(m, p, q)
            elif isinstance(x, dict) and isinstance(y, dict):
                self.diagnostics(m, x, y)
            elif key in ("validation", "gradient_max"):
                what = "candidates' validation scores" if key == "validation" else "final gradients"
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


# ---------------------------------------------------------------------- helpers


def settings(x):
    """What the tuner chose, without the scores it chose by, its trials and curves (lists),
    or the optimiser's diagnostics."""
    if isinstance(x, dict):
        return {k: settings(v) for k, v in x.items() if k not in DIAGNOSTICS and not isinstance(v, list)}
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
