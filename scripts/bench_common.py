"""What scripts/bench.py (make bench), scripts/bench_precision.py (its half-precision section)
and scripts/gpu_check.py share: paths, the process runner, the bench inputs (GoEmotions and
CARER texts, long texts), table formatting and the cosine and autocast helpers.

It imports neither script: bench.py imports this module and bench_precision; bench_precision
and gpu_check import this module only.
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPS = ROOT / ".deps"
MODEL_DIR = DEPS / "models" / "all-MiniLM-L6-v2"
DATASETS = DEPS / "datasets"  # gpu_check points it at its own home
LONG_TARGETS = (40, 80, 120, 160, 200, 240)  # words per `long` text, cycled
BENCH = Path(__file__).resolve().parent / "bench.py"  # whose helper modes Runner.run_py runs


class BenchError(Exception):
    """A measurement failed (a command exited non-zero, an output is missing or wrong)."""


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def read_lines(path: str | Path) -> list[str]:
    """One text a line, split on '\\n' only (str.splitlines would also split on U+2028...)."""
    data = Path(path).read_text(encoding="utf-8")
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# ---------------------------------------------------------------- running processes


class Runner:
    """Runs child processes with stdout/stderr to log files; wall time and peak RSS each."""

    def __init__(self, work: Path, emo: Path, threads: int, batch: int, device: str):
        self.work, self.emo, self.threads, self.batch, self.device = work, emo, threads, batch, device
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def run(self, argv: list[str], label: str, env: dict | None = None) -> dict:
        self.count += 1
        stem = self.logs / f"{self.count:03d}-{label}"
        out_path, err_path = stem.with_suffix(".out"), stem.with_suffix(".err")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            t0 = time.perf_counter()
            proc = subprocess.Popen(argv, stdout=out, stderr=err, cwd=ROOT, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        proc.returncode = rc  # reaped by wait4; keep Popen from waiting again
        stdout = out_path.read_text(errors="replace")
        if rc != 0:
            tail = err_path.read_text(errors="replace").strip().splitlines()[-8:]
            raise BenchError(
                f"`{shlex.join(argv)}` exited with {rc}:\n    " + "\n    ".join(tail)
            )
        return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024.0, "stdout": stdout}

    def emo_cmd(self, *args: str) -> list[str]:
        for _ in range(60):  # the binary may be mid-rebuild for a moment
            if self.emo.is_file():
                break
            log(f"{self.emo} is missing, waiting ...")
            time.sleep(5)
        else:
            raise BenchError(f"{self.emo} has been missing for 5 minutes")
        return [str(self.emo), *args, "--threads", str(self.threads), "--device", self.device]

    def run_emo(self, label: str, *args: str) -> dict:
        return self.run(self.emo_cmd(*args), label)

    def run_py(self, label: str, *args: str) -> dict:
        """One of scripts/bench.py's Python helper modes (_py-embed, ...); its JSON result as res["json"]."""
        env = dict(os.environ)
        # Same thread budget for Python's OpenMP/BLAS and the tokenizers' Rayon pool.
        t = str(self.threads)
        env.update(OMP_NUM_THREADS=t, MKL_NUM_THREADS=t, RAYON_RS_NUM_CPUS=t)
        env.setdefault("TOKENIZERS_PARALLELISM", "true")
        res = self.run([sys.executable, str(BENCH), *args], label, env=env)
        try:
            res["json"] = json.loads(res["stdout"].strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError) as e:
            raise BenchError(f"{label}: no JSON result on stdout ({e})") from e
        return res


# ---------------------------------------------------------------- inputs


# ---------------------------------------------------------------- inputs


def goemotions_texts(split: str) -> list[str]:
    texts = []
    for line in (DATASETS / "goemotions" / f"{split}.tsv").read_text(encoding="utf-8").split("\n"):
        if line:
            texts.append(line.split("\t")[0])
    return texts


def carer_rows(split: str) -> list[tuple[str, str]]:
    rows = []
    lines = (DATASETS / "carer" / f"{split}.txt").read_text(encoding="utf-8").split("\n")
    for i, line in enumerate(lines):
        if not line or (i == 0 and line.startswith("text;")):
            continue
        text, _, label = line.rpartition(";")
        rows.append((text, label))
    return rows


def usable(text: str) -> bool:
    """A text emo's .txt reader keeps as one row: not blank, no line break inside."""
    return bool(text.strip()) and "\n" not in text and "\r" not in text


def dedupe(texts) -> list[str]:
    seen, out = set(), []
    for t in texts:
        if usable(t) and t not in seen:
            seen.add(t)
            out.append(t)
    return out


def make_long(texts: list[str], count: int) -> list[str]:
    """Consecutive texts joined by a space until the word count reaches 40, 80, ... 240."""
    out, i = [], 0
    while len(out) < count:
        target = LONG_TARGETS[len(out) % len(LONG_TARGETS)]
        parts, words = [], 0
        while words < target:
            parts.append(texts[i % len(texts)])
            words += len(texts[i % len(texts)].split())
            i += 1
        out.append(" ".join(parts))
    return dedupe(out)


def write_lines(path: Path, texts) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            f.write(t)
            f.write("\n")
            n += 1
    return n


# ---------------------------------------------------------------- helpers


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=1):
    if x is None:
        return "—"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:,.{digits}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def reps_text(n: int) -> str:
    return "One repetition (no median)" if n == 1 else f"Medians of {n} interleaved repetitions"


def md_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def read_sidecar(safetensors: Path) -> dict:
    side = safetensors.with_suffix(".json")
    if not side.is_file():
        raise BenchError(f"{side}: emo wrote no sidecar")
    return json.loads(side.read_text())


def cosines(a, b) -> tuple[float, float]:
    """Lowest and mean cosine between the rows of two vector sets, in float64."""
    import numpy as np

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise BenchError(f"{a.shape} against {b.shape} vectors: rows do not line up")
    c = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(c.min()), float(c.mean())


def min_cosine(emo_st: Path, py_npy: Path) -> float:
    import numpy as np
    from safetensors.numpy import load_file

    return cosines(load_file(str(emo_st))["embeddings"], np.load(py_npy))[0]


def autocast(device: str, precision: str):
    """Python's own half-precision path, the fair peer of emo's --precision: torch.autocast
    to bf16 or fp16 on `device`'s type, nothing for fp32."""
    import contextlib

    import torch

    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in dtypes:
        return contextlib.nullcontext()
    return torch.autocast(device.split(":")[0], dtype=dtypes[precision])


def timings_seconds(report_dir: Path) -> dict[str, float]:
    """Method -> seconds, summed over seeds, from a compare-sampling timings.json."""
    data = json.loads((report_dir / "timings.json").read_text())
    return {m: sum(r["seconds"] for r in runs) for m, runs in data.items()}
