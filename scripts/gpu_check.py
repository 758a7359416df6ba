#!/usr/bin/env python3
"""emo on a GPU against Python sentence-transformers on the same GPU, in one call.

Made for a machine that has PyTorch 2.11 with CUDA, transformers and sentence-transformers,
no internet, and only a small bundle brought along (see scripts/gpu_check.sh, which packs the
bundle here and runs this script there). The real MiniLM weights (87 MB) cannot travel, so the
check builds a MiniLM-shaped BERT there -- MiniLM's config.json, tokenizer and pooling files,
weights drawn by transformers with a fixed seed -- saved as a sentence-transformers folder.
Speed and agreement do not depend on the weights' values.

What it measures (all on --device, cuda there; the same script rehearses on cpu here):
1. embed: texts/s of `emo embed` and of SentenceTransformer.encode at batch 64, 256 and 1024,
   on GoEmotions test texts (`short`) and on long texts (many past 256 tokens), with the peak
   GPU memory of each process (nvidia-smi, polled) and the lowest cosine between the two
   vector sets;
2. emo on --device against emo on the CPU of the same machine (lowest cosine);
3. `emo embed --dataset goemotions` on --device (all three splits, into the cache), then
   `emo compare-sampling` on those cached vectors on --device and on the CPU: head-training
   time (timings.json), the command's time and macro-F1 of every method;
4. half precision: `emo embed --precision bf16` (and fp16 on CUDA) against SentenceTransformer
   under torch.autocast to the same type, at batch 256, with cosines against fp32;
5. the downstream effect of bf16: GoEmotions embedded in bf16 on --device and the same
   comparison from it, each method's macro-F1 difference from the fp32 report with its
   paired-bootstrap interval (scripts/bench_precision.py).
It writes gpu_check.md, gpu_check.json and logs.tar.gz (every command's stdout and stderr)
into the output folder. Nothing is estimated: a number that could not be measured is "—".

Modes:
    gpu_check.py run --device cuda --out DIR [--emo PATH] [--home DIR] [--quick]
    gpu_check.py make-model SHAPE_DIR OUT_DIR [ARCH]   the random MiniLM-shaped folder: ARCH bert
        (the default), mpnet, distilbert, roberta or xlm-roberta
    gpu_check.py make-modules BASE_DIR OUT_DIR [options]   BASE's transformer with other modules
        and prompts (tests/st_modules.rs; `make-modules -h` lists the options)
    gpu_check.py st-embed MODEL TEXTS OUT.npy DEVICE BATCH [PRECISION] [--prompt-name NAME]
        (helper, prints JSON; NAME "" encodes with no prompt, overriding a default one)
    gpu_check.py many ARGS.json   the helper modes of a JSON list of argument lists, in one process
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common  # noqa: E402  (inputs, tables and cosine helpers shared with make bench)

ROOT = Path(__file__).resolve().parent.parent
SEED = 1234
BATCHES = (64, 256, 1024)
# The other architectures emo runs, each as a random folder of MiniLM's sizes (make-model),
# checked at one batch size on the same inputs: speed and agreement on the device.
OTHER_ARCHES = ("mpnet",)
HALF = ("bf16", "fp16")  # fp16 on CUDA only
# Files of a sentence-transformers MiniLM folder besides its weights: what travels.
SHAPE_FILES = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "1_Pooling",
)


def log(msg: str) -> None:
    print(f"gpu-check: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- helper modes


# Files of the MiniLM folder that are not its tokenizer: what an architecture with a tokenizer of
# its own (roberta, xlm-roberta) takes from SHAPE.
SHAPE_MODULE_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                      "1_Pooling")
# The trained fixtures of tests/tokenizer.rs (scripts/make_tokenizer_fixture.py): a RoBERTa-style
# byte-level BPE and an XLM-R-style Unigram, both <s>=0 <pad>=1 </s>=2 <unk>=3 as the real ones.
TOKENIZER_FIXTURES = {"roberta": "bpe_tokenizer.json", "xlm-roberta": "unigram_tokenizer.json"}
ARCHS = ("bert", "mpnet", "distilbert", "roberta", "xlm-roberta")


def make_model(shape_dir: str, out_dir: str, arch: str = "bert") -> None:
    """A MiniLM-shaped encoder with weights drawn by transformers (torch.manual_seed(SEED)):
    BERT (MiniLM's own config), or with `arch` another architecture of the same sizes with
    MiniLM's pooling files: mpnet (relative position buckets, positions past the padding
    index) and distilbert with MiniLM's WordPiece tokenizer; roberta and xlm-roberta with a
    real tokenizer of their kind (the byte-level BPE and Unigram fixtures of
    tests/fixtures/tokenizers), vocab_size that tokenizer's, and max_position_embeddings
    max_seq_length + 2, so that the longest input reaches the last position past the
    padding index."""
    import torch
    from transformers import (BertConfig, BertModel, DistilBertConfig, DistilBertModel, MPNetConfig,
                              MPNetModel, PreTrainedTokenizerFast, RobertaConfig, RobertaModel,
                              XLMRobertaConfig, XLMRobertaModel)

    if arch not in ARCHS:
        raise SystemExit(f"make-model: unknown architecture {arch!r} (one of {', '.join(ARCHS)})")
    shape, out = Path(shape_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in SHAPE_MODULE_FILES if arch in TOKENIZER_FIXTURES else SHAPE_FILES:
        src = shape / name
        if src.is_dir():
            shutil.copytree(src, out / name, dirs_exist_ok=True)
        elif src.is_file():
            shutil.copy2(src, out / name)
    bert = BertConfig.from_json_file(str(shape / "config.json"))
    sizes = dict(hidden_size=bert.hidden_size, num_hidden_layers=bert.num_hidden_layers,
                 num_attention_heads=bert.num_attention_heads, intermediate_size=bert.intermediate_size)
    torch.manual_seed(SEED)
    if arch == "mpnet":
        config = MPNetConfig(
            vocab_size=bert.vocab_size, **sizes, max_position_embeddings=514,
            pad_token_id=1, relative_attention_num_buckets=32, layer_norm_eps=1e-5)
        model = MPNetModel(config, add_pooling_layer=False)
        model.save_pretrained(str(out), safe_serialization=True)
    elif arch == "distilbert":
        config = DistilBertConfig(
            vocab_size=bert.vocab_size, dim=bert.hidden_size, n_layers=bert.num_hidden_layers,
            n_heads=bert.num_attention_heads, hidden_dim=bert.intermediate_size,
            max_position_embeddings=bert.max_position_embeddings, pad_token_id=0)
        DistilBertModel(config).save_pretrained(str(out), safe_serialization=True)
    elif arch in TOKENIZER_FIXTURES:
        max_len = json.loads((shape / "sentence_bert_config.json").read_text())["max_seq_length"]
        tok = PreTrainedTokenizerFast(
            tokenizer_file=str(ROOT / "tests/fixtures/tokenizers" / TOKENIZER_FIXTURES[arch]),
            bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
            unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=max_len)
        tok.save_pretrained(str(out))
        Config, Model = (RobertaConfig, RobertaModel) if arch == "roberta" else (XLMRobertaConfig, XLMRobertaModel)
        config = Config(
            vocab_size=len(tok), **sizes, max_position_embeddings=max_len + 2, type_vocab_size=1,
            pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            layer_norm_eps=1e-5)
        Model(config, add_pooling_layer=False).save_pretrained(str(out), safe_serialization=True)
    else:
        model = BertModel(bert, add_pooling_layer=False)
        model.save_pretrained(str(out), safe_serialization=True)
        # save_pretrained rewrites config.json; keep MiniLM's, which is what emo and s-t read.
        shutil.copy2(shape / "config.json", out / "config.json")
    print(json.dumps({"dir": str(out), "seed": SEED, "arch": arch}))


def make_modules(argv: list[str]) -> None:
    """A sentence-transformers folder with BASE_DIR's transformer (a `make-model` folder: its
    config, tokenizer and weights, hard-linked where possible) and the modules and prompts the
    options ask for, saved by sentence-transformers' own classes (Dense weights drawn with
    torch.manual_seed(SEED + position)), listed in modules.json under the names it writes."""
    import torch
    from sentence_transformers.base.modules import Dense, Normalize
    from sentence_transformers.sentence_transformer.modules import Pooling

    p = argparse.ArgumentParser(prog="gpu_check.py make-modules")
    p.add_argument("base")
    p.add_argument("out")
    p.add_argument("--pooling", default="mean", help="mode[,mode...]: concatenated in this order")
    p.add_argument("--legacy-pooling", action="store_true",
                   help="write the pooling_mode_* flags of sentence-transformers < 5.4 (their order "
                        "is then sentence-transformers' own: cls, max, mean, mean_sqrt_len_tokens, "
                        "weightedmean, lasttoken)")
    p.add_argument("--no-include-prompt", action="store_true", help="Pooling's include_prompt: false")
    p.add_argument("--dense", action="append", default=[], metavar="IN:OUT:ACT[:nobias]",
                   help="a Dense module with torch.nn.ACT (Tanh, Identity, ReLU, GELU, Sigmoid, …)")
    p.add_argument("--normalize", action="store_true", help="a Normalize module last")
    p.add_argument("--prompt", action="append", default=[], metavar="NAME=TEXT")
    p.add_argument("--default-prompt", metavar="NAME")
    a = p.parse_args(argv)

    base, out = Path(a.base), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for f in base.iterdir():
        if f.is_file() and f.name not in ("modules.json", "config_sentence_transformers.json"):
            try:
                os.link(f, out / f.name)
            except OSError:
                shutil.copy2(f, out / f.name)
    transformer = json.loads((base / "modules.json").read_text())[0]
    entries = [transformer]

    def add(module, name: str) -> None:
        path = f"{len(entries)}_{name}"
        (out / path).mkdir(exist_ok=True)
        module.save(str(out / path))
        cls = type(module)
        entries.append({"idx": len(entries), "name": str(len(entries)), "path": path,
                        "type": f"{cls.__module__}.{cls.__name__}"})

    hidden = json.loads((base / "config.json").read_text())["hidden_size"]
    modes = a.pooling.split(",")
    pooling = Pooling(hidden, pooling_mode=tuple(modes), include_prompt=not a.no_include_prompt)
    add(pooling, "Pooling")
    if a.legacy_pooling:
        legacy = {"word_embedding_dimension": hidden}
        for key, mode in [("pooling_mode_cls_token", "cls"), ("pooling_mode_max_tokens", "max"),
                          ("pooling_mode_mean_tokens", "mean"),
                          ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
                          ("pooling_mode_weightedmean_tokens", "weightedmean"),
                          ("pooling_mode_lasttoken", "lasttoken")]:
            legacy[key] = mode in modes
        legacy["include_prompt"] = not a.no_include_prompt
        (out / entries[-1]["path"] / "config.json").write_text(json.dumps(legacy, indent=2) + "\n")
    for spec in a.dense:
        n_in, n_out, act, *rest = spec.split(":")
        torch.manual_seed(SEED + len(entries))
        dense = Dense(int(n_in), int(n_out), bias="nobias" not in rest,
                      activation_function=getattr(torch.nn, act)())
        add(dense, "Dense")
    if a.normalize:
        add(Normalize(), "Normalize")
    (out / "modules.json").write_text(json.dumps(entries, indent=2) + "\n")
    prompts = dict(kv.split("=", 1) for kv in a.prompt)
    st_config = {"prompts": prompts, "default_prompt_name": a.default_prompt,
                 "similarity_fn_name": "cosine"}
    (out / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2) + "\n")
    print(json.dumps({"dir": str(out), "modules": [e["type"] for e in entries]}))


def st_embed(model: str, texts_path: str, out_npy: str, device: str, batch: str,
             precision: str = "fp32", prompt_name: str | None = None) -> None:
    """SentenceTransformer.encode, timed after loading and a warm-up of one batch;
    precision bf16 or fp16 runs it under torch.autocast (`bench_common.autocast`).
    `prompt_name` is encode's (None: the model's default prompt, if any); "" encodes
    with no prompt."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    texts = bench_common.read_lines(texts_path)
    b = int(batch)
    prompt = {} if prompt_name is None else {"prompt": ""} if prompt_name == "" else {"prompt_name": prompt_name}
    m = SentenceTransformer(model, device=device)
    with bench_common.autocast(device, precision):
        m.encode(texts[:b], batch_size=b, show_progress_bar=False, **prompt)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    with bench_common.autocast(device, precision):
        emb = m.encode(texts, batch_size=b, show_progress_bar=False, convert_to_numpy=True, **prompt)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    np.save(out_npy, np.asarray(emb, dtype=np.float32))
    out = {"texts": len(texts), "seconds": seconds, "device": str(m.device)}
    if device.startswith("cuda"):
        out["torch_peak_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))


# ---------------------------------------------------------------- measuring processes


def gpu_memory_used() -> float | None:
    """MiB in use on GPU 0 (nvidia-smi), or None where nvidia-smi cannot tell."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits",
                              "-i", "0"], capture_output=True, text=True, timeout=5).stdout
        return float(out.strip().splitlines()[0])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


class GpuMemory:
    """Peak GPU memory of one process: GPU 0's memory in use, polled from nvidia-smi, above
    what was in use before the process started. The check runs one process at a time, and
    per-process figures are not available in every sandbox (gVisor), so the whole GPU is
    the yardstick, the same for emo and Python (CUDA context included)."""

    def __init__(self):
        self.base = gpu_memory_used()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        if self.base is not None:
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            used = gpu_memory_used()
            if used is not None:
                self.peak = max(self.peak, used)
            self._stop.wait(0.1)

    def stop(self) -> float | None:
        self._stop.set()
        if self.base is None:
            return None
        self._thread.join()
        return self.peak - self.base


def run(argv: list[str], label: str, logs: Path, env: dict | None = None, gpu: bool = False) -> dict:
    stem = logs / label
    with open(stem.with_suffix(".out"), "wb") as out, open(stem.with_suffix(".err"), "wb") as err:
        t0 = time.perf_counter()
        mem = GpuMemory() if gpu else None
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
        rc = proc.wait()
        wall = time.perf_counter() - t0
        peak = mem.stop() if mem else None
    if rc != 0:
        tail = stem.with_suffix(".err").read_text(errors="replace").strip().splitlines()[-8:]
        raise SystemExit(f"gpu-check: `{' '.join(argv)}` exited with {rc}:\n    " + "\n    ".join(tail))
    return {"wall": wall, "gpu_peak_mb": peak,
            "stdout": stem.with_suffix(".out").read_text(errors="replace")}


# ---------------------------------------------------------------- the check


def check(args) -> int:
    t_start = time.perf_counter()
    out_dir = Path(args.out).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="emo-gpu-check-"))
    logs = work / "logs"  # packed into OUT/logs.tar.gz at the end: one file to bring back
    logs.mkdir()
    home = Path(args.home).resolve()
    emo = str(Path(args.emo).resolve())
    # emo reads datasets from $EMO_HOME/datasets; its cache goes to the scratch folder.
    emo_home = work / "home"
    emo_home.mkdir()
    if args.quick:
        write_goemotions_subset(home / "datasets" / "goemotions", emo_home / "datasets" / "goemotions")
    else:
        (emo_home / "datasets").symlink_to(home / "datasets")
    env = dict(os.environ, EMO_HOME=str(emo_home))
    gpu = args.device.startswith("cuda")

    model = work / "minilm-random"
    log(f"building a MiniLM-shaped random encoder in {model} ...")
    run([sys.executable, __file__, "make-model", str(Path(args.shape).resolve()), str(model)],
        "make-model", logs)

    bench_common.DATASETS = home / "datasets"
    test = bench_common.dedupe(bench_common.goemotions_texts("test"))
    inputs = {"short": test[:300] if args.quick else test,
              "long": bench_common.make_long(test, 48 if args.quick else 1000)}
    results: dict = {"device": args.device, "quick": args.quick, "seed": SEED, "embed": {}}
    for name, texts in inputs.items():
        path = work / f"{name}.txt"
        bench_common.write_lines(path, texts)
        per_batch = {}
        for b in BATCHES:
            st = work / f"{name}-{b}.safetensors"
            npy = work / f"{name}-{b}.npy"
            r = run([emo, "embed", "--input", str(path), "--encoder", str(model), "--no-cache",
                     "--device", args.device, "--batch-size", str(b), "--out", str(st)],
                    f"emo-{name}-{b}", logs, env, gpu)
            stats = bench_common.read_sidecar(st)["stats"]
            p = run([sys.executable, __file__, "st-embed", str(model), str(path), str(npy),
                     args.device, str(b)], f"st-{name}-{b}", logs, env, gpu)
            pj = json.loads(p["stdout"].strip().splitlines()[-1])
            row = {
                "texts": len(texts),
                "emo_texts_per_s": stats["computed"] / stats["seconds"],
                "st_texts_per_s": pj["texts"] / pj["seconds"],
                "emo_gpu_peak_mb": r["gpu_peak_mb"],
                "st_gpu_peak_mb": p["gpu_peak_mb"],
                "st_torch_peak_allocated_mb": pj.get("torch_peak_allocated_mb"),
                "min_cosine": bench_common.min_cosine(st, npy),
            }
            row["ratio"] = row["emo_texts_per_s"] / row["st_texts_per_s"]
            per_batch[str(b)] = row
            log(f"{name} batch {b}: emo {row['emo_texts_per_s']:.0f} texts/s, "
                f"s-t {row['st_texts_per_s']:.0f} texts/s, min cosine {row['min_cosine']:.7f}")
            npy.unlink()
            if b != BATCHES[0]:
                st.unlink()
        results["embed"][name] = per_batch

    # The other architectures: a random folder of each, emo against sentence-transformers.
    results["arches"] = {}
    for arch in OTHER_ARCHES:
        folder = work / f"{arch}-random"
        run([sys.executable, __file__, "make-model", str(Path(args.shape).resolve()), str(folder), arch],
            f"make-model-{arch}", logs)
        results["arches"][arch] = {}
        for name, texts in inputs.items():
            path, b = work / f"{name}.txt", 256
            st, npy = work / f"{arch}-{name}.safetensors", work / f"{arch}-{name}.npy"
            r = run([emo, "embed", "--input", str(path), "--encoder", str(folder), "--no-cache",
                     "--device", args.device, "--batch-size", str(b), "--out", str(st)],
                    f"emo-{arch}-{name}", logs, env, gpu)
            stats = bench_common.read_sidecar(st)["stats"]
            p = run([sys.executable, __file__, "st-embed", str(folder), str(path), str(npy),
                     args.device, str(b)], f"st-{arch}-{name}", logs, env, gpu)
            pj = json.loads(p["stdout"].strip().splitlines()[-1])
            row = {"texts": len(texts), "batch": b,
                   "emo_texts_per_s": stats["computed"] / stats["seconds"],
                   "st_texts_per_s": pj["texts"] / pj["seconds"],
                   "emo_gpu_peak_mb": r["gpu_peak_mb"], "st_gpu_peak_mb": p["gpu_peak_mb"],
                   "min_cosine": bench_common.min_cosine(st, npy)}
            results["arches"][arch][name] = row
            log(f"{arch} {name}: emo {row['emo_texts_per_s']:.0f} texts/s, s-t "
                f"{row['st_texts_per_s']:.0f} texts/s, min cosine {row['min_cosine']:.7f}")
            st.unlink()
            npy.unlink()

    # Half precision (emo --precision P; sentence-transformers under autocast to P)
    # against the fp32 vectors of the first batch size, at batch 256: bf16, and fp16
    # where the device is CUDA (emo refuses fp16 on a CPU).
    from safetensors.numpy import load_file

    results["half"] = {}
    for prec in HALF if args.device.startswith("cuda") else HALF[:1]:
        results["half"][prec] = {}
        for name, texts in inputs.items():
            path, b = work / f"{name}.txt", 256
            fp32 = work / f"{name}-{BATCHES[0]}.safetensors"
            st16, npy16 = work / f"{name}-{prec}.safetensors", work / f"{name}-{prec}.npy"
            run([emo, "embed", "--input", str(path), "--encoder", str(model), "--no-cache",
                 "--device", args.device, "--batch-size", str(b), "--precision", prec, "--out", str(st16)],
                f"emo-{name}-{prec}", logs, env, gpu)
            stats = bench_common.read_sidecar(st16)["stats"]
            p = run([sys.executable, __file__, "st-embed", str(model), str(path), str(npy16),
                     args.device, str(b), prec], f"st-{name}-{prec}", logs, env, gpu)
            pj = json.loads(p["stdout"].strip().splitlines()[-1])
            lowest, mean = bench_common.cosines(load_file(str(fp32))["embeddings"],
                                         load_file(str(st16))["embeddings"])
            row = {"texts": len(texts), "batch": b,
                   "emo_fp32_texts_per_s": results["embed"][name][str(b)]["emo_texts_per_s"],
                   "emo_half_texts_per_s": stats["computed"] / stats["seconds"],
                   "st_fp32_texts_per_s": results["embed"][name][str(b)]["st_texts_per_s"],
                   "st_half_texts_per_s": pj["texts"] / pj["seconds"],
                   "min_cosine_vs_fp32": lowest, "mean_cosine_vs_fp32": mean}
            results["half"][prec][name] = row
            log(f"{name} {prec}: emo {row['emo_half_texts_per_s']:.0f} texts/s (fp32 "
                f"{row['emo_fp32_texts_per_s']:.0f}), s-t {prec} {row['st_half_texts_per_s']:.0f}, "
                f"min cosine vs fp32 {row['min_cosine_vs_fp32']:.6f}")
            npy16.unlink()
            st16.unlink()

    # emo on this device against emo on this machine's CPU, on the short texts.
    sub = work / "cpu-sub.txt"
    n_cpu = 256 if args.quick else 1024
    bench_common.write_lines(sub, inputs["short"][:n_cpu])
    dev_st, cpu_st = work / "sub-dev.safetensors", work / "sub-cpu.safetensors"
    for dev, out in ((args.device, dev_st), ("cpu", cpu_st)):
        run([emo, "embed", "--input", str(sub), "--encoder", str(model), "--no-cache",
             "--device", dev, "--out", str(out)], f"emo-sub-{dev}", logs, env, gpu)
    results["device_vs_cpu"] = {"texts": n_cpu, "min_cosine": min_cosine_st(dev_st, cpu_st)}
    # What --precision auto picks here (on CUDA: from the GPU's compute capability).
    auto_st = work / "sub-auto.safetensors"
    run([emo, "embed", "--input", str(sub), "--encoder", str(model), "--no-cache",
         "--device", args.device, "--precision", "auto", "--out", str(auto_st)], "emo-sub-auto",
        logs, env, gpu)
    results["auto_precision"] = bench_common.read_sidecar(auto_st)["precision"]
    log(f"--precision auto on {args.device}: {results['auto_precision']}")
    log(f"emo {args.device} vs emo cpu: min cosine {results['device_vs_cpu']['min_cosine']:.7f}")

    # GoEmotions through the random encoder into the cache, then heads on the cached vectors.
    r = run([emo, "embed", "--dataset", "goemotions", "--encoder", str(model), "--device", args.device,
             "--out", str(work / "goemotions.safetensors")], "emo-goemotions", logs, env, gpu)
    stats = bench_common.read_sidecar(work / "goemotions.safetensors")["stats"]
    results["goemotions_embed"] = {"texts": stats["texts"], "computed": stats["computed"],
                                   "seconds": stats["seconds"], "wall": r["wall"],
                                   "gpu_peak_mb": r["gpu_peak_mb"]}
    log(f"embed goemotions on {args.device}: {stats['computed']} texts in {stats['seconds']:.1f} s")
    heads = {}
    for dev in dict.fromkeys((args.device, "cpu")):
        rep = work / f"compare-{dev.replace(':', '-')}"
        r = run([emo, "compare-sampling", "--dataset", "goemotions", "--encoder", str(model),
                 "--device", dev, "--seeds", "1", "--out", str(rep)], f"compare-{dev}", logs, env, gpu)
        timings = bench_common.timings_seconds(rep)
        metrics = json.loads((rep / "metrics.json").read_text())
        heads[dev] = {"wall": r["wall"], "head_seconds": sum(timings.values()),
                      "methods": sorted(timings),
                      "device_recorded": metrics["device"],
                      "macro_f1": {name: sum(r["test"]["macro avg"]["f1-score"] for r in m["runs"])
                                   / len(m["runs"]) for name, m in metrics["methods"].items()}}
        log(f"compare-sampling on {dev}: {r['wall']:.1f} s, heads {heads[dev]['head_seconds']:.1f} s")
    results["heads"] = heads

    # The downstream effect of bf16 on the device: GoEmotions embedded in bf16, the same
    # comparison from those vectors, and each method's macro-F1 difference from the fp32
    # report above with its paired-bootstrap interval (scripts/bench_precision.py).
    import bench_precision

    run([emo, "embed", "--dataset", "goemotions", "--encoder", str(model), "--device", args.device,
         "--precision", "bf16", "--out", str(work / "goemotions-bf16.safetensors")],
        "emo-goemotions-bf16", logs, env, gpu)
    rep16 = work / "compare-bf16"
    run([emo, "compare-sampling", "--dataset", "goemotions", "--encoder", str(model),
         "--device", args.device, "--precision", "bf16", "--seeds", "1", "--out", str(rep16)],
        "compare-bf16", logs, env, gpu)
    part, raw = bench_precision.compare_reports(
        work / f"compare-{args.device.replace(':', '-')}", rep16, f"GoEmotions on {args.device}")
    results["downstream_bf16"] = {"markdown": part, **raw}
    log(f"compare-sampling from bf16 vectors: outside zero: {raw['outside'] or 'none'}")
    results["seconds"] = time.perf_counter() - t_start
    (out_dir / "gpu_check.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "gpu_check.md").write_text(render(results))
    print(render(results))
    with tarfile.open(out_dir / "logs.tar.gz", "w:gz") as tar:
        tar.add(logs, arcname="logs")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def write_goemotions_subset(src: Path, dest: Path, per_label: int = 40) -> None:
    """GoEmotions with at most `per_label` rows of each label field per split (every class
    keeps training rows), so that a rehearsal on 2 CPU cores embeds thousands, not 54k, texts."""
    dest.mkdir(parents=True)
    for f in src.iterdir():
        if f.suffix != ".tsv":
            shutil.copy2(f, dest / f.name)
            continue
        seen: dict[str, int] = {}
        keep = []
        for line in f.read_text(encoding="utf-8").split("\n"):
            if not line:
                continue
            label = line.split("\t")[1]
            if seen.get(label, 0) < per_label:
                seen[label] = seen.get(label, 0) + 1
                keep.append(line)
        (dest / f.name).write_text("\n".join(keep) + "\n", encoding="utf-8")


def min_cosine_st(a: Path, b: Path) -> float:
    """The lowest cosine between the vectors of two `emo embed` files."""
    from safetensors.numpy import load_file

    return bench_common.cosines(load_file(str(a))["embeddings"], load_file(str(b))["embeddings"])[0]


def mb(x) -> str:
    return "—" if x is None else f"{x:,.0f}"


def render(r: dict) -> str:
    lines = [f"# GPU check: emo `--device {r['device']}`"
             + (" (quick rehearsal)" if r["quick"] else ""), "",
             "MiniLM-shaped BERT, random weights (transformers, seed "
             f"{r['seed']}); same texts, same batch, same device for both sides. "
             "Peak MB: GPU memory in use while the process ran, above what was in use before it "
             "(nvidia-smi, polled every 0.1 s; CUDA context included; — where there is no "
             "nvidia-smi).", ""]
    rows = []
    for name, per in r["embed"].items():
        for b, x in per.items():
            rows.append([f"`{name}`", b, bench_common.fmt(x["texts"]), bench_common.fmt(x["emo_texts_per_s"]),
                         bench_common.fmt(x["st_texts_per_s"]), f"{x['ratio']:.2f}×",
                         mb(x["emo_gpu_peak_mb"]), mb(x["st_gpu_peak_mb"]), f"{x['min_cosine']:.7f}"])
    lines.append(bench_common.md_table(["input", "batch", "texts", "emo texts/s", "s-t texts/s",
                                 "emo/s-t", "emo peak MB", "s-t peak MB", "min cosine"], rows))
    arows = []
    for arch, per_input in r.get("arches", {}).items():
        for name, x in per_input.items():
            arows.append([arch, f"`{name}`", str(x["batch"]), bench_common.fmt(x["texts"]),
                          bench_common.fmt(x["emo_texts_per_s"]), bench_common.fmt(x["st_texts_per_s"]),
                          f"{x['emo_texts_per_s'] / x['st_texts_per_s']:.2f}×",
                          mb(x["emo_gpu_peak_mb"]), mb(x["st_gpu_peak_mb"]), f"{x['min_cosine']:.7f}"])
    if arows:
        lines += ["", "The other architectures emo runs, each a random folder of MiniLM's sizes "
                  "and tokenizer (`gpu_check.py make-model`), fp32:", "",
                  bench_common.md_table(["architecture", "input", "batch", "texts", "emo texts/s",
                                         "s-t texts/s", "emo/s-t", "emo peak MB", "s-t peak MB",
                                         "min cosine"], arows)]
    brows = []
    for prec, per_input in r.get("half", {}).items():
        for name, x in per_input.items():
            brows.append([prec, f"`{name}`", str(x["batch"]), bench_common.fmt(x["emo_fp32_texts_per_s"]),
                          bench_common.fmt(x["emo_half_texts_per_s"]), bench_common.fmt(x["st_fp32_texts_per_s"]),
                          bench_common.fmt(x["st_half_texts_per_s"]),
                          f"{x['emo_half_texts_per_s'] / x['emo_fp32_texts_per_s']:.2f}×",
                          f"{x['emo_half_texts_per_s'] / x['st_fp32_texts_per_s']:.2f}×",
                          f"{x['emo_half_texts_per_s'] / x['st_half_texts_per_s']:.2f}×",
                          f"{x['min_cosine_vs_fp32']:.6f}", f"{x['mean_cosine_vs_fp32']:.6f}"])
    if brows:
        lines += ["", "Half precision: emo `--precision P` and sentence-transformers under "
                  "`torch.autocast` to P, against the fp32 runs above; cosines of emo P against "
                  "emo fp32:", "",
                  bench_common.md_table(["P", "input", "batch", "emo fp32/s", "emo P/s", "s-t fp32/s",
                                  "s-t P/s", "emo P / emo fp32", "emo P / s-t fp32",
                                  "emo P / s-t P", "min cosine", "mean cosine"], brows)]
    d = r["device_vs_cpu"]
    lines += ["", f"emo on `{r['device']}` against emo on this machine's CPU, {d['texts']} texts: "
              f"lowest cosine {d['min_cosine']:.7f}. `--precision auto` chose "
              f"{r.get('auto_precision', '—')} on `{r['device']}`.", ""]
    g = r["goemotions_embed"]
    lines += [f"`emo embed --dataset goemotions` (every split, {g['computed']:,} texts computed): "
              f"{g['seconds']:.1f} s of embedding, {g['wall']:.1f} s for the whole command, "
              f"peak {mb(g['gpu_peak_mb'])} MB.", ""]
    hrows = []
    for dev, h in r["heads"].items():
        best = max(h["macro_f1"].items(), key=lambda kv: kv[1])
        hrows.append([f"`{dev}`", f"{h['head_seconds']:.1f}", f"{h['wall']:.1f}",
                      str(len(h["methods"])), f"{best[0]} {100 * best[1]:.1f}"])
    lines.append("`compare-sampling --dataset goemotions --seeds 1` on those cached vectors "
                 "(whole command: reading the cache, training, evaluating, writing the report):")
    lines += ["", bench_common.md_table(["device", "head training s", "command s", "methods",
                                  "best test macro-F1 (random encoder)"], hrows)]
    if "downstream_bf16" in r:
        lines += ["", "The same comparison from bf16 vectors computed on the device, against the "
                  "fp32 report above (random encoder, one seed; Δ = bf16 − fp32 in points, the "
                  "interval a paired bootstrap over the test texts):", "",
                  r["downstream_bf16"]["markdown"]]
    lines += ["", f"Whole check: {r['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["make-model"]:
        make_model(*argv[1:4])
        return 0
    if argv[:1] == ["many"]:
        # Several helper modes in one process: Python and torch start once.
        for one in json.loads(Path(argv[1]).read_text()):
            main(one)
        return 0
    if argv[:1] == ["make-modules"]:
        make_modules(argv[1:])
        return 0
    if argv[:1] == ["st-embed"]:
        rest, prompt_name = argv[1:], None
        if "--prompt-name" in rest:
            i = rest.index("--prompt-name")
            prompt_name = rest[i + 1]
            del rest[i:i + 2]
        st_embed(*rest[:6], prompt_name=prompt_name)
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("run")
    c.add_argument("--device", default="cuda")
    c.add_argument("--out", required=True)
    c.add_argument("--emo", default=str(ROOT / "target" / "release" / "emo"))
    c.add_argument("--home", default=str(ROOT / ".deps"), help="folder holding datasets/goemotions")
    c.add_argument("--shape", default=str(bench_common.MODEL_DIR),
                   help="MiniLM folder to take config and tokenizer files from (weights unused)")
    c.add_argument("--quick", action="store_true", help="fewer texts: a rehearsal on a CPU")
    args = p.parse_args(argv)
    return check(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
