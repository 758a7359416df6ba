#!/usr/bin/env python3
"""Re-derive the head-training defaults of emo (src/train.rs, TrainConfig::default)
on VALIDATION data only.

For each dataset and each (lr, epochs, weight decay) on a small grid, runs
`emo compare-sampling --methods ib,cb,crt,lws` and reads the validation macro-F1
from results.json. Prints one table per dataset and the mean rank of each setting
across datasets. Test numbers are never read.

Usage (after `make build`; embeddings come from the cache after the first run):
    python3 scripts/tune_defaults.py [goemotions carer goemotions-ekman]
"""
import itertools
import json
import os
import subprocess
import sys
import tempfile

EMO = os.path.join(os.path.dirname(__file__), "..", "target", "release", "emo")
DATASETS = sys.argv[1:] or ["goemotions", "carer", "goemotions-ekman"]
LRS = [0.5, 1.0, 2.0, 4.0, 8.0]
EPOCHS = [10, 30]
WDS = [0.0, 1e-4]
METHODS = "ib,cb,crt,lws"


def run(dataset, lr, epochs, wd):
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [EMO, "compare-sampling", "--dataset", dataset, "--methods", METHODS,
             "--lr", str(lr), "--epochs", str(epochs), "--stage2-epochs", str(max(epochs // 3, 5)),
             "--weight-decay", str(wd), "--out", out],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(out, "results.json")) as f:
            r = json.load(f)
    return {m["method"]: m["validation"]["macro_f1"] for m in r["methods"]}


def main():
    grid = list(itertools.product(LRS, EPOCHS, WDS))
    ranks = {g: [] for g in grid}
    for ds in DATASETS:
        print(f"\n{ds}: validation macro-F1")
        print(f"{'lr':>5} {'epochs':>6} {'wd':>7}  " + "  ".join(f"{m:>6}" for m in METHODS.split(",")))
        scores = {}
        for g in grid:
            s = run(ds, *g)
            scores[g] = s
            print(f"{g[0]:>5} {g[1]:>6} {g[2]:>7}  " + "  ".join(f"{s[m]:.4f}" for m in METHODS.split(",")), flush=True)
        # Rank settings by the mean over methods, so defaults suit every head.
        order = sorted(grid, key=lambda g: -sum(scores[g].values()))
        for rank, g in enumerate(order):
            ranks[g].append(rank + 1)
    print("\nmean rank across datasets (1 = best):")
    for g in sorted(grid, key=lambda g: sum(ranks[g]) / len(ranks[g]))[:8]:
        print(f"  lr {g[0]:>4} epochs {g[1]:>3} wd {g[2]:>7}: {sum(ranks[g]) / len(ranks[g]):.2f}")


if __name__ == "__main__":
    main()
