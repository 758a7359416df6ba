#!/usr/bin/env python3
"""Copy the reference results (reports/reference/*/summary.md tables) into README.md,
between the <!-- results:begin --> and <!-- results:end --> markers. Run by
`make reference` after it regenerates the reports, so the README never drifts."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
readme = ROOT / "README.md"
parts = []


def sections(summary: str) -> dict[str, str]:
    """summary.md's "## " sections by title."""
    out = {}
    for chunk in summary.split("\n## ")[1:]:
        title, _, body = chunk.partition("\n")
        out[title.strip()] = body.strip()
    return out


def table(body: str) -> str:
    return "\n".join(l for l in body.splitlines() if l.startswith("|"))


for name in ["goemotions", "carer"]:
    summary = (ROOT / "reports" / "reference" / name / "summary.md").read_text()
    s = sections(summary)
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
summary = (ROOT / "reports" / "reference" / "carer-small" / "summary.md").read_text()
s = sections(summary)
verdict = "\n\n".join(f"> {p}" for p in s["Verdict"].split("\n\n") if p.startswith("Over "))
over = next(t for t in s if t.startswith("Over ") and "subsamples" in t)
parts.append(
    f"**carer, small data** — {s[over].split(chr(10) + chr(10))[0]}\n\n{verdict}\n\n{table(s[over])}\n"
)
text = readme.read_text()
block = "<!-- results:begin -->\n" + "\n".join(parts) + "<!-- results:end -->"
new, n = re.subn(r"<!-- results:begin -->.*?<!-- results:end -->", block, text, flags=re.S)
assert n == 1, "README.md needs exactly one results block"
readme.write_text(new)
print("README.md results updated")
