#!/usr/bin/env python3
"""Copy the committed feature studies (reports/reference/features-*/features.json and each
feature set's metrics.json) into the documentation, so the numbers people read never drift
from the reports. Run by `make reference` after it regenerates them.

- docs/encoders.md, between <!-- features:begin --> and <!-- features:end -->: one table per
  dataset (every feature set: size, embedding speed, the method its validation chose, that
  method's test macro-F1 and the paired difference to `last`, with 95% intervals), and how
  the methods rank on the default features against the recommended ones.
- README.md, between <!-- features:begin --> and <!-- features:end -->: one row per dataset.

Each file must hold exactly one pair of its markers."""
import json
import pathlib

from doc_blocks import replace_block, spearman

ROOT = pathlib.Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reports" / "reference"
ENCODERS_DOC = ROOT / "docs" / "encoders.md"
README = ROOT / "README.md"

# Datasets in the order the documents show them, with the words they are shown by.
DATASETS = [
    ("goemotions-multi", "GoEmotions, multi-label (28 emotions, every text)"),
    ("goemotions", "GoEmotions, single-label (texts with one of 28 emotions)"),
    ("carer", "CARER (6 emotions)"),
    ("carer-small", "CARER small data (10 training subsamples of 230, 210, 150, 60, 50, 12 texts per class)"),
]


def pct(v: float) -> str:
    return f"{100 * v:.1f}"


def signed_points(v: float) -> str:
    return f"{v:+.1f}".replace("-", "−")


def interval(est: float, lo: float, hi: float, signed: bool = False) -> str:
    f = (lambda v: f"{100 * v:+.1f}".replace("-", "−")) if signed else pct
    return f"{f(est)} [{f(lo)}, {f(hi)}]" if hi > lo else f(est)


def method_f1(report_dir: pathlib.Path) -> dict[str, float]:
    """Each method's test macro-F1, mean over its runs (seeds, subsamples)."""
    m = json.loads((report_dir / "metrics.json").read_text())
    out = {}
    for name, method in m["methods"].items():
        runs = [r["test"]["macro avg"]["f1-score"] for r in method["runs"]]
        out[name] = sum(runs) / len(runs)
    return out


parts, readme_rows = [], []
for name, words in DATASETS:
    folder = REFERENCE / f"features-{name}"
    study = json.loads((folder / "features.json").read_text())
    rows = study["features"]
    first, rec = rows[0], next(r for r in rows if r["name"] == study["recommended"])
    table = [
        "| feature set | size | texts/s | method chosen on validation | test macro-F1 [95% CI] | − first set, points [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        d = r["difference_to_first"]
        diff = "—" if d is None else interval(d["estimate"], d["lo"], d["hi"], signed=True)
        mark = " (recommended)" if r is rec else ""
        table.append(
            f"| `{r['name']}`{mark} | {r['dim']:,} | {r['texts_per_s']:.0f} | `{r['best_method']}` "
            f"| {interval(r['test_macro_f1'], *r['interval'])} | {diff} |"
        )
    a, b = method_f1(folder / first["report"]), method_f1(folder / rec["report"])
    common = [m for m in a if m in b]
    moved = [100 * (b[m] - a[m]) for m in common]
    if rec is first:
        rank_text = f"Validation keeps `{first['name']}`."
    else:
        rank_text = (
            f"From `{first['name']}` to `{rec['name']}` each method's test macro-F1 moves by "
            f"{signed_points(min(moved))} to {signed_points(max(moved))} points; rank correlation of the "
            f"{len(common)} methods between the two: Spearman ρ = {spearman([a[m] for m in common], [b[m] for m in common]):.2f}."
        )
    parts.append(f"**{words}**, `{name}`. {rank_text}\n\n" + "\n".join(table) + "\n")
    d = rec["difference_to_first"]
    readme_rows.append(
        f"| {name} | {pct(first['test_macro_f1'])} | `{rec['name']}` | {pct(rec['test_macro_f1'])} "
        f"| {'—' if d is None else interval(d['estimate'], d['lo'], d['hi'], signed=True)} |"
    )

intro = (
    "Test split; each feature set's best method as its own validation chose it, with 95% "
    "paired-bootstrap intervals over test texts (the difference to the first set paired on the "
    "same texts). texts/s: embedding speed without the cache on 2 CPU cores, the data's first 256 "
    "texts, fastest of three passes. Each row's full study is in its folder under `reports/reference/features-*`.\n\n"
)
replace_block(ENCODERS_DOC, "features", intro + "\n".join(parts))
replace_block(
    README,
    "features",
    "| dataset | `last` (default) macro-F1 | features chosen on validation | their macro-F1 | gain, points [95% CI] |\n"
    "|---|---|---|---|---|\n" + "\n".join(readme_rows) + "\n",
)
