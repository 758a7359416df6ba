#!/usr/bin/env python3
"""A soak of `emo serve` (issue 33): writes reports/soak-serve.md and reports/soak-serve.json.

One `emo serve` process on the CPU faces, for --seconds (default 600), every kind of client
at once:

- good:      --good-clients threads on keep-alive connections, POST /v1/classify with 1-32
             short texts (top_k sometimes) and /v1/embed with 1-8; every 200 must carry one
             result per text (labels of the model, vectors of the encoder's size); 429 is
             allowed (the client then waits Retry-After) and counted. A keep-alive connection
             the server closed (it closes idle ones when every slot is taken) is reopened and
             the request sent again, once.
- slow:      --slow-readers threads, each sending POST /v1/embed with 1,024 texts (megabytes of
             vectors) on a socket whose receive buffer is 4 KiB (set before connecting), never
             reading, holding 30-60 s, then reading what is left and closing; again.
- oversized: a 5 MB text (413), the same without a Content-Length (chunked: 413), 1,000 texts
             of 20,000 characters (20 MB: 413), 300 texts of 1,500 characters (76,800 tokens
             after truncation: 422, --max-request-tokens; or 429 when the queue is full, which refuses
             before tokenising), one text of 20,001 characters (422,
             --max-text-chars), 1,025 texts (422, --max-texts): each must be refused so.
- malformed: bad JSON (400), a wrong or missing Content-Type (415), unknown fields, blank
             texts, top_k 0, an empty list, a non-object body (422), a GET on a POST route
             (405), paths reaching out of the report folder and a symlink in it (404; the model
             folder trained here is its own report folder, with an index.html, served 200).
- partial:   --partial-clients threads, each sending half a request's headers and nothing
             more; the server must close the connection after --request-timeout.
- flood:     now and then (every --flood-every s) --flood-connections connections (more than
             the server's 512) that each send a request (/v1/embed of one text, one in ten of 64
             texts; 4 KiB receive buffer) and never read, held --flood-hold s, then closed.

Every second: the server's VmRSS and open descriptors (/proc/PID/status, /proc/PID/fd), and
GET /health on a fresh connection, timed. At the end, with every client gone: /health and a
classify must be answered, the server's descriptors back near where they started; then four
requests in flight and four stalled writes, SIGTERM, and the process must exit 0 within
--shutdown-timeout + 3 s, having answered the four. Checks: every good answer 200 (right
count) or 429, every oversized and malformed request refused as expected, partial headers
closed within --request-timeout + 5 s, /health always 200 with p99 under --health-p99-ms,
peak RSS (VmHWM) under --rss-bound-mb, no panic in the server's log. Exits 1 when a check
fails, 2 when the soak cannot run.

The RSS bound, 1024 MB by default: the server starts at about 240 MB (libtorch, MiniLM, the
model) and peaked at 400-430 MB in 60 s and 180 s soaks on the project's 2-core EPYC (fp32);
1024 MB is about 2.4 times that, room for the allocator's drift over ten minutes, and is
still crossed by a leak of 1 MB a second. RSS after the warm-up, at the end and its trend
(least squares, MB a minute) are reported beside it, for the eye: no check is made of them.

Standard-library Python 3.11 only.

    soak_serve.py [--seconds 600] [--model DIR] [--rss-bound-mb 1024] [--out reports/soak-serve.md]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import json
import math
import os
import platform
import random
import re
import resource
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CARER = ROOT / ".deps" / "datasets" / "carer" / "train.txt"
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
HOST = "127.0.0.1"
SMALL_RCVBUF = 4096
FALLBACK_TEXTS = [
    "i feel so happy and grateful today",
    "this is the worst service i have ever had",
    "i am so nervous about tomorrow's exam",
    "wow i did not see that coming",
    "i miss my grandmother every day",
    "leave me alone, i am furious",
]


class SoakError(Exception):
    """The soak cannot run (no binary, no data, the server did not start): exit 2."""


def log(msg: str) -> None:
    print(f"soak: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- bookkeeping


class Stats:
    """Counts per client kind and outcome, latencies, and the first few surprises."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.unexpected: dict[str, int] = defaultdict(int)
        self.examples: list[str] = []
        self.values: dict[str, list[float]] = defaultdict(list)

    def count(self, kind: str, outcome: str, n: int = 1) -> None:
        with self.lock:
            self.counts[kind][str(outcome)] += n

    def time(self, what: str, seconds: float) -> None:
        with self.lock:
            self.latency[what].append(seconds)

    def value(self, what: str, v: float) -> None:
        with self.lock:
            self.values[what].append(v)

    def surprise(self, kind: str, detail: str) -> None:
        with self.lock:
            self.unexpected[kind] += 1
            if len(self.examples) < 40:
                self.examples.append(f"{kind}: {detail}"[:300])


