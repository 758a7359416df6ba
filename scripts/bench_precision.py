"""Section 5 of `make bench` (scripts/bench.py): half precision.

Three questions, on the same texts and threads as the rest of the bench:

1. speed -- emo `--precision bf16` against emo fp32, Python sentence-transformers fp32 and
   sentence-transformers under `torch.autocast(bfloat16)` (the fair peer: Python's own
   half-precision path), on the `short` and `long` inputs of section 1. The four runs of a
   repetition are interleaved, their order rotated from one repetition to the next.
2. vectors -- the lowest and mean cosine of bf16 vectors against fp32: emo bf16 against the
   sentence-transformers fp32 parity fixture (tests/fixtures/parity_minilm.json), and emo bf16
   against emo fp32 on every GoEmotions and CARER test text.
3. downstream -- `emo compare-sampling` on GoEmotions and CARER from bf16 vectors against
   fp32 vectors (same seeds, same tuning): per method the macro-F1 difference, bf16 minus
   fp32, with a 95% paired-bootstrap interval over the test texts (first seed's predictions,
   2,000 resamples; both precisions scored on the same resampled texts).

Whether the CPU multiplies bfloat16 natively decides what the speed numbers mean: without
AVX-512 BF16 (or AMX) PyTorch emulates bf16 and both bf16 columns are several times slower
than fp32. The section says which case it measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import bench_common as B  # the helpers make bench shares (not bench.py itself: it imports this module)

ROOT = B.ROOT
FIXTURE = ROOT / "tests" / "fixtures" / "parity_minilm.json"
DATASETS = ("goemotions", "carer")
RESAMPLES = 2000
SIDES = ("emo-fp32", "py-fp32", "emo-bf16", "py-bf16")


def native_bf16() -> dict:
    """What this CPU offers for bf16: the kernel's flags and whether oneDNN uses them."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    found = sorted(f for f in flags if f in ("avx512_bf16", "amx_bf16", "avx_ne_convert"))
    onednn = None
    capability = None
    try:
        import torch

        onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        capability = torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001 -- a diagnostic; absence is reported as unknown
        pass
    return {"cpu_flags": found, "onednn_bf16": onednn, "torch_cpu_capability": capability,
            "native": bool(found) or bool(onednn)}


def load(path: Path, name: str = "embeddings"):
    from safetensors.numpy import load_file

    return load_file(str(path))[name]


def run_side(r: B.Runner, args, w: Path, name: str, path: Path, side: str,
             encoder: str = B.MODEL_DIR.name) -> tuple[dict, object]:
    """One timed embedding run of the installed `encoder`: (its numbers, its vectors)."""
    import numpy as np

    who, precision = side.split("-")
    if who == "emo":
        st = w / f"prec-{name}-{side}.safetensors"
        res = r.run_emo(f"prec-{name}-{side}", "embed", "--input", str(path), "--no-cache",
                        "--batch-size", str(args.batch_size), "--precision", precision,
                        "--encoder", encoder, "--out", str(st))
        stats = B.read_sidecar(st)["stats"]
        vectors = load(st)
        st.unlink(missing_ok=True)
        st.with_suffix(".json").unlink(missing_ok=True)
        return {"seconds": stats["seconds"], "texts_per_s": stats["computed"] / stats["seconds"],
                "wall": res["wall"], "rss_mb": res["rss_mb"]}, vectors
    npy = w / f"prec-{name}-{side}.npy"
    res = r.run_py(f"prec-{name}-{side}", "_py-embed", str(path), str(npy), str(args.threads),
                   str(args.batch_size), args.device, precision, str(B.DEPS / "models" / encoder))
    j = res["json"]
    vectors = np.load(npy)
    npy.unlink(missing_ok=True)
    return {"seconds": j["seconds"], "texts_per_s": j["texts"] / j["seconds"],
            "wall": res["wall"], "rss_mb": res["rss_mb"]}, vectors


