#!/usr/bin/env bash
# The examples in docs/quantify.md and the README, written to reports/reference/quantify-example/.
#
# 1. Two "weeks" of Reddit comments that one GoEmotions model (ib, default calibration) never
#    saw: 1500 single-label GoEmotions test comments each, week 1 drawn at random, week 2 with
#    the negative emotions (anger, annoyance, disapproval, disgust, fear, sadness) six times as
#    likely to be drawn — a label shift whose true shares are known (truth.md). emo quantify
#    --by week with sld (shares.md, shares.png) and with cc (shares-cc.md).
# 2. The limit: CARER's tweets, another domain ("i feel …" tweets, not comments), where the
#    texts of an emotion are not like the training texts of that emotion (domain-shift.md).
set -euo pipefail
cd "$(dirname "$0")/.."
EMO=${EMO:-./target/release/emo}
DATA=../shared/datasets
[ -f "$DATA/goemotions/test.tsv" ] || DATA=.deps/datasets
OUT=reports/reference/quantify-example
MODEL=reports/goemotions-model
[ -f "$MODEL/validation.safetensors" ] || "$EMO" train --dataset goemotions --out "$MODEL"
mkdir -p .deps/tmp "$OUT"
python3 - "$DATA" "$OUT/truth.md" > .deps/tmp/weeks.jsonl <<'PY'
import json, random, sys
data, truth_path = sys.argv[1], sys.argv[2]
names = open(f"{data}/goemotions/emotions.txt").read().split()
rows = []
for line in open(f"{data}/goemotions/test.tsv", encoding="utf-8"):
    text, labels, cid = line.rstrip("\n").split("\t")
    if "," not in labels:
        rows.append((cid, text, names[int(labels)]))
rng = random.Random(0)
rng.shuffle(rows)
week1, rest = rows[:1500], rows[1500:]
negative = {"anger", "annoyance", "disapproval", "disgust", "fear", "sadness"}
keys = sorted(range(len(rest)), key=lambda i: rng.random() ** (1 / (6 if rest[i][2] in negative else 1)), reverse=True)
week2 = [rest[i] for i in keys[:1500]]
for week, part in (("week 1", week1), ("week 2", week2)):
    for cid, text, _ in part:
        print(json.dumps({"id": cid, "text": text, "week": week}))
with open(truth_path, "w") as f:
    f.write("| emotion | week 1 (true share) | week 2 (true share) |\n|---|---|---|\n")
    for name in names:
        f.write(f"| {name} | {sum(r[2] == name for r in week1) / 1500:.3f} | {sum(r[2] == name for r in week2) / 1500:.3f} |\n")
PY
python3 - "$DATA" > .deps/tmp/tweets.jsonl <<'PY'
import json, sys
for i, line in enumerate(open(f"{sys.argv[1]}/carer/test.txt", encoding="utf-8").read().splitlines()[1:]):
    print(json.dumps({"id": f"tweet-{i}", "text": line.rsplit(";", 1)[0]}))
PY
"$EMO" quantify --model "$MODEL" --input .deps/tmp/weeks.jsonl --by week --cache \
  --picture "$OUT/shares.png" --output-format markdown -o "$OUT/shares.md"
"$EMO" quantify --model "$MODEL" --input .deps/tmp/weeks.jsonl --by week --cache --estimator cc \
  --output-format markdown -o "$OUT/shares-cc.md"
for e in sld cc; do
  printf '## %s\n\n' "$e"
  "$EMO" quantify --model "$MODEL" --input .deps/tmp/tweets.jsonl --cache --estimator $e --output-format markdown
  echo
done > "$OUT/domain-shift.md"