def percentile(xs: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0-100)."""
    if not xs:
        return None
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def ms(x: float | None) -> str:
    return "–" if x is None else f"{x * 1000:,.1f}"


def mb(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


# ---------------------------------------------------------------- raw HTTP


def parse_head(raw: bytes) -> tuple[int | None, dict[str, str], bytes]:
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return (int(m.group(1)) if m else None), headers, rest


def raw_request(port: int, head: bytes, body=b"", *, timeout: float = 30.0,
                rcvbuf: int | None = None) -> tuple[str, bytes, float]:
    """Sends `head` then `body` (bytes, or an iterable of byte chunks) on a fresh connection,
    stopping as soon as the server answers (an answer before the whole body is how the body
    limit refuses), and reads one answer. Returns (status, body, seconds): status is the code
    as a string, or 'reset', 'closed' (no answer), 'timeout', 'connect-failed'."""
    start = time.monotonic()
    deadline = start + timeout
    chunks = iter([body]) if isinstance(body, (bytes, bytearray)) else iter(body)
    pending = memoryview(head)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(min(timeout, 10.0))
        try:
            s.connect((HOST, port))
        except OSError:
            return "connect-failed", b"", time.monotonic() - start
        s.setblocking(False)
        resp = b""
        sending = True
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout", resp, time.monotonic() - start
            if sending and not pending:
                try:
                    pending = memoryview(next(chunks))
                except StopIteration:
                    sending = False
            r, w, _ = select.select([s], [s] if sending else [], [], left)
            if r:
                try:
                    data = s.recv(1 << 16)
                except ConnectionResetError:
                    return "reset", resp, time.monotonic() - start
                except BlockingIOError:
                    continue
                if not data:
                    break
                resp += data
                sending = False  # the server answered: the rest of the body is not wanted
                if b"\r\n\r\n" in resp:
                    _, headers, rest = parse_head(resp)
                    n = headers.get("content-length")
                    if n is not None and len(rest) >= int(n):
                        break
            elif w:
                try:
                    sent = s.send(pending[:1 << 16])
                    pending = pending[sent:]
                except (BrokenPipeError, ConnectionResetError):
                    sending = False  # refused mid-body: its answer may be waiting
                except BlockingIOError:
                    pass
        status, _, rest = parse_head(resp) if resp else (None, {}, b"")
        return (str(status) if status else "closed"), rest, time.monotonic() - start
    finally:
        s.close()


def post_head(path: str, length: int | None, ctype: str | None = "application/json",
              chunked: bool = False) -> bytes:
    h = f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n"
    if ctype is not None:
        h += f"Content-Type: {ctype}\r\n"
    if chunked:
        h += "Transfer-Encoding: chunked\r\n"
    elif length is not None:
        h += f"Content-Length: {length}\r\n"
    return (h + "Connection: close\r\n\r\n").encode()


def chunked(data: bytes, size: int = 1 << 16):
    for i in range(0, len(data), size):
        part = data[i:i + size]
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
    yield b"0\r\n\r\n"


def get(port: int, path: str, timeout: float = 10.0) -> tuple[str, bytes, float]:
    head = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
    return raw_request(port, head, timeout=timeout)


def post_json(port: int, path: str, obj, timeout: float = 60.0) -> tuple[str, bytes, float]:
    body = json.dumps(obj).encode()
    return raw_request(port, post_head(path, len(body)) + body, timeout=timeout)


def stalled_request(port: int, path: str, body: bytes) -> socket.socket | None:
    """A connection with a 4 KiB receive buffer (set before connecting, so the window it
    offers stays small) that sends one request and is never read."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
        s.settimeout(10)
        s.connect((HOST, port))
        s.sendall(post_head(path, len(body), chunked=False).replace(b"Connection: close\r\n", b"")
                  + body)
        return s
    except OSError:
        s.close()
        return None


def drain(s: socket.socket, timeout: float = 5.0) -> str:
    """What a stalled connection got in the end: 'cut' (an answer begun and not finished:
    the server's write timeout), '<code> whole', 'closed' (nothing) or 'reset'."""
    s.settimeout(timeout)
    resp = b""
    try:
        while True:
            data = s.recv(1 << 20)
            if not data:
                break
            resp += data
            if b"\r\n\r\n" in resp:
                _, headers, rest = parse_head(resp)
                n = headers.get("content-length")
                if n is not None and len(rest) >= int(n):
                    break
    except socket.timeout:
        if not resp:
            return "no answer yet"
    except ConnectionResetError:
        if not resp:
            return "reset"
    if not resp:
        return "closed"
    status, headers, rest = parse_head(resp)
    n = headers.get("content-length")
    if n is not None and len(rest) >= int(n):
        return f"{status} whole"
    return f"{status} cut"


# ---------------------------------------------------------------- the server


