"""Every option of every group composes against its schema; bad keys and types fail; --cfg loads no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from zerovlm.cli import CONFIG_PATH
from zerovlm.prompts import PromptBuilder
from zerovlm.stitch import Layout
from zerovlm.views import resolve_poses

GROUPS = ["dataset", "views", "generator", "layout", "prompt", "backbone", "trainer", "logger", "experiment"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((Path(CONFIG_PATH) / g).glob("*.yaml"))]
PATHS = ["paths.output_dir=/tmp/out", "paths.cache_dir=/tmp/cache", "paths.model_dir=/tmp/models"]


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return compose(config_name="config", overrides=[*PATHS, *overrides])


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_builds(group, option):
    cfg = _compose([f"{group}={option}"])
    container = OmegaConf.to_container(cfg, resolve=True)
    assert container["paths"]["cache_dir"] == "/tmp/cache"
    # the light stages build from every composition
    Layout(**cfg.layout)
    PromptBuilder(**cfg.prompt)
    assert [p.name for p in resolve_poses(cfg.views.poses, "s0", 0)] == [p["name"] for p in cfg.views.poses]
    instantiate(cfg.generator)
    assert len(instantiate(cfg.dataset, num_scenes=4, splits=["train", "dev", "test"])) == 8


@pytest.mark.parametrize("override", ["dataset.num_scene=3", "layout.gapp=2", "backbone.scorin=generate", "nope=1"])
def test_misspelt_key_fails(override):
    with pytest.raises((ConfigCompositionException, ConfigKeyError)):
        _compose([override])


@pytest.mark.parametrize("override", ["dataset.num_scenes=abc", "layout.cell_size=big", "trainer.num_nodes=x"])
def test_wrong_type_fails(override):
    with pytest.raises((ConfigCompositionException, ValidationError)):
        _compose([override])


def test_unknown_option_fails():
    with pytest.raises(ConfigCompositionException, match="views"):
        _compose(["views=sideways"])


def test_print_config_imports_no_torch():
    code = (
        "import sys; sys.argv = ['zerovlm', '--cfg', 'job']\n"
        "from zerovlm.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'lightning' not in sys.modules, 'lightning was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "_target_: zerovlm.data.synthetic.SyntheticDataset" in proc.stdout
