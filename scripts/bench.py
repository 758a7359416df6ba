#!/usr/bin/env python3
"""Benchmarks emo against the Python stack it replaces; writes reports/bench.md and .json.

Run it through `make bench` (scripts/bench.sh takes the Python side from scripts/pyenv.sh:
torch 2.11.0 -- the libtorch emo links -- transformers, sentence-transformers, scikit-learn).

What is measured, and why:

1. embed -- sentences per second of the frozen encoder (all-MiniLM-L6-v2), emo against
   Python sentence-transformers, on two inputs: `short` (the GoEmotions test texts,
   de-duplicated) and `long` (300 texts of 40 to 240 words, many past the model's
   256-token limit, so truncation is exercised). emo's time is `stats.seconds` of its JSON
   sidecar (the embedding loop only: model loading and file writing excluded); Python's is
   `model.encode(...)` only, after loading and a 64-text warm-up. The lowest cosine between
   emo's and Python's vector for the same text says the speed is not bought with different
   vectors.
2. heads -- the time to train every head of `emo compare-sampling` on GoEmotions
   (sum of timings.json: emo's default methods, one seed) and the whole command's wall time
   (reading cached embeddings, training, evaluating, writing the report), against
   scikit-learn's `LogisticRegression()` (defaults: lbfgs, C=1, max_iter=100) fitted once on
   the same training embeddings -- one Python head against all of emo's. emo's `linfa` head
   is the same model (multinomial logistic regression, L-BFGS, C=1, 100 iterations) and is
   shown beside it; emo's default method set leaves it out, so it is timed by a second
   `compare-sampling --methods linfa` run (its timings.json entry, not the command).
3. cache -- `emo compare-sampling` with an empty embedding cache (every text embedded)
   against the same command again with the cache filled: what the content-addressed cache
   saves on a re-run.
4. scale -- `emo embed` and `emo classify` on files of N unique texts (10k, 100k, 1M by
   default): wall time and peak resident memory of each process (os.wait4's ru_maxrss for
   that child alone) -- does memory stay bounded (target < 1.5 GB) as the input grows?
   The real MiniLM runs only up to --scale-minilm-max texts (CPU MiniLM is ~250 texts/s);
   the larger sizes use a random-weight 1-layer BERT with MiniLM's tokenizer and 384-dim
   output, created by this script, so 1,000,000 texts fit in a bench. Its numbers measure the
   pipeline (reading, tokenizing, batching, writing), not model speed.
5. precision -- emo `--precision bf16` against emo fp32 and Python sentence-transformers fp32
   and bf16 autocast; bf16 vectors against fp32; compare-sampling on GoEmotions and CARER
   from bf16 vectors against fp32, per method with a paired-bootstrap interval
   (scripts/bench_precision.py). On a CPU without native bf16 the first bf16 embedding of
   the two datasets takes about an hour (PyTorch emulates bf16 there); the cache keeps it.
6. encoders -- the same four-way speed table as section 5 (emo and sentence-transformers,
   fp32 and bf16) for all-mpnet-base-v2, on the first 300 `short` and 40 `long` texts,
   with the cosines of emo's vectors against Python's.
7. gpu -- not measured unless the run used `--device cuda`; nothing is invented.

Sections not run (`--only`) keep what the previous report at `--out` says of them, marked
with the date and commit they come from, so a partial rerun does not erase the rest.

Fairness: every emo process gets `--threads T` and `--device` (cpu by default, so a GPU
machine does not compare emo on CUDA with Python on the CPU); every Python measurement
runs in its own subprocess with `torch.set_num_threads(T)` inside
`threadpoolctl.threadpool_limits(T)`. Each measurement is repeated `--reps` times with emo
and Python interleaved (emo, Python; then Python, emo; ...) so drifting machine load hits
both sides alike; tables give medians, bench.json every repetition.

Helper modes (run by the script itself in subprocesses, not meant for people):
    bench.py _py-embed TEXTS.txt OUT.npy THREADS BATCH DEVICE
    bench.py _py-fit EMBEDDINGS.safetensors THREADS
    bench.py _make-tiny DIR
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Shared with scripts/bench_precision.py and scripts/gpu_check.py (which import that module, not this one).
from bench_common import (
    DATASETS,
    DEPS,
    MODEL_DIR,
    ROOT,
    BenchError,
    Runner,
    autocast,
    carer_rows,
    dedupe,
    fmt,
    goemotions_texts,
    log,
    make_long,
    md_table,
    median,
    min_cosine,
    ratio,
    read_lines,
    read_sidecar,
    reps_text,
    timings_seconds,
    usable,
    write_lines,
)

SECTIONS = ("embed", "heads", "cache", "scale", "precision", "encoders")
# Section 6: the encoders beyond the default (`make bench` installs them), and how many
# `short` and `long` texts each runs (all-mpnet-base-v2 is about eight times MiniLM's work
# per token; bf16 is emulated on CPUs without native bf16).
ENCODERS = {"all-mpnet-base-v2": (300, 40)}
RSS_TARGET_MB = 1500
TINY_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling",
)


# ---------------------------------------------------------------- Python helper modes


def limit_threads(threads: int):
    """torch.set_num_threads(T) and a threadpool_limits(T) context (BLAS, OpenMP)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    return threadpool_limits(limits=threads)


