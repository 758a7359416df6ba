#!/usr/bin/env bash
# Says whether a fresh report (reports/NAME) reproduces the committed reference
# (reports/reference/NAME), single- or multi-label: every metric of metrics.json within 0.005, or within what the
# test predictions that changed can move it; confusion cells, iterations and tuning choices
# summarised as float noise across CPUs; pictures byte for byte as information
# (scripts/check_reference.py says how it judges). Informative only: exit 0 either way, so
# that `make demo` goes on; `python3 scripts/check_reference.py --strict NAME` exits 1 when
# the report differs.
exec python3 "$(dirname "$0")/check_reference.py" "$@"
