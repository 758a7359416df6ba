# Two commands do everything on a fresh machine (see README.md):
#   make demo   install what is needed, build, run the main job on GoEmotions
#   make test   install what is needed, build, run every check and test
# Everything installed goes into the git-ignored .deps/ folder.

CARGO ?= cargo
EMO := ./target/release/emo

.PHONY: setup build demo reference test lint clean-cache

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release

demo: build
	$(EMO) embed --dataset goemotions
	$(EMO) compare-sampling --dataset goemotions --out reports/goemotions

# The committed reference results (reports/reference/): both datasets, three seeds.
reference: build
	$(EMO) compare-sampling --dataset goemotions --seeds 3 --out reports/reference/goemotions
	$(EMO) compare-sampling --dataset carer --seeds 3 --out reports/reference/carer
	python3 scripts/readme_results.py

lint: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --release --all-targets -- -D warnings

test: lint
	$(CARGO) test --release

clean-cache:
	rm -rf .deps/cache
