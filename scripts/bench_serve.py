#!/usr/bin/env python3
"""The `emo serve` section of `make bench`: writes reports/bench-serve.md and .json.

What a user who puts a model behind HTTP gets, measured with a real HTTP load generator
(wrk, scripts/bench_serve.lua) sending GoEmotions test texts, one text per request and 32
per request, at concurrency 1, 8 and 64: texts/s, requests/s, p50/p95/p99 latency, non-2xx
answers and the server's peak resident memory under load (VmRSS of the process and its
children, sampled every 100 ms). Against two baselines:

1. `emo classify` on the same texts, one process reading a file: what dynamic batching
   recovers of the batch throughput when the texts arrive one request at a time. Target:
   `emo serve` at concurrency 64 reaches at least 80% of the CLI's texts/s.
2. The server a Python user would write: FastAPI + uvicorn + sentence-transformers + the
   same head (scripts/bench_serve_fastapi.py). Target: at concurrency 64, emo at least 2x
   its texts/s, with a lower p99. Both servers' answers are checked against the CLI's
   labels for the same texts first (which also warms them up).

Then overload: `emo serve --queue 8` at concurrency 256, one text per request, clients
that retry at once: the share of 429 answers, that every other answer is 200, the 200s' p99
and the peak memory (the queue bounds it).

Every process gets the same `--threads` (default: all cores) and runs on the CPU. wrk runs
on the same machine with one thread (it drives thousands of requests a second; a second
thread would only take more CPU from the servers, alike for both). Both servers run at once
(an idle one takes no CPU), and each cell is run on one, then the other. One run per cell, but
TARGET_REPS at the highest concurrency (the cells the targets judge; the median is kept), in
rounds of emo serve, FastAPI, `emo classify`, so that the machine's drift falls on all three
alike; a run lasts --duration seconds, or longer where C requests take more than a fifth of
that (see stretched). `--quick`: concurrency 1 and 8
only, 3-second runs, 400 CLI texts: a smoke test, judged against no target.

    bench_serve.py [--duration S] [--quick] [--threads T] [--out reports/bench-serve.md]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import git_commit, machine_info, write_atomic  # bench.py's report helpers
from bench_common import (
    DEPS,
    MODEL_DIR,
    ROOT,
    BenchError,
    dedupe,
    fmt,
    goemotions_texts,
    log,
    md_table,
    ratio,
    read_lines,
    write_lines,
)

LUA = Path(__file__).resolve().parent / "bench_serve.lua"
FASTAPI = Path(__file__).resolve().parent / "bench_serve_fastapi.py"
DEFAULT_MODEL = ROOT / "reports" / "goemotions-model"
REFERENCE = ROOT / "reports" / "reference" / "goemotions"
PER_REQUEST = (1, 32)
CONCURRENCY = (1, 8, 64)
OVERLOAD = {"queue": 8, "connections": 256}
TARGET_CLI, TARGET_FASTAPI = 0.80, 2.0
ROUNDS, MAX_STRETCH = 5, 10  # a run: >= 5 rounds of C requests, at most 10x --duration
TARGET_REPS = 3  # runs of each cell at the highest concurrency (the median is kept)
LISTENING = re.compile(r"listening on (http://\S+)")


# ---------------------------------------------------------------- tools and inputs


def ensure_wrk() -> str:
    """wrk's path; installs the Debian package when it is missing (as root, or with sudo -n)."""
    if not shutil.which("wrk") and shutil.which("apt-get"):
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        quiet = {"env": dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                 "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        install = [*sudo, "apt-get", "install", "-y", "--no-install-recommends", "wrk"]
        log("wrk is missing: installing it with apt-get ...")
        try:
            if subprocess.run(install, **quiet).returncode != 0:  # stale package lists?
                subprocess.run([*sudo, "apt-get", "update"], **quiet)
                subprocess.run(install, **quiet)
        except OSError:  # no sudo
            pass
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk (the HTTP load generator) is missing and could not be installed: "
                         "run `sudo apt-get install wrk`")
    return found


