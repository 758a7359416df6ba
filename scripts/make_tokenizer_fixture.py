#!/usr/bin/env python3
"""Generate the tokenizer fixtures of tests/tokenizer.rs: token ids from Python for
emo's tokenizer (src/embed/tokenizer.rs) to match id for id.

Writes into tests/fixtures/tokenizers/:

- minilm_ids.json: for all-MiniLM-L6-v2, the ids sentence-transformers feeds the
  model (its `preprocess`, truncated at max_seq_length = 256, [CLS]/[SEP] included)
  for the texts of scripts/make_parity_fixture.py plus non-English texts (German,
  Chinese, Arabic, emoji, and long ones that truncate). The script checks that
  transformers' AutoTokenizer and the plain `tokenizers` library give the same ids.
- bpe_tokenizer.json and unigram_tokenizer.json: two small tokenizers trained here
  with the `tokenizers` package on those texts: a RoBERTa-style byte-level BPE
  (<s> … </s>, RobertaProcessing) and an XLM-R-style Unigram (NFKC, Metaspace,
  <s> … </s>). Small vocabularies keep them a few KB; unknown characters must still
  come out as <unk> in emo exactly as in Python.
- bpe_ids.json and unigram_ids.json: their ids for the same texts, truncated at
  MAX_SMALL = 48 tokens in all, from `tokenizers` and from transformers'
  PreTrainedTokenizerFast (which is what sentence-transformers runs); the script
  checks the two agree.

Reproduce (from the repository root, after scripts/setup.sh):

    .deps/py/bin/python scripts/make_tokenizer_fixture.py

The fixtures were generated with the versions recorded in each ids file. A rerun
gives identical MiniLM and BPE files; Unigram training is not deterministic (ties among
pieces fall differently run to run), so a rerun writes a different but equally valid
Unigram pair (tokenizer and its ids together): commit both files or neither.
"""

import importlib.util
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import AutoTokenizer, PreTrainedTokenizerFast  # noqa: E402

transformers.logging.set_verbosity_error()

MODEL_DIR = ".deps/models/all-MiniLM-L6-v2"
OUT_DIR = "tests/fixtures/tokenizers"
MAX_SEQ_LENGTH = 256
MAX_SMALL = 48


def parity_texts() -> list:
    """The texts of the embedding parity fixture (loaded without running its main)."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("parity", os.path.join(here, "make_parity_fixture.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return list(mod.TEXTS)


_GERMAN = (
    "Ich habe mich sehr über deinen Brief gefreut, aber die Nachricht über die "
    "Kündigung hat mich traurig und wütend gemacht. "
)
_CHINESE = "今天的天气很好，但是我的心情非常糟糕，因为考试没有通过。"
_ARABIC = "أشعر بالحزن الشديد لأنني فقدت صديقي العزيز، لكنني ممتن لكل اللحظات الجميلة. "

EXTRA_TEXTS = [
    "Ich bin heute so glücklich, dass ich tanzen möchte!",
    "Das ist wirklich ärgerlich – warum hört mir niemand zu?",
    "我很生气，他们怎么能这样对待我们？",
    "谢谢你的帮助，我非常感激。",
    "لا أصدق أنك فعلت هذا من أجلي، شكرا جزيلا!",
    "مرحبا بالعالم 123",
    "🥲🙃🫠 mixed 😭 emotions 💔➡️❤️‍🩹",
    "👩🏾‍💻 coding at 3am ☕️☕️☕️",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ ①②③ ﬁ ligature",
    "Hello [MASK] and [CLS] inside text [SEP] <s> </s> <pad> <mask>",
    "  two  spaces   and\ttabs\n\nnewlines  ",
    # long non-English texts that truncate at every length in use
    _GERMAN * 20,
    _CHINESE * 20,
    _ARABIC * 20,
    ("emoji 😀🎉👍🏽 " * 80).strip(),
]


def ids_file(path: str, head: dict, items: list) -> None:
    """One item per line, so that a diff of the fixture stays readable."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1])
        f.write(',"items":[\n')
        for i, item in enumerate(items):
            f.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
            f.write(",\n" if i + 1 < len(items) else "\n")
        f.write("]}\n")


def versions() -> dict:
    return {
        "tokenizers": tokenizers.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
    }