class Server:
    def __init__(self, argv: list[str]):
        self.argv = argv
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, errors="replace")
        self.pid = self.proc.pid
        self.lines: list[str] = []
        self._port = threading.Event()
        self.port = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        t0 = time.monotonic()
        for line in self.proc.stderr:
            line = line.rstrip("\n")
            self.lines.append(f"[{time.monotonic() - t0:7.1f}s] {line}")
            m = LISTENING.search(line)
            if m and not self._port.is_set():
                self.port = int(m.group(1))
                self._port.set()
        self._port.set()

    def wait_listening(self, limit_s: float = 180.0) -> int:
        self._port.wait(limit_s)
        if not self.port:
            self.kill()
            raise SoakError("the server did not say where it listens:\n" + "\n".join(self.lines))
        return self.port

    def cpu_s(self) -> float | None:
        """User + system CPU seconds of the server so far."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def status(self) -> dict:
        out = {}
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
            out["fds"] = len(os.listdir(f"/proc/{self.pid}/fd"))
        except (OSError, ValueError):
            pass
        return out

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def wait_reader(self):
        self._reader.join(timeout=5)


# ---------------------------------------------------------------- client kinds


class Soak:
    def __init__(self, args, server: Server, texts: list[str], labels: list[str], dim: int,
                 has_report: bool):
        self.args = args
        self.server = server
        self.port = server.port
        self.texts = texts
        self.labels = set(labels)
        self.dim = dim
        self.has_report = has_report
        self.stats = Stats()
        self.stop = threading.Event()
        self.t0 = time.monotonic()
        self.flooding = threading.Event()
        self.samples: list[dict] = []
        self.health: list[dict] = []
        self.floods: list[dict] = []
        self.threads: list[threading.Thread] = []
        rng = random.Random(args.seed)
        # Bodies built once.
        slow_texts = [f"{rng.choice(texts)} ({i})" for i in range(1024)]
        self.slow_body = json.dumps({"texts": slow_texts}).encode()
        # A flood's requests: mostly one text (the flood is about connections, not work), one
        # in ten 64 texts (an answer of ~400 KB, stalled on its 4 KiB receive buffer).
        self.flood_bodies = [json.dumps({"texts": slow_texts[:1]}).encode(),
                             json.dumps({"texts": slow_texts[:64]}).encode()]
        big = "a" * 5_000_000
        self.oversized = [
            # (name, head, body, expected status)
            ("5 MB text", "/v1/classify", json.dumps({"text": big}).encode(), False, "413"),
            ("5 MB text, chunked", "/v1/embed", json.dumps({"text": big}).encode(), True, "413"),
            ("1,000 texts of 20,000 chars", "/v1/classify",
             json.dumps({"texts": [("word " * 4000)[:20000]] * 1000}).encode(), False, "413"),
            ("300 texts of 1,500 chars (76,800 tokens)", "/v1/classify",
             json.dumps({"texts": ["word " * 300] * 300}).encode(), False, "422 429"),
            ("one text of 20,001 chars", "/v1/embed",
             json.dumps({"texts": ["b" * 20001]}).encode(), False, "422"),
            ("1,025 texts", "/v1/classify",
             json.dumps({"texts": ["i feel fine"] * 1025}).encode(), False, "422"),
        ]
        ok = json.dumps({"texts": ["i feel fine"]}).encode()
        self.malformed = [
            ("bad JSON", post_head("/v1/classify", 12) + b'{"texts": [}', "400"),
            ("wrong Content-Type", post_head("/v1/classify", len(ok), "text/plain") + ok, "415"),
            ("no Content-Type", post_head("/v1/embed", len(ok), None) + ok, "415"),
            ("unknown field", self._post("/v1/classify", {"texts": ["a"], "foo": 1}), "422"),
            ("blank text", self._post("/v1/classify", {"texts": ["ok", "   "]}), "422"),
            ("top_k 0", self._post("/v1/classify", {"texts": ["a"], "top_k": 0}), "422"),
            ("top_k -1.5", self._post("/v1/classify", {"text": "a", "top_k": -1.5}), "422"),
            ("empty texts", self._post("/v1/embed", {"texts": []}), "422"),
            ("text and texts", self._post("/v1/embed", {"text": "a", "texts": ["b"]}), "422"),
            ("a number as a text", self._post("/v1/classify", {"texts": [1]}), "422"),
            ("not an object", self._post("/v1/classify", [1, 2]), "422"),
            ("GET /v1/classify", self._get("/v1/classify"), "405"),
            ("GET /report/../manifest.json", self._get("/report/../manifest.json"), "404"),
            ("GET /report/..%2Fmanifest.json", self._get("/report/..%2Fmanifest.json"), "404"),
            ("GET /report/%2e%2e%2fmanifest.json", self._get("/report/%2e%2e%2fmanifest.json"),
             "404"),
            ("GET /report/manifest.json", self._get("/report/manifest.json"), "404"),
            ("GET /report/head.safetensors", self._get("/report/head.safetensors"), "404"),
            ("GET /../manifest.json", self._get("/../manifest.json"), "404"),
            ("GET /report/%2Fetc%2Fpasswd", self._get("/report/%2Fetc%2Fpasswd"), "404"),
        ]
        if has_report:
            self.malformed += [
                ("GET /report/leak.html (a symlink)", self._get("/report/leak.html"), "404"),
                ("GET /report/index.html", self._get("/report/index.html"), "200"),
            ]

    @staticmethod
    def _post(path: str, obj) -> bytes:
        body = json.dumps(obj).encode()
        return post_head(path, len(body)) + body

    @staticmethod
    def _get(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def spawn(self, name: str, target, *a):
        t = threading.Thread(target=target, args=a, name=name, daemon=True)
        t.start()
        self.threads.append(t)

    # good clients ------------------------------------------------------

    def good(self, i: int):
        rng = random.Random(self.args.seed * 1000 + i)
        conn = None
        while not self.stop.is_set():
            if rng.random() < 0.8:
                route, n = "/v1/classify", rng.randint(1, 32)
                obj = {"texts": rng.sample(self.texts, n)}
                if rng.random() < 0.5:
                    obj["top_k"] = rng.randint(1, len(self.labels))
            else:
                route, n = "/v1/embed", rng.randint(1, 8)
                obj = {"texts": rng.sample(self.texts, n)}
            body = json.dumps(obj)
            for attempt in (0, 1):
                fresh = conn is None
                if fresh:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=self.args.good_timeout)
                start = time.monotonic()
                try:
                    conn.request("POST", route, body, {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    data = r.read()
                    took = time.monotonic() - start
                    status = r.status
                    retry_after = r.getheader("Retry-After")
                    if r.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                        http.client.BadStatusLine) as e:
                    conn.close()
                    conn = None
                    if not fresh and attempt == 0:
                        # The server closed a kept-alive connection between two requests
                        # (idle connections go when every slot is taken): reopen, once.
                        self.stats.count("good", "reconnected")
                        continue
                    status, took, data = f"error {type(e).__name__}", None, b""
                    break
                except (socket.timeout, TimeoutError):
                    conn.close()
                    conn = None
                    status, took, data = "timeout", None, b""
                    break
                except OSError as e:
                    conn.close()
                    conn = None
                    status, took, data = f"error {type(e).__name__}", None, b""
                    break
            self.stats.count("good", status)
            if status == 200:
                self.stats.time(route, took)
                if not self._right(route, data, n):
                    self.stats.count("good", "200 wrong")
                    self.stats.surprise("good", f"{route} {n} texts: {data[:200]!r}")
            elif status == 429:
                self.stop.wait(min(float(retry_after or 1), 2.0))
                continue
            else:
                self.stats.surprise("good", f"{route} {n} texts: {status} {data[:200]!r}")
                self.stop.wait(0.5)
            self.stop.wait(rng.uniform(0, self.args.good_pause))
        if conn is not None:
            conn.close()

    def _right(self, route: str, data: bytes, n: int) -> bool:
        try:
            results = json.loads(data)["results"]
        except (ValueError, KeyError, TypeError):
            return False
        if len(results) != n or [r.get("id") for r in results] != [str(k) for k in range(1, n + 1)]:
            return False
        if route == "/v1/classify":
            return all(r.get("label") in self.labels for r in results)
        return all(len(r.get("vector", ())) == self.dim for r in results)

    # slow readers ------------------------------------------------------

    def slow(self, i: int):
        rng = random.Random(self.args.seed * 2000 + i)
        self.stop.wait(rng.uniform(0, 5))
        while not self.stop.is_set():
            s = stalled_request(self.port, "/v1/embed", self.slow_body)
            if s is None:
                self.stats.count("slow", "connect-failed")
                self.stats.surprise("slow", "could not connect and send")
                self.stop.wait(1)
                continue
            hold = rng.uniform(30, 60)
            self.stop.wait(hold)
            outcome = drain(s, timeout=3)
            s.close()
            self.stats.count("slow", outcome)
            if outcome.startswith("5"):
                self.stats.surprise("slow", outcome)

    # oversized ---------------------------------------------------------

    def oversize(self):
        rng = random.Random(self.args.seed * 3000)
        while not self.stop.is_set():
            name, path, body, is_chunked, want = rng.choice(self.oversized)
            head = post_head(path, None if is_chunked else len(body), chunked=is_chunked)
            status, data, took = raw_request(self.port, head, chunked(body) if is_chunked else body,
                                             timeout=30)
            self.stats.count("oversized", status)
            self.stats.count(f"oversized: {name}", status)
            self.stats.time("oversized", took)
            if status not in want.split():
                self.stats.surprise("oversized", f"{name}: {status} (expected {want}) {data[:150]!r}")
            self.stop.wait(rng.uniform(0.3, 1.0))

    # malformed ---------------------------------------------------------

    def malform(self):
        rng = random.Random(self.args.seed * 4000)
        while not self.stop.is_set():
            name, raw, want = rng.choice(self.malformed)
            status, data, took = raw_request(self.port, raw, timeout=30)
            self.stats.count("malformed", status)
            self.stats.count(f"malformed: {name}", status)
            if status != want:
                self.stats.surprise("malformed", f"{name}: {status} (expected {want}) {data[:150]!r}")
            elif want != "200":
                try:
                    json.loads(data)["error"]
                except (ValueError, KeyError, TypeError):
                    self.stats.surprise("malformed", f"{name}: {status}, not a JSON error: {data[:150]!r}")
            self.stop.wait(rng.uniform(0.1, 0.4))

    # partial headers ---------------------------------------------------

    def partial(self, i: int):
        limit = self.args.request_timeout + 5
        self.stop.wait(i * 3)
        while not self.stop.is_set():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.settimeout(10)
                s.connect((HOST, self.port))
                s.sendall(f"POST /v1/classify HTTP/1.1\r\nHost: {HOST}\r\nContent-Ty".encode())
                start = time.monotonic()
                s.settimeout(0.5)
                outcome = None
                while outcome is None:
                    if self.stop.is_set():
                        outcome = "abandoned"  # the soak ended first
                        break
                    if time.monotonic() - start > limit:
                        outcome = "still open"
                        break
                    try:
                        data = s.recv(4096)
                        outcome = "closed" if not data else f"answered {data[:12]!r}"
                    except socket.timeout:
                        continue
                    except ConnectionResetError:
                        outcome = "closed"
                took = time.monotonic() - start
            except OSError as e:
                outcome, took = f"error {type(e).__name__}", None
            finally:
                s.close()
            self.stats.count("partial", outcome)
            if outcome in ("closed",) or outcome.startswith("answered"):
                self.stats.value("partial close s", took)
            if outcome == "still open" or outcome.startswith("error"):
                self.stats.surprise("partial", f"{outcome} after {took}")

    # flood -------------------------------------------------------------

    def flood(self):
        every, hold = self.args.flood_every, self.args.flood_hold
        next_at = every / 2
        while not self.stop.wait(max(0.0, next_at - self.elapsed())):
            next_at += every
            start = self.elapsed()
            self.flooding.set()
            socks, failed = [], 0
            for k in range(self.args.flood_connections):
                if self.stop.is_set():
                    break
                s = stalled_request(self.port, "/v1/embed", self.flood_bodies[k % 10 == 9])
                if s is None:
                    failed += 1
                else:
                    socks.append(s)
            opened = self.elapsed() - start
            # The server's open descriptors while the flood holds (its connections, at most
            # --max-connections, plus about ten of its own), sampled every 50 ms.
            peak_fds = 0
            until = time.monotonic() + hold
            while not self.stop.is_set() and time.monotonic() < until:
                peak_fds = max(peak_fds, self.server.status().get("fds", 0))
                self.stop.wait(0.05)
            for s in socks:
                s.close()
            self.flooding.clear()
            self.stats.count("flood", "connections", len(socks))
            self.stats.count("flood", "connect-failed", failed)
            if failed:
                self.stats.surprise("flood", f"{failed} connections failed")
            self.floods.append({"at_s": round(start, 1), "connections": len(socks),
                                "failed": failed, "open_s": round(opened, 2), "hold_s": hold,
                                "server_fds_peak": peak_fds})
            log(f"flood at {start:.0f} s: {len(socks)} connections opened in {opened:.1f} s, "
                f"held {hold} s; the server's descriptors peaked at {peak_fds}")

    # samplers ----------------------------------------------------------

    def sample_rss(self):
        while True:
            st = self.server.status()
            if st:
                self.samples.append({"t": round(self.elapsed(), 1), "rss_mb": st["VmRSS"] / 1024,
                                     "hwm_mb": st["VmHWM"] / 1024, "threads": st.get("Threads"),
                                     "fds": st.get("fds"), "flood": self.flooding.is_set()})
            if self.stop.wait(1.0):
                return

    def sample_health(self):
        while not self.stop.is_set():
            t = self.elapsed()
            status, _, took = get(self.port, "/health", timeout=10)
            self.health.append({"t": round(t, 1), "status": status, "s": took,
                                "flood": self.flooding.is_set()})
            self.stats.count("health", status)
            if status != "200":
                self.stats.surprise("health", f"at {t:.0f} s: {status} after {took:.1f} s")
            self.stop.wait(max(0.0, 1.0 - took))

    def progress(self):
        before, t_before = metrics(self.port), self.elapsed()
        while not self.stop.wait(self.args.progress_every):
            last = self.samples[-1] if self.samples else {}
            h = [x["s"] for x in self.health[-30:] if x["status"] == "200"]
            good = dict(self.stats.counts["good"])
            now, t_now = metrics(self.port), self.elapsed()

            def delta(k):
                return now.get(k, 0) - before.get(k, 0)
            span = max(t_now - t_before, 1e-9)
            log(f"{t_now:5.0f} s: RSS {last.get('rss_mb', 0):.0f} MB, fds {last.get('fds')}, "
                f"queue {now.get('emo_queue_depth', 0):.0f}, worker {delta('emo_batch_texts_sum') / span:.0f} "
                f"texts/s ({delta('emo_inference_seconds_sum') / span:.0%} busy), "
                f"/health max of last 30 {ms(max(h) if h else None)} ms, good {good}, "
                f"surprises {sum(self.stats.unexpected.values())}")
            before, t_before = now, t_now
            if not self.server.alive():
                log("the server has exited!")
                self.stop.set()

    def run(self):
        a = self.args
        self.spawn("rss", self.sample_rss)
        self.spawn("health", self.sample_health)
        self.spawn("progress", self.progress)
        for i in range(a.good_clients):
            self.spawn(f"good{i}", self.good, i)
        for i in range(a.slow_readers):
            self.spawn(f"slow{i}", self.slow, i)
        self.spawn("oversized", self.oversize)
        self.spawn("malformed", self.malform)
        for i in range(a.partial_clients):
            self.spawn(f"partial{i}", self.partial, i)
        if a.flood_connections > 0:
            self.spawn("flood", self.flood)
        self.stop.wait(a.seconds)
        self.stop.set()
        self.end_s = self.elapsed()
        for t in self.threads:
            t.join(timeout=90)
            if t.is_alive():
                self.stats.surprise("soak", f"client thread {t.name} did not finish")


# ---------------------------------------------------------------- setup


def carer_texts(limit_per_label: int | None = None) -> list[tuple[str, str]]:
    rows, taken = [], defaultdict(int)
    with open(CARER, encoding="utf-8") as f:
        next(f)
        for line in f:
            text, _, label = line.rstrip("\n").rpartition(";")
            if not text:
                continue
            if limit_per_label is None or taken[label] < limit_per_label:
                taken[label] += 1
                rows.append((text, label))
    return rows


def train_model(emo: Path, work: Path, threads: int | None) -> Path:
    """`emo train --method lws` on 25 CARER texts per emotion (as tests/common's
    small_carer_csv); the model folder is also made its own report folder (an index.html, and
    a symlink that must not be served) so the report route's refusals are tested on it."""
    if not CARER.is_file():
        raise SoakError(f"{CARER.relative_to(ROOT)} is missing (run `make setup`), or pass --model")
    csv_path = work / "small.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "label"])
        w.writerows(carer_texts(25))
    model = work / "model"
    argv = [str(emo), "train", "--train", str(csv_path), "--method", "lws", "--seed", "1",
            "--device", "cpu", "--cache-dir", str(work / "cache"), "--out", str(model)]
    if threads:
        argv += ["--threads", str(threads)]
    log(f"training a small model: {shlex.join(argv)}")
    r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise SoakError(f"`{shlex.join(argv)}` failed:\n{r.stderr}")
    (model / "index.html").write_text("<!doctype html><title>soak</title><p>a report</p>\n")
    os.symlink(model / "manifest.json", model / "leak.html")
    return model


