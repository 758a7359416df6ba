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

from doc_blocks import replace_block, spearman

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
# The front door's rows: the baseline, the sampling and re-weighting remedies, the
# post-hoc one, the practitioner's baseline and the multi-label loss; all twelve are in
# docs/multilabel.md.
MULTI_HEADLINE_METHODS = ["bce", "class-aware", "sqrt", "reweight-bce", "logit-adjust-bce", "ovr-logreg", "db"]
for m in MULTI_HEADLINE_METHODS:
    rare = "—" if m == "bce" else mean(go_iv[m]["Δ rare-third F1 vs bce"])
    ci = go_iv[m]["macro-F1"].split(" ", 1)[1]
    rows.append(
        f"| `{m}` | {mean(go_m[m]['macro-F1'])} {ci} | {mean(go_m[m]['micro-F1'])} | {rare} "
        f"| {mean(go_m[m]['macro-F1 @0.5'])} | {mean(ek_m[m]['macro-F1'])} |"
    )
replace_block(README, "multi-headline", "\n".join(rows) + "\n")

# Encoders: the same studies with all-mpnet-base-v2 (reports/reference/*-mpnet) beside
# MiniLM. docs/encoders.md gets every method; the README a short table. The sentences
# that interpret them are computed here from the numbers, not written by hand.
ENCODERS_DOC = ROOT / "docs" / "encoders.md"
ENC = {"MiniLM": "", "MPNet": "-mpnet"}


def num(cell: str) -> float:
    return float(mean(cell).replace("−", "-").replace("+", ""))


def bold(cell: str) -> bool:
    return cell.strip().startswith("**")


