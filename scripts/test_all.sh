#!/usr/bin/env bash
# `make test`: every check, with the downloads overlapped with the Rust build, and a table of
# where the time went at the end (also written to .deps/logs/test-timings.txt).
#
# On a fresh clone most of the wall time is waiting: pip fetching ~5 GB of wheels for the
# Python side (scripts/pyenv.sh), the second encoder, Debian's Chromium. None of that needs
# the CPUs, and the Rust side (fmt, clippy, building the test binaries) needs nothing but
# libtorch and the first encoder. So setup runs first, then the downloads run in the
# background (one after the other, their output kept in .deps/logs/ and shown when they
# end) while the Rust side builds; the tests start when both are done. They run at the lowest
# CPU priority: unpacking 5 GB of wheels takes CPU too, and beside clippy at equal priority it
# made clippy half again as slow, while at the lowest they take only the cycles the build
# leaves idle (clippy waits about a minute on one core for torch-sys's C++ wrapper). Every check still
# runs; a failing one fails the whole (after the table is printed).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CARGO=${CARGO:-cargo}
LOGS="$ROOT/.deps/logs"
mkdir -p "$LOGS"
TIMES="$LOGS/test-timings.txt"
: >"$TIMES"
START=$(date +%s)
# Many libtorch processes run side by side here (two tests at once, each starting emo or
# Python; Spark's two workers): OpenMP threads that spin while they wait would take the
# cores from each other (see .cargo/config.toml, which sets it for plain `cargo test`).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# step NAME COMMAND...: runs it, records its seconds; a failure ends the run.
step() {
    local name=$1 t0 rc
    shift
    echo "== $name" >&2
    t0=$(date +%s)
    "$@"
    rc=$?
    echo "$name $(($(date +%s) - t0))" >>"$TIMES"
    if [ $rc -ne 0 ]; then
        echo "make test: $name failed (exit $rc)" >&2
        table
        exit $rc
    fi
}

table() {
    echo >&2
    echo "make test: where the time went (seconds; 'downloads' ran beside the build):" >&2
    while read -r line; do printf '  %-44s %5s\n' "${line% *}" "${line##* }" >&2; done <"$TIMES"
    printf '  %-44s %5s\n' "total (wall)" "$(($(date +%s) - START))" >&2
}

step links python3 scripts/check_links.py
step layers python3 scripts/check_layers.py
step setup bash scripts/setup.sh

# The downloads, in the background: their own timings go to the table too.
downloads() {
    local t0
    for part in "pyenv:bash scripts/pyenv.sh" \
        "test-encoders:env EMO_ENCODERS=all-mpnet-base-v2,multilingual-e5-small-q4 bash scripts/setup.sh" \
        "test-browser:bash scripts/setup_browser.sh"; do
        t0=$(date +%s)
        nice -n 19 bash -c "${part#*:}" >"$LOGS/${part%%:*}.log" 2>&1 || { echo "${part%%:*} failed" >"$LOGS/downloads.failed"; return 1; }
        echo "downloads: ${part%%:*} $(($(date +%s) - t0))" >>"$TIMES"
    done
}
rm -f "$LOGS/downloads.failed"
downloads &
DOWNLOADS=$!

step fmt "$CARGO" fmt --check
step clippy "$CARGO" clippy --release --all-targets -- -D warnings
step build-tests "$CARGO" test --release --no-run
step build "$CARGO" build --release
# (Measured: the Spark job run beside clippy and the test build slowed both more than it
# saved; so it runs last, alone.)

t0=$(date +%s)
wait $DOWNLOADS
rc=$?
echo "waiting for downloads $(($(date +%s) - t0))" >>"$TIMES"
for part in pyenv test-encoders test-browser; do
    [ -f "$LOGS/$part.log" ] && sed "s/^/[$part] /" "$LOGS/$part.log" >&2
done
if [ $rc -ne 0 ]; then
    echo "make test: $(cat "$LOGS/downloads.failed" 2>/dev/null || echo downloads) failed" >&2
    table
    exit 1
fi

# The tests, each binary's time taken from cargo's "Running" lines.
t0=$(date +%s)
set -o pipefail
"$CARGO" test --release 2>&1 | python3 -u scripts/test_times.py "$LOGS/test-binaries.txt"
rc=$?
echo "cargo test $(($(date +%s) - t0))" >>"$TIMES"
sort -k2 -n -r "$LOGS/test-binaries.txt" | head -8 | while read -r name secs; do
    echo "  test binary: $name $secs" >>"$TIMES"
done
[ $rc -eq 0 ] || { echo "make test: cargo test failed" >&2; table; exit $rc; }

step spark-test make --no-print-directory spark-test
table
cp "$TIMES" "$LOGS/test-timings.last.txt"
