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

.PHONY: install install-torchvision install-slurm run test test-fast test-torchvision test-slurm bench lint clean

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
# The suite runs in parallel (pytest-xdist): most of it is end-to-end runs through the console script, and many of
# those wait (on a killed rank, a second process, a requeue) more than they compute, so there are twice as many
# workers as cores, and a worker that is done takes tests queued for another (worksteal).
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) * 2 )))
PARALLEL := -n $(PYTEST_WORKERS) --dist worksteal
test: install install-torchvision
	$(OFFLINE) $(BIN)/python -m pytest $(PARALLEL) -m "not slurm"
	$(TORCHVISION_TESTS)

test-fast: install
	$(OFFLINE) $(BIN)/python -m pytest $(PARALLEL) -m "not slow and not slurm"

test-torchvision: install-torchvision
	$(TORCHVISION_TESTS)

# Sweeps on a real SLURM: a two-node cluster started on this machine (tests/slurm_cluster.py). Needs root to
# install slurm-wlm and munge with apt and to run their daemons; elsewhere the tests skip, saying why.
install-slurm: $(VENV)/.installed-slurm

$(VENV)/.installed-slurm: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[slurm]"
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! command -v slurmctld >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; fi
	touch $@

test-slurm: install-slurm
	$(OFFLINE) $(BIN)/python -m pytest -m slurm -rs

bench: install
	$(OFFLINE) $(BIN)/python benchmarks/eval_throughput.py
	$(OFFLINE) $(BIN)/python benchmarks/view_throughput.py

lint: install
	$(BIN)/ruff check zerovlm tests benchmarks

clean:
	rm -rf $(VENV) $(TV_VENV) outputs .cache
