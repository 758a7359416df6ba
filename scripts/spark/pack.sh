#!/usr/bin/env bash
# Packs what a Spark executor needs to run emo into one archive, for
# `spark-submit --archives emo.tar.gz#emo` (or emo_spark.py --bundle):
#
#   emo/run         sets LD_LIBRARY_PATH to lib/ and runs bin/emo
#   emo/bin/emo     the release binary, stripped
#   emo/lib/        libtorch's shared libraries (the ones emo was built against)
#   emo/model/      the model folder (`emo train --out`)
#   emo/encoder/NAME/  the encoder folder the model was trained with (its name
#                   kept: it is part of the identity the model checks)
#
# Usage: scripts/spark/pack.sh MODEL_DIR OUT.tar.gz [--link]
# --link stores libtorch and the encoder as symbolic links to this checkout
# instead of copies: for executors on this machine (the local test), where it
# saves packing 520 MB. A cluster needs the copies (the default), or an image
# that has them (then point emo_spark.py --emo-home at the unpacked folder).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MODEL=${1:?usage: pack.sh MODEL_DIR OUT.tar.gz [--link]}
OUT=${2:?usage: pack.sh MODEL_DIR OUT.tar.gz [--link]}
LINK=${3:-}
EMO="$ROOT/target/release/emo"
LIBS="$ROOT/.deps/libtorch/torch/lib"
[ -x "$EMO" ] || { echo "pack.sh: build emo first (cargo build --release)" >&2; exit 2; }
[ -f "$MODEL/manifest.json" ] || { echo "pack.sh: $MODEL: not a model folder (no manifest.json)" >&2; exit 2; }
ENCODER=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["encoder_dir"])' "$MODEL/manifest.json")
[ -d "$ENCODER" ] || ENCODER="$ROOT/.deps/models/all-MiniLM-L6-v2"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin"
cp "$EMO" "$STAGE/bin/emo"
strip "$STAGE/bin/emo" 2>/dev/null || true
cp -r "$MODEL" "$STAGE/model"
mkdir -p "$STAGE/encoder"
NAME=$(basename "$(readlink -f "$ENCODER")")
if [ "$LINK" = "--link" ]; then
    ln -s "$(readlink -f "$LIBS")" "$STAGE/lib"
    ln -s "$(readlink -f "$ENCODER")" "$STAGE/encoder/$NAME"
else
    cp -rL "$LIBS" "$STAGE/lib"
    cp -rL "$ENCODER" "$STAGE/encoder/$NAME"
fi
cat >"$STAGE/run" <<'EOF'
#!/bin/sh
here=$(cd "$(dirname "$0")" && pwd)
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/bin/emo" "$@"
EOF
chmod +x "$STAGE/run"
mkdir -p "$(dirname "$OUT")"
tar -czf "$OUT" -C "$STAGE" .
echo "pack.sh: $OUT ($(du -h "$OUT" | cut -f1)): emo, $( [ "$LINK" = --link ] && echo 'links to ' )libtorch and the encoder, model $(basename "$MODEL")" >&2
