#!/usr/bin/env bash
# Says whether a fresh report (reports/NAME) reproduces the committed reference
# (reports/reference/NAME): metrics.json and every picture, byte for byte. Informative
# only: another CPU or libtorch build may round differently.
set -u
name=$1
new=reports/$name
ref=reports/reference/$name
if [ ! -d "$ref" ]; then
    echo "no committed reference for $name"
    exit 0
fi
differ=()
for f in "$ref"/metrics.json "$ref"/*.png "$ref"/summary.md; do
    cmp -s "$f" "$new/$(basename "$f")" || differ+=("$(basename "$f")")
done
if [ ${#differ[@]} -eq 0 ]; then
    echo "reports/$name matches the committed reference $ref byte for byte (metrics.json, summary.md, all pictures)"
else
    echo "reports/$name differs from the committed reference in: ${differ[*]} (another machine, libtorch build or code version?)"
fi
