#!/usr/bin/env bash
# The browser the page test drives (tests/page.rs): a headless Chromium. Debian's `chromium`
# package, installed with apt-get when none is on PATH (as root, or through passwordless sudo);
# EMO_CHROMIUM=/path/to/chromium uses that one instead. Idempotent: does nothing when one is there.
# Where neither works it says what to do and fails: the page test fails without a browser
# rather than being skipped.
set -euo pipefail

say() { echo "setup-browser: $*" >&2; }

if [ -n "${EMO_CHROMIUM:-}" ]; then
    [ -x "$EMO_CHROMIUM" ] || { say "error: EMO_CHROMIUM=$EMO_CHROMIUM is not an executable"; exit 1; }
    say "using EMO_CHROMIUM=$EMO_CHROMIUM"
    exit 0
fi
for name in chromium chromium-browser google-chrome chrome; do
    if command -v "$name" >/dev/null; then
        say "$name already installed ($(command -v "$name")), nothing to do"
        exit 0
    fi
done
if ! command -v apt-get >/dev/null; then
    say "error: no Chromium on PATH and no apt-get to install one: install Chromium or Chrome, or set EMO_CHROMIUM"
    exit 1
fi
SUDO=()
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        say "error: installing Debian's chromium needs root: run 'sudo apt-get install chromium', or set EMO_CHROMIUM"
        exit 1
    fi
fi
say "installing Debian's chromium with apt-get (about 100 MB; log: .deps/apt-chromium.log) ..."
mkdir -p "$(dirname "$0")/../.deps"
LOG="$(cd "$(dirname "$0")/.." && pwd)/.deps/apt-chromium.log"
if ! { "${SUDO[@]}" apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium; } >"$LOG" 2>&1; then
    say "error: apt-get could not install chromium; the end of $LOG:"
    tail -n 15 "$LOG" >&2
    exit 1
fi
say "chromium $(chromium --version 2>/dev/null | awk '{print $2}') installed"
