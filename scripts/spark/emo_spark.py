#!/usr/bin/env python3
"""Label (or embed) a corpus with emo on Apache Spark: one emo process per
partition, fed through its line protocol (see `emo classify --help`), results
written as Parquet.

    emo_spark.py --input texts.jsonl --output labels.parquet --bundle emo.tar.gz
    spark-submit --master yarn --archives emo.tar.gz#emo scripts/spark/emo_spark.py \
        --input s3a://bucket/texts/ --input-format parquet --output s3a://bucket/labels/ \
        --partitions 2000 --emo-home ./emo

emo grows no scheduler of its own: Spark splits the input, ships the bundle
(scripts/spark/pack.sh: the emo binary, libtorch, the model and its encoder)
with `--archives`, runs a task per partition and retries a failed one. Each
task checks that emo answered every input line, in order, with the same id,
and fails otherwise (an emo process that dies mid-partition, a short read), so
Spark's retry and its output commit protocol give each input exactly one
output row. Bad texts come back as rows with `error` set, never as gaps.

Columns written: id, label, confidence, top (the --top-k labels with their
probabilities, when --top-k > 1), error; with --embed: id, vector, error. A
multi-label model (its manifest says "task": "multi-label"; read from the
bundle or --emo-home when the driver can, else say --multi-label) writes
id, labels (every label that passed its threshold, with its probability; empty
for no emotion), top (with --top-k: the K most probable, each with whether it
passed), error.

With --quantify, the job estimates each emotion's share of the corpus instead
(`emo quantify`, optionally per --by group): each partition's emo writes a
tally of what it read (sums for cc/pcc/acc/pacc; for sld, every text's
posteriors), the tallies are added up per group, and one emo estimates the
shares from the totals, once: the answer of one `emo quantify` over the whole
corpus, written as JSON (or --shares-format) to the driver's --output file.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading

# Set by the tests: kill the emo process of this partition on the task's first
# attempt, after its first output line, to prove that Spark's retry recovers.
KILL_ENV = "EMO_SPARK_KILL_PARTITION"
# Set by the tests: a file to which every task attempt that ran emo appends one JSON line,
# {"partition", "attempt" (Spark's TaskContext.attemptNumber(): 0 first, 1 the first retry),
# "sent", "answered", "exit" (emo's exit status; -9: SIGKILL)}, and on the attempt that was
# told to kill, "killed_while_running": emo had not exited when it was killed (poll() found
# it running) and SIGKILL is what ended it.
ATTEMPT_LOG_ENV = "EMO_SPARK_ATTEMPT_LOG"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="a file or folder (local path, hdfs://, s3a://)")
    p.add_argument("--input-format", choices=["jsonl", "csv", "parquet", "text"],
                   help="default: from the extension (.jsonl/.json, .csv, .parquet, else text)")
    p.add_argument("--text-col", default="text")
    p.add_argument("--id-col", default="id",
                   help="the input's id column; without one, ids are the row numbers (0-based)")
    p.add_argument("--output", required=True, help="Parquet folder to write (replaced)")
    p.add_argument("--bundle", help="the archive from scripts/spark/pack.sh, shipped with spark.archives")
    p.add_argument("--emo-home", help="an unpacked bundle every executor sees (image, shared disk)")
    p.add_argument("--partitions", type=int, default=0, help="repartition to this many (0: keep)")
    p.add_argument("--master", help="e.g. local[2,4] (2 cores, 4 attempts a task); default: spark-submit's")
    p.add_argument("--top-k", type=int,
                   help="single-label: labels per text (default 1); multi-label: also list the K most probable")
    p.add_argument("--multi-label", action="store_true",
                   help="the model is multi-label (found out from its manifest when the driver can read it)")
    p.add_argument("--embed", action="store_true", help="write vectors instead of labels")
    p.add_argument("--device", default="cpu", help="emo's --device (cuda on GPU executors)")
    p.add_argument("--emo-threads", type=int, default=1,
                   help="libtorch threads of each emo process (its share of the executor's cores)")
    p.add_argument("--cache-dir", help="an embedding cache shared by the executors of one machine")
    q = p.add_argument_group("shares (--quantify)")
    q.add_argument("--quantify", action="store_true",
                   help="estimate each emotion's share of the corpus (emo quantify) instead of labelling")
    q.add_argument("--estimator", choices=["cc", "pcc", "acc", "pacc", "sld"],
                   help="emo quantify's --estimator (default: emo's)")
    q.add_argument("--bootstrap", type=int, default=1000, help="replicates behind each 95%% interval")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--by", help="a column grouping the texts: shares per group, groups sorted")
    q.add_argument("--shares-format", default="json", choices=["json", "csv", "tsv", "markdown", "table"],
                   help="how the shares are written to --output, a file on the driver (- : stdout)")
    return p.parse_args(argv)


def emo_command(args, home):
    run = os.path.join(home, "run")
    encoders = os.path.join(home, "encoder")
    (name,) = os.listdir(encoders)  # the bundle holds one, under its own name
    common = ["--input", "-", "--skip-bad-rows", "--id-col", "id", "--device", args.device,
              "--threads", str(args.emo_threads), "--encoder", os.path.join(encoders, name)]
    if args.embed:
        cmd = [run, "embed", "--input-format", "jsonl", "--out", "-"] + common
        if args.cache_dir:
            cmd += ["--cache-dir", args.cache_dir]
        else:
            cmd += ["--no-cache"]
        return cmd
    cmd = [run, "classify", "--model", os.path.join(home, "model"), "--input-format", "jsonl",
           "--output-format", "jsonl"]
    if args.top_k is not None or not args.multi_label:
        cmd += ["--top-k", str(args.top_k or 1)]
    cmd += common
    if args.cache_dir:
        cmd += ["--cache", "--cache-dir", args.cache_dir]
    return cmd


def tally_command(args, home):
    encoders = os.path.join(home, "encoder")
    (name,) = os.listdir(encoders)
    cmd = [os.path.join(home, "run"), "quantify", "--model", os.path.join(home, "model"),
           "--input", "-", "--input-format", "jsonl", "--id-col", "id", "--output-format", "tally",
           "--bootstrap", str(args.bootstrap), "--seed", str(args.seed), "--device", args.device,
           "--threads", str(args.emo_threads), "--encoder", os.path.join(encoders, name)]
    if args.estimator:
        cmd += ["--estimator", args.estimator]
    if args.by:
        cmd += ["--by", "group"]
    if args.cache_dir:
        cmd += ["--cache", "--cache-dir", args.cache_dir]
    return cmd


def tally_partition(args, rows):
    """One emo per partition, fed its (id, text, group) rows, yielding its
    tallies as (group, tally); raises (Spark retries the task) unless emo
    exited cleanly having counted every text it was sent."""
    from pyspark import TaskContext
    rows = list(rows)
    if not rows:
        return
    home = find_home(args)
    lines = []
    for rid, text, group in rows:
        rec = {"id": str(rid), "text": text}
        if args.by:
            rec["group"] = "" if group is None else str(group)
        lines.append(json.dumps(rec, ensure_ascii=False))
    done = subprocess.run(tally_command(args, home), input=("\n".join(lines) + "\n").encode("utf-8"),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ctx = TaskContext.get()
    tallies = [json.loads(t) for t in done.stdout.decode("utf-8").splitlines() if t.strip()]
    counted = sum(t["texts"] for t in tallies)
    log_attempt({"partition": ctx.partitionId(), "attempt": ctx.attemptNumber(), "sent": len(rows),
                 "answered": counted, "exit": done.returncode})
    if done.returncode != 0 or counted != len(rows):
        raise RuntimeError(f"emo quantify exited with {done.returncode} having counted {counted} of "
                           f"{len(rows)} texts in partition {ctx.partitionId()}: "
                           f"{done.stderr.decode('utf-8', 'replace').strip()[-500:]}")
    for t in tallies:
        yield t.get("group"), t


def add_tallies(a, b):
    """Two tallies of one group, added: what emo's own adding does (sums add
    per replicate and problem, sld's posteriors and keys concatenate). The
    settings must agree; emo checks the total again when it estimates."""
    for key in ("emo_tally", "estimator", "bootstrap", "seed", "labels", "group"):
        if a.get(key) != b.get(key):
            raise RuntimeError(f"tallies differ in {key}: {a.get(key)!r} and {b.get(key)!r}")
    out = dict(a)
    out["texts"] = a["texts"] + b["texts"]
    if "sums" in a:
        out["sums"] = [[{"weight": x["weight"] + y["weight"],
                         "counts": [u + v for u, v in zip(x["counts"], y["counts"])],
                         "posteriors": [u + v for u, v in zip(x["posteriors"], y["posteriors"])]}
                        for x, y in zip(ra, rb)] for ra, rb in zip(a["sums"], b["sums"])]
    if "posteriors" in a:
        out["posteriors"] = {k: a["posteriors"][k] + b["posteriors"][k] for k in a["posteriors"]}
    return out


def estimate_shares(args, tallies):
    """Runs one emo over the added tallies (on an executor: it has the bundle)
    and returns what it wrote."""
    home = find_home(args)
    cmd = [os.path.join(home, "run"), "quantify", "--model", os.path.join(home, "model"),
           "--tallies", "-", "--output-format", args.shares_format]
    text = "".join(json.dumps(t) + "\n" for t in tallies)
    done = subprocess.run(cmd, input=text.encode("utf-8"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise RuntimeError(f"emo quantify --tallies exited with {done.returncode}: "
                           f"{done.stderr.decode('utf-8', 'replace').strip()[-500:]}")
    return done.stdout.decode("utf-8")


def quantify(spark, args, df):
    """Shares of the corpus (per --by group): partition tallies added per
    group, estimated once."""
    rows = df.rdd.map(tuple)
    if args.partitions:
        rows = rows.repartition(args.partitions)
    totals = (rows.mapPartitions(lambda part: tally_partition(args, part))
              .reduceByKey(add_tallies).collect())
    if not totals:
        raise SystemExit(f"emo_spark: {args.input}: no texts to quantify")
    tallies = [t for _, t in sorted(totals, key=lambda gt: gt[0] or "")]
    shares = spark.sparkContext.parallelize([0], 1).map(lambda _: estimate_shares(args, tallies)).first()
    if args.output == "-":
        print(shares, end="")
    else:
        tmp = args.output + ".part"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(shares)
        os.replace(tmp, args.output)


def find_home(args):
    """The unpacked bundle: --emo-home, else where spark.archives put `emo`."""
    if args.emo_home:
        return os.path.abspath(args.emo_home)
    from pyspark import SparkFiles
    for base in (SparkFiles.getRootDirectory(), os.getcwd()):
        home = os.path.join(base, "emo")
        if os.path.exists(os.path.join(home, "run")):
            return home
    raise RuntimeError("emo bundle not found: give --bundle (shipped with spark.archives) or --emo-home")


def run_partition(args, rows):
    """Feeds one partition's (id, text) pairs to one emo process and yields its
    answers; raises (so that Spark retries the task) unless every input line
    was answered, in order, with its id, and emo exited cleanly."""
    from pyspark import TaskContext
    import itertools
    first = next(rows, None)
    if first is None:
        return  # an empty partition (repartition leaves some): no emo to start
    rows = itertools.chain([first], rows)
    home = find_home(args)
    ctx = TaskContext.get()
    kill = (os.environ.get(KILL_ENV) == str(ctx.partitionId()) and ctx.attemptNumber() == 0)
    running_at_kill = False
    sent = []
    proc = subprocess.Popen(emo_command(args, home), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    errors = []

    def feed():
        try:
            for rid, text in rows:
                rid = str(rid)
                sent.append(rid)
                line = json.dumps({"id": rid, "text": text}, ensure_ascii=False)
                proc.stdin.write(line.encode("utf-8") + b"\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass  # emo died; the count check below reports it
        except Exception as e:  # noqa: BLE001 — reported by the task
            errors.append(e)

    def drain():
        errors.append(proc.stderr.read().decode("utf-8", "replace"))

    writer = threading.Thread(target=feed)
    err_reader = threading.Thread(target=drain)
    writer.start()
    err_reader.start()
    answered = 0
    for raw in proc.stdout:
        try:
            out = json.loads(raw)
        except json.JSONDecodeError:
            # emo writes its answers in buffered blocks, so an emo that died mid-block leaves a
            # line cut short: stop reading (the count check below fails the attempt) rather
            # than raise before the attempt is logged and emo reaped.
            if proc.poll() is None:
                proc.kill()
            break
        if kill and answered == 0:
            # poll() reaps an emo that has exited, so None means it is still running.
            running_at_kill = proc.poll() is None
            if running_at_kill:
                proc.kill()
        yield out
        answered += 1
        if kill and running_at_kill:
            break  # this attempt fails whatever follows; the rest of the pipe may be cut short
    writer.join()
    code = proc.wait()
    err_reader.join()
    stderr = errors[-1] if errors else ""
    attempt = {"partition": ctx.partitionId(), "attempt": ctx.attemptNumber(), "sent": len(sent),
               "answered": answered, "exit": code}
    if kill:
        attempt["killed_while_running"] = running_at_kill and code == -signal.SIGKILL
    log_attempt(attempt)
    if code != 0 or answered != len(sent):
        raise RuntimeError(f"emo exited with {code} after answering {answered} of {len(sent)} "
                           f"lines in partition {ctx.partitionId()}: {stderr.strip()[-500:]}")


def log_attempt(record):
    """Appends `record` to the $EMO_SPARK_ATTEMPT_LOG file, if set, in one write (O_APPEND:
    the lines of concurrent tasks do not interleave)."""
    path = os.environ.get(ATTEMPT_LOG_ENV)
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def checked(args, rows):
    """run_partition, with each answer's id held to the input's, in order."""
    ids = []

    def remember():
        for rid, text in rows:
            ids.append(str(rid))
            yield rid, text

    for i, out in enumerate(run_partition(args, remember())):
        if i >= len(ids) or out["id"] != ids[i]:
            raise RuntimeError(f"emo's answer {i} has id {out['id']!r}, expected "
                               f"{ids[i] if i < len(ids) else 'none'!r}")
        if args.embed:
            yield (out["id"], out.get("vector"), out.get("error"))
        elif args.multi_label:
            labels = out.get("labels")
            if labels is not None:
                labels = [(t["label"], float(t["probability"])) for t in labels]
            top = [(t["label"], float(t["probability"]), bool(t["passed"]))
                   for t in out.get("top", [])] or None
            yield (out["id"], labels, top, out.get("error"))
        else:
            top = [(t["label"], float(t["confidence"])) for t in out.get("top", [])] or None
            conf = out.get("confidence")
            yield (out["id"], out.get("label"), None if conf is None else float(conf), top,
                   out.get("error"))


def model_is_multi_label(args):
    """Whether the bundle's model is multi-label, from its manifest, where the
    driver can read it (a --bundle archive or an --emo-home folder on this
    machine); None when it cannot (a cluster path only executors see)."""
    manifest = None
    if args.emo_home and os.path.isfile(os.path.join(args.emo_home, "model", "manifest.json")):
        with open(os.path.join(args.emo_home, "model", "manifest.json")) as f:
            manifest = json.load(f)
    elif args.bundle and os.path.isfile(args.bundle):
        with tarfile.open(args.bundle) as tar:
            for name in ("./model/manifest.json", "model/manifest.json"):
                try:
                    manifest = json.load(tar.extractfile(name))
                    break
                except KeyError:
                    continue
    if manifest is None:
        return None
    return manifest.get("task") == "multi-label"


def read_frame(spark, args):
    """The input as a DataFrame of id, text (and --by's column as group):
    ids from --id-col, else the row numbers."""
    fmt = args.input_format
    if fmt is None:
        low = args.input.rstrip("/").lower()
        fmt = ("jsonl" if low.endswith((".jsonl", ".json", ".ndjson")) else
               "csv" if low.endswith(".csv") else
               "parquet" if low.endswith(".parquet") else "text")
    if fmt == "jsonl":
        df = spark.read.json(args.input)
    elif fmt == "csv":
        df = spark.read.option("header", True).option("multiLine", True).option("escape", '"').csv(args.input)
    elif fmt == "parquet":
        df = spark.read.parquet(args.input)
    else:
        df = spark.read.text(args.input).withColumnRenamed("value", args.text_col)
    if args.text_col not in df.columns:
        raise SystemExit(f"emo_spark: {args.input}: no column '{args.text_col}' (columns: {', '.join(df.columns)})")
    extra = []
    if getattr(args, "by", None):
        if args.by not in df.columns:
            raise SystemExit(f"emo_spark: {args.input}: no column '{args.by}' (columns: {', '.join(df.columns)})")
        extra = [df[args.by].cast("string").alias("group")]
    text = df[args.text_col].cast("string").alias("text")
    if args.id_col in df.columns:
        return df.select(df[args.id_col].cast("string").alias("id"), text, *extra)
    # No id column: the row number, stable for a given input.
    numbered = df.select(text, *extra).rdd.zipWithIndex().map(lambda r: (str(r[1]),) + tuple(r[0]))
    return spark.createDataFrame(numbered, ["id", "text"] + (["group"] if extra else []))


def read_input(spark, args):
    """(id, text) pairs."""
    return read_frame(spark, args).select("id", "text").rdd.map(tuple)


def main(argv=None):
    args = parse_args(argv)
    if not args.embed:
        found = model_is_multi_label(args)
        if found is not None:
            args.multi_label = found
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    builder = SparkSession.builder.appName("emo")
    if args.master:
        builder = builder.master(args.master)
    if args.bundle:
        builder = builder.config("spark.archives", f"{os.path.abspath(args.bundle)}#emo")
    for key in (KILL_ENV, ATTEMPT_LOG_ENV):
        if key in os.environ:
            builder = builder.config(f"spark.executorEnv.{key}", os.environ[key])
    spark = builder.getOrCreate()
    if args.quantify:
        df = read_frame(spark, args)
        if not args.by:
            df = df.select("id", "text", F.lit(None).cast("string").alias("group"))
        # A blank text has no emotion to count: left out, and said so.
        blank = df.filter("text IS NULL OR trim(text) = ''").count()
        if blank:
            print(f"emo_spark: {blank} blank texts left out of the shares", file=sys.stderr)
        quantify(spark, args, df.filter("text IS NOT NULL AND trim(text) != ''"))
        spark.stop()
        return
    rows = read_input(spark, args)
    if args.partitions:
        rows = rows.repartition(args.partitions)
    if args.embed:
        schema = T.StructType([T.StructField("id", T.StringType()),
                               T.StructField("vector", T.ArrayType(T.FloatType())),
                               T.StructField("error", T.StringType())])
    elif args.multi_label:
        labels = T.ArrayType(T.StructType([T.StructField("label", T.StringType()),
                                           T.StructField("probability", T.DoubleType())]))
        top = T.ArrayType(T.StructType([T.StructField("label", T.StringType()),
                                        T.StructField("probability", T.DoubleType()),
                                        T.StructField("passed", T.BooleanType())]))
        schema = T.StructType([T.StructField("id", T.StringType()), T.StructField("labels", labels),
                               T.StructField("top", top), T.StructField("error", T.StringType())])
    else:
        top = T.ArrayType(T.StructType([T.StructField("label", T.StringType()),
                                        T.StructField("confidence", T.DoubleType())]))
        schema = T.StructType([T.StructField("id", T.StringType()), T.StructField("label", T.StringType()),
                               T.StructField("confidence", T.DoubleType()), T.StructField("top", top),
                               T.StructField("error", T.StringType())])
    out = rows.mapPartitions(lambda part: checked(args, part))
    spark.createDataFrame(out, schema).write.mode("overwrite").parquet(args.output)
    spark.stop()


if __name__ == "__main__":
    main()
