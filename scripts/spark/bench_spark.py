#!/usr/bin/env python3
"""The Spark section of `make bench`: texts/s of emo_spark.py on local[1] and
local[2] against one emo process on the same texts, and the per-partition
start-up cost (a fresh emo process loading libtorch, the model and the
encoder), so that users can size partitions. Writes reports/bench-spark.md
and reports/bench-spark.json.

    bench_spark.py [--texts N] [--partitions P]
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import tarfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import test_spark as t  # noqa: E402  (shares the data, model and bundle set-up)

ROOT = t.ROOT
OUT = ROOT / "reports"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--texts", type=int, default=6000)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--render", action="store_true", help="rewrite the .md from the .json only")
    args = p.parse_args()
    if args.render:
        render(json.loads((OUT / "bench-spark.json").read_text()))
        return
    t.N = args.texts
    work = t.WORK.parent / "spark-bench"
    t.WORK = work
    t.prepare()
    texts = work / "texts.jsonl"
    with tarfile.open(work / "emo.tar.gz") as tar:
        tar.extractall(work / "bundle", filter="fully_trusted")
    # One emo process, both cores, no cache: what the Spark runs are measured against.
    alone = {}
    for threads in (1, 2):
        _, secs = t.run([t.EMO, "classify", "--model", work / "model", "--input", texts,
                         "--output-format", "jsonl", "--threads", str(threads)])
        alone[threads] = secs
    # Start-up: a one-line input, so the time is loading, not embedding.
    (work / "one.jsonl").write_text('{"id":"x","text":"hello"}\n')
    starts = [t.run([work / "bundle" / "run", "classify", "--model", work / "model", "--input",
                     work / "one.jsonl", "--output-format", "jsonl", "--threads", "1"])[1] for _ in range(3)]
    # Spark's fixed cost: the same job over 16 texts (JVM, session, tasks, emo start-ups).
    lines = texts.read_text().splitlines()
    (work / "few.jsonl").write_text("\n".join(lines[:16]) + "\n")
    _, fixed = t.run([sys.executable, ROOT / "scripts" / "spark" / "emo_spark.py",
                      "--master", "local[2]", "--input", work / "few.jsonl",
                      "--output", work / "out-few.parquet", "--bundle", work / "emo.tar.gz",
                      "--partitions", str(args.partitions)])
    spark = {}
    for cores in (1, 2):
        _, secs = t.run([sys.executable, ROOT / "scripts" / "spark" / "emo_spark.py",
                         "--master", f"local[{cores}]", "--input", texts,
                         "--output", work / f"out-{cores}.parquet", "--bundle", work / "emo.tar.gz",
                         "--partitions", str(args.partitions)])
        spark[cores] = secs
    n = t.N
    result = {
        "texts": n, "partitions": args.partitions, "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "alone_seconds": alone, "spark_seconds": spark,
        "emo_start_seconds": statistics.median(starts),
        "spark_fixed_seconds": fixed,
    }
    (OUT / "bench-spark.json").write_text(json.dumps(result, indent=2) + "\n")
    render(result)


def render(result):
    """reports/bench-spark.md from the measurements (`--render` redoes only this)."""
    n, parts = result["texts"], result["partitions"]
    alone = {int(k): v for k, v in result["alone_seconds"].items()}
    spark = {int(k): v for k, v in result["spark_seconds"].items()}
    fixed, start = result["spark_fixed_seconds"], result["emo_start_seconds"]
    marginal = n / max(spark[2] - fixed, 1e-9)
    rows = [
        f"| one emo process, 1 thread | {alone[1]:.1f} | {n / alone[1]:.0f} |",
        f"| one emo process, 2 threads | {alone[2]:.1f} | {n / alone[2]:.0f} |",
        f"| Spark `local[1]`, {parts} partitions | {spark[1]:.1f} | {n / spark[1]:.0f} |",
        f"| Spark `local[2]`, {parts} partitions | {spark[2]:.1f} | {n / spark[2]:.0f} |",
    ]
    md = f"""# emo on Spark (local)

`python3 scripts/spark/bench_spark.py --texts {n} --partitions {parts}` (part of `make bench`),
{result["cores"]} cores, GoEmotions test texts, `emo classify` (top-1), no embedding cache, one
run each (this machine is shared: repeated runs moved these by up to 25%). Spark times are
whole `emo_spark.py` runs: JVM and session start, reading JSONL, the emo processes, writing
Parquet.

| run | seconds | texts/s |
|---|---|---|
{chr(10).join(rows)}

- `local[2]` against `local[1]`: {spark[1] / spark[2]:.2f}× the throughput.
- Spark `local[2]` against one emo process with the same 2 cores: {alone[2] / spark[2]:.2f}× the throughput.
- Spark's fixed cost, the same `local[2]` job over 16 texts: {fixed:.1f} s (JVM and session,
  unpacking the bundle, a task and an emo start-up per partition, Parquet). Beyond it,
  `local[2]` labels {marginal:.0f} texts/s, {marginal / (n / alone[2]):.2f}× one emo process with 2 threads
  (Spark's JVM and Python workers share the same 2 cores). On one machine Spark adds cost;
  it is for corpora that need many machines.
- Start-up of one emo process (load libtorch, the model and the encoder; classify one text),
  median of 3: {start:.2f} s. Each partition pays it once: with partitions of 10,000 texts it
  is about {100 * start / (10000 / (n / alone[1]) + start):.0f}% of a one-thread task at this machine's speed.
"""
    (OUT / "bench-spark.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
