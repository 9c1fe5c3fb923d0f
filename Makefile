# The README's commands. Everything installs into .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A pinned torch keeps installs fast and reproducible (a CPU wheel here, the CUDA build from PyPI elsewhere).
# GPU users with their own torch: make install TORCH="torch>=2.3"
TORCH ?= torch==2.13.0
# Qwen2.5-VL and LLaVA-OneVision need torchvision, whose PyPI build does not import beside the CPU torch above:
# their tests run in a second environment with a matching torch/torchvision pair.
TV_VENV ?= .venv-torchvision
TV_BIN := $(TV_VENV)/bin
ifeq ($(shell uname -m),aarch64)
TORCH_TORCHVISION ?= torch==2.9.1 torchvision==0.24.1
else
TORCH_TORCHVISION ?= torch==2.14.1 torchvision==0.29.1
endif
OFFLINE := HF_HUB_OFFLINE=1 WANDB_MODE=offline
TORCHVISION_TESTS := $(OFFLINE) ZEROVLM_REQUIRE_TORCHVISION=1 $(TV_BIN)/python -m pytest -m torchvision

.PHONY: install install-torchvision run test test-fast test-torchvision bench lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[dev]"
	touch $@

install-torchvision: $(TV_VENV)/.installed

$(TV_VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(TV_VENV)
	$(TV_BIN)/python -m pip install --quiet --upgrade pip
	$(TV_BIN)/python -m pip install --quiet $(TORCH_TORCHVISION) -e ".[dev,torchvision]"
	$(TV_BIN)/python -c "import torchvision"
	touch $@

# The main job on its embedded default: a 4 x 2 sweep on synthetic scenes, ending with the report table.
run: install
	$(OFFLINE) $(BIN)/zerovlm -m experiment=demo

# Everything: the suite in .venv, then the tests that need torchvision in .venv-torchvision.
# The suite runs on every core (pytest-xdist): most of it is end-to-end runs through the console script.
test: install install-torchvision
	$(OFFLINE) $(BIN)/python -m pytest -n auto
	$(TORCHVISION_TESTS)

test-fast: install
	$(OFFLINE) $(BIN)/python -m pytest -n auto -m "not slow"

test-torchvision: install-torchvision
	$(TORCHVISION_TESTS)

bench: install
	$(OFFLINE) $(BIN)/python benchmarks/eval_throughput.py
	$(OFFLINE) $(BIN)/python benchmarks/view_throughput.py

lint: install
	$(BIN)/ruff check zerovlm tests benchmarks

clean:
	rm -rf $(VENV) $(TV_VENV) outputs .cache
