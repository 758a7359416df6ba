#!/usr/bin/env python3
"""Copy the reference results (reports/reference/*/summary.md tables) into README.md,
between the <!-- results:begin --> and <!-- results:end --> markers. Run by
`make reference` after it regenerates the reports, so the README never drifts."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
readme = ROOT / "README.md"
parts = []
for name in ["goemotions", "carer"]:
    summary = (ROOT / "reports" / "reference" / name / "summary.md").read_text()
    intro = summary.split("\n\n")[1]
    table = "\n".join(l for l in summary.splitlines() if l.startswith("|"))
    parts.append(f"**{name}** — {intro}\n\n{table}\n")
text = readme.read_text()
block = "<!-- results:begin -->\n" + "\n".join(parts) + "<!-- results:end -->"
new, n = re.subn(r"<!-- results:begin -->.*?<!-- results:end -->", block, text, flags=re.S)
assert n == 1, "README.md needs exactly one results block"
readme.write_text(new)
print("README.md results updated")
