#!/usr/bin/env bash
# The Python side of emo's checks, in its own virtual environment .deps/py (created once;
# pip output goes to .deps/py-pip.log): torch 2.11.0 (the same libtorch emo links), transformers,
# sentence-transformers and scikit-learn, PySpark (with the system's Java 17) for
# `make spark-test`, and FastAPI + uvicorn for the Python server `make bench` holds
# `emo serve` to (scripts/bench_serve_fastapi.py). The tests that hold emo to Python and
# `make bench` use it. EMO_PYTHON=/path/to/python uses that interpreter instead (it must have
# the packages below) and skips the venv. Prints the interpreter's path on stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS="$ROOT/.deps"
VENV="$DEPS/py"
PACKAGES=(torch==2.11.0 transformers==5.24.0 sentence-transformers==6.2.0 scikit-learn==1.9.1
          safetensors==0.8.0 numpy==2.4.6 psutil==7.2.2 threadpoolctl==3.8.0
          pyspark==4.0.1 py4j==0.10.9.9 fastapi==0.165.0 uvicorn==0.54.0)
MARKER="$VENV/.emo-installed"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

say() { echo "pyenv: $*" >&2; }

if [ -n "${EMO_PYTHON:-}" ]; then
    say "using EMO_PYTHON=$EMO_PYTHON (no venv)"
    echo "$EMO_PYTHON"
    exit 0
fi
PY="$VENV/bin/python"
if [ -x "$PY" ] && [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "${PACKAGES[*]}" ]; then
    say "Python packages already installed in .deps/py"
else
    mkdir -p "$DEPS"
    say "installing ${PACKAGES[*]} into .deps/py (about 5 GB; log: .deps/py-pip.log) ..."
    rm -f "$MARKER"
    [ -x "$PY" ] || python3 -m venv "$VENV"
    if ! { "$PY" -m pip install --upgrade pip && "$PY" -m pip install "${PACKAGES[@]}"; } >"$DEPS/py-pip.log" 2>&1; then
        say "error: pip install failed; the end of .deps/py-pip.log:"
        tail -n 20 "$DEPS/py-pip.log" >&2
        exit 1
    fi
    echo "${PACKAGES[*]}" >"$MARKER"
    say "Python packages ready"
fi
echo "$PY"
