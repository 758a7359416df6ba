#!/usr/bin/env bash
# Emotion in other languages (XED), written to reports/reference/languages/ and, through
# scripts/languages_results.py, into docs/encoders.md ("Other languages") and the README.
#
# 1. In-language: the multi-label study (3 seeds) on xed-en, -fi, -de, -es, -fr with MiniLM
#    and with multilingual-e5-small-q4.
# 2. English → other language: models trained on the English file (the method the English
#    study chose on validation, 10% of the lines for validation), evaluated on each
#    language's test split, trained three ways:
#    - on every English line;
#    - without parallel text ("parallel"). XED's German, Spanish and French files are
#    English lines projected onto their translations, and Finnish subtitles come from many of
#    the same films, so an English training set holds translations of the other languages'
#    test texts with the same labels. scripts/xed_parallel.py finds, for each test text of a
#    language, its 5 nearest English lines by margin score (Artetxe & Schwenk 2019) on the
#    multilingual encoder, and the model is trained without them;
#    - without as many English lines drawn at random ("random": the control for less data).
#    The last two three times each: training seeds 0, 1, 2 (the validation cut and the head),
#    and for "random" three different draws; scripts/xed_transfer_pairs.py compares their
#    means.
set -euo pipefail
cd "$(dirname "$0")/.."
EMO=${EMO:-./target/release/emo}
PY=${PY:-.deps/py/bin/python}
OUT=reports/languages
REF=reports/reference/languages
LANGS="fi de es fr"
declare -A ENC=([minilm]=all-MiniLM-L6-v2 [e5q4]=multilingual-e5-small-q4)
mkdir -p "$OUT"

for tag in minilm e5q4; do
  for lang in en $LANGS; do
    "$EMO" compare-sampling --dataset "xed-$lang" --encoder "${ENC[$tag]}" --seeds 3 \
      --out "$OUT/xed-$lang-$tag"
  done
done

# The English texts without the parallel neighbours of each language's test split, and the
# random controls (JSONL, every English line otherwise).
"$PY" scripts/xed_parallel.py --emo "$EMO" --encoder "${ENC[e5q4]}" --k 5 --out "$OUT/parallel" \
  $(for l in $LANGS; do echo "$l=$OUT/xed-$l-e5q4/predictions.csv"; done)

train() { # ENCODER_TAG FILE MODEL [FLAGS]
  "$EMO" train --train "$2" --multi-label --label-col labels --valid-fraction 0.1 \
    --encoder "${ENC[$1]}" --method-from "$OUT/xed-en-$1" --out "$3" "${@:4}"
}
for tag in minilm e5q4; do
  train "$tag" "$OUT/parallel/en-all.jsonl" "$OUT/model-en-all-$tag"
  for lang in $LANGS; do
    "$EMO" evaluate --model "$OUT/model-en-all-$tag" --dataset "xed-$lang" --out "$OUT/transfer-$lang-$tag"
    for seed in 0 1 2; do
      s=$([ "$seed" = 0 ] || echo "-$seed")
      for cut in parallel random; do
        file="$OUT/parallel/en-without-$lang-$cut.jsonl"
        [ "$cut" = random ] && file="$OUT/parallel/en-without-$lang-random$s.jsonl"
        model="$OUT/model-en-without-$lang-$cut$s-$tag"
        train "$tag" "$file" "$model" --seed "$seed"
        "$EMO" evaluate --model "$model" --dataset "xed-$lang" --out "$OUT/transfer-$lang-without-$cut$s-$tag"
      done
    done
  done
done

# Paired differences from the predictions (scikit-learn's macro-F1, checked against emo's).
"$PY" scripts/xed_transfer_pairs.py

# Committed trimmed: summaries, metrics, the chosen method's label-confusion picture.
rm -rf "$REF" && mkdir -p "$REF"
cp "$OUT/parallel/parallel.json" "$OUT/pairs.json" "$REF/"
for d in "$OUT"/xed-* "$OUT"/transfer-*; do
  name=$(basename "$d"); mkdir -p "$REF/$name"
  cp "$d/summary.md" "$d/metrics.json" "$REF/$name/"
  case "$name" in *-without-*-[12]-*) continue ;; esac # seeds 1 and 2: numbers only
  best=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["recommended"]["method"])' "$d/metrics.json" 2>/dev/null || true)
  for png in "$d"/label-confusion-"$best".png "$d"/label-confusion.png; do
    [ -f "$png" ] && cp "$png" "$REF/$name/"
  done
done
python3 scripts/languages_results.py