def helper_py_embed(path: str, out_npy: str, threads: str, batch: str, device: str,
                    precision: str = "fp32", model_dir: str = str(MODEL_DIR)) -> None:
    """Python sentence-transformers: time model.encode only (load and warm-up excluded).
    precision bf16 runs it under torch.autocast(bfloat16) (see `autocast`)."""
    import numpy as np

    threads_n, batch_n = int(threads), int(batch)
    with limit_threads(threads_n):
        from sentence_transformers import SentenceTransformer

        texts = read_lines(path)
        t0 = time.perf_counter()
        model = SentenceTransformer(model_dir, device=device)
        load_s = time.perf_counter() - t0
        with autocast(device, precision):
            model.encode(texts[:64], batch_size=batch_n, show_progress_bar=False)
            t0 = time.perf_counter()
            emb = model.encode(texts, batch_size=batch_n, show_progress_bar=False, convert_to_numpy=True)
            seconds = time.perf_counter() - t0
    np.save(out_npy, np.asarray(emb, dtype=np.float32))
    # Outside the timed region: how many texts the model truncates.
    max_len = int(model.max_seq_length)
    ids = model.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    lengths = [len(x) for x in ids]
    print(
        json.dumps(
            {
                "texts": len(texts),
                "seconds": seconds,
                "load_seconds": load_s,
                "max_seq_length": max_len,
                "truncated": sum(n > max_len for n in lengths),
                "mean_tokens": sum(lengths) / max(len(lengths), 1),
                "device": str(model.device),
            }
        )
    )


def helper_py_fit(path: str, threads: str) -> None:
    """scikit-learn LogisticRegression() on train.embeddings; times fit only."""
    import warnings

    with limit_threads(int(threads)):
        from safetensors.numpy import load_file
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        d = load_file(path)
        x, y = d["train.embeddings"], d["train.labels"]
        clf = LogisticRegression()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            t0 = time.perf_counter()
            clf.fit(x, y)
            seconds = time.perf_counter() - t0
        test_acc = None
        if "test.embeddings" in d:
            test_acc = float(clf.score(d["test.embeddings"], d["test.labels"]))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "n_train": int(x.shape[0]),
                "dim": int(x.shape[1]),
                "classes": int(len(clf.classes_)),
                "n_iter": int(max(clf.n_iter_)),
                "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught),
                "test_accuracy": test_acc,
            }
        )
    )


