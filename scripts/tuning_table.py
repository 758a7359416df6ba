#!/usr/bin/env python3
"""Before/after table of `--tune`: test macro-F1 (mean over seeds) of every method under
`--tune none` and `--tune quick`, one column pair per dataset, as Markdown.

    python3 scripts/tuning_table.py NAME NONE_REPORT QUICK_REPORT [NAME NONE QUICK ...]
"""
import json
import pathlib
import statistics
import sys


def macro_f1(report: pathlib.Path) -> dict:
    m = json.loads((report / "metrics.json").read_text())["methods"]
    return {k: statistics.mean(r["test"]["macro avg"]["f1-score"] for r in v["runs"]) for k, v in m.items()}


args = sys.argv[1:]
studies = [(args[i], macro_f1(pathlib.Path(args[i + 1])), macro_f1(pathlib.Path(args[i + 2])))
           for i in range(0, len(args), 3)]
methods = list(studies[0][1])
print("| method | " + " | ".join(f"{n}: none → quick" for n, _, _ in studies) + " |")
print("|---|" + "---|" * len(studies))
for m in methods:
    cells = []
    for _, a, b in studies:
        d = 100 * (b[m] - a[m])
        cells.append(f"{a[m]:.3f} → {b[m]:.3f} ({d:+.1f})")
    print(f"| `{m}` | " + " | ".join(cells) + " |")
best = []
for n, a, b in studies:
    top = max(b, key=b.get)
    best.append(f"{n}: best `{top}` {b[top]:.3f}, `logreg` {b['logreg']:.3f}")
print("\nBest with `--tune quick` — " + "; ".join(best) + ".")
