#!/usr/bin/env python3
"""Copy the reference results (reports/reference/*/summary.md tables) into the documentation,
so that the numbers people read never drift from the committed reports. Run by
`make reference` after it regenerates the reports.

- docs/results.md, between <!-- results:begin --> and <!-- results:end -->: every table
  (test metrics, differences from `ib`, the small-data study), with the verdicts.
- README.md, between <!-- headline:begin --> and <!-- headline:end -->: the short table of
  the front door, a few methods and columns taken from the same tables.

Each file must hold exactly one pair of its markers."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results.md"
README = ROOT / "README.md"

# The front door's rows: the baseline, the remedies worth knowing, the practitioner's baseline.
HEADLINE_METHODS = ["ib", "cb", "sqrt", "logit-adjust", "reweight-en", "logreg", "logreg-balanced"]


def sections(summary: str) -> dict[str, str]:
    """summary.md's "## " sections by title."""
    out = {}
    for chunk in summary.split("\n## ")[1:]:
        title, _, body = chunk.partition("\n")
        out[title.strip()] = body.strip()
    return out


def table(body: str) -> str:
    return "\n".join(l for l in body.splitlines() if l.startswith("|"))


def cells(body: str) -> dict[str, dict[str, str]]:
    """A section's markdown table as {method: {column: cell}} (method without backticks).
    Where a header repeats (the subsample table's "beat ib"), the first column wins."""
    lines = table(body).splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    out = {}
    for line in lines[2:]:
        row = [c.strip() for c in line.strip("|").split("|")]
        out[row[0].strip("`")] = {h: v for h, v in reversed(list(zip(header, row)))}
    return out


def mean(cell: str) -> str:
    """"≈ 0.4835 ± 0.0080" -> "0.4835"; "**+0.2446 [+0.1532, +0.3363]**" -> "+0.2446"."""
    return cell.replace("*", "").replace("≈", "").strip().split(" ")[0]


def summary_of(name: str) -> dict[str, str]:
    return sections((ROOT / "reports" / "reference" / name / "summary.md").read_text())


def replace_block(path: pathlib.Path, marker: str, content: str) -> None:
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    text = path.read_text()
    block = f"{begin}\n{content}{end}"
    new, n = re.subn(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    assert n == 1, f"{path.relative_to(ROOT)} needs exactly one {marker} block"
    path.write_text(new)
    print(f"{path.relative_to(ROOT)}: {marker} updated")


full = {name: summary_of(name) for name in ["goemotions", "carer", "carer-small"]}

# docs/results.md: everything.
parts = []
for name in ["goemotions", "carer"]:
    s = full[name]
    verdict = "\n\n".join(f"> {p}" for p in s["Verdict"].split("\n\n"))
    intro = s["Test metrics"].split("\n\n")[0]
    diff = next(t for t in s if t.startswith("Difference from"))
    # The sentence naming columns left out of the table (empty for every method), if any.
    left_out = "".join(f"\n\n{p}" for p in s["Test metrics"].split("\n\n") if p.startswith("Left out"))
    parts.append(
        f"**{name}** — {intro}\n\n{verdict}\n\n{table(s['Test metrics'])}{left_out}\n\n"
        f"{diff} (95% paired bootstrap interval; bold: the interval excludes zero):\n\n{table(s[diff])}\n"
    )
# The small-data study: CARER cut to the seed author's profile, 10 subsamples.
s = full["carer-small"]
verdict = "\n\n".join(f"> {p}" for p in s["Verdict"].split("\n\n") if p.startswith("Over "))
over = next(t for t in s if t.startswith("Over ") and "subsamples" in t)
parts.append(
    f"**carer, small data** — {s[over].split(chr(10) + chr(10))[0]}\n\n{verdict}\n\n{table(s[over])}\n"
)
replace_block(RESULTS, "results", "\n".join(parts))

# README.md: the short table.
go, carer = cells(full["goemotions"]["Test metrics"]), cells(full["carer"]["Test metrics"])
go_diff = cells(full["goemotions"][next(t for t in full["goemotions"] if t.startswith("Difference from"))])
small = cells(full["carer-small"][over])
rows = [
    "| method | GoEmotions accuracy | GoEmotions macro-F1 | GoEmotions rare-third recall, change from `ib` "
    "| CARER accuracy | CARER macro-F1 | CARER small data: macro-F1 |",
    "|---|---|---|---|---|---|---|",
]
for m in HEADLINE_METHODS:
    rare = "—" if m == "ib" else mean(go_diff[m]["Δ rare-third recall"])
    rows.append(
        f"| `{m}` | {mean(go[m]['accuracy'])} | {mean(go[m]['macro-F1'])} | {rare} "
        f"| {mean(carer[m]['accuracy'])} | {mean(carer[m]['macro-F1'])} | {mean(small[m]['macro-F1'])} |"
    )
replace_block(README, "headline", "\n".join(rows) + "\n")

# Multi-label: docs/multilabel.md gets every table and verdict of the GoEmotions-multi and
# Ekman-multi reference reports; the README a short table from the same summaries.
MULTILABEL = ROOT / "docs" / "multilabel.md"
MULTI_NAMES = ["goemotions-multi", "goemotions-ekman-multi"]
multi = {name: summary_of(name) for name in MULTI_NAMES}
parts = []
for name in MULTI_NAMES:
    s = multi[name]
    verdict = "\n\n".join(f"> {p}" for p in s["Verdict"].split("\n\n"))
    intro = s["Test metrics"].split("\n\n")[0]
    iv = next(t for t in s if t.startswith("Intervals"))
    parts.append(
        f"**{name}** — {intro}\n\n{verdict}\n\n{table(s['Test metrics'])}\n\n"
        f"{iv}: {s[iv].split(chr(10) + chr(10))[0]}\n\n{table(s[iv])}\n"
    )
replace_block(MULTILABEL, "multilabel", "\n".join(parts))

go_m = cells(multi["goemotions-multi"]["Test metrics"])
go_iv = cells(multi["goemotions-multi"][next(t for t in multi["goemotions-multi"] if t.startswith("Intervals"))])
ek_m = cells(multi["goemotions-ekman-multi"]["Test metrics"])
rows = [
    "| method | macro-F1 [95% CI] | micro-F1 | rare-third F1, change from `bce` | macro-F1 at 0.5 | Ekman-multi macro-F1 |",
    "|---|---|---|---|---|---|",
]
for m in go_m:
    rare = "—" if m == "bce" else mean(go_iv[m]["Δ rare-third F1 vs bce"])
    ci = go_iv[m]["macro-F1"].split(" ", 1)[1]
    rows.append(
        f"| `{m}` | {mean(go_m[m]['macro-F1'])} {ci} | {mean(go_m[m]['micro-F1'])} | {rare} "
        f"| {mean(go_m[m]['macro-F1 @0.5'])} | {mean(ek_m[m]['macro-F1'])} |"
    )
replace_block(README, "multi-headline", "\n".join(rows) + "\n")
