# The README's commands. Everything installs into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A pinned torch keeps installs fast and reproducible (a CPU wheel here, the CUDA build from PyPI elsewhere).
# GPU users with their own torch: make install TORCH="torch>=2.3"
TORCH ?= torch==2.13.0
OFFLINE := HF_HUB_OFFLINE=1 WANDB_MODE=offline

.PHONY: install run test test-fast bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[dev]"
	touch $@

# The main job on its embedded default: a 4 x 2 sweep on synthetic scenes, ending with the report table.
run: install
	$(OFFLINE) $(BIN)/zerovlm -m experiment=demo

test: install
	$(OFFLINE) $(BIN)/python -m pytest

test-fast: install
	$(OFFLINE) $(BIN)/python -m pytest -m "not slow"

bench: install
	$(OFFLINE) $(BIN)/python benchmarks/eval_throughput.py
	$(OFFLINE) $(BIN)/python benchmarks/view_throughput.py

lint: install
	$(BIN)/ruff check zerovlm tests benchmarks

clean:
	rm -rf $(VENV) outputs .cache
