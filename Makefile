# Shortcuts for tasks.py, which needs nothing but Python:
#   make demo | test | test-slow | bench
PYTHON ?= python3.11
DATA_DIR ?= ../shared/data

.PHONY: setup demo test test-slow bench clean

setup demo test test-slow:
	$(PYTHON) tasks.py $@

bench:
	$(PYTHON) tasks.py bench --data-dir $(DATA_DIR)

clean:
	rm -rf .venv .venv-ci build *.egg-info benchmarks/runs
