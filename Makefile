# Shortcuts for tasks.py, which needs nothing but Python:
#   make demo | test | test-slow | bench-crf | bench-conll
PYTHON ?= python3.11
DATA_DIR ?= ../shared/data

.PHONY: setup demo test test-slow bench-crf bench-conll clean

setup demo test test-slow bench-crf:
	$(PYTHON) tasks.py $@

bench-conll:
	$(PYTHON) tasks.py bench-conll --data-dir $(DATA_DIR)

clean:
	rm -rf .venv .venv-ci build *.egg-info benchmarks/runs