def ensure_model(emo: Path, model: Path, threads: int) -> None:
    """Trains `model` as `make demo` does when it is missing (the method the committed
    GoEmotions reference recommends)."""
    if (model / "manifest.json").is_file():
        return
    log(f"{model} is missing: training it (emo train --method-from {REFERENCE.relative_to(ROOT)}) ...")
    argv = [str(emo), "train", "--dataset", "goemotions", "--method-from", str(REFERENCE),
            "--out", str(model), "--threads", str(threads), "--device", "cpu"]
    if subprocess.run(argv, cwd=ROOT).returncode != 0:
        raise BenchError(f"`{shlex.join(argv)}` failed")


def write_bodies(path: Path, texts: list[str], per_request: int) -> int:
    """One request body a line, `per_request` consecutive texts each (ASCII-only JSON)."""
    chunks = [texts[i:i + per_request] for i in range(0, len(texts) - per_request + 1, per_request)]
    return write_lines(path, (json.dumps({"texts": c}, ensure_ascii=True) for c in chunks))


def thread_env(threads: int) -> dict:
    env = dict(os.environ)
    t = str(threads)
    env.update(OMP_NUM_THREADS=t, MKL_NUM_THREADS=t, RAYON_RS_NUM_CPUS=t)
    env.setdefault("TOKENIZERS_PARALLELISM", "true")
    return env


# ---------------------------------------------------------------- servers and load


class RssSampler:
    """Peak VmRSS (MB) of a process and its children, sampled every 100 ms while in `with`."""

    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> float:
        import psutil

        total = 0
        try:
            procs = [self.proc, *self.proc.children(recursive=True)]
        except psutil.Error:  # the server is gone
            return 0.0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / 1024 / 1024

    def _run(self):
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.sample())
            self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def wait_idle(pid: int, limit_s: float = 120.0) -> float:
    """Waits until the server process and its children use under a tenth of a core, and
    returns the seconds waited. wrk stops by closing its connections: the requests it
    leaves behind are still worked on (a Python server cannot tell that their clients have
    gone; emo serve finishes the forward pass it is in), and would otherwise eat into the
    next run's time."""
    import psutil

    start = time.monotonic()
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
        while time.monotonic() - start < limit_s:
            before = sum(sum(p.cpu_times()[:2]) for p in procs)
            time.sleep(0.5)
            if sum(sum(p.cpu_times()[:2]) for p in procs) - before < 0.05:
                break
    except psutil.Error:  # the server is gone: nothing to wait for
        pass
    return time.monotonic() - start


class Server:
    """A server process: started, its URL read from its `listening on http://…` line on
    stderr, waited for until GET /ready answers 200; SIGTERM and wait on exit."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict | None = None):
        self.name, self.argv, self.log_path, self.env = name, argv, log_path, env
        self.proc, self.url = None, None

    def __enter__(self):
        log(f"starting {self.name}: {shlex.join(self.argv)}")
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=err,
                                         cwd=ROOT, env=self.env)
        try:
            self._wait_ready(deadline=time.monotonic() + 300)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-8:]
                raise BenchError(f"{self.name} exited with {self.proc.returncode}:\n    "
                                 + "\n    ".join(tail))
            if self.url is None:
                found = LISTENING.search(self.log_path.read_text(errors="replace"))
                self.url = found and found.group(1)
            if self.url and http_status(self.url + "/ready") == 200:
                return
            time.sleep(0.2)
        raise BenchError(f"{self.name} was not ready after 5 minutes (log: {self.log_path})")

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop within 60 s of SIGTERM: killing it")
                self.proc.kill()
                self.proc.wait()
        log(f"{self.name} stopped (exit code {self.proc.returncode})")


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def labels_from(url: str, texts: list[str], chunk: int = 32) -> list[str]:
    """Each text's top label from POST /v1/classify, `chunk` texts a request."""
    out = []
    for i in range(0, len(texts), chunk):
        body = json.dumps({"texts": texts[i:i + chunk]}).encode()
        req = urllib.request.Request(url + "/v1/classify", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            out += [res["label"] for res in json.load(r)["results"]]
    return out


def agreement(a: list[str], b: list[str]) -> dict:
    same = sum(x == y for x, y in zip(a, b, strict=True))
    return {"texts": len(a), "same_label": same, "share": same / len(a) if a else None}


def run_wrk(wrk: str, url: str, bodies: Path, per_request: int, connections: int,
            seconds: float, pid: int) -> dict:
    """One wrk run against POST url/v1/classify, with the server's RSS sampled meanwhile."""
    threads = 1  # see the module docstring
    argv = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
            "--timeout", "120s", "-s", str(LUA), url + "/v1/classify", "--", str(bodies),
            str(threads)]
    with RssSampler(pid) as rss:
        done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    settled = wait_idle(pid)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        raise BenchError(f"`{shlex.join(argv)}` failed ({done.returncode}): "
                         f"{(done.stderr or done.stdout).strip()[-500:]}")
    r = json.loads(lines[-1])
    ok = r["requests"] - r["non_2xx"]
    r.update(per_request=per_request, connections=connections, wrk_threads=threads,
             requests_per_s=ok / r["duration_s"], texts_per_s=ok * per_request / r["duration_s"],
             peak_rss_mb=rss.peak_mb, idle_after_s=settled)
    log(f"  {per_request}/request c={connections}: {r['texts_per_s']:.0f} texts/s, "
        f"p99 {r['latency_ms']['99']:.0f} ms, non-2xx {r['non_2xx']}, peak RSS {rss.peak_mb:.0f} MB, idle {settled:.1f} s later")
    return r


