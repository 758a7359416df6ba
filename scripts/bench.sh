#!/usr/bin/env bash
# `make bench`: benchmarks emo against Python (sentence-transformers, scikit-learn) and
# writes reports/bench.md and reports/bench.json. See scripts/bench.py for what is measured.
# The Python side is scripts/pyenv.sh's (.deps/py, or EMO_PYTHON).
# Arguments are passed to bench.py: e.g. `make bench BENCH_ARGS="--quick"`,
# `bash scripts/bench.sh --only embed,heads --reps 5`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=$(bash scripts/pyenv.sh)

EMO_BENCH_COMMAND="bash scripts/bench.sh${*:+ $(printf '%q ' "$@")}"
export EMO_BENCH_COMMAND="${EMO_BENCH_COMMAND% }"
exec "$PY" scripts/bench.py "$@"