def speed(r: B.Runner, args, w: Path, encoder: str = B.MODEL_DIR.name,
          sizes: tuple[int, int] | None = None) -> tuple[str, list, dict]:
    """The four sides on the `short` and `long` inputs; `sizes` caps their text counts
    (a base-size encoder runs about eight times slower than MiniLM)."""
    test = B.dedupe(B.goemotions_texts("test"))
    n_short = 300 if args.quick else len(test)
    n_long = 48 if args.quick else 300
    if sizes:
        n_short, n_long = min(n_short, sizes[0]), min(n_long, sizes[1])
    inputs = {"short": test[:n_short], "long": B.make_long(test, n_long)}
    raw, rows, cos_rows = {}, [], []
    for name, texts in inputs.items():
        path = w / f"prec-{name}.txt"
        B.write_lines(path, texts)
        reps = []
        for rep in range(args.reps):
            order = SIDES[rep % len(SIDES):] + SIDES[:rep % len(SIDES)]
            one, vec = {}, {}
            for side in order:
                one[side], vec[side] = run_side(r, args, w, name, path, side, encoder)
                B.log(f"precision: {name} rep {rep + 1}/{args.reps} {side}: "
                      f"{one[side]['texts_per_s']:.1f} texts/s")
            one["emo_bf16_vs_emo_fp32"] = B.cosines(vec["emo-bf16"], vec["emo-fp32"])
            one["py_bf16_vs_py_fp32"] = B.cosines(vec["py-bf16"], vec["py-fp32"])
            one["emo_bf16_vs_py_fp32"] = B.cosines(vec["emo-bf16"], vec["py-fp32"])
            one["emo_fp32_vs_py_fp32"] = B.cosines(vec["emo-fp32"], vec["py-fp32"])
            reps.append(one)
        tps = {s: B.median(x[s]["texts_per_s"] for x in reps) for s in SIDES}
        raw[name] = {"texts": len(texts), "reps": reps, "texts_per_s": tps}
        rows.append([
            f"`{name}`", B.fmt(len(texts)),
            *(B.fmt(tps[s]) for s in SIDES),
            f"**{B.fmt(B.ratio(tps['emo-fp32'], tps['py-fp32']), 2)}×**",
            f"{B.fmt(B.ratio(tps['emo-bf16'], tps['emo-fp32']), 2)}×",
            f"**{B.fmt(B.ratio(tps['emo-bf16'], tps['py-fp32']), 2)}×**",
            f"**{B.fmt(B.ratio(tps['emo-bf16'], tps['py-bf16']), 2)}×**",
            f"{B.fmt(B.ratio(tps['py-bf16'], tps['py-fp32']), 2)}×",
        ])
        for key, what in (("emo_fp32_vs_py_fp32", "emo fp32 against s-t fp32"),
                          ("emo_bf16_vs_emo_fp32", "emo bf16 against emo fp32"),
                          ("py_bf16_vs_py_fp32", "s-t bf16 autocast against s-t fp32"),
                          ("emo_bf16_vs_py_fp32", "emo bf16 against s-t fp32")):
            lo = min(x[key][0] for x in reps)
            mean = reps[0][key][1]
            cos_rows.append([f"`{name}` (section 1's input{', first texts' if sizes else ''})", what, B.fmt(len(texts)),
                             f"{lo:.6f}", f"{mean:.6f}"])
    table = B.md_table(
        ["input", "texts", "emo fp32/s", "s-t fp32/s", "emo bf16/s", "s-t bf16/s",
         "emo fp32 ÷ s-t fp32", "emo bf16 ÷ emo fp32", "emo bf16 ÷ s-t fp32", "emo bf16 ÷ s-t bf16", "s-t bf16 ÷ s-t fp32"],
        rows)
    text = (
        f"Texts per second (embedding loop only, as in section 1; {B.reps_text(args.reps).lower()}, "
        "the four runs of each repetition interleaved in rotating order). s-t bf16: "
        "`SentenceTransformer.encode` under `torch.autocast(\"cpu\", dtype=torch.bfloat16)`.\n\n"
        + table
    )
    return text, cos_rows, raw


def fixture_cosines(r: B.Runner, args, w: Path) -> tuple[list, dict]:
    # JSONL keeps the fixture's texts with line breaks in them; the blank ones, which
    # emo's file readers refuse as bad rows, are left out here (tests/precision.rs
    # holds all of them through the library).
    items = [i for i in json.loads(FIXTURE.read_text())["items"] if i["text"].strip()]
    path = w / "prec-fixture.jsonl"
    path.write_text("".join(json.dumps({"text": i["text"]}) + "\n" for i in items), encoding="utf-8")
    ref = [i["embedding"] for i in items]
    out, rows = {}, []
    for precision in ("fp32", "bf16"):
        st = w / f"prec-fixture-{precision}.safetensors"
        r.run_emo(f"prec-fixture-{precision}", "embed", "--input", str(path), "--no-cache",
                  "--precision", precision, "--out", str(st))
        out[precision] = B.cosines(load(st), ref)
        rows.append(["parity fixture (sentence-transformers fp32)", f"emo {precision}",
                     B.fmt(len(items)), f"{out[precision][0]:.6f}", f"{out[precision][1]:.6f}"])
    return rows, out


