# Two commands for a fresh clone: `make demo` runs an example patch, `make test` runs the tests.
# Each creates the virtual environment it needs in .venv if it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint bench docs clean pd-test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/patchflow run patches/hello.patch --data-dir :memory:
	$(BIN)/patchflow run patches/counter.patch --data-dir data
	$(BIN)/patchflow run patches/counter.patch --data-dir data

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# Compare patches with Pd 0.53 itself (tests/pd/): installs Debian's puredata-core if pd is missing.
pd-test: $(STAMP)
	command -v pd >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y puredata-core; }
	$(BIN)/python -m pytest -q tests/pd

bench: $(STAMP)
	$(BIN)/python bench/run.py

docs: $(STAMP)
	$(BIN)/python -m patchflow.docs > docs/objects.md

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache data