def stretched(seconds: float, k: int, c: int, rate: float | None) -> float:
    """A run lasts --duration, or longer where the previous cell's rate says that C requests
    of K texts take more than a fifth of it: wrk counts only the requests finished in time,
    and a server that works on all its requests at once (FastAPI's thread pool) finishes
    them in bursts, so a short run would count too few of them."""
    if not rate:
        return seconds
    return min(max(seconds, ROUNDS * c * k / rate), MAX_STRETCH * seconds)


# ---------------------------------------------------------------- the bench


def cli_run(emo: str, flags: list[str], model: Path, path: Path, out: Path) -> float:
    """Seconds of one whole `emo classify --input path` command, its JSONL in `out`."""
    argv = [emo, "classify", "--model", str(model), "--input", str(path), "--output-format", "jsonl",
            *flags]
    t0 = time.perf_counter()
    # Standard output to a file, not --out /dev/null: emo writes --out atomically,
    # by renaming a finished file over it.
    with open(out, "wb") as f:
        done = subprocess.run(argv, stdout=f, stderr=subprocess.PIPE, cwd=ROOT)
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        raise BenchError(f"`{shlex.join(argv)}` failed: {done.stderr.decode(errors='replace')[-500:]}")
    return secs


def cli_baseline(emo: str, flags: list[str], model: Path, texts_path: Path, w: Path) -> dict:
    """`emo classify` over the texts file, timed as a whole command (model load included),
    and, to say how much of that is loading, over one text (median of 3). Its labels are
    what both servers' answers are checked against. `run_bench` times the command again
    after each server's runs (`walls`): this machine's speed drifts by more than the
    margins the targets judge, so the ratios use the median of the three."""
    one = w / "one.txt"
    write_lines(one, ["hello"])
    start = statistics.median(cli_run(emo, flags, model, one, w / "one.jsonl") for _ in range(3))
    wall = cli_run(emo, flags, model, texts_path, w / "cli.jsonl")
    n = len(read_lines(texts_path))
    labels = [json.loads(line)["label"] for line in read_lines(w / "cli.jsonl")]
    if len(labels) != n:
        raise BenchError(f"emo classify answered {len(labels)} of {n} texts")
    log(f"emo classify: {n} texts in {wall:.1f} s ({n / wall:.0f} texts/s), start-up {start:.2f} s")
    return {"texts": n, "startup_seconds": start, "walls": [wall], "labels": labels}


def settle_cli(cli: dict) -> None:
    """The CLI's figures from the median of its timed runs."""
    wall = statistics.median(cli["walls"])
    cli.update(seconds=wall, texts_per_s=cli["texts"] / wall,
               texts_per_s_after_startup=cli["texts"] / max(wall - cli["startup_seconds"], 1e-9))


