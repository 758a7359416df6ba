#!/usr/bin/env bash
# The example in docs/quantify.md and the README: one GoEmotions model (ib, the default
# calibration) estimates the emotion shares of two corpora it was not trained on as one
# input grouped by source — the GoEmotions test split (Reddit comments) and CARER's test
# split (tweets) — and draws them. Writes reports/reference/quantify-example/.
set -euo pipefail
cd "$(dirname "$0")/.."
EMO=${EMO:-./target/release/emo}
DATA=../shared/datasets
[ -f "$DATA/goemotions/test.tsv" ] || DATA=.deps/datasets
OUT=reports/reference/quantify-example
MODEL=reports/goemotions-model
[ -f "$MODEL/validation.safetensors" ] || "$EMO" train --dataset goemotions --out "$MODEL"
mkdir -p .deps/tmp "$OUT"
python3 - "$DATA" > .deps/tmp/sources.jsonl <<'PY'
import json, sys
data = sys.argv[1]
for i, line in enumerate(open(f"{data}/goemotions/test.tsv", encoding="utf-8")):
    print(json.dumps({"id": f"reddit-{i}", "text": line.split("\t")[0], "source": "Reddit"}))
for i, line in enumerate(open(f"{data}/carer/test.txt", encoding="utf-8").read().splitlines()[1:]):
    print(json.dumps({"id": f"twitter-{i}", "text": line.rsplit(";", 1)[0], "source": "Twitter"}))
PY
"$EMO" quantify --model "$MODEL" --input .deps/tmp/sources.jsonl --by source \
  --picture "$OUT/shares.png" --output-format markdown -o "$OUT/shares.md"
"$EMO" quantify --model "$MODEL" --input .deps/tmp/sources.jsonl --by source --estimator cc \
  --output-format markdown -o "$OUT/shares-cc.md"