def git_info() -> dict:
    def git(*a):
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout
    try:
        dirty = [line[3:] for line in git("status", "--porcelain").splitlines() if line.strip()]
        return {"commit": git("rev-parse", "--short", "HEAD").strip(), "dirty": bool(dirty),
                "changed": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "dirty": None, "changed": []}


def machine() -> dict:
    cpu, mem = None, None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem, "os": platform.platform(),
            "python": platform.python_version()}


def raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < need:
            log(f"open files limited to {new}: the flood may not open every connection")


def loadavg() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def client_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def metrics(port: int) -> dict[str, float]:
    status, body, _ = get(port, "/metrics", timeout=10)
    out = {}
    if status != "200":
        return out
    for line in body.decode("utf-8", "replace").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        if name.startswith(("emo_connections", "emo_cancelled", "emo_failed", "emo_http_requests_total",
                            "emo_queue_depth")) or name in (
                "emo_batch_texts_sum", "emo_batch_texts_count", "emo_inference_seconds_sum",
                "emo_queue_wait_seconds_sum", "emo_queue_wait_seconds_count"):
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


# ---------------------------------------------------------------- the end


def shutdown(server: Server, soak: Soak, args) -> dict:
    """Four requests in flight and four stalled writes, then SIGTERM: the process must answer
    the four, exit 0, and within --shutdown-timeout + 3 s."""
    port = server.port
    answers: list[str] = []
    lock = threading.Lock()

    def in_flight(k: int):
        texts = soak.texts[k * 8:(k + 1) * 8]
        status, data, _ = post_json(port, "/v1/classify", {"texts": texts}, timeout=60)
        ok = status == "200" and soak._right("/v1/classify", data, len(texts))
        with lock:
            answers.append(status + ("" if ok or status != "200" else " wrong"))

    # The four requests first, so that the first pass holds them; then the stalled ones, whose
    # texts the worker is still on (or whose answers are stalled) when SIGTERM comes.
    clients = [threading.Thread(target=in_flight, args=(k,), daemon=True) for k in range(4)]
    for c in clients:
        c.start()
    time.sleep(0.3)
    stalled = [s for s in (stalled_request(port, "/v1/embed", soak.slow_body) for _ in range(4)) if s]
    time.sleep(0.5)  # let the server read them
    start = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    limit = args.shutdown_timeout + 3
    try:
        code = server.proc.wait(timeout=limit + 30)
    except subprocess.TimeoutExpired:
        code = None
        server.kill()
    took = time.monotonic() - start
    for c in clients:
        c.join(timeout=30)
    stalled_outcomes = [drain(s, timeout=2) for s in stalled]
    for s in stalled:
        s.close()
    server.wait_reader()
    cut = next((int(m.group(1)) for line in server.lines
                if (m := re.search(r"emo serve: cut (\d+)", line))), 0)
    stopped = next((i for i, line in enumerate(server.lines) if "emo serve: stopped" in line), None)
    after = server.lines[stopped + 1:] if stopped is not None else []
    return {"exit_code": code, "seconds": took, "limit_s": limit, "in_flight": sorted(answers),
            "stalled": stalled_outcomes, "cut_said": cut, "log_after_stopped": after}