enc_summary = {
    (enc, name): summary_of(name + suffix)
    for enc, suffix in ENC.items()
    for name in ["goemotions", "carer", "carer-small"]
}
parts, findings = [], []
for name in ["goemotions", "carer"]:
    iv = {e: cells(enc_summary[(e, name)]["95% confidence intervals"]) for e in ENC}
    tm = {e: cells(enc_summary[(e, name)]["Test metrics"]) for e in ENC}
    df = {
        e: cells(enc_summary[(e, name)][next(t for t in enc_summary[(e, name)] if t.startswith("Difference from"))])
        for e in ENC
    }
    methods = [m for m in tm["MiniLM"] if m in tm["MPNet"]]
    rows = [
        "| method | MiniLM macro-F1 [95% CI] | MPNet macro-F1 [95% CI] | MPNet − MiniLM "
        "| Δ macro-F1 vs `ib`, MiniLM | Δ macro-F1 vs `ib`, MPNet "
        "| Δ rare-third recall vs `ib`, MiniLM | Δ rare-third recall vs `ib`, MPNet |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in methods:
        d = {e: ("—", "—") if m == "ib" else (df[e][m]["Δ macro-F1"], df[e][m]["Δ rare-third recall"]) for e in ENC}
        gain = num(tm["MPNet"][m]["macro-F1"]) - num(tm["MiniLM"][m]["macro-F1"])
        rows.append(
            f"| `{m}` | {iv['MiniLM'][m]['macro-F1']} | {iv['MPNet'][m]['macro-F1']} | {gain:+.4f} "
            f"| {d['MiniLM'][0]} | {d['MPNet'][0]} | {d['MiniLM'][1]} | {d['MPNet'][1]} |"
        )
    f1 = {e: [num(tm[e][m]["macro-F1"]) for m in methods] for e in ENC}
    rho = spearman(f1["MiniLM"], f1["MPNet"])
    best = {e: methods[max(range(len(methods)), key=lambda i: f1[e][i])] for e in ENC}
    gains = [b - a for a, b in zip(f1["MiniLM"], f1["MPNet"])]
    wins = {e: [m for m in methods if m != "ib" and bold(df[e][m]["Δ macro-F1"]) and num(df[e][m]["Δ macro-F1"]) > 0] for e in ENC}
    spread = {e: max(f1[e]) - min(f1[e]) for e in ENC}
    ib_gain = num(tm["MPNet"]["ib"]["macro-F1"]) - num(tm["MiniLM"]["ib"]["macro-F1"])
    over_ib = {e: max(f1[e]) - num(tm[e]["ib"]["macro-F1"]) for e in ENC}
    text = (
        f"From MiniLM to MPNet, each method's macro-F1 changes by {min(gains):+.4f} to "
        f"{max(gains):+.4f} (`ib`: {ib_gain:+.4f}). The best method is `{best['MiniLM']}` on MiniLM "
        f"({over_ib['MiniLM']:+.4f} over `ib`) and `{best['MPNet']}` on MPNet ({over_ib['MPNet']:+.4f}). "
        f"Rank correlation of the {len(methods)} methods' macro-F1 between the encoders: Spearman "
        f"ρ = {rho:.2f}. Methods beating `ib` on macro-F1 with an interval excluding zero: "
        f"{', '.join(f'`{m}`' for m in wins['MiniLM']) or 'none'} (MiniLM); "
        f"{', '.join(f'`{m}`' for m in wins['MPNet']) or 'none'} (MPNet). Best minus worst method: "
        f"{spread['MiniLM']:.4f} (MiniLM), {spread['MPNet']:.4f} (MPNet)."
    ).replace("-0.", "−0.")
    findings.append((name, rho, best, ib_gain, gains))
    parts.append(
        f"**{name}** — test split, mean of 3 seeds, 95% paired-bootstrap intervals over test "
        f"texts (each encoder's own redraws; bold: the interval excludes zero).\n\n> {text}\n\n"
        + "\n".join(rows) + "\n"
    )

# The small-data study under both encoders.
ov = {e: cells(enc_summary[(e, "carer-small")][next(t for t in enc_summary[(e, "carer-small")] if t.startswith("Over ") and "subsamples" in t)]) for e in ENC}
methods = [m for m in ov["MiniLM"] if m in ov["MPNet"]]
rows = [
    "| method | MiniLM macro-F1 | MPNet macro-F1 | − `ib`, MiniLM (points, 95% CI) | − `ib`, MPNet | beat `ib` of 10, MiniLM | MPNet |",
    "|---|---|---|---|---|---|---|",
]
for m in methods:
    a, b = ov["MiniLM"][m], ov["MPNet"][m]
    rows.append(
        f"| `{m}` | {a['macro-F1']} | {b['macro-F1']} | {a['macro-F1 − ib (95% CI)']} | {b['macro-F1 − ib (95% CI)']} "
        f"| {a['beat ib (of 10)']} | {b['beat ib (of 10)']} |"
    )
f1 = {e: [num(ov[e][m]["macro-F1"]) for m in methods] for e in ENC}
rho = spearman(f1["MiniLM"], f1["MPNet"])
tens = {e: [m for m in methods if ov[e][m]["beat ib (of 10)"] == "10"] for e in ENC}
text = (
    f"Rank correlation of the methods' mean macro-F1 between encoders: Spearman ρ = {rho:.2f}. "
    f"Methods beating `ib` in 10 of 10 subsamples: {len(tens['MiniLM'])} on MiniLM, "
    f"{len(tens['MPNet'])} on MPNet. `ib` itself: {ov['MiniLM']['ib']['macro-F1']} (MiniLM), "
    f"{ov['MPNet']['ib']['macro-F1']} (MPNet)."
)
parts.append(
    "**carer, small data** — 10 subsamples of 230, 210, 150, 60, 50, 12 texts per class; "
    "mean ± standard deviation over subsamples; the difference from `ib` paired by subsample.\n\n"
    f"> {text}\n\n" + "\n".join(rows) + "\n"
)
replace_block(ENCODERS_DOC, "encoders", "\n".join(parts))