def helper_make_tiny(out_dir: str) -> None:
    """A random-weight 1-layer BERT with MiniLM's tokenizer, pooling and 384-dim output."""
    import torch
    from safetensors import safe_open
    from transformers import BertConfig, BertModel

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in TINY_FILES:
        src = MODEL_DIR / name
        if src.is_dir():
            shutil.copytree(src, out / name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, out / name)
    config = BertConfig(
        hidden_size=384,
        num_hidden_layers=1,
        num_attention_heads=12,
        intermediate_size=64,
        vocab_size=30522,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    model = BertModel(config, add_pooling_layer=False)
    model.save_pretrained(str(out), safe_serialization=True)
    weights = out / "model.safetensors"
    with safe_open(str(weights), "np") as f:
        names = list(f.keys())
    bad = [n for n in names if n.startswith("bert.")]
    if bad or "embeddings.word_embeddings.weight" not in names:
        raise SystemExit(f"tiny encoder: unexpected tensor names {names[:5]}")
    print(json.dumps({"dir": str(out), "tensors": len(names)}))


HELPERS = {"_py-embed": helper_py_embed, "_py-fit": helper_py_fit, "_make-tiny": helper_make_tiny}


# ---------------------------------------------------------------- inputs (the rest are in bench_common)


def scale_source() -> list[str]:
    texts = [t for s in ("train", "dev", "test") for t in goemotions_texts(s)]
    texts += [t for t, _ in carer_rows("train")]
    return [t for t in texts if usable(t)]


def write_scale_file(path: Path, n: int, source: list[str]) -> None:
    write_lines(path, (f"{source[i % len(source)]} #{i}" for i in range(n)))


# ---------------------------------------------------------------- helpers


def sha256_file(path: Path) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except OSError:
        return None


def test_accuracy(report_dir: Path, method: str):
    try:
        m = json.loads((report_dir / "metrics.json").read_text())
        return m["methods"][method]["runs"][0]["test"]["accuracy"]
    except (OSError, KeyError, IndexError, ValueError):
        return None


def dir_size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# ---------------------------------------------------------------- sections


def section_embed(r: Runner, args, w: Path) -> dict:
    test = dedupe(goemotions_texts("test"))
    n_short = 300 if args.quick else len(test)
    n_long = 48 if args.quick else 300
    inputs = {"short": test[:n_short], "long": make_long(test, n_long)}
    raw, rows = {}, []
    for name, texts in inputs.items():
        path = w / f"embed-{name}.txt"
        write_lines(path, texts)
        words = sum(len(t.split()) for t in texts) / len(texts)
        log(f"embed: {name}: {len(texts)} texts, {words:.0f} words on average")
        reps = []
        for rep in range(args.reps):
            one = {}
            order = ("emo", "python") if rep % 2 == 0 else ("python", "emo")
            st = w / f"embed-{name}-r{rep}.safetensors"
            npy = w / f"embed-{name}-r{rep}.npy"
            for side in order:
                if side == "emo":
                    res = r.run_emo(f"embed-{name}-emo", "embed", "--input", str(path), "--no-cache",
                                    "--batch-size", str(args.batch_size), "--out", str(st))
                    stats = read_sidecar(st)["stats"]
                    one["emo"] = {"seconds": stats["seconds"], "computed": stats["computed"],
                                  "texts_per_s": stats["computed"] / stats["seconds"],
                                  "wall": res["wall"], "rss_mb": res["rss_mb"]}
                else:
                    res = r.run_py(f"embed-{name}-py", "_py-embed", str(path), str(npy),
                                   str(args.threads), str(args.batch_size), args.device)
                    j = res["json"]
                    one["python"] = {**j, "texts_per_s": j["texts"] / j["seconds"],
                                     "wall": res["wall"], "rss_mb": res["rss_mb"]}
                log(f"embed: {name} rep {rep + 1}/{args.reps} {side}: "
                    f"{one[side]['texts_per_s']:.1f} texts/s")
            if one["emo"]["computed"] != len(texts):
                raise BenchError(f"emo computed {one['emo']['computed']} of {len(texts)} texts")
            one["min_cosine"] = min_cosine(st, npy)
            st.unlink(missing_ok=True)
            npy.unlink(missing_ok=True)
            reps.append(one)
        emo_tps = median(x["emo"]["texts_per_s"] for x in reps)
        py_tps = median(x["python"]["texts_per_s"] for x in reps)
        py0 = reps[0]["python"]
        raw[name] = {"texts": len(texts), "mean_words": words, "truncated": py0["truncated"],
                     "mean_tokens": py0["mean_tokens"], "reps": reps}
        rows.append([
            f"`{name}`", fmt(len(texts)), fmt(words, 0),
            f"{py0['truncated']} ({py0['truncated'] / len(texts):.0%})",
            fmt(emo_tps), fmt(py_tps),
            f"{fmt(ratio(emo_tps, py_tps), 2)}×",
            f"{min(x['min_cosine'] for x in reps):.7f}",
        ])
    table = md_table(
        ["input", "texts", "mean words", "truncated (>256 tokens)", "emo texts/s",
         "Python s-t texts/s", "emo/Python", "min cosine emo vs Python"],
        rows,
    )
    text = (
        "Embedding throughput of all-MiniLM-L6-v2 on the CPU. emo: `stats.seconds` of "
        "`emo embed --no-cache` (the embedding loop; loading the model and writing the file "
        "excluded). Python: `SentenceTransformer.encode` after loading and a 64-text warm-up. "
        f"{reps_text(args.reps)}. `short`: GoEmotions test texts, de-duplicated; `long`: consecutive test "
        "texts joined to 40–240 words. The cosine columns give the lowest cosine, over all "
        "texts, between emo's vector and Python's for the same text.\n\n" + table
    )
    return {"markdown": text, "raw": raw}


def section_heads(r: Runner, args, w: Path) -> dict:
    go = w / "go.safetensors"
    log("heads: emo embed --dataset goemotions (the default cache; ~4 minutes if it is cold) ...")
    first = r.run_emo("heads-embed", "embed", "--dataset", "goemotions", "--batch-size",
                      str(args.batch_size), "--out", str(go))
    stats = read_sidecar(go)["stats"]
    notes = []
    if stats.get("computed", 0):
        notes.append(f"The default embedding cache was cold: {stats['computed']:,} texts embedded "
                     f"first ({first['wall']:.0f} s, not part of any number below).")
    compare = ["compare-sampling", "--dataset", "goemotions", "--seeds", "1",
               "--batch-size", str(args.batch_size)]
    reps = []
    for rep in range(args.reps):
        one = {}
        order = ("emo", "python") if rep % 2 == 0 else ("python", "emo")
        for side in order:
            if side == "emo":
                out = w / f"cmp-r{rep}"
                res = r.run_emo("heads-compare", *compare, "--out", str(out))
                per = timings_seconds(out)
                one["emo"] = {"wall": res["wall"], "rss_mb": res["rss_mb"], "train_seconds": sum(per.values()),
                              "methods": per, "ib_test_accuracy": test_accuracy(out, "ib"),
                              "linfa_seconds": per.get("linfa"), "linfa_test_accuracy": test_accuracy(out, "linfa"),
                              "linfa_in_default": "linfa" in per}
                shutil.rmtree(out, ignore_errors=True)
                log(f"heads: rep {rep + 1}/{args.reps} emo: training {one['emo']['train_seconds']:.1f} s, "
                    f"command {res['wall']:.1f} s")
                if "linfa" not in per:  # the like-for-like head, timed on its own
                    out = w / f"cmp-linfa-r{rep}"
                    try:
                        r.run_emo("heads-linfa", *compare, "--methods", "linfa", "--out", str(out))
                        one["emo"]["linfa_seconds"] = timings_seconds(out)["linfa"]
                        one["emo"]["linfa_test_accuracy"] = test_accuracy(out, "linfa")
                        log(f"heads: rep {rep + 1}/{args.reps} emo linfa: {one['emo']['linfa_seconds']:.1f} s")
                    except (BenchError, KeyError, OSError) as err:
                        one["emo"]["linfa_error"] = str(err)
                        log(f"heads: emo --methods linfa failed: {err}")
                    shutil.rmtree(out, ignore_errors=True)
            else:
                res = r.run_py("heads-sklearn", "_py-fit", str(go), str(args.threads))
                one["sklearn"] = {**res["json"], "wall": res["wall"], "rss_mb": res["rss_mb"]}
                log(f"heads: rep {rep + 1}/{args.reps} sklearn: fit {one['sklearn']['seconds']:.1f} s")
        reps.append(one)
    emo_train = median(x["emo"]["train_seconds"] for x in reps)
    emo_wall = median(x["emo"]["wall"] for x in reps)
    sk = median(x["sklearn"]["seconds"] for x in reps)
    linfa = median(x["emo"].get("linfa_seconds") for x in reps)
    if "linfa_error" in reps[0]["emo"]:
        notes.append(f"emo's `linfa` head could not be timed: {reps[0]['emo']['linfa_error']}")
    linfa_how = ("in the same run" if reps[0]["emo"]["linfa_in_default"]
                 else "a separate `--methods linfa` run; not in the default set")
    sk0 = reps[0]["sklearn"]
    if emo_train is not None and emo_wall is not None and emo_train > emo_wall:
        notes.append("emo ran its fits side by side: the sum of the fits' times exceeds the whole "
                     "command's wall time, so it counts overlapping time; the wall-time ratio is the "
                     "fair one (timings.json has no elapsed total of training).")
    summary = md_table(
        ["what", "seconds (median)", "test accuracy"],
        [
            [f"emo: train all {len(reps[0]['emo']['methods'])} heads of the default set (sum of timings.json)",
             fmt(emo_train, 2), f"ib {fmt(reps[0]['emo']['ib_test_accuracy'], 4)}"],
            ["emo: whole `compare-sampling` command (wall)", fmt(emo_wall, 2), "—"],
            [f"emo: `linfa` head alone (L-BFGS logistic regression, C=1, 100 iterations; {linfa_how})",
             fmt(linfa, 2),
             fmt(reps[0]["emo"]["linfa_test_accuracy"], 4)],
            [f"scikit-learn `LogisticRegression()` fit ({sk0['n_iter']} iterations"
             f"{'' if sk0['converged'] else ', not converged'})", fmt(sk, 2), fmt(sk0["test_accuracy"], 4)],
            ["**scikit-learn fit ÷ emo whole command, wall** (>1: emo faster; the command also "
             "loads, evaluates and writes the report)", f"**{fmt(ratio(sk, emo_wall), 2)}×**", ""],
            ["scikit-learn fit ÷ emo training of all heads (sum of fits)", f"{fmt(ratio(sk, emo_train), 2)}×", ""],
            ["scikit-learn fit ÷ emo `linfa` (same model)", f"{fmt(ratio(sk, linfa), 2)}×", ""],
        ],
    )
    methods = sorted(reps[0]["emo"]["methods"])
    per_method = md_table(
        ["method"] + [f"`{m}`" for m in methods],
        [["seconds"] + [fmt(median(x["emo"]["methods"][m] for x in reps), 2) for m in methods]],
    )
    text = (
        f"Training heads on GoEmotions' {sk0['n_train']:,} training embeddings ({sk0['dim']} dims, "
        f"{sk0['classes']} classes), read from the embedding cache. emo's training time is the "
        "sum of every fit in `timings.json` (one seed); the wall time is the whole command "
        "(loading cached vectors, training, evaluating on validation and test, writing the "
        "report). scikit-learn's time is `fit` alone (loading excluded), in a subprocess with "
        f"{args.threads} threads. {reps_text(args.reps)}.\n\n"
        + ("\n\n".join(notes) + "\n\n" if notes else "")
        + summary + "\n\nPer method (emo, median seconds):\n\n" + per_method
    )
    return {"markdown": text, "raw": {"embed_first": {"wall": first["wall"], **stats}, "reps": reps}}


def section_cache(r: Runner, args, w: Path) -> dict:
    cache = w / "cache"
    cache.mkdir()
    if args.quick:
        # --quick: 600 CARER rows (6 classes) instead of GoEmotions' 45k, same commands.
        rows = carer_rows("train")[:600]
        data = w / "cache-quick.csv"
        import csv

        with open(data, "w", encoding="utf-8", newline="") as f:
            cw = csv.writer(f)
            cw.writerow(["text", "label"])
            cw.writerows(rows)
        what = f"{len(rows)} CARER training rows (`--quick`), split 0.8/0.1/0.1"
        base = ["compare-sampling", "--train", str(data), "--split", "0.8,0.1,0.1"]
    else:
        what = "GoEmotions (45,446 texts in three splits)"
        base = ["compare-sampling", "--dataset", "goemotions"]
    base += ["--seeds", "1", "--batch-size", str(args.batch_size), "--cache-dir", str(cache)]
    log(f"cache: cold run on {what} (embeds every text) ...")
    cold = r.run_emo("cache-cold", *base, "--out", str(w / "c1"))
    size = dir_size_mb(cache)
    log(f"cache: cold {cold['wall']:.1f} s, cache {size:.1f} MB")
    warm = []
    for rep in range(args.reps):
        res = r.run_emo("cache-warm", *base, "--out", str(w / f"c-warm-r{rep}"))
        warm.append({"wall": res["wall"], "rss_mb": res["rss_mb"]})
        log(f"cache: warm rep {rep + 1}/{args.reps}: {res['wall']:.1f} s")
    warm_med = median(x["wall"] for x in warm)
    table = md_table(
        ["data", "cold (empty cache) s", "warm s (median)", "cold ÷ warm", "cache on disk MB"],
        [[what, fmt(cold["wall"], 1), fmt(warm_med, 1), f"{fmt(ratio(cold['wall'], warm_med), 1)}×", fmt(size, 1)]],
    )
    text = (
        "Wall time of the whole `emo compare-sampling --seeds 1` command with a fresh, empty "
        "`--cache-dir` (every text embedded, then every head trained) and then the same command "
        f"again with the cache filled ({args.reps} warm run{'s, median' if args.reps > 1 else ''}). One cold run.\n\n" + table
    )
    return {"markdown": text, "raw": {"data": what, "cold": {"wall": cold["wall"], "rss_mb": cold["rss_mb"]},
                                       "cache_mb": size, "warm": warm}}


def section_scale(r: Runner, args, w: Path) -> dict:
    tiny = w / "tiny-encoder"
    log("scale: creating the random-weight 1-layer encoder ...")
    r.run_py("make-tiny", "_make-tiny", str(tiny))
    encoders = [("MiniLM", MODEL_DIR, args.scale_minilm_max), ("tiny (1 layer, random)", tiny, None)]
    source = scale_source()
    raw, rows, notes = {"encoders": {}}, [], []
    files: dict[int, Path] = {}
    for name, enc, max_n in encoders:
        sizes = [n for n in args.scale if max_n is None or n <= max_n]
        if not sizes:
            continue
        model = w / f"model-{'minilm' if enc == MODEL_DIR else 'tiny'}"
        train = ["train", "--dataset", "goemotions", "--method", "ib", "--encoder", str(enc),
                 "--batch-size", str(args.batch_size), "--out", str(model)]
        if enc != MODEL_DIR:  # keep random-encoder vectors out of the shared cache
            train += ["--cache-dir", str(w / "cache-tiny")]
        log(f"scale: training an ib head for {name} ...")
        res = r.run_emo("scale-train", *train)
        raw["encoders"][name] = {"train_wall": res["wall"], "runs": []}
        for n in sizes:
            if n not in files:
                files[n] = w / f"scale-{n}.txt"
                write_scale_file(files[n], n, source)
            try:
                st, jl = w / "s.safetensors", w / "s.jsonl"
                log(f"scale: {name}: emo embed, {n:,} texts ...")
                e = r.run_emo("scale-embed", "embed", "--input", str(files[n]), "--encoder", str(enc),
                              "--no-cache", "--batch-size", str(args.batch_size), "--out", str(st))
                stats = read_sidecar(st)["stats"]
                st.unlink(missing_ok=True)
                st.with_suffix(".json").unlink(missing_ok=True)
                log(f"scale: {name}: emo classify, {n:,} texts ...")
                c = r.run_emo("scale-classify", "classify", "--model", str(model), "--input", str(files[n]),
                              "--output-format", "jsonl", "--out", str(jl), "--encoder", str(enc),
                              "--batch-size", str(args.batch_size))
                with open(jl, "rb") as f:
                    labelled = sum(1 for _ in f)
                jl.unlink(missing_ok=True)
                if labelled != n:
                    raise BenchError(f"emo classify wrote {labelled} lines for {n} texts")
                run = {"n": n, "embed": {"wall": e["wall"], "rss_mb": e["rss_mb"], **stats},
                       "classify": {"wall": c["wall"], "rss_mb": c["rss_mb"]}}
                raw["encoders"][name]["runs"].append(run)
                log(f"scale: {name} {n:,}: embed {e['wall']:.1f} s {e['rss_mb']:.0f} MB, "
                    f"classify {c['wall']:.1f} s {c['rss_mb']:.0f} MB")
                for what, rss in (("embed", e["rss_mb"]), ("classify", c["rss_mb"])):
                    if rss >= RSS_TARGET_MB:
                        notes.append(f"**Over the 1.5 GB target**: `emo {what}` with {name} on {n:,} texts "
                                     f"peaked at {rss:,.0f} MB.")
                rows.append([name, fmt(n), fmt(stats["computed"] / stats["seconds"]), fmt(n / e["wall"]),
                             fmt(e["rss_mb"], 0), fmt(n / c["wall"]), fmt(c["rss_mb"], 0)])
            except BenchError as err:  # keep the sizes already measured; say what failed
                log(f"scale: {name} {n:,} failed: {err}")
                raw["encoders"][name]["runs"].append({"n": n, "error": str(err)})
                notes.append(f"**Failed**: {name} on {n:,} texts: {err}")
                rows.append([name, fmt(n), "failed", "—", "—", "—", "—"])
            finally:
                for leftover in (w / "s.safetensors", w / "s.json", w / "s.jsonl"):
                    leftover.unlink(missing_ok=True)
    for p in files.values():
        p.unlink(missing_ok=True)
    table = md_table(
        ["encoder", "texts", "embed texts/s (loop)", "embed texts/s (wall)", "embed peak RSS MB",
         "classify texts/s (wall)", "classify peak RSS MB"],
        rows,
    )
    if not any("target" in x or "Failed" in x for x in notes):
        notes.append(f"Every process stayed under the {RSS_TARGET_MB} MB target.")
    text = (
        "Throughput and peak memory as the input grows: `emo embed --no-cache` (all vectors "
        "are written to one safetensors file, so its output alone is N × 384 × 4 bytes) and "
        "`emo classify --output-format jsonl --out FILE` (reads and labels in chunks of 2,048). "
        "Texts: GoEmotions and CARER texts cycled, each suffixed ` #i` so all are unique. "
        "Peak RSS is `ru_maxrss` of that process alone; wall time includes loading the model. "
        f"One run each. MiniLM runs up to {args.scale_minilm_max:,} texts. **The tiny encoder is "
        "a random-weight 1-layer BERT (384 dims, MiniLM's tokenizer): its rows measure the "
        "pipeline's scaling — reading, tokenizing, batching, writing, memory — not model speed "
        "or quality.**\n\n" + table + "\n\n" + "\n\n".join(notes)
    )
    result = {"markdown": text, "raw": raw}
    if any("error" in run for enc in raw["encoders"].values() for run in enc["runs"]):
        result["failed"] = True
    return result


def section_gpu(args, results: dict) -> str:
    lines = []
    if args.device == "cuda" and "embed" in results and "raw" in results["embed"]:
        lines.append("This run used `--device cuda`; the **embed** table above gives GPU "
                     "sentences/s for emo and Python sentence-transformers.")
    else:
        lines.append("Not measured by this run (`--device cpu`). `make gpu-check` "
                     "(scripts/gpu_check.sh) measures emo on a GPU against sentence-transformers "
                     "on the same GPU; the README's GPU section has its results once it has run "
                     "on a GPU machine.")
    lines.append("")
    lines.append("<!-- gpu -->")
    return "\n".join(lines)


# ---------------------------------------------------------------- machine, report


def machine_info() -> dict:
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    versions = {"python": platform.python_version()}
    for pkg in ("torch", "transformers", "sentence-transformers", "scikit-learn", "numpy"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "os": platform.platform(),
            "versions": versions}


def git_commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


TITLES = {"embed": "1. Embedding (frozen MiniLM)", "heads": "2. Training heads",
          "cache": "3. Embedding cache", "scale": "4. Scaling: throughput and peak memory",
          "precision": "5. Half precision (bf16)",
          "encoders": "6. Other encoders: all-mpnet-base-v2"}


def previous_sections(out: Path) -> dict:
    """The sections an earlier report at `out` (and its .json) holds: name -> {markdown,
    raw, from}. Sections that report did not run, or that failed, are left out."""
    try:
        text = out.read_text(encoding="utf-8")
        old = json.loads(out.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    meta = old.get("meta", {})
    by_title = {t: n for n, t in TITLES.items()}
    found, name, lines = {}, None, []

    def close():
        if name is None:
            return
        body = "\n".join(lines).strip()
        if body.startswith("*Not rerun by this command: "):
            body = body.partition("\n")[2].strip()
        if body.startswith("Not run (") or body.startswith("**Failed**"):
            return
        prov = (meta.get("sections") or {}).get(name) or {
            k: meta.get(k) for k in ("date", "commit", "command")}
        found[name] = {"markdown": body, "raw": old.get("sections", {}).get(name), "from": prov}

    for line in text.split("\n"):
        if line.startswith("## "):
            close()
            title = line[3:].strip()
            name, lines = by_title.get(title), []
            # A title not in TITLES (the GPU section) ends the section before it.
        elif name is not None:
            lines.append(line)
    close()
    return found


def section_encoders(r: Runner, args, w: Path) -> dict:
    from bench_precision import native_bf16, speed

    parts, raw = [], {}
    for name, sizes in ENCODERS.items():
        if not (DEPS / "models" / name / "model.safetensors").is_file():
            raise BenchError(f"{DEPS / 'models' / name}: missing (EMO_ENCODERS={name} make setup)")
        text, cos_rows, raw[name] = speed(r, args, w, encoder=name, sizes=sizes)
        cos = md_table(["texts", "vectors", "count", "lowest cosine", "mean cosine"], cos_rows)
        parts.append(f"### {name}\n\n{text}\n\n{cos}")
    native = native_bf16()["native"]
    head = ("Embedding throughput of the encoders beyond MiniLM, measured as section 5 measures "
            "MiniLM (`--encoder NAME` for emo, the same folder for sentence-transformers; same "
            "threads and batch). "
            + ("This CPU has native bf16." if native else
               "**This CPU has no native bf16**: PyTorch emulates it, so the bf16 columns are "
               "slower than fp32 for both sides and say nothing about a CPU that has it."))
    return {"markdown": head + "\n\n" + "\n\n".join(parts), "raw": raw}


def render(meta: dict, results: dict, args) -> str:
    m = meta["machine"]
    v = m["versions"]
    head = [
        "# emo benchmark",
        "",
        f"- date: {meta['date']}",
        f"- emo commit: `{meta['commit']}`" + (" (the binary changed during the run!)" if meta.get("binary_changed") else ""),
        f"- command: `{meta['command']}`",
        f"- machine: {m['cpu']}, {m['cores']} cores, {fmt(m['memory_gb'], 1)} GiB memory, {m['os']}",
        "- versions: " + ", ".join(f"{k} {v[k]}" for k in v),
        f"- threads: {args.threads} (emo `--threads`, Python `torch.set_num_threads` + threadpoolctl); "
        f"batch size: {args.batch_size}; device: {args.device}; repetitions: {args.reps}"
        + (" (`--quick`: smoke-test sizes)" if args.quick else ""),
        f"- load average (1 min): {meta['load_average_start']:.2f} at the start, "
        f"{meta['load_average_end']:.2f} at the end"
        + (" (other work was running on the machine: expect noisy numbers)"
           if meta["load_average_start"] > 0.25 * (m["cores"] or 1) else "")
        + f"; the bench took {meta['seconds'] / 60:.1f} min",
        "",
    ]
    body = []
    for name in SECTIONS:
        body.append(f"## {TITLES[name]}\n")
        res = results.get(name)
        if res is None:
            body.append("Not run (`--only`).\n")
        elif "error" in res:
            body.append(f"**Failed**: {res['error']}\n")
        else:
            if "from" in res:
                body.append(f"*Not rerun by this command: from the run of {res['from']['date']} "
                            f"at `{res['from']['commit']}` (`{res['from']['command']}`).*\n")
            body.append(res["markdown"] + "\n")
    body.append(f"## {len(SECTIONS) + 1}. GPU\n")
    body.append(section_gpu(args, results) + "\n")
    return "\n".join(head + body)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=None,
                   help="repetitions of each measurement (default 3; 1 with --quick)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="CPU threads for emo and Python (default: all cores)")
    p.add_argument("--batch-size", type=int, default=64, help="texts per forward pass (default 64)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="encoder device for emo and sentence-transformers (default cpu)")
    p.add_argument("--quick", action="store_true",
                   help="smoke-test sizes: a few hundred texts, 1 repetition, scale 1000,3000")
    p.add_argument("--scale", default=None, help="texts per scale run, comma list (default 10000,100000,1000000)")
    p.add_argument("--scale-minilm-max", type=int, default=10000,
                   help="largest scale size run with the real MiniLM (default 10000)")
    p.add_argument("--only", default=",".join(SECTIONS), help="sections to run: " + ",".join(SECTIONS) + " (the others are kept from the report at --out)")
    p.add_argument("--out", default="reports/bench.md", help="report (bench.json beside it)")
    p.add_argument("--emo", default="./target/release/emo", help="the emo binary")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.only if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    scale = args.scale or ("1000,3000" if args.quick else "10000,100000,1000000")
    try:
        args.scale = [int(x.replace("_", "")) for x in scale.split(",") if x.strip()]
    except ValueError:
        p.error(f"--scale: not a comma list of integers: {scale}")
    if any(n < 1 for n in args.scale):
        p.error("--scale: every size must be at least 1")
    if args.reps < 1 or args.threads < 1 or args.batch_size < 1:
        p.error("--reps, --threads and --batch-size must be at least 1")
    return args


def main(argv) -> int:
    args = parse_args(argv)
    emo = (ROOT / args.emo).resolve() if not Path(args.emo).is_absolute() else Path(args.emo)
    if not emo.is_file():
        log(f"error: {emo} not found (run `make build`)")
        return 2
    for need in (MODEL_DIR / "model.safetensors", DATASETS / "goemotions" / "test.tsv", DATASETS / "carer" / "train.txt"):
        if not need.is_file():
            log(f"error: {need} missing (run `make setup`)")
            return 2
    out = Path(args.out)
    out = out if out.is_absolute() else ROOT / out
    out_json = out.with_suffix(".json")
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "command": os.environ.get("EMO_BENCH_COMMAND") or shlex.join(["python3", "scripts/bench.py", *argv]),
        "machine": machine_info(),
        "emo": str(emo),
        "emo_sha256": sha256_file(emo),
        "threads": args.threads, "batch_size": args.batch_size, "device": args.device,
        "reps": args.reps, "quick": args.quick, "scale": args.scale,
        "load_average_start": os.getloadavg()[0],
    }
    (DEPS / "tmp").mkdir(parents=True, exist_ok=True)
    results, failed = {}, False
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=DEPS / "tmp", prefix="bench-") as tmp:
        w = Path(tmp)
        runner = Runner(w, emo, args.threads, args.batch_size, args.device)
        sys.modules.setdefault("bench", sys.modules[__name__])
        from bench_precision import section_precision

        funcs = {"embed": section_embed, "heads": section_heads, "cache": section_cache,
                 "scale": section_scale, "precision": section_precision,
                 "encoders": section_encoders}
        for name in SECTIONS:
            if name not in args.only:
                continue
            log(f"== {name}")
            t0 = time.perf_counter()
            try:
                results[name] = funcs[name](runner, args, w)
                failed = failed or results[name].get("failed", False)
            except (BenchError, OSError) as e:
                log(f"{name} failed: {e}")
                results[name] = {"error": str(e)}
                failed = True
            log(f"== {name} done in {time.perf_counter() - t0:.0f} s")
    here = {k: meta[k] for k in ("date", "commit", "command")}
    meta["sections"] = {name: here for name in results}
    for name, res in previous_sections(out).items():
        if name not in results:
            results[name] = res
            meta["sections"][name] = res["from"]
    meta["seconds"] = time.perf_counter() - t_start
    meta["load_average_end"] = os.getloadavg()[0]
    end_sha = sha256_file(emo)
    meta["binary_changed"] = end_sha != meta["emo_sha256"]
    if meta["binary_changed"]:
        log("warning: the emo binary changed during the run; numbers may mix two builds")
    report = render(meta, results, args)
    write_atomic(out, report)
    raw = {"meta": meta, "sections": {k: v.get("raw", v) for k, v in results.items()}}
    write_atomic(out_json, json.dumps(raw, indent=2) + "\n")
    print(report)
    log(f"wrote {out} and {out_json} ({meta['seconds']:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in HELPERS:
        HELPERS[sys.argv[1]](*sys.argv[2:])
    else:
        sys.exit(main(sys.argv[1:]))