def summarize(soak: Soak, server: Server, args, final: dict, term: dict, meta: dict) -> dict:
    st = soak.stats
    samples = soak.samples
    rss = [x["rss_mb"] for x in samples]
    warm = next((x for x in samples if x["t"] >= args.warmup), samples[-1] if samples else None)
    under_load = [x for x in samples if x["t"] <= soak.end_s]
    end = under_load[-1] if under_load else None
    after = [x for x in samples if args.warmup <= x["t"] <= soak.end_s]
    slope = None
    if len(after) >= 10:
        n = len(after)
        mt = sum(x["t"] for x in after) / n
        mr = sum(x["rss_mb"] for x in after) / n
        var = sum((x["t"] - mt) ** 2 for x in after)
        if var > 0:
            slope = sum((x["t"] - mt) * (x["rss_mb"] - mr) for x in after) / var * 60
    hwm = max((x["hwm_mb"] for x in samples), default=None)
    peak = max(max(rss, default=0), hwm or 0) or None
    health_ok = [x["s"] for x in soak.health if x["status"] == "200"]
    health_flood = [x["s"] for x in soak.health if x["status"] == "200" and x["flood"]]
    good = dict(st.counts["good"])
    answered = sum(v for k, v in good.items() if k in ("200", "429"))
    requests = sum(v for k, v in good.items() if k not in ("reconnected", "200 wrong"))
    p_close = st.values.get("partial close s", [])
    checks = []

    def check(name: str, ok: bool, detail: str):
        checks.append({"check": name, "pass": bool(ok), "detail": detail})

    check("the server ran throughout", meta["alive_at_end"], "alive when the clients stopped"
          if meta["alive_at_end"] else "it exited during the soak")
    check("answers /health at the end", final["health"] == "200", f"GET /health: {final['health']}")
    check("answers a classify at the end", final["classify"] == "200 right",
          f"POST /v1/classify, 3 texts: {final['classify']}")
    check("good clients: every answer 200 (right count) or 429 (none 408: waited --request-timeout)",
          requests > 0 and answered == requests and "200 wrong" not in good,
          f"{answered:,} of {requests:,} requests; "
          + ", ".join(f"{k}: {v:,}" for k, v in sorted(good.items())))
    check("good clients were served", good.get("200", 0) >= 0.5 * max(1, requests),
          f"{good.get('200', 0):,} of {requests:,} answered 200 (at least half)")
    check("oversized requests refused (413 / 422 as expected; 429 for the token-heavy one)",
          st.unexpected.get("oversized", 0) == 0 and sum(st.counts["oversized"].values()) > 0,
          f"{sum(st.counts['oversized'].values()):,} sent, {st.unexpected.get('oversized', 0)} not as expected")
    check("malformed requests refused as expected (400/404/405/415/422, JSON errors)",
          st.unexpected.get("malformed", 0) == 0 and sum(st.counts["malformed"].values()) > 0,
          f"{sum(st.counts['malformed'].values()):,} sent, {st.unexpected.get('malformed', 0)} not as expected")
    partial_bad = st.unexpected.get("partial", 0)
    check(f"partial headers closed within --request-timeout + 5 s ({args.request_timeout + 5} s)",
          partial_bad == 0 and (p_close or args.seconds < args.request_timeout + 5),
          f"{len(p_close)} closed, after {min(p_close, default=0):.1f}–{max(p_close, default=0):.1f} s; "
          f"{partial_bad} held longer or failed")
    check("flood connections opened", st.unexpected.get("flood", 0) == 0,
          f"{st.counts['flood'].get('connections', 0):,} opened in {len(soak.floods)} floods, "
          f"{st.counts['flood'].get('connect-failed', 0)} failed; the server's descriptors peaked at "
          f"{max((f['server_fds_peak'] for f in soak.floods), default=0)} "
          f"(--max-connections 512)")
    check("/health always 200", bool(soak.health) and len(health_ok) == len(soak.health),
          f"{len(health_ok):,} of {len(soak.health):,} samples")
    p99h = percentile(health_ok, 99)
    check(f"/health p99 < {args.health_p99_ms} ms", p99h is not None and p99h * 1000 < args.health_p99_ms,
          f"p99 {ms(p99h)} ms, max {ms(max(health_ok, default=None))} ms "
          f"(during floods: p99 {ms(percentile(health_flood, 99))} ms)")
    check(f"peak RSS <= {args.rss_bound_mb} MB", peak is not None and peak <= args.rss_bound_mb,
          f"peak {mb(peak)} MB (VmHWM)")
    fd_start, fd_end = meta["fds_start"], final["fds"]
    check("descriptors back after the clients left",
          fd_start is not None and fd_end is not None and fd_end <= fd_start + 8,
          f"{fd_start} open at the start, {fd_end} with every client gone")
    stopping = next((i for i, x in enumerate(server.lines) if "emo serve: stopping" in x),
                    len(server.lines))
    bad = [x for x in server.lines[:stopping] if re.search(r"panick|internal error|failed", x)]
    check("no panic, internal error or failed pass in the server's log while serving", not bad,
          f"{len(bad)} such lines of {stopping}" + (f": {bad[0]}" if bad else ""))
    check("SIGTERM: exit 0", term["exit_code"] == 0, f"exit code {term['exit_code']}")
    check(f"SIGTERM: exit within --shutdown-timeout + 3 s ({term['limit_s']} s)",
          term["exit_code"] is not None and term["seconds"] <= term["limit_s"],
          f"{term['seconds']:.2f} s, with 4 requests in flight and 4 stalled writes")
    check("SIGTERM: the requests in flight answered", term["in_flight"] == ["200"] * 4,
          f"{term['in_flight']}")

    lat = {}
    for route in ("/v1/classify", "/v1/embed"):
        xs = st.latency.get(route, [])
        lat[route] = {"n": len(xs), "p50_ms": _r(percentile(xs, 50)), "p99_ms": _r(percentile(xs, 99)),
                      "max_ms": _r(max(xs, default=None))}
    lat["/health"] = {"n": len(health_ok), "p50_ms": _r(percentile(health_ok, 50)),
                      "p99_ms": _r(p99h), "max_ms": _r(max(health_ok, default=None)),
                      "p99_during_floods_ms": _r(percentile(health_flood, 99))}
    return {
        "checks": checks,
        "passed": all(c["pass"] for c in checks),
        "counts": {k: dict(sorted(v.items())) for k, v in sorted(st.counts.items())},
        "latency": lat,
        "rss_mb": {"start": _r1(samples[0]["rss_mb"] if samples else None),
                   "after_warmup": _r1(warm["rss_mb"] if warm else None),
                   "warmup_s": args.warmup,
                   "end_under_load": _r1(end["rss_mb"] if end else None),
                   "growth_after_warmup": _r1(end["rss_mb"] - warm["rss_mb"] if end and warm else None),
                   "trend_mb_per_min_after_warmup": _r1(slope),
                   "peak_sampled": _r1(max(rss, default=None)), "peak_vmhwm": _r1(hwm),
                   "after_clients_left": _r1(final.get("rss_mb")), "bound": args.rss_bound_mb},
        "fds": {"start": fd_start, "peak": max((x["fds"] or 0 for x in samples), default=None),
                "after_clients_left": fd_end},
        "partial_close_s": {"n": len(p_close), "min": _r1(min(p_close, default=None)),
                            "max": _r1(max(p_close, default=None))},
        "floods": soak.floods,
        "sigterm": term,
        "server_metrics_at_end": final["metrics"],
        "unexpected_examples": st.examples,
    }


