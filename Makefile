# One entry point for people and CI. Everything installs into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench lint reproduce clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install -e '.[test]'  # not quiet: its progress shows it is moving
	$(BIN)/python -m compileall -q nnaccel  # bytecode even where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/nnaccel warm-up  # compile the numba kernels now (a spinner shows it), so `make run` starts warm
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/nnaccel paper

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m compileall -q nnaccel  # as an installed copy would be: not parsed per run
	$(BIN)/python benchmarks/run.py

reproduce: $(STAMP)
	$(BIN)/nnaccel paper --write docs/reproduction.md --figures docs/figures

lint: $(STAMP)
	$(BIN)/ruff check nnaccel tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