def minilm(texts: list) -> None:
    model = SentenceTransformer(MODEL_DIR, device="cpu")
    if model.max_seq_length != MAX_SEQ_LENGTH:
        raise SystemExit(f"unexpected max_seq_length {model.max_seq_length}")
    st_preprocess = getattr(model, "preprocess", None) or model.tokenize
    auto = AutoTokenizer.from_pretrained(MODEL_DIR)
    plain = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    plain.no_padding()
    plain.enable_truncation(max_length=MAX_SEQ_LENGTH)
    items = []
    for text in texts:
        st_ids = st_preprocess([text])["input_ids"][0].tolist()
        auto_ids = auto(text, truncation=True, max_length=MAX_SEQ_LENGTH)["input_ids"]
        plain_ids = plain.encode(text).ids
        if not (st_ids == auto_ids == plain_ids):
            raise SystemExit(f"MiniLM: Python tokenizers disagree on {text!r}")
        items.append({"text": text, "input_ids": st_ids})
    if not any(len(i["input_ids"]) == MAX_SEQ_LENGTH for i in items):
        raise SystemExit("no MiniLM text reaches the truncation")
    head = {
        "generator": "scripts/make_tokenizer_fixture.py",
        "model": "all-MiniLM-L6-v2",
        "versions": versions(),
        "max_length": MAX_SEQ_LENGTH,
    }
    ids_file(os.path.join(OUT_DIR, "minilm_ids.json"), head, items)


def train_bpe(texts: list) -> Tokenizer:
    """RoBERTa's layout: byte-level BPE, <s> … </s>, <mask> eating the space before it."""
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=330,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")),
        ("<s>", tok.token_to_id("<s>")),
        trim_offsets=True,
        add_prefix_space=False,
    )
    return tok


def train_unigram(texts: list) -> Tokenizer:
    """XLM-R's layout (without its precompiled sentencepiece normaliser): NFKC and
    collapsed spaces, Metaspace, Unigram with <unk>, <s> … </s>."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(tokenizers.Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=260,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        unk_token="<unk>",
        max_piece_length=8,
        show_progress=False,
    )
    # A small alphabet: only the Latin texts train it, so CJK, Arabic and emoji
    # meet the unknown token.
    tok.train_from_iterator([t for t in texts if t.isascii()], trainer=trainer)
    tok.add_special_tokens([tokenizers.AddedToken("<mask>", lstrip=True, special=True)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    return tok


def small(name: str, tok: Tokenizer, texts: list) -> None:
    path = os.path.join(OUT_DIR, f"{name}_tokenizer.json")
    # Written compact: one line a vocabulary is what keeps the file a few KB.
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(tok.to_str(pretty=False))
        f.write("\n")
    plain = Tokenizer.from_file(path)
    plain.no_padding()
    plain.enable_truncation(max_length=MAX_SMALL)
    fast = PreTrainedTokenizerFast(tokenizer_file=path)
    items = []
    for text in texts:
        plain_ids = plain.encode(text).ids
        fast_ids = fast(text, truncation=True, max_length=MAX_SMALL)["input_ids"]
        if plain_ids != fast_ids:
            raise SystemExit(f"{name}: tokenizers and transformers disagree on {text!r}")
        items.append({"text": text, "input_ids": plain_ids})
    if not any(len(i["input_ids"]) == MAX_SMALL for i in items):
        raise SystemExit(f"{name}: no text reaches the truncation")
    unk = plain.token_to_id("<unk>")
    if name == "unigram" and not any(unk in i["input_ids"] for i in items):
        raise SystemExit("unigram: no text meets the unknown token")
    head = {
        "generator": "scripts/make_tokenizer_fixture.py",
        "tokenizer": f"{name}_tokenizer.json",
        "versions": versions(),
        "max_length": MAX_SMALL,
        "pad_id": plain.token_to_id("<pad>"),
    }
    ids_file(os.path.join(OUT_DIR, f"{name}_ids.json"), head, items)


def main() -> None:
    os.makedirs(OUT_DIR, exist_ok=True)
    texts = parity_texts() + EXTRA_TEXTS
    minilm(texts)
    small("bpe", train_bpe(texts), texts)
    small("unigram", train_unigram(texts), texts)
    print(f"wrote {OUT_DIR}: {len(texts)} texts", file=sys.stderr)


if __name__ == "__main__":
    main()