def paired_bootstrap(y, a, b, n_classes: int, seed: int = 0):
    """macro-F1 of predictions a and b on the same resamples of the test texts: the
    estimate and 95% percentile interval of F1(b) - F1(a). Macro-F1 as scikit-learn: over
    the classes present in the labels or the predictions of that resample, 0 where a class
    is predicted but absent (zero_division=0)."""
    import numpy as np

    y, a, b = (np.asarray(v) for v in (y, a, b))
    n = len(y)
    eye = np.eye(n_classes)
    Y = eye[y]
    rng = np.random.default_rng(seed)
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(RESAMPLES)])
    weights = np.vstack([np.ones(n), weights]).astype(np.float64)  # row 0: the full test set

    def macro(p):
        P = eye[p]
        tp = weights @ (Y * P)
        denom = weights @ Y + weights @ P
        present = denom > 0
        f1 = np.where(present, 2 * tp / np.where(present, denom, 1), 0.0)
        return f1.sum(1) / present.sum(1)

    fa, fb = macro(a), macro(b)
    d = fb - fa
    lo, hi = np.percentile(d[1:], [2.5, 97.5])
    return float(fa[0]), float(fb[0]), float(d[0]), float(lo), float(hi)


def read_predictions(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = {h: [r[i] for r in body] for i, h in enumerate(header)}
    return header, cols


DIAGNOSTICS = {"validation", "gradient_max", "iterations", "converged", "tuned_on_seed"}


def chosen_settings(x):
    """What the tuner chose (metrics.json `chosen`), without the scores it chose by, its
    trials and curves (lists), or the optimiser's diagnostics."""
    if isinstance(x, dict):
        return {k: chosen_settings(v) for k, v in x.items()
                if k not in DIAGNOSTICS and not isinstance(v, list)}
    return x


def compare_reports(dir32: Path, dir16: Path, name: str) -> tuple[str, dict]:
    """Two compare-sampling reports of the same data, one from fp32 vectors and one from
    bf16: per method the macro-F1 of each (mean of seeds), the difference, its paired
    bootstrap interval on the first seed's predictions, whether the tuner chose the same
    settings and how often the labels agree. Returns (markdown, raw)."""
    reports = {}
    for precision, out in (("fp32", dir32), ("bf16", dir16)):
        metrics = json.loads((out / "metrics.json").read_text())
        if metrics.get("precision", "fp32") != precision:
            raise B.BenchError(f"{out}/metrics.json says precision {metrics.get('precision')}, "
                               f"not {precision}")
        reports[precision] = (metrics, read_predictions(out / "predictions.csv"))
    (m32, (h32, p32)), (m16, (h16, p16)) = reports["fp32"], reports["bf16"]
    if p32["id"] != p16["id"] or p32["true"] != p16["true"] or h32 != h16:
        raise B.BenchError(f"{name}: the two reports' predictions.csv do not line up")
    classes = m32["classes"]
    index = {c: i for i, c in enumerate(classes)}
    y = [index[c] for c in p32["true"]]
    rows, per_method, outside = [], {}, []
    for method in h32[2:]:
        runs32, runs16 = m32["methods"][method]["runs"], m16["methods"][method]["runs"]
        f32 = [x["test"]["macro avg"]["f1-score"] for x in runs32]
        f16 = [x["test"]["macro avg"]["f1-score"] for x in runs16]
        a32, b16, d, lo_d, hi_d = paired_bootstrap(
            y, [index[c] for c in p32[method]], [index[c] for c in p16[method]], len(classes))
        if abs(a32 - f32[0]) > 1e-9 or abs(b16 - f16[0]) > 1e-9:
            raise B.BenchError(f"{name} {method}: macro-F1 from predictions.csv ({a32:.6f}, "
                               f"{b16:.6f}) differs from metrics.json ({f32[0]:.6f}, {f16[0]:.6f})")
        inside = lo_d <= 0 <= hi_d
        if not inside:
            outside.append(method)
        same = chosen_settings(runs32[0].get("chosen")) == chosen_settings(runs16[0].get("chosen"))
        agree = sum(p == q for p, q in zip(p32[method], p16[method])) / len(y)
        mean32, mean16 = sum(f32) / len(f32), sum(f16) / len(f16)
        per_method[method] = {"fp32": f32, "bf16": f16, "first_seed_difference": d,
                              "ci95": [lo_d, hi_d], "zero_inside": inside,
                              "same_choice": same, "prediction_agreement": agree}
        rows.append([f"`{method}`", f"{100 * mean32:.2f}", f"{100 * mean16:.2f}",
                     f"{100 * (mean16 - mean32):+.2f}", f"{100 * d:+.2f}",
                     f"{100 * lo_d:+.2f} to {100 * hi_d:+.2f}", "yes" if inside else "**no**",
                     "yes" if same else "no", f"{100 * agree:.1f}%"])
    rec = (m32.get("recommended") or {}).get("method"), (m16.get("recommended") or {}).get("method")
    seeds = len(m32.get("seeds") or [1])
    verdict = ("Every method's difference is inside its interval of zero." if not outside else
               f"Outside its interval of zero: {', '.join(f'`{m}`' for m in outside)}.")
    part = (
        f"**{name}** ({len(y):,} test texts; {seeds} seed{'s' if seeds != 1 else ''}; "
        f"recommended on validation: `{rec[0]}` from fp32, `{rec[1]}` from bf16). {verdict}\n\n"
        + B.md_table(["method", "fp32 macro-F1 %", "bf16 macro-F1 %", "Δ mean of seeds",
                      "Δ first seed", "95% CI (paired bootstrap)", "0 inside",
                      "same tuned settings", "same label"], rows))
    return part, {"methods": per_method, "recommended": {"fp32": rec[0], "bf16": rec[1]},
                  "outside": outside}


def downstream(r: B.Runner, args, w: Path) -> tuple[list, str, dict]:
    raw, cos_rows, parts = {}, [], []
    seeds = "1" if args.quick else "3"
    for ds in DATASETS:
        vec = {}
        for precision in ("fp32", "bf16"):
            st = w / f"prec-{ds}-{precision}.safetensors"
            B.log(f"precision: emo embed --dataset {ds} --precision {precision} (the default cache; "
                  "bf16 on a CPU without native bf16 is slow when the cache is cold) ...")
            res = r.run_emo(f"prec-{ds}-embed-{precision}", "embed", "--dataset", ds,
                            "--precision", precision, "--batch-size", str(args.batch_size),
                            "--out", str(st))
            stats = B.read_sidecar(st)["stats"]
            if stats.get("computed"):
                B.log(f"precision: {ds} {precision}: {stats['computed']:,} texts embedded "
                      f"({res['wall']:.0f} s)")
            vec[precision] = load(st, "test.embeddings")
            st.unlink(missing_ok=True)
        lo, mean = B.cosines(vec["bf16"], vec["fp32"])
        cos_rows.append([f"{ds} test", "emo bf16 against emo fp32", B.fmt(len(vec["fp32"])),
                         f"{lo:.6f}", f"{mean:.6f}"])
        reports = {}
        for precision in ("fp32", "bf16"):
            out = w / f"prec-{ds}-compare-{precision}"
            r.run_emo(f"prec-{ds}-compare-{precision}", "compare-sampling", "--dataset", ds,
                      "--seeds", seeds, "--precision", precision, "--batch-size",
                      str(args.batch_size), "--out", str(out))
            reports[precision] = out
        part, raw[ds] = compare_reports(reports["fp32"], reports["bf16"], ds)
        raw[ds]["seeds"] = int(seeds)
        parts.append(part)
    text = (
        "macro-F1 (%) of every method trained on fp32 vectors and on bf16 vectors of the same "
        "texts, with the same seeds and the same `--tune` search, each choosing on its own "
        "validation scores. Δ = bf16 − fp32 in points. The interval resamples the test texts "
        f"{RESAMPLES:,} times and scores the first seed's fp32 and bf16 predictions on the same "
        "resample. `same tuned settings`: the first seed chose the same hyper-parameters from "
        "both; `same label`: how often the two first-seed heads give a test text the same label.\n\n"
        + "\n\n".join(parts)
    )
    return cos_rows, text, raw


def section_precision(r: B.Runner, args, w: Path) -> dict:
    hw = native_bf16()
    if hw["native"]:
        where = (f"This CPU has native bf16 ({', '.join(hw['cpu_flags']) or 'oneDNN says so'}): "
                 "the speed columns measure the real thing.")
    else:
        where = ("**This CPU has no native bf16** (no avx512_bf16 or amx_bf16 flag; oneDNN bf16: "
                 f"{hw['onednn_bf16']}; PyTorch's CPU capability: {hw['torch_cpu_capability']}). "
                 "PyTorch emulates bf16 here, so both bf16 columns are slower than fp32, for emo "
                 "and for Python alike; they say nothing about a CPU with AVX-512 BF16 or AMX. "
                 "The cosines and the downstream effect do not depend on it: the bf16 arithmetic "
                 "is the same, only slower.")
    speed_text, speed_rows, speed_raw = speed(r, args, w)
    fix_rows, fix_raw = fixture_cosines(r, args, w)
    if args.quick:
        ds_rows, ds_text, ds_raw = [], "Not run with `--quick` (it embeds GoEmotions and CARER in bf16).", {}
    else:
        ds_rows, ds_text, ds_raw = downstream(r, args, w)
    cos_table = B.md_table(["texts", "vectors", "count", "lowest cosine", "mean cosine"],
                           fix_rows + speed_rows + ds_rows)
    text = (
        where + "\n\n### Speed\n\n" + speed_text
        + "\n\n### Vectors: bf16 against fp32\n\n" + cos_table
        + "\n\n### Downstream: compare-sampling from bf16 vectors\n\n" + ds_text
    )
    return {"markdown": text, "raw": {"hardware": hw, "speed": speed_raw, "fixture": fix_raw,
                                      "downstream": ds_raw}}
