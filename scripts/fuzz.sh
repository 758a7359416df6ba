#!/usr/bin/env bash
# Fuzzes every reader of outside bytes (entry points in src/fuzzing.rs) with
# cargo-fuzz/libFuzzer, FUZZ_SECONDS (default 60) per target, each starting from
# its committed seeds (fuzz/seeds/<target>) plus what earlier runs kept
# (fuzz/corpus/<target>). Prints executions and crashes per target, writes
# fuzz/last-run.txt, and exits 1 when any target crashed (the input is left in
# fuzz/artifacts/<target>/; replay it with
# `cargo fuzz run --sanitizer none <target> <file>`).
#
# Runs on stable Rust: without a sanitizer cargo-fuzz needs no -Z flag. The code
# is safe Rust, so what we hunt is panics, aborts, hangs (-timeout) and runaway
# memory (-rss_limit_mb), not memory errors.
#   FUZZ_TARGETS="table cache"   a subset of: table named cache model manifest
#   CARGO="cargo +stable"        the cargo to use
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CARGO_FUZZ_VERSION=0.13.2
TOOLS="$ROOT/.deps/tools"
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-table named cache model manifest}
CARGO=${CARGO:-cargo}
SUMMARY=fuzz/last-run.txt
export PATH="$TOOLS/bin:$PATH"

say() { echo "fuzz: $*" >&2; }

if [ "$($CARGO fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION into .deps/tools ..."
    $CARGO install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$TOOLS"
fi

say "building the fuzz targets (fuzz/target) ..."
$CARGO fuzz build --sanitizer none

mkdir -p fuzz/logs
{
    echo "# scripts/fuzz.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $($CARGO --version), cargo-fuzz $CARGO_FUZZ_VERSION, sanitizer none"
    echo "# target seconds executions execs_per_s corpus crashed"
} > "$SUMMARY"
failed=()
for t in $TARGETS; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    cp fuzz/seeds/"$t"/* "fuzz/corpus/$t/"
    before=$(ls "fuzz/artifacts/$t" | wc -l)
    log="fuzz/logs/$t.log"
    say "$t: fuzzing for ${SECONDS_EACH}s (log: $log) ..."
    rc=0
    $CARGO fuzz run --sanitizer none "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
        -timeout=20 -rss_limit_mb=4096 >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(ls "fuzz/corpus/$t" | wc -l)
    after=$(ls "fuzz/artifacts/$t" | wc -l)
    crashed=no
    if [ "$rc" != 0 ] || [ "$after" != "$before" ]; then
        crashed=yes
        failed+=("$t")
        grep -E "panicked at|ERROR: libFuzzer|Test unit written to" "$log" >&2 || tail -20 "$log" >&2
    fi
    printf '%s: %s executions in %ss (%s/s), corpus %s, crash: %s\n' \
        "$t" "${execs:-?}" "$SECONDS_EACH" "${rate:-?}" "$corpus" "$crashed"
    echo "$t $SECONDS_EACH ${execs:-?} ${rate:-?} $corpus $crashed" >> "$SUMMARY"
done

if [ ${#failed[@]} -gt 0 ]; then
    say "crashes in: ${failed[*]} (inputs in fuzz/artifacts/; summary in $SUMMARY)"
    exit 1
fi
say "no crash in ${TARGETS// /, } (summary in $SUMMARY)"
