#!/usr/bin/env bash
# `make bench`: benchmarks emo against Python (sentence-transformers, scikit-learn) and
# writes reports/bench.md and reports/bench.json (scripts/bench.py), then the Spark section,
# reports/bench-spark.md (scripts/spark/bench_spark.py), and the `emo serve` section,
# reports/bench-serve.md (scripts/bench_serve.py).
# The Python side is scripts/pyenv.sh's (.deps/py, or EMO_PYTHON).
# Arguments are passed to bench.py: e.g. `make bench BENCH_ARGS="--quick"`,
# `bash scripts/bench.sh --only embed,heads --reps 5`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=$(bash scripts/pyenv.sh)

EMO_BENCH_COMMAND="bash scripts/bench.sh${*:+ $(printf '%q ' "$@")}"
export EMO_BENCH_COMMAND="${EMO_BENCH_COMMAND% }"
"$PY" scripts/bench.py "$@"
# Spark (local[1], local[2]) against one emo process: reports/bench-spark.md.
if command -v java >/dev/null; then
    "$PY" scripts/spark/bench_spark.py
else
    echo "bench.sh: no java: the Spark section is skipped" >&2
fi
# emo serve under HTTP load (wrk) against emo classify and a FastAPI server: reports/bench-serve.md.
"$PY" scripts/bench_serve.py
