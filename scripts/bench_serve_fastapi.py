#!/usr/bin/env python3
"""The server a Python user would write for an emo model, the baseline scripts/bench_serve.py
holds `emo serve` to: FastAPI + uvicorn (one worker process), sentence-transformers for the
encoder, and the model's own head read from its folder with `safetensors`.

It answers `POST /v1/classify` with the body `emo serve` takes (`{"texts": [...]}` or
`{"text": "..."}`, optional `top_k`) and the same answer shape (`{"results": [{"id", "text",
"label", "confidence", "top"?}]}`), and `GET /ready`. The head is applied as emo applies it
(src/head.rs, src/predict.rs): every linear method is saved already folded into one
`logits = x·Wᵀ + b` (logit adjustment's −τ·log prior is in b), nearest-mean as
`−‖x̂ − centroid‖²` with x̂ the centred, unit-length vector; then a softmax. Multi-label models
(sigmoid and thresholds) are not served here.

The endpoint is a plain `def`: FastAPI runs it in its thread pool, so concurrent requests
encode concurrently, each with torch's intra-op threads, as a Python user's server would.
uvicorn's access log is off (emo serve logs no line per request either).

    bench_serve_fastapi.py --model DIR [--host 127.0.0.1] [--port 0] [--threads T]

Says `emo serve`'s line on stderr once it listens: `... listening on http://HOST:PORT`.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's parameter types at
# run time, and ClassifyRequest is local to build_app.
import argparse
import json
import socket
import sys
from pathlib import Path

import numpy as np

ENCODER = Path(__file__).resolve().parent.parent / ".deps" / "models" / "all-MiniLM-L6-v2"


class Head:
    """An emo model's head and labels (single-label models)."""

    def __init__(self, model_dir: Path):
        from safetensors.numpy import load_file

        manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("task", "single-label") != "single-label" or manifest.get("multi_label"):
            sys.exit(f"{model_dir}: a multi-label model; this server answers single-label ones only")
        self.labels = manifest["labels"]
        self.kind = manifest["head"]
        t = load_file(str(model_dir / "head.safetensors"))
        if self.kind == "linear":
            self.weight, self.bias = t["weight"], t["bias"]
        elif self.kind == "nearest-mean":
            self.mean, self.centroids = t["mean"], t["centroids"]
        else:
            sys.exit(f"{model_dir}: unknown head kind {self.kind!r}")

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32, copy=False)
        if self.kind == "linear":
            logits = x @ self.weight.T + self.bias
        else:
            xc = x - self.mean
            xn = xc / np.maximum(np.linalg.norm(xc, axis=1, keepdims=True), 1e-12)
            logits = -((xn[:, None, :] - self.centroids[None, :, :]) ** 2).sum(-1)
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)


def build_app(encoder, head: Head):
    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel, ConfigDict

    class ClassifyRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: list[str] | None = None
        text: str | None = None
        top_k: int | None = None

    app = FastAPI()

    @app.get("/ready")
    def ready():
        return {"status": "ready"}

    @app.post("/v1/classify")
    def classify(req: ClassifyRequest):
        texts = req.texts if req.texts is not None else ([req.text] if req.text is not None else None)
        if not texts or (req.texts is not None and req.text is not None):
            raise HTTPException(422, "give `texts` or `text`")
        top_k = min(req.top_k or 1, len(head.labels))
        probs = head.probabilities(encoder.encode(texts))
        results = []
        for i, (text, p) in enumerate(zip(texts, probs)):
            order = np.argsort(-p, kind="stable")[:top_k]
            r = {"id": str(i + 1), "text": text, "label": head.labels[order[0]],
                 "confidence": float(p[order[0]])}
            if top_k > 1:
                r["top"] = [{"label": head.labels[j], "confidence": float(p[j])} for j in order]
            results.append(r)
        return {"results": results}

    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, type=Path, help="an emo model folder")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: the system picks one")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()

    import torch
    import uvicorn
    from sentence_transformers import SentenceTransformer

    if args.threads:
        torch.set_num_threads(args.threads)
    head = Head(args.model)
    encoder = SentenceTransformer(str(ENCODER), device="cpu")
    app = build_app(encoder, head)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    host, port = sock.getsockname()[:2]
    print(f"bench_serve_fastapi: listening on http://{host}:{port}", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, workers=1, access_log=False, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
