#!/usr/bin/env bash
# `make bench`: benchmarks emo against Python (sentence-transformers, scikit-learn) and
# writes reports/bench.md and reports/bench.json. See scripts/bench.py for what is measured.
#
# The Python side lives in its own virtual environment, .deps/bench-venv (created once;
# pip output goes to .deps/bench-pip.log). EMO_BENCH_PYTHON=/path/to/python uses that
# interpreter instead (it must have the packages below) and skips the venv.
# Arguments are passed to bench.py: e.g. `make bench BENCH_ARGS="--quick"`,
# `bash scripts/bench.sh --only embed,heads --reps 5`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DEPS="$ROOT/.deps"
VENV="$DEPS/bench-venv"
MARKER="$VENV/.installed-v1"
PACKAGES=(torch==2.4.0 'transformers<5' 'sentence-transformers<6' scikit-learn safetensors numpy psutil threadpoolctl)
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

say() { echo "bench: $*" >&2; }

if [ -n "${EMO_BENCH_PYTHON:-}" ]; then
    PY=$EMO_BENCH_PYTHON
    say "using EMO_BENCH_PYTHON=$PY (no venv)"
else
    PY="$VENV/bin/python"
    if [ -f "$MARKER" ] && [ -x "$PY" ]; then
        say "Python packages already installed in .deps/bench-venv"
    else
        mkdir -p "$DEPS"
        say "installing torch 2.4.0, transformers, sentence-transformers, scikit-learn into .deps/bench-venv (log: .deps/bench-pip.log) ..."
        rm -f "$MARKER"
        [ -x "$PY" ] || python3 -m venv "$VENV"
        if ! { "$PY" -m pip install --upgrade pip && "$PY" -m pip install "${PACKAGES[@]}"; } >"$DEPS/bench-pip.log" 2>&1; then
            say "error: pip install failed; the end of .deps/bench-pip.log:"
            tail -n 20 "$DEPS/bench-pip.log" >&2
            exit 1
        fi
        printf '%s\n' "${PACKAGES[@]}" >"$MARKER"
        say "Python packages ready"
    fi
fi

EMO_BENCH_COMMAND="bash scripts/bench.sh${*:+ $(printf '%q ' "$@")}"
export EMO_BENCH_COMMAND="${EMO_BENCH_COMMAND% }"
exec "$PY" scripts/bench.py "$@"
