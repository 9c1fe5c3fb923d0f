"""Fast CPU tests with tiny random models. Nothing reaches a network: the hub and W&B are offline, and every
cache (views, tiny models) lives in a per-session temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from zerovlm.hf_classes import torchvision_error

ROOT = Path(__file__).resolve().parent.parent
# the real VSR annotation files (random/ and zeroshot/, each train/dev/test.jsonl): beside the clone, or where
# $ZEROVLM_VSR_DIR says
SHARED_VSR = Path(os.environ.get("ZEROVLM_VSR_DIR") or ROOT.parent / "shared" / "data" / "vsr")
needs_vsr = pytest.mark.skipif(not SHARED_VSR.is_dir(), reason=f"no VSR annotation files at {SHARED_VSR} (set "
                               "ZEROVLM_VSR_DIR to VSR's data/splits folder)")
SESSION_CACHE = Path(tempfile.mkdtemp(prefix="zerovlm-test-cache-"))
os.environ.update(HF_HUB_OFFLINE="1", WANDB_MODE="offline", ZEROVLM_CACHE=str(SESSION_CACHE),
                  TOKENIZERS_PARALLELISM="false", WANDB_SILENT="true")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SESSION_CACHE, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Tests marked `torchvision` (Qwen2.5-VL, LLaVA-OneVision) skip where torchvision does not import; `make test`
    runs them in .venv-torchvision with ZEROVLM_REQUIRE_TORCHVISION=1, where a missing torchvision is an error."""
    marked = [item for item in items if item.get_closest_marker("torchvision")]
    if not marked or torchvision_error() is None:
        return
    if os.environ.get("ZEROVLM_REQUIRE_TORCHVISION") == "1":
        raise pytest.UsageError("ZEROVLM_REQUIRE_TORCHVISION=1 but torchvision does not import here")
    skip = pytest.mark.skip(reason="needs torchvision: `make test` runs these in .venv-torchvision")
    for item in marked:
        item.add_marker(skip)


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


WHATSUP_PAIRS = {"A": [("mug", "plate"), ("beer-bottle", "armchair"), ("cup", "table"), ("book", "chair"),
                       ("apple", "box"), ("candle", "bowl")],
                 "B": [("cube", "sphere"), ("cylinder", "cube"), ("sphere", "cylinder"), ("cone", "cube")]}
WHATSUP_RELATIONS = {"A": [("on", "on"), ("under", "under"), ("left_of", "to the left of"),
                           ("right_of", "to the right of")],
                     "B": [("left_of", "to the left of"), ("right_of", "to the right of"),
                           ("in-front_of", "in front of"), ("behind", "behind")]}


def placeholder_image(path: Path, seed: int, size=(64, 48)) -> None:
    """A small image of one colour: a stand-in for a photo that the tests never look at."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, ((37 * seed) % 256, (91 * seed) % 256, (53 * seed) % 256)).save(path)


def make_whatsup_release(root: Path) -> Path:
    """A What'sUp release in its published layout (paths relative to the authors' working directory)."""
    for subset, (annotation, folder) in {"A": ("controlled_images_dataset.json", "controlled_images"),
                                         "B": ("controlled_clevr_dataset.json", "controlled_clevr")}.items():
        records = []
        for a, b in WHATSUP_PAIRS[subset]:
            for tag, words in WHATSUP_RELATIONS[subset]:
                others = [w for t, w in WHATSUP_RELATIONS[subset] if t != tag]
                name = f"{a}_{tag}_{b}.jpeg"
                placeholder_image(root / folder / name, seed=len(records))
                captions = [f"A {a.replace('-', ' ')} {w} a {b.replace('-', ' ')}" for w in [words, *others]]
                records.append({"image_path": f"data/{folder}/{name}", "caption_options": captions})
        (root / annotation).write_text(json.dumps(records))
    return root


@pytest.fixture(scope="session")
def whatsup_dir(tmp_path_factory) -> Path:
    return make_whatsup_release(tmp_path_factory.mktemp("whatsup"))


@pytest.fixture(scope="session")
def coco_dir(tmp_path_factory) -> Path:
    """Placeholder COCO 2017 images for the first records of every VSR test split (train2017/ and val2017/)."""
    if not SHARED_VSR.is_dir():
        pytest.skip(f"no VSR annotation files at {SHARED_VSR} (set ZEROVLM_VSR_DIR to VSR's data/splits folder)")
    root = tmp_path_factory.mktemp("coco")
    for variant in ("random", "zeroshot"):
        for split in ("dev", "test"):
            for k, line in enumerate((SHARED_VSR / variant / f"{split}.jsonl").read_text().splitlines()[:40]):
                record = json.loads(line)
                placeholder_image(root / record["image_link"].split("/")[-2] / record["image"], seed=k)
    return root