def start_server(name: str, argv: list[str], env: dict | None, wrk: str, bodies: dict,
                 check: list[str], expected: list[str], w: Path,
                 stack: contextlib.ExitStack) -> tuple[Server, dict]:
    """Start a server (stopped when `stack` closes), check its labels against the CLI's (the
    warm-up too), and note its idle memory."""
    slug = re.sub(r"\W+", "-", name).strip("-")
    server = stack.enter_context(Server(name, argv, w / f"{slug}.log", env))
    log(f"{name}: labelling {len(check)} texts (checked against emo classify; warm-up)")
    agree = agreement(labels_from(server.url, check), expected)
    log(f"{name}: warm-up")
    run_wrk(wrk, server.url, bodies[1], 1, 8, 2, server.proc.pid)  # not recorded
    idle = RssSampler(server.proc.pid).sample()
    return server, {"argv": argv, "agreement_with_cli": agree, "idle_rss_mb": idle, "runs": []}


def measure_servers(sides: dict, wrk: str, bodies: dict, check: list[str], expected: list[str],
                    args, w: Path, cli_again) -> dict:
    """Both servers up at once (an idle one takes no CPU), every cell run on one, then the
    other, lowest concurrency first. The cells the targets judge are run TARGET_REPS times,
    the median run (by texts/s) kept, and each round of them is emo serve, FastAPI, then
    `cli_again()`: this machine's speed drifts by more than the targets' margins from one
    minute to the next, and interleaved, the drift falls on all three alike."""
    results = {}
    with contextlib.ExitStack() as stack:
        live = {}
        for key, (name, argv, env) in sides.items():
            try:
                live[key], results[key] = start_server(name, argv, env, wrk, bodies, check,
                                                       expected, w, stack)
            except (BenchError, OSError, ValueError, KeyError) as e:  # URLError is an OSError
                log(f"{name} failed: {e}")
                results[key] = {"error": str(e)}
        for k in PER_REQUEST:
            rate = dict.fromkeys(live)
            for c in args.concurrency:
                top = c == max(args.concurrency)
                tries = {key: [] for key in live}
                for _ in range(TARGET_REPS if top else 1):
                    for key in list(live):
                        server = live[key]
                        try:
                            tries[key].append(run_wrk(wrk, server.url, bodies[k], k, c,
                                                      stretched(args.duration, k, c, rate[key]),
                                                      server.proc.pid))
                        except (BenchError, OSError) as e:
                            log(f"{server.name} failed: {e}")
                            results[key] = {"error": str(e)}
                            del live[key]
                    if top:
                        cli_again()
                for key in live:
                    runs = sorted(tries[key], key=lambda r: r["texts_per_s"])
                    run = runs[len(runs) // 2]
                    run["repeats_texts_per_s"] = [r["texts_per_s"] for r in tries[key]]
                    results[key]["runs"].append(run)
                    rate[key] = run["texts_per_s"]
    return results


def run_bench(args, w: Path) -> dict:
    wrk = ensure_wrk()
    ensure_model(args.emo, args.model, args.threads)
    emo, flags = str(args.emo), ["--threads", str(args.threads), "--device", "cpu"]
    texts = dedupe(goemotions_texts("test"))
    bodies = {k: w / f"bodies-{k}.jsonl" for k in PER_REQUEST}
    for k, path in bodies.items():
        write_bodies(path, texts, k)
    check = texts[:args.cli_texts]
    write_lines(w / "cli.txt", check)

    results = {"texts": len(texts), "cli": cli_baseline(emo, flags, args.model, w / "cli.txt", w)}
    expected = results["cli"].pop("labels")
    serve = [emo, "serve", "--model", str(args.model), "--port", "0", *flags]
    fastapi = [sys.executable, str(FASTAPI), "--model", str(args.model), "--port", "0",
               "--threads", str(args.threads)]
    sides = {"emo": ("emo serve", serve, None),
             "fastapi": ("FastAPI", fastapi, thread_env(args.threads))}

    def cli_again():
        wall = cli_run(emo, flags, args.model, w / "cli.txt", w / "cli-again.jsonl")
        results["cli"]["walls"].append(wall)
        log(f"emo classify again: {wall:.1f} s")

    results |= measure_servers(sides, wrk, bodies, check, expected, args, w, cli_again)
    settle_cli(results["cli"])
    try:
        argv = serve + ["--queue", str(OVERLOAD["queue"])]
        with Server("emo serve (overload)", argv, w / "emo-serve-overload.log") as server:
            results["overload"] = {"argv": argv, "queue": OVERLOAD["queue"]} | run_wrk(
                wrk, server.url, bodies[1], 1, OVERLOAD["connections"], args.overload_seconds,
                server.proc.pid)
    except (BenchError, OSError) as e:
        log(f"overload run failed: {e}")
        results["overload"] = {"error": str(e)}
    results["verdicts"] = verdicts(results, max(args.concurrency))
    return results


def cell(side: dict, per_request: int, connections: int) -> dict | None:
    for r in side.get("runs", []):
        if r["per_request"] == per_request and r["connections"] == connections:
            return r
    return None


def verdicts(results: dict, top: int) -> dict:
    """The issue's targets, set at concurrency 64: the ratios at `top`, the highest
    concurrency run, judged only when that is 64 (pass: None where not judged)."""
    out = {}
    cli = results["cli"]["texts_per_s_after_startup"]
    for k in PER_REQUEST:
        emo, py = cell(results.get("emo", {}), k, top), cell(results.get("fastapi", {}), k, top)
        v = {"concurrency": top,
             "serve_over_cli": ratio(emo and emo["texts_per_s"], cli),
             "emo_over_fastapi": ratio(emo and emo["texts_per_s"], py and py["texts_per_s"]),
             "emo_p99_ms": emo and emo["latency_ms"]["99"],
             "fastapi_p99_ms": py and py["latency_ms"]["99"],
             "emo_runs": emo and emo.get("repeats_texts_per_s"),
             "fastapi_runs": py and py.get("repeats_texts_per_s")}
        judged = top == 64
        v["serve_over_cli_pass"] = (v["serve_over_cli"] >= TARGET_CLI
                                    if judged and v["serve_over_cli"] is not None else None)
        v["emo_over_fastapi_pass"] = (v["emo_over_fastapi"] >= TARGET_FASTAPI
                                      and v["emo_p99_ms"] < v["fastapi_p99_ms"]
                                      if judged and v["emo_over_fastapi"] is not None else None)
        out[str(k)] = v
    return out


# ---------------------------------------------------------------- the report


def passed(flag) -> str:
    return {True: "**pass**", False: "**fail**",
            None: "not judged (the targets are set at concurrency 64)"}[flag]


def load_table(results: dict, per_request: int, args) -> str:
    rows = []
    for key, name in (("emo", "emo serve"), ("fastapi", "FastAPI")):
        for c in args.concurrency:
            r = cell(results.get(key, {}), per_request, c)
            if r is None:
                rows.append([f"{name}, c={c}"] + ["—"] * 9)
                continue
            latency = [fmt(r["latency_ms"][p], 1) if r["requests"] else "—" for p in ("50", "95", "99")]
            rows.append([f"{name}, c={c}", fmt(r["texts_per_s"], 0), fmt(r["requests_per_s"], 1),
                         fmt(r["duration_s"], 0), *latency, fmt(r["non_2xx"]),
                         fmt(sum(r["socket_errors"].values())), fmt(r["peak_rss_mb"], 0)])
    return md_table(["server, concurrency", "texts/s", "requests/s", "run s", "p50 ms", "p95 ms",
                     "p99 ms", "non-2xx", "socket errors", "peak RSS MB"], rows)


def agreement_line(results: dict) -> str:
    parts = []
    for key, name in (("emo", "emo serve"), ("fastapi", "FastAPI")):
        a = results.get(key, {}).get("agreement_with_cli")
        if a:
            parts.append(f"{name} {a['same_label']:,} of {a['texts']:,} ({100 * a['share']:.2f}%)")
    return ("Same top label as `emo classify` on the same texts: " + "; ".join(parts) + "."
            if parts else "")


def render(meta: dict, results: dict, args) -> str:
    m, cli = meta["machine"], results["cli"]
    failures = [f"- **{name} failed**: {results[key]['error']}" for key, name in
                (("emo", "emo serve"), ("fastapi", "FastAPI"), ("overload", "The overload run"))
                if "error" in results.get(key, {})]
    lines = [
        "# emo serve under load",
        "",
        f"`{meta['command']}`" + (" (part of `make bench`)" if meta["in_make_bench"] else "")
        + f", {meta['date']}, commit `{meta['commit']}`"
        + (" (`--quick`: a smoke test: concurrency 1 and 8 only, short runs)" if args.quick else ""),
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores, {fmt(m['memory_gb'], 1)} GiB memory; "
        f"AVX-512 BF16: {'yes' if meta['avx512_bf16'] else 'no'}; {m['os']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- every server and `emo classify` on the CPU with {args.threads} threads; the load "
        f"generator ({meta['wrk']}) on the same machine, one thread; one run a cell (at the "
        f"highest concurrency, the median of {TARGET_REPS}, each round emo serve, FastAPI, "
        "then `emo classify`, so that the machine's drift falls on all three alike; both "
        "servers up throughout), "
        f"{args.duration:g} s or, if longer, {ROUNDS} rounds of C requests at the previous "
        f"cell's rate (at most {MAX_STRETCH * args.duration:g} s), each run once the server "
        "is idle again (the requests the previous run's clients left behind done); load average "
        f"{meta['load_average_start']:.2f} at the start, {meta['load_average_end']:.2f} at the end",
        f"- texts: the {results['texts']:,} unique GoEmotions test texts, as request bodies of 1 "
        "and of 32 consecutive texts, cycled by every wrk thread from its own starting point",
        f"- model: `{meta['model']}` ({meta['method']})",
        *failures,
        "",
    ]
    for k in PER_REQUEST:
        lines += [f"## {k} text{'s' if k > 1 else ''} per request", "", load_table(results, k, args), ""]
    lines += ["Throughput counts 2xx answers only. Latencies are wrk's, over every answer received "
              "within the run; peak RSS is the server process and its children, sampled every "
              f"100 ms during the run (after warm-up, idle: emo serve "
              f"{fmt(results.get('emo', {}).get('idle_rss_mb'), 0)} MB, FastAPI "
              f"{fmt(results.get('fastapi', {}).get('idle_rss_mb'), 0)} MB). "
              + agreement_line(results), ""]

    lines += ["## Against the targets", "",
              f"`emo classify` over {cli['texts']:,} of the same texts: {cli['seconds']:.1f} s as a "
              f"whole command (median of {len(cli['walls'])} runs: before the servers, then after "
              f"each round of the cells the targets judge: {', '.join(f'{x:.1f}' for x in cli['walls'])} s), {fmt(cli['texts_per_s'], 0)} texts/s; its start-up (libtorch, model "
              f"and encoder, one text; median of 3) is {cli['startup_seconds']:.2f} s, and without "
              f"it {fmt(cli['texts_per_s_after_startup'], 0)} texts/s, the figure the ratios below "
              "use (a command's time cannot be split exactly, so the texts are many enough that "
              "start-up is small).", ""]
    for k in PER_REQUEST:
        v = results["verdicts"][str(k)]
        lines += [
            f"- {k} per request, emo serve at concurrency {v['concurrency']} against `emo classify`: "
            f"{fmt(v['serve_over_cli'], 2)}× its texts/s (target ≥ {TARGET_CLI:.2f}): "
            f"{passed(v['serve_over_cli_pass'])}",
            f"- {k} per request, emo serve against FastAPI at concurrency {v['concurrency']}: "
            f"{fmt(v['emo_over_fastapi'], 2)}× the texts/s (target ≥ {TARGET_FASTAPI:g}×), p99 "
            f"{fmt(v['emo_p99_ms'], 0)} ms against {fmt(v['fastapi_p99_ms'], 0)} ms (target: "
            f"lower): {passed(v['emo_over_fastapi_pass'])}",
        ]
        runs = [f"{name} {', '.join(fmt(x, 0) for x in v[key])}"
                for name, key in (("emo serve", "emo_runs"), ("FastAPI", "fastapi_runs")) if v[key]]
        if runs:
            lines[-1] += f" (texts/s of each run, the median kept: {'; '.join(runs)})"
    lines += ["", "## Overload", ""]
    o = results.get("overload", {})
    if "error" in o:
        lines.append(f"**Failed**: {o['error']}")
    else:
        n = o["requests"]
        s429 = o["statuses"].get("429", 0)
        others = {c: x for c, x in o["statuses"].items() if c not in ("200", "429")}
        lines += [
            f"`emo serve --queue {o['queue']}`, {o['connections']} connections, one text per "
            f"request, {o['duration_s']:.0f} s: {n:,} answers, {100 * s429 / max(n, 1):.1f}% of "
            f"them 429 (queue full, answered at once), "
            + ("every other answer 200" if not others else
               "**other answers than 200 and 429**: " + ", ".join(f"{c}: {x}" for c, x in others.items()))
            + f"; {fmt(o['texts_per_s'], 0)} texts/s answered (the clients retry at once, "
            "ignoring Retry-After, so answering 429s takes CPU from inference); "
            + (f"p99 of the 200s at most {fmt(o['ok_p99_at_most_ms'], 0)} ms (wrk keeps one "
               "histogram for all answers: its percentile that leaves 1% of the 200s above it)"
               if o["ok_p99_at_most_ms"] is not None else "no 200s, so no p99 of them")
            + "; socket errors "
            f"{sum(o['socket_errors'].values())}; peak RSS {fmt(o['peak_rss_mb'], 0)} MB.",
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=None, help="seconds a wrk run (default 20; 3 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 3-second runs, concurrency 1 and 8 only, fewer CLI texts")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="CPU threads of every server and of emo classify (default: all cores)")
    p.add_argument("--out", type=Path, default=Path("reports/bench-serve.md"),
                   help="report (its .json beside it)")
    p.add_argument("--emo", type=Path, default=Path("target/release/emo"), help="the emo binary")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL.relative_to(ROOT),
                   help="the model served (trained as `make demo` does when missing)")
    args = p.parse_args(argv)
    if args.duration is None:
        args.duration = 3 if args.quick else 20
    if args.duration <= 0 or args.threads < 1:
        p.error("--duration and --threads must be positive")
    args.concurrency = (1, 8) if args.quick else CONCURRENCY
    args.cli_texts = 400 if args.quick else 2000
    args.overload_seconds = 3 if args.quick else 10
    args.emo, args.model, args.out = (x if x.is_absolute() else ROOT / x
                                      for x in (args.emo, args.model, args.out))
    return args


