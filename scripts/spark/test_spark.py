#!/usr/bin/env python3
"""`make spark-test`: emo_spark.py on a real local Spark (local[2], 4 partitions)
over 3,000 real GoEmotions texts, against one emo process on the same texts.

1. The Spark output equals `emo classify` run alone: one row per input, ids
   intact, the same labels, confidences within 1e-5.
2. One emo process is killed on purpose in one task (EMO_SPARK_KILL_PARTITION)
   and the job still succeeds through Spark's retry, with no duplicate and no
   missing id. Every task attempt logs itself (EMO_SPARK_ATTEMPT_LOG), which
   proves both halves: partition 1's first attempt killed an emo that was still
   running (it had not exited, and SIGKILL ended it) and failed, and a later
   attempt of partition 1 (Spark's attempt number > 0) answered every line.
3. Two executors shared one embedding cache: afterwards every shard opens
   (no corruption warning) and the whole input is served from it.
4. A multi-label model (trained on tests/fixtures/multilabel_small.csv): the
   job finds out from the bundle's manifest, writes id, labels, top, error,
   and its labels equal one emo process's (probabilities within 1e-5).
5. Shares (--quantify --by): each partition's emo writes tallies, the job adds
   them per group and one emo estimates once; the shares and intervals equal
   one `emo quantify` over the whole input (within 1e-7; one embedding cache, so
   the vectors are the same bits), through sums (pacc)
   and through posteriors (sld), while the mean of the partitions' own
   estimates does not.
Exits non-zero on the first failure. Writes under .deps/tmp/spark-test (and
spark-test-multi); `test_spark.py multi` runs part 4 alone, `test_spark.py
quantify` part 5 (after a full run has prepared the model).
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
EMO = ROOT / "target" / "release" / "emo"
WORK = ROOT / ".deps" / "tmp" / "spark-test"
WORK_MULTI = ROOT / ".deps" / "tmp" / "spark-test-multi"
N = 3000


def datasets():
    shared = ROOT.parent / "shared" / "datasets"
    return shared if (shared / "goemotions" / "test.tsv").is_file() else ROOT / ".deps" / "datasets"


def run(cmd, **kw):
    t = time.time()
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"spark-test: {' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r, time.time() - t


def check(cond, what):
    if not cond:
        sys.exit(f"spark-test: FAILED: {what}")
    print(f"spark-test: ok: {what}")


def spark_job(extra_env, out, cache):
    env = dict(os.environ, **extra_env)
    r, secs = run([sys.executable, ROOT / "scripts" / "spark" / "emo_spark.py", "--master", "local[2,4]",
                   "--input", WORK / "texts.jsonl", "--output", out, "--bundle", WORK / "emo.tar.gz",
                   "--partitions", "4", "--top-k", "2", "--cache-dir", cache], env=env)
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    rows = [r.asDict(recursive=True) for r in spark.read.parquet(str(out)).collect()]
    spark.stop()
    return rows, secs


def same_as_alone(rows, alone, what):
    ids = [r["id"] for r in rows]
    check(len(rows) == N and len(set(ids)) == N and set(ids) == set(alone),
          f"{what}: {len(rows)} rows for {N} texts, every id once")
    worst = max(abs(r["confidence"] - alone[r["id"]]["confidence"]) for r in rows)
    labels = sum(r["label"] == alone[r["id"]]["label"] for r in rows)
    check(labels == N and worst < 1e-5,
          f"{what}: labels equal to one emo process ({labels}/{N}), confidences within {worst:.1e}")
    check(all(len(r["top"]) == 2 and r["error"] is None for r in rows), f"{what}: top-2 kept, no errors")


def check_killed_and_retried(attempts, partition, partitions):
    """From the attempt log: `partition`'s first attempt killed a running emo and failed,
    a later attempt of it answered every line, and every partition succeeded once."""
    mine = sorted((a for a in attempts if a["partition"] == partition), key=lambda a: a["attempt"])
    first = [a for a in mine if a["attempt"] == 0]
    check(len(first) == 1 and first[0].get("killed_while_running") is True,
          f"partition {partition}'s first attempt killed a running emo (SIGKILL ended it: exit "
          f"{first[0]['exit'] if first else '-'}, after {first[0]['answered'] if first else '-'} "
          f"of {first[0]['sent'] if first else '-'} answers)")
    ok = [a for a in mine if a["exit"] == 0 and a["answered"] == a["sent"]]
    check(ok and all(a["attempt"] > 0 for a in ok),
          f"partition {partition} was retried: attempt(s) {[a['attempt'] for a in ok]} answered "
          f"every line, the killed attempt 0 did not count")
    done = sorted(a["partition"] for a in attempts if a["exit"] == 0 and a["answered"] == a["sent"])
    check(done == list(range(partitions)),
          f"each of the {partitions} partitions succeeded exactly once (successful attempts: {done})")


def prepare():
    """N GoEmotions test texts as texts.jsonl (ids g0, g1, …), a small ib model
    trained on CARER, and the bundle (pack.sh --link), all under WORK."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    texts = [line.split("\t")[0] for line in
             (datasets() / "goemotions" / "test.tsv").read_text().splitlines()[:N]]
    with open(WORK / "texts.jsonl", "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"g{i}", "text": t}) + "\n")
    # A small model: ib on 25 CARER texts per emotion.
    train = [line.rsplit(";", 1) for line in (datasets() / "carer" / "train.txt").read_text().splitlines()[1:]]
    taken, small = {}, ["text,label"]
    for t, label in train:
        if taken.get(label, 0) < 25:
            taken[label] = taken.get(label, 0) + 1
            small.append('"' + t.replace('"', '""') + '",' + label)
    (WORK / "small.csv").write_text("\n".join(small) + "\n")
    run([EMO, "train", "--train", WORK / "small.csv", "--method", "ib", "--tune", "none",
         "--cache-dir", WORK / "train-cache", "--out", WORK / "model"])
    run(["bash", ROOT / "scripts" / "spark" / "pack.sh", WORK / "model", WORK / "emo.tar.gz", "--link"])


def multi_label():
    """Part 4: a multi-label model through the job, against one emo process."""
    shutil.rmtree(WORK_MULTI, ignore_errors=True)
    WORK_MULTI.mkdir(parents=True)
    texts = [line.split("\t")[0] for line in
             (datasets() / "goemotions" / "test.tsv").read_text().splitlines()[:200]]
    with open(WORK_MULTI / "texts.jsonl", "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"id": f"m{i}", "text": t}) + "\n")
        f.write(json.dumps({"id": "blank", "text": "  "}) + "\n")
    model = WORK_MULTI / "model"
    run([EMO, "train", "--train", ROOT / "tests" / "fixtures" / "multilabel_small.csv", "--multi-label",
         "--label-col", "labels", "--tune", "none", "--valid-fraction", "0.25", "--seed", "1",
         "--cache-dir", WORK_MULTI / "cache", "--out", model])
    run(["bash", ROOT / "scripts" / "spark" / "pack.sh", model, WORK_MULTI / "emo.tar.gz", "--link"])
    r, _ = run([EMO, "classify", "--model", model, "--input", WORK_MULTI / "texts.jsonl", "--output-format", "jsonl",
                "--top-k", "2", "--skip-bad-rows", "--threads", "2"])
    alone = {o["id"]: o for o in map(json.loads, r.stdout.splitlines())}
    out = WORK_MULTI / "out.parquet"
    r, secs = run([sys.executable, ROOT / "scripts" / "spark" / "emo_spark.py", "--master", "local[2]",
                   "--input", WORK_MULTI / "texts.jsonl", "--output", out, "--bundle", WORK_MULTI / "emo.tar.gz",
                   "--partitions", "3", "--top-k", "2"])
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    df = spark.read.parquet(str(out))
    columns = df.columns
    rows = {r["id"]: r.asDict(recursive=True) for r in df.collect()}
    spark.stop()
    check(columns == ["id", "labels", "top", "error"],
          f"multi-label model: the job wrote columns {columns} ({secs:.1f} s)")
    check(sorted(rows) == sorted(alone) and len(rows) == len(texts) + 1,
          f"multi-label model: {len(rows)} rows, every id once")
    worst, same = 0.0, 0
    for rid, a in alone.items():
        row = rows[rid]
        if "error" in a:
            continue
        want = [(t["label"], t["probability"]) for t in a["labels"]]
        got = [(t["label"], t["probability"]) for t in row["labels"]]
        same += [l for l, _ in want] == [l for l, _ in got] and \
            [(t["label"], t["passed"]) for t in a["top"]] == [(t["label"], t["passed"]) for t in row["top"]]
        worst = max([worst] + [abs(p - q) for (_, p), (_, q) in zip(want, got)])
    check(same == len(texts) and worst < 1e-5,
          f"multi-label model: labels and top-2 equal to one emo process ({same}/{len(texts)}), "
          f"probabilities within {worst:.1e}")
    check(any(rows[k]["labels"] == [] for k in rows if k != "blank")
          and any(rows[k]["labels"] for k in rows if k != "blank"),
          "multi-label model: some texts get labels, some none (an empty list, not null)")
    check(rows["blank"]["error"] == "empty text" and rows["blank"]["labels"] is None,
          "multi-label model: the blank text answered with its error")


def quantify_parts():
    """Part 5: shares of 600 texts in two groups through the job, against one
    emo quantify."""
    texts = [json.loads(line) for line in (WORK / "texts.jsonl").read_text().splitlines()[:600]]
    grouped = WORK / "grouped.jsonl"
    with open(grouped, "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps(dict(t, week="w1" if i % 3 else "w2")) + "\n")
    cache = WORK / "quantify-cache"
    for estimator in ("pacc", "sld"):
        settings = ["--estimator", estimator, "--bootstrap", "40", "--seed", "7", "--cache-dir", cache]
        r, _ = run([EMO, "quantify", "--model", WORK / "model", "--input", grouped, "--by", "week",
                    "--output-format", "json", "--threads", "2"] + settings)
        alone = {g["group"]: g for g in json.loads(r.stdout)}
        out = WORK / f"shares-{estimator}.json"
        r, secs = run([sys.executable, ROOT / "scripts" / "spark" / "emo_spark.py", "--master", "local[2]",
                       "--input", grouped, "--output", out, "--bundle", WORK / "emo.tar.gz",
                       "--partitions", "4", "--quantify", "--by", "week"] + settings)
        spark = {g["group"]: g for g in json.loads(out.read_text())}
        check(sorted(spark) == ["w1", "w2"] and all(spark[g]["texts"] == alone[g]["texts"] for g in alone),
              f"shares ({estimator}): both groups, every text counted once ({secs:.1f} s)")
        worst = max(abs(spark[g]["shares"][label][k] - alone[g]["shares"][label][k])
                    for g in alone for label in alone[g]["shares"] for k in ("share", "low", "high"))
        check(worst < 1e-7, f"shares ({estimator}): tallies added over 4 partitions equal one emo "
                            f"quantify over the whole input, shares and intervals within {worst:.1e}")
        if estimator == "sld":
            # Not an average: the mean of each part's own estimate is not the whole's.
            parts = [texts[i::4] for i in range(4)]
            means = {}
            for p, part in enumerate(parts):
                path = WORK / f"part{p}.jsonl"
                path.write_text("".join(json.dumps(t) + "\n" for t in part))
                r, _ = run([EMO, "quantify", "--model", WORK / "model", "--input", path, "--output-format",
                            "json", "--threads", "2", "--estimator", "sld", "--bootstrap", "0"])
                for label, s in json.loads(r.stdout)["shares"].items():
                    means[label] = means.get(label, 0.0) + s["share"] / len(parts)
            r, _ = run([EMO, "quantify", "--model", WORK / "model", "--input", grouped,
                        "--output-format", "json", "--threads", "2", "--estimator", "sld", "--bootstrap", "0"])
            whole = json.loads(r.stdout)["shares"]
            gap = max(abs(means[label] - whole[label]["share"]) for label in whole)
            check(gap > 1e-6, f"shares (sld): the mean of 4 parts' own estimates is off the whole's by {gap:.1e}, "
                              f"which adding tallies avoids")


def main():
    if sys.argv[1:] == ["multi"]:
        multi_label()
        return
    if sys.argv[1:] == ["quantify"]:
        quantify_parts()
        return
    prepare()

    r, alone_secs = run([EMO, "classify", "--model", WORK / "model", "--input", WORK / "texts.jsonl",
                         "--output-format", "jsonl", "--top-k", "2", "--threads", "2"])
    alone = {o["id"]: o for o in map(json.loads, r.stdout.splitlines())}
    check(len(alone) == N, f"one emo process answered {len(alone)} of {N} texts ({alone_secs:.1f} s)")

    cache = WORK / "shared-cache"
    rows, secs = spark_job({}, WORK / "out-a.parquet", cache)
    print(f"spark-test: local[2], 4 partitions: {secs:.1f} s")
    same_as_alone(rows, alone, "Spark job")

    log = WORK / "attempts.jsonl"
    rows, secs = spark_job({"EMO_SPARK_KILL_PARTITION": "1", "EMO_SPARK_ATTEMPT_LOG": str(log)},
                           WORK / "out-b.parquet", cache)
    attempts = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    check_killed_and_retried(attempts, partition=1, partitions=4)
    same_as_alone(rows, alone, f"Spark job with the killed task retried ({secs:.1f} s)")

    # More partitions than texts, and a text that is not one: empty partitions
    # start no emo, the bad text comes back as a row with its error, not a gap.
    (WORK / "few.jsonl").write_text('{"id":"a","text":"what a lovely day"}\n'
                                    '{"id":"b","text":"   "}\n{"id":"c","text":"i am furious"}\n')
    r, secs = run([sys.executable, ROOT / "scripts" / "spark" / "emo_spark.py", "--master", "local[2]",
                   "--input", WORK / "few.jsonl", "--output", WORK / "out-few.parquet",
                   "--bundle", WORK / "emo.tar.gz", "--partitions", "6"])
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    few = {r["id"]: r.asDict() for r in spark.read.parquet(str(WORK / "out-few.parquet")).collect()}
    spark.stop()
    check(sorted(few) == ["a", "b", "c"] and few["b"]["error"] == "empty text" and few["b"]["label"] is None
          and few["a"]["label"] is not None and few["c"]["error"] is None,
          "3 texts over 6 partitions: one row each, the blank one answered with its error")

    # The shared cache: every shard sound, the whole input already in it.
    r, _ = run([EMO, "embed", "--input", WORK / "texts.jsonl", "--cache-dir", cache,
                "--out", WORK / "check.safetensors"])
    check("corrupt" not in r.stderr, "the cache two executors wrote opens without a corrupt shard")
    check(" cache hits, 0 computed" in r.stdout,
          f"every text served from the shared cache: {r.stdout.strip().splitlines()[-1]}")

    multi_label()
    quantify_parts()


if __name__ == "__main__":
    main()