def _r(x):
    return None if x is None else round(x * 1000, 1)


def _r1(x):
    return None if x is None else round(x, 1)


def markdown(result: dict, meta: dict, args) -> str:
    m = meta["machine"]
    g = meta["git"]
    r = result
    lines = [
        "# emo serve soak",
        "",
        f"`{meta['command']}`, {meta['date']}, commit `{g['commit']}`"
        + (f" (dirty: {', '.join(g['changed'][:8])}{' …' if len(g['changed']) > 8 else ''})"
           if g["dirty"] else " (clean tree)"),
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']:.1f} GiB memory; {m['os']}",
        f"- server: `{meta['server_command']}`",
        f"- model: {meta['model']}",
        f"- CPU: the server {_f(meta['server_cpu_s'])} s, this script's clients {_f(meta['client_cpu_s'])} s "
        f"(cores × seconds: {m['cores'] * meta['ran_s']:,.0f}); load average {_f(meta['loadavg_start'])} "
        f"with the server idle before the clients started, {_f(meta['loadavg_end'])} at the end (the server "
        f"under load is about {m['cores']}; more, or a start well above 0, is other processes sharing "
        f"the machine, whose time the latencies include)",
        f"- ran {meta['ran_s']:.0f} s of clients (asked {args.seconds} s), warm-up {args.warmup} s: "
        f"{args.good_clients} good clients, {args.slow_readers} slow readers, 1 oversized, 1 malformed, "
        f"{args.partial_clients} partial-header, a flood of {args.flood_connections} connections "
        f"every {args.flood_every:.0f} s held {args.flood_hold:.0f} s; /health and RSS every second",
        "",
        "## Checks",
        "",
        "| check | result | |",
        "|---|---|---|",
    ]
    for c in r["checks"]:
        lines.append(f"| {c['check']} | {'PASS' if c['pass'] else '**FAIL**'} | {c['detail']} |")
    lines += ["", f"**{'All checks pass.' if r['passed'] else 'Some checks FAIL.'}**", "",
              "## Answers by client kind", "", "| client | outcome: count |", "|---|---|"]
    for kind, counts in r["counts"].items():
        lines.append(f"| {kind} | " + ", ".join(f"{k}: {v:,}" for k, v in counts.items()) + " |")
    lines += ["", "Slow readers and flood connections never read: a slow reader's outcome is what "
              "it found when it finally read (`200 cut`: an answer begun and cut off, the server's "
              "--write-timeout at work; `429 whole`: the queue was full).", "",
              "## Latency", "", "| | n | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|"]
    for route, x in r["latency"].items():
        name = f"good {route}" if route != "/health" else "/health (fresh connection, every second)"
        lines.append(f"| {name} | {x['n']:,} | {_f(x['p50_ms'])} | {_f(x['p99_ms'])} | {_f(x['max_ms'])} |")
    h = r["latency"]["/health"]
    lines += ["", f"/health p99 during floods: {_f(h['p99_during_floods_ms'])} ms. Good requests' "
              "latencies are of their 200s (a 429 is answered at once).", "", "## Memory", ""]
    x = r["rss_mb"]
    lines += [
        "| start | after warm-up | end (under load) | growth after warm-up | trend after warm-up | peak | after the clients left | bound |",
        "|---|---|---|---|---|---|---|---|",
        f"| {mb(x['start'])} MB | {mb(x['after_warmup'])} MB (at {x['warmup_s']} s) | {mb(x['end_under_load'])} MB "
        f"| {_sign(x['growth_after_warmup'])} MB | {_sign(x['trend_mb_per_min_after_warmup'], 1)} MB/min "
        f"| **{mb(x['peak_vmhwm'])} MB** | {mb(x['after_clients_left'])} MB | {x['bound']} MB |",
        "",
        f"VmRSS of the server process every second; peak is VmHWM (the kernel's high-water mark, "
        f"so no spike between samples is missed). Open descriptors: {r['fds']['start']} at the start, "
        f"{r['fds']['peak']} at most, {r['fds']['after_clients_left']} with every client gone.",
        "",
        "## SIGTERM",
        "",
    ]
    t = r["sigterm"]
    lines += [f"With 4 classify requests in flight and 4 connections stalled on 1,024-text "
              f"embeddings they never read: exit code {t['exit_code']} after {t['seconds']:.2f} s "
              f"(bound {t['limit_s']} s); the in-flight requests got {t['in_flight']}; the stalled "
              f"ones {t['stalled']}; the server said it cut {t['cut_said']} connections.", ""]
    if t.get("log_after_stopped"):
        lines += ["After its last line, `emo serve: stopped`, the log said (the process exiting with "
                  "the inference thread still in a pass):", "", "```", *t["log_after_stopped"], "```", ""]
    lines += ["## Server counters at the end", "", "```"]
    lines += [f"{k} {v:g}" for k, v in r["server_metrics_at_end"].items()
              if not k.startswith("emo_http_requests_total")]
    lines += ["```", ""]
    if r["unexpected_examples"]:
        lines += ["## Unexpected answers (first 40)", "", "```", *r["unexpected_examples"], "```", ""]
    lines += ["## Server log (last 20 lines)", "", "```", *meta["server_log"][-20:], "```", ""]
    return "\n".join(lines)