def main(argv) -> int:
    from bench_precision import native_bf16  # imports torch: only once the bench starts

    args = parse_args(argv)
    if not args.emo.is_file():
        log(f"error: {args.emo} not found (run `make build`)")
        return 2
    if not (MODEL_DIR / "model.safetensors").is_file():
        log(f"error: {MODEL_DIR} missing (run `make setup`)")
        return 2
    versions = {"python": sys.version.split()[0]}
    for pkg in ("torch", "sentence-transformers", "fastapi", "uvicorn"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "command": shlex.join(["python3", "scripts/bench_serve.py", *argv]),
        "in_make_bench": bool(os.environ.get("EMO_BENCH_COMMAND")),
        "machine": machine_info(), "versions": versions,
        "avx512_bf16": "avx512_bf16" in native_bf16()["cpu_flags"],
        "threads": args.threads, "duration_s": args.duration, "quick": args.quick,
        "concurrency": list(args.concurrency), "per_request": list(PER_REQUEST),
        "model": str(args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model),
        "load_average_start": os.getloadavg()[0],
    }
    t0 = time.perf_counter()
    (DEPS / "tmp").mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=DEPS / "tmp", prefix="bench-serve-") as tmp:
            results = run_bench(args, Path(tmp))
    except BenchError as e:
        log(f"error: {e}")
        return 1
    meta["wrk"] = subprocess.run([ensure_wrk(), "-v"], capture_output=True, text=True).stdout.split(" [")[0]
    meta["method"] = json.loads((args.model / "manifest.json").read_text())["method"]
    meta["load_average_end"] = os.getloadavg()[0]
    meta["seconds"] = time.perf_counter() - t0
    report = render(meta, results, args)
    write_atomic(args.out, report)
    write_atomic(args.out.with_suffix(".json"), json.dumps({"meta": meta, **results}, indent=2) + "\n")
    print(report)
    log(f"wrote {args.out} and {args.out.with_suffix('.json')} ({meta['seconds']:.0f} s)")
    failed = any("error" in results.get(k, {}) for k in ("emo", "fastapi", "overload"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
