#!/usr/bin/env python3
"""Says whether a fresh report reproduces the committed reference, number by number.

    python3 scripts/check_reference.py NAME        # reports/NAME against reports/reference/NAME

Every number in metrics.json is compared with a tolerance of 1e-4 (absolute): another CPU
or libtorch build rounds differently in the 6th or 7th digit, which is not a different
result. Prints "matches within 1e-4" or the numbers that differ, with how much, worst first.
Pictures are compared byte for byte and reported, but only as information: a picture can
change by a pixel while every number stays put. Informative only (exit 0), as `make demo`
uses it; timings.json is not compared (times are never equal).
"""
import json
import sys
from pathlib import Path

TOLERANCE = 1e-4
TOL_TEXT = "1e-4"
# Keys that record when or how a run was made, not what it found.
IGNORED = {"command", "emo_version", "created", "seconds"}


def walk(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in IGNORED:
                continue
            if k not in a or k not in b:
                out.append((float("inf"), f"{path}/{k}", "present in one report only"))
            else:
                walk(a[k], b[k], f"{path}/{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append((float("inf"), path, f"{len(a)} items against {len(b)}"))
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", out)
    elif isinstance(a, bool) or isinstance(b, bool) or not all(isinstance(v, (int, float)) for v in (a, b)):
        if a != b:
            out.append((float("inf"), path, f"{a!r} against {b!r}"))
    else:
        d = abs(a - b)
        if d > TOLERANCE:
            out.append((d, path, f"{a} against {b} (differs by {d:.2g})"))


def main(name: str) -> int:
    new, ref = Path("reports") / name, Path("reports/reference") / name
    if not ref.is_dir():
        print(f"no committed reference for {name}")
        return 0
    try:
        a = json.loads((new / "metrics.json").read_text())
        b = json.loads((ref / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError) as e:
        print(f"reports/{name}: cannot compare with the reference: {e}")
        return 0
    diffs = []
    walk(a, b, "", diffs)
    pictures = sorted(p.name for p in ref.glob("*.png")
                      if not (new / p.name).is_file() or (new / p.name).read_bytes() != p.read_bytes())
    if not diffs:
        print(f"reports/{name} matches the committed reference {ref} within {TOL_TEXT} "
              f"(every number of metrics.json)"
              + (f"; pictures that differ by some pixels: {', '.join(pictures)}" if pictures
                 else "; every picture byte for byte"))
        return 0
    diffs.sort(key=lambda d: -d[0])
    many = "number" if len(diffs) == 1 else "numbers"
    print(f"reports/{name} differs from the committed reference {ref} in {len(diffs)} {many} "
          f"beyond {TOL_TEXT} (another machine, libtorch build or code version?); the largest:")
    for _, path, what in diffs[:10]:
        print(f"  {path}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
