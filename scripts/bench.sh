#!/usr/bin/env bash
# `make bench`: benchmarks emo against Python (sentence-transformers, scikit-learn) and
# writes reports/bench.md and reports/bench.json (scripts/bench.py), then the Spark section,
# reports/bench-spark.md (scripts/spark/bench_spark.py), and the `emo serve` section,
# reports/bench-serve.md (scripts/bench_serve.py), and last the soak of `emo serve`,
# reports/soak-serve.md (scripts/soak_serve.py: 10 minutes, 60 s with --quick).
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
# The soak: good, slow-reading, oversized and malformed clients and connection floods against
# one `emo serve` (10 minutes; --quick: 60 s): reports/soak-serve.md.
SOAK_ARGS=()
for arg in "$@"; do
    if [[ $arg == --quick ]]; then SOAK_ARGS=(--seconds 60); fi
done
"$PY" scripts/soak_serve.py ${SOAK_ARGS[@]+"${SOAK_ARGS[@]}"}
