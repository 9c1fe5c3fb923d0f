"""Every option of every group composes against its schema; bad keys and types fail; --cfg loads no torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import SESSION_CACHE, SHARED_VSR, needs_vsr
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, ValidationError

from zerovlm.cli import CONFIG_PATH
from zerovlm.prompts import PromptBuilder
from zerovlm.stitch import Layout
from zerovlm.views import resolve_poses

GROUPS = ["dataset", "views", "generator", "layout", "prompt", "backbone", "prior", "trainer", "logger", "experiment"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((Path(CONFIG_PATH) / g).glob("*.yaml"))]
# prior_wording/ is not chosen on its own: every prior option takes its wording from there (`templates`)
PATHS = ["paths.output_dir=/tmp/out", f"paths.cache_root={SESSION_CACHE}"]
REAL_CHECKPOINTS = {"zero123", "zero123_xl", "stable_zero123"}  # on the hub, which these machines cannot reach


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        return compose(config_name="config", overrides=[*PATHS, *overrides])


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)
    # prior_wording/ is used inside prior options, paper_table3/ (rows of the paper's table) by its experiment,
    # hydra/ holds hydra/launcher=slurm, system_prompt/ the paper presets' conversation
    folders = {p.name for p in Path(CONFIG_PATH).iterdir() if p.is_dir()}
    assert folders == set(GROUPS) | {"prior_wording", "hydra", "paper_table3", "system_prompt"}


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_builds(group, option):
    cfg = _compose([f"{group}={option}"])
    container = OmegaConf.to_container(cfg, resolve=True)
    assert container["paths"]["cache_dir"] == f"{SESSION_CACHE}/views"
    # the light stages build from every composition
    Layout(**cfg.layout)
    PromptBuilder(**cfg.prompt)
    assert [p.name for p in resolve_poses(cfg.views.poses, "s0", 0)] == [p["name"] for p in cfg.views.poses]
    if cfg.generator.name in REAL_CHECKPOINTS:
        with pytest.raises(Exception, match="could not load the Zero-1-to-3 checkpoint.*generator.model"):
            instantiate(cfg.generator)
    else:
        instantiate(cfg.generator)
    if cfg.dataset.name == "synthetic":  # the real datasets need their files: built in the tests below
        assert len(instantiate(cfg.dataset, num_scenes=4, splits=["train", "dev", "test"])) == 8


@needs_vsr
@pytest.mark.parametrize("option", ["vsr_random", "vsr_zeroshot"])
def test_vsr_options_build_from_the_paths_group(option, coco_dir):
    cfg = _compose([f"dataset={option}", f"paths.vsr_splits_dir={SHARED_VSR}", f"paths.coco_dir={coco_dir}"])
    dataset = instantiate(cfg.dataset)
    assert len(dataset) == {"vsr_random": 2195, "vsr_zeroshot": 1222}[option]
    assert dataset[0].image.size == (64, 48)


@pytest.mark.parametrize("option", ["whatsup_a", "whatsup_b"])
def test_whatsup_options_build_from_the_paths_group(option, whatsup_dir):
    cfg = _compose([f"dataset={option}", f"paths.whatsup_dir={whatsup_dir}", "dataset.splits=[dev,test]"])
    assert len(instantiate(cfg.dataset)) == {"whatsup_a": 6 * 4 * 4, "whatsup_b": 4 * 4 * 4}[option]


def test_paper_table2_sweeps_the_four_datasets_on_origin_images_without_view_prompt():
    cfg = _compose(["experiment=paper_table2"])
    assert cfg.views.name == "origin" and cfg.prompt.name == "plain" and list(cfg.dataset.splits) == ["dev", "test"]
    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        hydra_cfg = compose(config_name="config", overrides=["experiment=paper_table2"], return_hydra_config=True)
    assert hydra_cfg.hydra.sweeper.params.dataset == "vsr_random,vsr_zeroshot,whatsup_a,whatsup_b"


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


def test_the_resolved_config_prints_before_any_job_exists():
    proc = subprocess.run([sys.executable, "-m", "zerovlm", "--cfg", "job", "--resolve", "logger=wandb"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "ZEROVLM_CACHE": "/x/cache"})
    assert proc.returncode == 0, proc.stderr
    printed = yaml.safe_load(proc.stdout)
    assert printed["paths"]["output_dir"] is None  # Hydra names the job directory when the job starts
    assert printed["paths"]["cache_dir"] == "/x/cache/views" and "${" not in proc.stdout


def test_a_job_directory_that_cannot_be_written_is_named_with_the_setting(tmp_path):
    (tmp_path / "zerovlm.log").mkdir()  # the job's log cannot be opened there
    proc = subprocess.run([sys.executable, "-m", "zerovlm", f"hydra.run.dir={tmp_path}"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert f"{tmp_path}/zerovlm.log cannot be written (Is a directory): set hydra.run.dir" in proc.stderr


def test_any_list_of_poses_from_the_command_line():
    cfg = _compose(["views.name=mine", "views.poses=[{name:tilt,polar:-30,azimuth:45,radius:0.5},{name:origin}]"])
    poses = resolve_poses(cfg.views.poses, "s0", 0)
    assert [(p.name, p.polar, p.azimuth, p.radius) for p in poses] == [("tilt", -30.0, 45.0, 0.5),
                                                                       ("origin", 0.0, 0.0, 0.0)]
    with pytest.raises((ConfigCompositionException, ValidationError)):
        _compose(["views.poses=[{name:tilt,polar:steep}]"])


def test_paper_table3_sweeps_the_papers_eleven_rows_on_its_four_datasets():
    from zerovlm.results.published import load_published

    with initialize_config_dir(config_dir=CONFIG_PATH, version_base="1.3"):
        hydra_cfg = compose(config_name="config", overrides=["experiment=paper_table3"], return_hydra_config=True)
    params = hydra_cfg.hydra.sweeper.params
    assert params.dataset == "vsr_random,vsr_zeroshot,whatsup_a,whatsup_b"
    rows = params["+paper_table3"].split(",")
    assert sorted(rows) == sorted(p.stem for p in (Path(CONFIG_PATH) / "paper_table3").glob("*.yaml"))
    settings = []
    for row in rows:
        cfg = _compose(["experiment=paper_table3", f"+paper_table3={row}"])
        assert list(cfg.dataset.splits) == ["test"] and cfg.layout.kind == "grid"
        settings.append((cfg.views.name, cfg.prompt.name))
    published = load_published()
    for dataset in ("vsr_random", "vsr_zeroshot", "whatsup_a", "whatsup_b"):
        table3 = [(r["views"], r["prompt"]) for r in published if r["table"] == "3" and r["dataset"] == dataset]
        assert settings == table3  # the paper's rows, in the paper's order
