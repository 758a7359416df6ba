#!/usr/bin/env bash
# The GPU check (scripts/gpu_check.py says what it measures), in two steps:
#
#   bash scripts/gpu_check.sh pack                 here: build emo and put what the GPU machine
#                                                  needs into gpu-bundle/ (git-ignored, ~25 MB):
#                                                  the stripped binary, MiniLM's config and
#                                                  tokenizer files (no weights), GoEmotions
#   bash scripts/gpu_check.sh run [--quick] DEVICE OUT
#                                                  there (or here, DEVICE=cpu, as a rehearsal):
#                                                  writes OUT/gpu_check.md and OUT/gpu_check.json
#
# `run` needs Python with torch 2.11, transformers and sentence-transformers: $EMO_PYTHON, else
# /opt/torch/.venv/bin/python when it exists, else .deps/py (scripts/pyenv.sh). emo finds
# libtorch through that torch's lib/ folder (LD_LIBRARY_PATH), so the bundled binary runs on a
# machine with PyTorch and nothing else. `make gpu-check` = pack + run cuda reports/gpu-check.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUNDLE="$ROOT/gpu-bundle"
say() { echo "gpu-check: $*" >&2; }
die() { echo "gpu-check: error: $*" >&2; exit 2; }

pack() {
    (cd "$ROOT" && cargo build --release --bin emo)
    rm -rf "$BUNDLE.partial"
    mkdir -p "$BUNDLE.partial/minilm-shape" "$BUNDLE.partial/datasets"
    strip -o "$BUNDLE.partial/emo" "$ROOT/target/release/emo"
    local model="$ROOT/.deps/models/all-MiniLM-L6-v2" f
    for f in config.json modules.json sentence_bert_config.json config_sentence_transformers.json \
             special_tokens_map.json tokenizer.json tokenizer_config.json vocab.txt 1_Pooling; do
        cp -r "$model/$f" "$BUNDLE.partial/minilm-shape/"
    done
    cp -rL "$ROOT/.deps/datasets/goemotions" "$BUNDLE.partial/datasets/"
    rm -rf "$BUNDLE"
    mv "$BUNDLE.partial" "$BUNDLE"
    say "bundle ready: $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"
}

python_for_run() {
    if [ -n "${EMO_PYTHON:-}" ]; then echo "$EMO_PYTHON"
    elif [ -x /opt/torch/.venv/bin/python ]; then echo /opt/torch/.venv/bin/python
    else bash "$ROOT/scripts/pyenv.sh"
    fi
}

run() {
    local quick=()
    if [ "${1:-}" = --quick ]; then quick=(--quick); shift; fi
    [ $# = 2 ] || die "usage: gpu_check.sh run [--quick] DEVICE OUT"
    local device=$1 out=$2 py emo home shape
    py=$(python_for_run)
    local torch_lib
    torch_lib=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') \
        || die "$py cannot import torch"
    if [ -x "$BUNDLE/emo" ]; then
        emo="$BUNDLE/emo" home="$BUNDLE" shape="$BUNDLE/minilm-shape"
    else
        emo="$ROOT/target/release/emo" home="$ROOT/.deps" shape="$ROOT/.deps/models/all-MiniLM-L6-v2"
    fi
    [ -x "$emo" ] || die "no emo binary: run \`bash scripts/gpu_check.sh pack\` or \`make build\` first"
    say "python $py, emo $emo, libtorch $torch_lib"
    LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$py" "$ROOT/scripts/gpu_check.py" run --device "$device" --out "$out" --emo "$emo" \
        --home "$home" --shape "$shape" "${quick[@]}"
}

case "${1:-}" in
    pack) pack ;;
    run) shift; run "$@" ;;
    *) die "usage: gpu_check.sh pack | run [--quick] DEVICE OUT" ;;
esac
