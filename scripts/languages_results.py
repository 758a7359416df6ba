#!/usr/bin/env python3
"""Copy the committed XED studies (reports/reference/languages/) into the documentation, so
the numbers people read never drift from the reports. Run by scripts/xed_languages.sh
(`make reference-languages`) after it regenerates them.

- docs/encoders.md, between <!-- languages:begin --> and <!-- languages:end -->: in-language
  results with both encoders, English → other-language transfer, the parallel-text control.
- README.md, between <!-- languages:begin --> and <!-- languages:end -->: one sentence.

Python standard library only."""
import json
import pathlib

from doc_blocks import replace_block

ROOT = pathlib.Path(__file__).resolve().parent.parent
REF = ROOT / "reports" / "reference" / "languages"
LANGS = [("en", "English"), ("fi", "Finnish"), ("de", "German"), ("es", "Spanish"), ("fr", "French")]
ENCODERS = [("minilm", "all-MiniLM-L6-v2"), ("e5q4", "multilingual-e5-small-q4")]


def best(name: str) -> dict:
    m = json.loads((REF / name / "metrics.json").read_text())
    method = m["recommended"]["method"]
    iv = m["methods"][method]["bootstrap"]["intervals"]["macro-f1"]
    return {"method": method, **iv, "train": m["train_texts"]["all"]}


def f(r: dict) -> str:
    return f"{r['estimate']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}]"


def points_plain(v: float) -> str:
    return f"{100 * v:+.1f}".replace("-", "−")


def points(p: dict) -> str:
    s = lambda v: f"{100 * v:+.1f}".replace("-", "−")
    bold = p["lo"] > 0 or p["hi"] < 0
    text = f"{s(p['estimate'])} [{s(p['lo'])}, {s(p['hi'])}]"
    return f"**{text}**" if bold else text


pairs = json.loads((REF / "pairs.json").read_text())
parallel = json.loads((REF / "parallel.json").read_text())
inlang = {p["language"]: p for p in pairs["in_language"]}
pair = {(p["encoder"], p["language"], p["a"], p["b"]): p for p in pairs["pairs"]}
study = {(e, l): best(f"xed-{l}-{e}") for e, _ in ENCODERS for l, _ in LANGS}
transfer = {
    (e, l, cut): best(f"transfer-{l}{'' if cut == 'all' else '-' + cut}-{e}")
    for e, _ in ENCODERS
    for l, _ in LANGS[1:]
    for cut in ["all", "without-parallel", "without-random"]
}

out = [
    "**In each language** — the multi-label study (`emo compare-sampling --dataset xed-L`, 3 seeds), "
    "the method validation chose and its test macro-F1 with its 95% bootstrap interval; the last "
    "column is the paired difference over the same test texts (first seed's predictions; bold: "
    "the interval excludes zero).\n",
    "| language | training texts | all-MiniLM-L6-v2 | multilingual-e5-small-q4 | e5 − MiniLM, points |",
    "|---|---|---|---|---|",
]
for l, words in LANGS:
    a, b = study[("minilm", l)], study[("e5q4", l)]
    out.append(
        f"| {words} (`xed-{l}`) | {a['train']:,} | {f(a)} `{a['method']}` | {f(b)} `{b['method']}` | {points(inlang[l])} |"
    )
out += [
    "",
    "**English → other language** — a model trained on every English line (the method the "
    "English study chose; 10% of the lines for its validation), evaluated with `emo evaluate "
    "--dataset xed-L` on the language's test split, beside the model trained in that language "
    "(above). Then the same English model trained without the 5 English lines nearest by margin "
    "score to each test text (\"− parallel\"), and without as many English lines drawn at random "
    "(\"− random\", the control for less data); the last column is their paired difference.\n",
    "| encoder | language | in the language | English → | English − parallel → | English − random → | parallel − random, points |",
    "|---|---|---|---|---|---|---|",
]
for e, ename in ENCODERS:
    for l, words in LANGS[1:]:
        t = lambda cut: transfer[(e, l, cut)]
        out.append(
            f"| {ename} | {words} | {f(study[(e, l)])} | {f(t('all'))} | {f(t('without-parallel'))} "
            f"| {f(t('without-random'))} | {points(pair[(e, l, 'without-parallel', 'without-random')])} |"
        )
langs = parallel["languages"]
rank1 = ", ".join(f"{w} {100 * langs[l]['same_labels_by_rank'][0]:.0f}%" for l, w in LANGS[1:])
rank20 = max(langs[l]["same_labels_by_rank"][-1] for l, _ in LANGS[1:])
removed = ", ".join(f"{w} {langs[l]['english_lines_removed']:,}" for l, w in LANGS[1:])
control = [p for p in pairs["pairs"] if (p["a"], p["b"]) == ("without-parallel", "without-random")]
apart = [p for p in control if p["lo"] > 0 or p["hi"] < 0]
if not apart:
    lo = min(p["lo"] for p in control)
    hi = max(p["hi"] for p in control)
    verdict = (
        "made no difference we could detect against removing as many random lines: every "
        f"parallel − random interval holds zero (all within {points_plain(lo)} to "
        f"{points_plain(hi)} points). So translations of the test texts in the English training "
        "data do not visibly inflate the transfer numbers. The check has limits: there is no "
        "alignment to remove exactly the translations (the 5 nearest lines are a proxy that can "
        "miss some and also removes lines that are merely alike), and each model is trained once, so training variance is "
        "not in the intervals."
    )
else:
    names = {k: v for k, v in ENCODERS} | {k: v for k, v in LANGS}
    verdict = "differs from removing as many random lines for " + ", ".join(
        f"{names[p['encoder']]} in {names[p['language']]} ({points(p)})" for p in apart
    ) + "; there translations of the test texts in the English training data move the transfer number."
out += [
    "",
    f"Why the control: the nearest English line (by margin, on the multilingual encoder) of a "
    f"line in another language carries exactly its labels far more often than chance — "
    f"{rank1} of the lines, against {100 * parallel['same_labels_at_random']:.1f}% for two "
    f"English lines drawn at random and at most {100 * rank20:.0f}% for the 20th nearest — "
    f"because the German, Spanish and French files are English annotations projected onto "
    f"translations, and the Finnish subtitles come from many of the same films. Removing those "
    f"neighbours ({removed} English lines) {verdict}\n",
]
replace_block(ROOT / "docs" / "encoders.md", "languages", "\n".join(out))

fi_m, fi_e = study[("minilm", "fi")], study[("e5q4", "fi")]
tr = ", ".join(f"{w} {transfer[('e5q4', l, 'all')]['estimate']:.2f}" for l, w in LANGS[1:])
tr_m = [transfer[("minilm", l, "all")]["estimate"] for l, _ in LANGS[1:]]
readme = (
    f"On XED's Finnish subtitles the multilingual encoder reaches macro-F1 {f(fi_e)} against "
    f"MiniLM's {f(fi_m)}, and a head trained on English alone transfers to {tr} "
    f"(MiniLM: {min(tr_m):.2f}–{max(tr_m):.2f}); [docs/encoders.md](docs/encoders.md#other-languages).\n"
)
replace_block(ROOT / "README.md", "languages", readme)
