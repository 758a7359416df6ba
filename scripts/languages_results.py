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
transfer = {(e, l): best(f"transfer-{l}-{e}") for e, _ in ENCODERS for l, _ in LANGS[1:]}
models = pairs["models"]


def three(e: str, l: str, cut: str) -> str:
    """The mean macro-F1 of a cut's three models, and their range."""
    v = [models[f"{e} {l}"][f"without-{cut}{s}"] for s in ["", "-1", "-2"]]
    return f"{sum(v) / 3:.3f} ({min(v):.3f}–{max(v):.3f})"

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
    "(above). Then the English model trained without the 5 English lines nearest by margin "
    "score to each test text (\"− parallel\"), and without as many English lines drawn at random "
    "(\"− random\", the control for less data), three times each (training seeds 0, 1, 2; three "
    "random draws): their mean macro-F1 (range), and the paired difference of the two means.\n",
    "| encoder | language | in the language | English → | English − parallel → | English − random → | parallel − random, points |",
    "|---|---|---|---|---|---|---|",
]
for e, ename in ENCODERS:
    for l, words in LANGS[1:]:
        out.append(
            f"| {ename} | {words} | {f(study[(e, l)])} | {f(transfer[(e, l)])} | {three(e, l, 'parallel')} "
            f"| {three(e, l, 'random')} | {points(pair[(e, l, 'without-parallel', 'without-random')])} |"
        )
langs = parallel["languages"]
rank1 = ", ".join(f"{w} {100 * langs[l]['same_labels_by_rank'][0]:.0f}%" for l, w in LANGS[1:])
rank20 = max(langs[l]["same_labels_by_rank"][-1] for l, _ in LANGS[1:])
removed = ", ".join(f"{w} {langs[l]['english_lines_removed']:,}" for l, w in LANGS[1:])
control = [p for p in pairs["pairs"] if (p["a"], p["b"]) == ("without-parallel", "without-random")]
names = {k: v for k, v in ENCODERS} | {k: v for k, v in LANGS}
listed = lambda ps: ", ".join(f"{names[p['language']]} {points(p)}" for p in ps)
e5 = [p for p in control if p["encoder"] == "e5q4"]
mini = [p for p in control if p["encoder"] == "minilm"]
if all(p["estimate"] <= 0 for p in e5):
    worst = -min(p["estimate"] for p in e5)
    gap = min(transfer[("e5q4", l)]["estimate"] - transfer[("minilm", l)]["estimate"] for l, _ in LANGS[1:])
    said_e5 = (
        f"For the multilingual encoder it cost up to {100 * worst:.1f} points more than removing "
        f"as many random lines ({listed(e5)}): translations of the test texts in the English "
        f"training data may add about that much to its transfer numbers above, small against the "
        f"{100 * gap:.0f} points or more it holds over MiniLM there."
    )
else:
    said_e5 = f"For the multilingual encoder, parallel − random: {listed(e5)}."
signs = {p["estimate"] > 0 for p in mini if p["lo"] > 0 or p["hi"] < 0}
if signs == {True, False}:
    said_mini = (
        f"With MiniLM, which barely transfers, differences as large run both ways "
        f"({listed(mini)}): another set of removed lines moves a model by that much too, beyond "
        f"what intervals over test texts show."
    )
else:
    said_mini = f"With MiniLM: {listed(mini)}."
verdict = (
    f"{said_e5} {said_mini} The check has limits: there is no alignment to remove exactly the "
    f"translations (the 5 nearest lines are a proxy that can miss some and also removes lines "
    f"that are merely alike), and the intervals are over test texts only."
)
out += [
    "",
    f"Why the control: the nearest English line (by margin, on the multilingual encoder) of a "
    f"line in another language carries exactly its labels far more often than chance — "
    f"{rank1} of the lines, against {100 * parallel['same_labels_at_random']:.1f}% for two "
    f"English lines drawn at random and at most {100 * rank20:.0f}% for the 20th nearest — "
    f"because the German, Spanish and French files are English annotations projected onto "
    f"translations, and the Finnish subtitles come from many of the same films. Removing those "
    f"neighbours ({removed} English lines) is the control. {verdict}\n",
]
replace_block(ROOT / "docs" / "encoders.md", "languages", "\n".join(out))

fi_m, fi_e = study[("minilm", "fi")], study[("e5q4", "fi")]
tr = ", ".join(f"{w} {transfer[('e5q4', l)]['estimate']:.2f}" for l, w in LANGS[1:])
tr_m = [transfer[("minilm", l)]["estimate"] for l, _ in LANGS[1:]]
readme = (
    f"On XED's Finnish subtitles the multilingual encoder reaches macro-F1 {f(fi_e)} against "
    f"MiniLM's {f(fi_m)}, and a head trained on English alone transfers to {tr} "
    f"(MiniLM: {min(tr_m):.2f}–{max(tr_m):.2f}), up to "
    f"{100 * max(0.0, -min(p['estimate'] for p in e5)):.1f} points of it possibly from "
    f"translations of the test lines among XED's English ones "
    f"([docs/encoders.md](docs/encoders.md#other-languages)).\n"
)
replace_block(ROOT / "README.md", "languages", readme)
