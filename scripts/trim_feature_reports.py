#!/usr/bin/env python3
"""Trim committed compare-features reports to what a reader needs: each feature set's
study keeps its summary, metrics, timings, page and trade-off picture, and the confusion
picture of the method its validation recommended; predictions.csv and the other confusion
pictures (a fifth of a megabyte each, a dozen per set) go. `make reference` runs it on the
copies under reports/reference/; the untrimmed reports stay under reports/.

    python3 scripts/trim_feature_reports.py DIR [DIR …]
"""
import json
import pathlib
import re
import sys

CONFUSION = re.compile(r"^(label-)?confusion-(.+)\.png$")

for arg in sys.argv[1:]:
    top = pathlib.Path(arg)
    study = json.loads((top / "features.json").read_text())
    for fs in study["features"]:
        folder = top / fs["report"]
        keep = fs["best_method"]
        (folder / "predictions.csv").unlink(missing_ok=True)
        for png in folder.glob("*.png"):
            m = CONFUSION.match(png.name)
            if m and m.group(2) != keep:
                png.unlink()