def _f(x):
    return "–" if x is None else f"{x:,.1f}"


def _sign(x, digits=0):
    return "–" if x is None else f"{x:+,.{digits}f}"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=600, help="how long the clients run (default 600)")
    p.add_argument("--warmup", type=float, default=None,
                   help="RSS growth is measured from here (default: 60 s, or a fifth of --seconds if less)")
    p.add_argument("--model", type=Path, help="a model folder (default: train a small one on CARER)")
    p.add_argument("--emo", type=Path, default=ROOT / "target" / "release" / "emo",
                   help="the emo binary (default target/release/emo)")
    p.add_argument("--threads", type=int, help="--threads of the server (default: libtorch's)")
    p.add_argument("--shutdown-timeout", type=int, default=10, help="the server's (default 10 s)")
    p.add_argument("--write-timeout", type=int, default=5, help="the server's (default 5 s)")
    p.add_argument("--request-timeout", type=int, default=30,
                   help="the server's (default 30 s, its own default)")
    p.add_argument("--rss-bound-mb", type=float, default=1024,
                   help="peak RSS allowed (default 1024 MB: about 2.4x the 400-430 MB measured; see above)")
    p.add_argument("--health-p99-ms", type=float, default=1000, help="/health p99 allowed (default 1000 ms)")
    p.add_argument("--good-clients", type=int, default=4, help="good client threads (default 4)")
    p.add_argument("--good-pause", type=float, default=0.05, help="seconds a good client waits at most between requests")
    p.add_argument("--good-timeout", type=float, default=120, help="a good request's socket timeout (default 120 s)")
    p.add_argument("--slow-readers", type=int, default=2, help="slow-reader threads (default 2)")
    p.add_argument("--partial-clients", type=int, default=2, help="partial-header threads (default 2)")
    p.add_argument("--flood-connections", type=int, default=600, help="connections a flood opens (default 600; 0: no floods)")
    p.add_argument("--flood-every", type=float, default=None,
                   help="seconds between floods (default 120, or a third of --seconds if less)")
    p.add_argument("--flood-hold", type=float, default=10, help="seconds a flood holds its connections (default 10)")
    p.add_argument("--progress-every", type=float, default=10, help="seconds between progress lines on stderr (default 10)")
    p.add_argument("--seed", type=int, default=1, help="the clients' random choices (default 1)")
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "soak-serve.md",
                   help="the Markdown report; the JSON goes beside it (default reports/soak-serve.md)")
    args = p.parse_args(argv)
    if args.warmup is None:
        args.warmup = min(60.0, args.seconds / 5)
    if args.flood_every is None:
        args.flood_every = min(120.0, args.seconds / 3)
    command = shlex.join(["python3", "scripts/soak_serve.py", *(sys.argv[1:] if argv is None else argv)])

    emo = args.emo.resolve()
    if not emo.is_file():
        raise SoakError(f"{emo} is missing: run `cargo build --release`")
    raise_fd_limit(args.flood_connections + 512)
    work = Path(tempfile.mkdtemp(prefix="emo-soak-"))
    server = None
    try:
        model = args.model.resolve() if args.model else train_model(emo, work, args.threads)
        texts = ([t for t, _ in carer_texts()[:5000]] if CARER.is_file() else
                 [f"{t} ({i})" for i in range(20) for t in FALLBACK_TEXTS])
        texts = list(dict.fromkeys(x for x in texts if x.strip()))
        argv_s = [str(emo), "serve", "--model", str(model), "--port", "0", "--device", "cpu",
                  "--shutdown-timeout", str(args.shutdown_timeout),
                  "--write-timeout", str(args.write_timeout),
                  "--request-timeout", str(args.request_timeout)]
        if args.threads:
            argv_s += ["--threads", str(args.threads)]
        server_command = shlex.join([os.path.relpath(argv_s[0], ROOT), *argv_s[1:]]).replace(str(work), "$TMP")
        log(f"starting: {server_command}")
        server = Server(argv_s)
        port = server.wait_listening()
        status, body, _ = get(port, "/v1/model")
        if status != "200":
            raise SoakError(f"GET /v1/model answered {status}")
        info = json.loads(body)
        labels, dim, has_report = info["labels"], info["encoder"]["dim"], info.get("report") is not None
        # One warm request so that the first second's RSS is the loaded server's.
        post_json(port, "/v1/classify", {"texts": texts[:4]})
        fds_start = server.status().get("fds")
        loadavg_start = loadavg()
        log(f"listening on port {port} (pid {server.pid}); {args.seconds:.0f} s of clients, "
            f"shutdown-timeout {args.shutdown_timeout} s, write-timeout {args.write_timeout} s, "
            f"request-timeout {args.request_timeout} s, RSS bound {args.rss_bound_mb:.0f} MB")

        soak = Soak(args, server, texts, labels, dim, has_report)
        soak.run()
        alive = server.alive()
        final = {"health": "–", "classify": "–", "fds": None, "metrics": {}}
        server_cpu = server.cpu_s()
        loadavg_end = loadavg()
        if alive:
            time.sleep(2)  # the server notices the clients' closes
            final["fds"] = server.status().get("fds")
            final["rss_mb"] = server.status().get("VmRSS", 0) / 1024
            final["health"] = get(port, "/health")[0]
            status, body, _ = post_json(port, "/v1/classify", {"texts": texts[:3]})
            final["classify"] = status + (" right" if status == "200" and soak._right("/v1/classify", body, 3)
                                          else "")
            final["metrics"] = metrics(port)
            term = shutdown(server, soak, args)
        else:
            term = {"exit_code": server.proc.returncode, "seconds": 0.0,
                    "limit_s": args.shutdown_timeout + 3, "in_flight": [], "stalled": [], "cut_said": 0}
        meta = {"machine": machine(), "git": git_info(), "command": command,
                "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "server_command": server_command,
                "model": str(args.model) if args.model else
                "trained here: `emo train --method lws` on 25 CARER training texts per emotion "
                "(the folder made its own report folder: an index.html and a symlink to manifest.json)",
                "ran_s": soak.end_s, "alive_at_end": alive, "fds_start": fds_start,
                "loadavg_start": loadavg_start, "loadavg_end": loadavg_end,
                "server_cpu_s": server_cpu, "client_cpu_s": client_cpu(),
                "server_log": server.lines}
        result = summarize(soak, server, args, final, term, meta)
    finally:
        if server is not None:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)

    out_md = args.out.with_suffix(".md")
    out_json = args.out.with_suffix(".json")
    doc = {"meta": {k: v for k, v in meta.items() if k != "server_log"},
           "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
           **result, "server_log": server.lines[-200:],
           "rss_timeline": soak.samples, "health_timeline": [
               {**h, "s": round(h["s"], 4)} for h in soak.health]}
    write_atomic(out_json, json.dumps(doc, indent=1) + "\n")
    write_atomic(out_md, markdown(result, meta, args))
    for c in result["checks"]:
        log(f"{'PASS' if c['pass'] else 'FAIL'}: {c['check']}: {c['detail']}")
    log(f"wrote {out_md} and {out_json}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SoakError as e:
        log(str(e))
        sys.exit(2)
