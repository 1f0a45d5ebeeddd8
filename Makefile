# bonuscheck: `make serve` and `make test` are all a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 3000
SHARED_DATA ?= ../shared/data
export BENTOML_DO_NOT_TRACK := true

.PHONY: setup serve test test-fast bench build train-views train-text train-watermark clean

# Idempotent: the stamp is rebuilt only when the dependency list changes.
setup: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements.lock -e '.[dev,train]'
	$(BIN)/pip install -q --no-deps rapidocr-onnxruntime==1.4.4
	touch $@

serve: setup
	$(BIN)/bonuscheck serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

build: setup
	$(BIN)/bentoml build

# One target per model; each writes models/<name>/artifact/ with card.md and metrics.json.
train-views: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m training.views.train

train-text: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m training.text.train

train-watermark: setup
	$(BIN)/python -m training.watermark.backgrounds
	$(BIN)/python -m training.watermark.train --data_dir=$(SHARED_DATA)/tiktok-frames
	$(BIN)/python -m training.watermark.train_crops --data_dir=$(SHARED_DATA)/tiktok-frames
	$(BIN)/python -m training.watermark.evaluate --data_dir=$(SHARED_DATA)/tiktok-frames
	$(BIN)/python -m training.watermark.evaluate_media --data_dir=$(SHARED_DATA)/tiktok-frames

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
