"""Fast CPU tests with tiny random models. Nothing reaches a network: the hub and W&B are offline, and every
cache (views, tiny models) lives in a per-session temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SESSION_CACHE = Path(tempfile.mkdtemp(prefix="zerovlm-test-cache-"))
os.environ.update(HF_HUB_OFFLINE="1", WANDB_MODE="offline", ZEROVLM_CACHE=str(SESSION_CACHE),
                  TOKENIZERS_PARALLELISM="false", WANDB_SILENT="true")


@pytest.fixture(scope="session")
def tiny_llava_dir() -> Path:
    from zerovlm.backbones.tiny import ensure_tiny_model

    return ensure_tiny_model("llava", SESSION_CACHE / "models" / "tiny_llava")


@pytest.fixture(scope="session")
def tiny_llava(tiny_llava_dir):
    from zerovlm.backbones.hf import HFVisionLanguageModel

    return HFVisionLanguageModel(name="tiny_llava", model=str(tiny_llava_dir), yes_words=["yes", "Yes", " yes", " Yes"],
                                 no_words=["no", "No", " no", " No"])


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python -m zerovlm ARGS` from the repository root; fails the test with the output if it fails."""
    proc = subprocess.run([sys.executable, "-m", "zerovlm", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"zerovlm {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    return proc


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]
