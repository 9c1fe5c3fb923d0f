"""W&B as researchers use it, checked by reading the offline runs back with wandb's own reader (wandb-core's
`wandb leet inspect --json`, which decodes the run's .wandb transaction log record by record): run name, group,
tags, flat config, summary, the predictions table, samples.png, the predictions artifact, the sweep's summary run;
and nothing written outside the job's directory, with HOME an empty directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import lightning.pytorch.loggers  # noqa: F401 - imported at a job's start (matplotlib's cache), not by W&B
import pandas as pd
import pytest
from hydra.types import RunMode
from omegaconf import OmegaConf
from PIL import Image

from zerovlm.results.wandb_report import flat_config, log_sweep_summary, log_to_wandb, run_name, run_tags

LOGGER = {"_target_": "zerovlm.results.wandb_report.WandbLogger", "project": "zerovlm", "offline": True,
          "save_dir": "/nonexistent/not/used", "log_model": False}
SETTING = {"stage": "evaluate", "dataset": "synthetic", "view_set": "left", "generator": "oracle", "seed": 0,
           "prior": None, "layout": "grid", "prompt_name": "view", "backbone": "tiny_llava", "scoring": "likelihood"}
INTERVAL = {"low": 0.2, "high": 0.9, "method": "bootstrap over images", "level": 0.95, "resamples": 2000, "groups": 2}
METRICS = {"n": 3, "correct": 2, "accuracy": 2 / 3, "unparsed": 0, "majority": 2 / 3, "interval": INTERVAL,
           "splits": {"dev": {"n": 1, "accuracy": 1.0, "majority": 1.0},
                      "test": {"n": 2, "accuracy": 0.5, "majority": 0.5, "interval": INTERVAL}},
           "relations": {"left of": {"n": 3, "accuracy": 2 / 3, "unparsed": 0}},
           "negative_types": {"none": {"accuracy": 1.0}, "relation_swap": {"accuracy": 0.5}},
           "skipped": {"missing_image": 1}, "setting": SETTING, "tiny_random_backbone": True}
CONFIG = {"stage": "evaluate", "seed": 0, "dataset": {"name": "synthetic", "num_scenes": 2},
          "views": {"name": "left", "poses": [{"name": "origin"}, {"name": "left"}]}, "generator": {"name": "oracle"},
          "layout": {"name": "grid", "cell_size": 256}, "prompt": {"name": "view"},
          "backbone": {"name": "tiny_llava", "batch_size": 4}, "prior": None, "logger": LOGGER}
XDG = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")


def read_offline_run(path: Path) -> dict:
    """An offline run (its directory, or a job directory holding one) as wandb's reader decodes it: name, group,
    tags, job_type, config, summary (the updates merged in order), history rows, artifacts and files."""
    runs = [Path(path)] if Path(path).name.startswith("offline-run-") else list(Path(path).glob("wandb/offline-run-*"))
    assert len(runs) == 1, runs
    [log] = runs[0].glob("run-*.wandb")
    records = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(log)],
                             capture_output=True, text=True, check=True, timeout=120).stdout.splitlines()
    run = {"dir": runs[0], "config": {}, "summary": {}, "history": [], "artifacts": [], "files": []}
    for record in map(json.loads, records):
        body = record.get(record["type"], {})
        if record["type"] == "run":
            run.update(name=body.get("display_name"), group=body.get("run_group"), tags=body.get("tags", []),
                       job_type=body.get("job_type"), id=body.get("run_id"))
            run["config"].update(body.get("config", {}).get("update", {}))
        elif record["type"] in ("config", "summary"):
            run[record["type"]].update(body.get("update", {}))
        elif record["type"] == "history":
            run["history"].append(body.get("item", {}))
        elif record["type"] == "artifact":
            run["artifacts"].append({**body, "files": [c["path"] for c in body["manifest"]["contents"]]})
        elif record["type"] == "files":
            run["files"] += [f["path"] for f in body.get("files", [])]
    return run


def logged_table(run: dict, key: str) -> tuple[dict, dict]:
    """A table the run logged under key, as `wandb sync` uploads it: the run_table artifact's table file (the one
    under files/media/table writes pictures as the word "Image"), and that artifact's files by path."""
    assert run["summary"][f"{key}._type"] == "table-file"
    [artifact] = [a for a in run["artifacts"] if a["name"] == f"run-{run['id']}-{key}"]
    assert artifact["type"] == "run_table"
    files = {c["path"]: Path(c["local_path"]) for c in artifact["manifest"]["contents"]}
    return json.loads(files[f"{key}.table.json"].read_text()), files


def _job(tmp_path: Path) -> tuple[Path, list[dict]]:
    job = tmp_path / "sweep" / "3"
    (job / "inputs").mkdir(parents=True)
    rows = [{"id": f"s{i}", "split": "dev" if i == 0 else "test", "statement": f"The cube is left of sphere {i}.",
             "label": True, "prediction": i != 2, "correct": i != 2, "p_yes": 0.5 + i / 10, "raw": None,
             "relation": "left of", "negative_type": "none", "prompt": f"Is it true? {i}", "model_input": "..."}
            for i in range(3)]
    (job / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (job / "metrics.json").write_text(json.dumps(METRICS))
    Image.new("RGB", (32, 32), "red").save(job / "inputs" / "s0.png")  # s1 kept as separate images, s2 not kept
    for k in range(2):
        Image.new("RGB", (16, 16), "blue").save(job / "inputs" / f"s1.{k}.png")
    Image.new("RGB", (64, 64), "white").save(job / "samples.png")
    return job, rows


@pytest.fixture
def empty_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in XDG:
        monkeypatch.delenv(var, raising=False)
    return home


def _wandb_environment() -> dict:
    return {k: v for k, v in os.environ.items() if k.startswith("WANDB_")}


def test_a_job_run_reads_back_named_grouped_tagged_with_flat_config_summary_table_and_artifact(tmp_path, empty_home):
    job, rows = _job(tmp_path)
    before = _wandb_environment()
    cfg = {**LOGGER, "name": "views=left prompt=view", "group": "sweep"}
    assert log_to_wandb(cfg, CONFIG, METRICS, rows, job) is True
    assert _wandb_environment() == before  # WANDB_MODE, WANDB_DIR, ... as they were
    assert list(empty_home.iterdir()) == []  # nothing in ~/.local/share/wandb, ~/.cache/wandb, ~/.config/wandb
    assert {p.name for p in (tmp_path / "sweep").iterdir()} == {"3"}

    run = read_offline_run(job)
    assert (run["name"], run["group"], run["job_type"]) == ("views=left prompt=view", "sweep", "evaluate")
    assert run["tags"] == ["dataset=synthetic", "views=left", "generator=oracle", "layout=grid", "prompt=view",
                           "backbone=tiny_llava", "prior=none", "tiny_random_backbone"]
    config = run["config"]
    assert config["views.name"] == "left" and config["backbone.batch_size"] == 4
    assert config["dataset.num_scenes"] == 2 and config["layout.cell_size"] == 256 and config["prior"] is None
    assert config["views.poses"] == [{"name": "origin"}, {"name": "left"}] and "views" not in config
    summary = run["summary"]
    assert summary["accuracy"] == pytest.approx(2 / 3) and summary["n"] == 3 and summary["unparsed"] == 0
    assert (summary["accuracy_low"], summary["accuracy_high"]) == (0.2, 0.9)
    assert summary["interval_method"] == "bootstrap over images" and summary["majority"] == pytest.approx(2 / 3)
    assert summary["test/accuracy"] == 0.5 and summary["test/accuracy_low"] == 0.2 and summary["dev/n"] == 1
    assert summary["skipped"] == 1 and summary["tiny_random_backbone"] is True

    table, files = logged_table(run, "predictions")
    assert table["columns"] == ["id", "split", "statement", "label", "prediction", "p_yes", "raw", "correct",
                                "relation", "negative_type", "prompt", "input"]
    assert [r[0] for r in table["data"]] == ["s0", "s1", "s2"]  # every prediction, not only the pictured ones
    assert table["data"][2][4] is False and table["data"][1][5] == pytest.approx(0.6)
    pictures = [r[-1] for r in table["data"]]
    assert [p is not None and p["_type"] == "image-file" for p in pictures] == [True, True, False]
    assert (pictures[0]["width"], pictures[1]["width"]) == (32, 256 * 2 + 8)  # separate images side by side
    with Image.open(files[pictures[0]["path"]]) as im:
        assert im.getpixel((0, 0)) == (255, 0, 0)  # inputs/s0.png itself
    assert logged_table(run, "relations")[0]["data"] == [["left of", 3, pytest.approx(2 / 3), 0]]
    assert run["summary"]["samples._type"] == "image-file"
    assert (run["dir"] / "files" / run["summary"]["samples.path"]).exists()
    [artifact] = [a for a in run["artifacts"] if a["type"] == "predictions"]
    assert artifact["name"] == f"predictions-{run['id']}"
    assert set(artifact["files"]) == {"metrics.json", "predictions.jsonl"}
    assert json.loads(artifact["metadata"])["setting"] == SETTING
    staged = [Path(c["local_path"]) for a in run["artifacts"] for c in a["manifest"]["contents"]]
    assert staged and all(p.is_relative_to(job / "wandb") and p.exists() for p in staged)  # kept for `wandb sync`


def test_the_sweep_summary_run_holds_the_report_table_and_pictures(tmp_path, empty_home):
    job, _ = _job(tmp_path)
    sweep = job.parent
    Image.new("RGB", (40, 20), "green").save(sweep / "report.png")
    columns = ["job", "views", "accuracy", "low", "n"]
    rows = [{"job": "0", "views": "origin", "accuracy": 0.5, "low": 0.301, "n": 10},
            {"job": "1", "views": "left", "accuracy": 0.7, "low": None, "n": 12}]  # tidy: numbers, and blanks
    results = pd.DataFrame(rows).astype({"n": "Int64"})
    cfg = {**LOGGER, "name": "views=left prompt=view", "group": None}  # a job's logger config, as the report has it
    assert log_sweep_summary(cfg, sweep, results, [sweep / "report.png", sweep / "report_paired.png"]) is True
    assert list(empty_home.iterdir()) == []
    run = read_offline_run(sweep)
    assert (run["name"], run["group"], run["job_type"]) == ("summary", "sweep", "summary")
    assert run["tags"] == ["summary", "tiny_random_backbone"]  # a job of the sweep ran a tiny random backbone
    table, _ = logged_table(run, "report")
    assert table["columns"] == columns and table["data"] == [list(r.values()) for r in rows]  # numbers as numbers
    assert run["summary"]["figure/report._type"] == "image-file"
    assert (run["summary"]["figure/report.width"], run["summary"]["figure/report.height"]) == (40, 20)
    assert "figure/report_paired._type" not in run["summary"]  # not drawn in this sweep
    assert not list(job.glob("wandb"))  # the sweep's run is in the sweep directory, not a job's


def test_a_wandb_failure_is_logged_not_raised_and_the_environment_is_restored(tmp_path, empty_home, caplog):
    before = _wandb_environment()
    bad = {**LOGGER, "mode": "no-such-mode"}
    assert log_to_wandb(bad, CONFIG, METRICS, [], tmp_path) is False
    assert log_sweep_summary(bad, tmp_path, pd.DataFrame([{"job": "0"}]), []) is False
    assert "W&B logging failed" in caplog.text
    assert _wandb_environment() == before and list(empty_home.iterdir()) == []


def test_flat_config_and_tags():
    assert flat_config({"a": {"b": {"c": 1}, "d": [1, 2]}, "e": None, "f": {}}) == {"a.b.c": 1, "a.d": [1, 2],
                                                                                    "e": None, "f": {}}
    assert run_tags(CONFIG, {"tiny_random_backbone": False}) == [  # from the config when metrics have no setting
        "dataset=synthetic", "views=left", "generator=oracle", "layout=grid", "prompt=view", "backbone=tiny_llava",
        "prior=none"]
    render = {"stage": "render", "dataset": "vsr_random", "view_set": "four", "generator": "zero123_xl",
              "seed": 0, "prior": "spatialpin"}
    assert run_tags(CONFIG, {"setting": render}) == ["stage=render", "dataset=vsr_random", "views=four",
                                                     "generator=zero123_xl", "prior=spatialpin"]


def _hydra(tmp_path, mode: RunMode, task: list[str]) -> SimpleNamespace:
    """The parts of HydraConfig.get() a run name reads."""
    return SimpleNamespace(mode=mode, overrides=SimpleNamespace(task=task), sweep=SimpleNamespace(dir="sweep"),
                           runtime=SimpleNamespace(cwd=str(tmp_path), output_dir=str(tmp_path / "sweep" / "3")))


def test_run_name_is_the_swept_overrides(tmp_path):
    (tmp_path / "sweep").mkdir()
    # the preset sweeps views and prompt, the command line sweeps +paper_table3 and fixes prompt
    (tmp_path / "sweep" / "multirun.yaml").write_text(OmegaConf.to_yaml({"hydra": {
        "sweeper": {"params": {"views": "origin,left,right", "prompt": "plain,view"}},
        "overrides": {"task": ["experiment=demo", "prompt=plain", "+paper_table3=left,left_vp", "logger=wandb",
                               "dataset.num_scenes=8"]}}}))
    job = ["views=left", "prompt=plain", "experiment=demo", "+paper_table3=left_vp", "logger=wandb",
           "dataset.num_scenes=8"]
    assert run_name(_hydra(tmp_path, RunMode.MULTIRUN, job)) == "views=left paper_table3=left_vp"
    (tmp_path / "sweep" / "multirun.yaml").unlink()  # another sweeper: all the job's overrides but the logger's
    assert run_name(_hydra(tmp_path, RunMode.MULTIRUN, job)) == ("views=left prompt=plain experiment=demo "
                                                           "paper_table3=left_vp dataset.num_scenes=8")
    single = ["views=left", "logger=wandb", "logger.offline=false"]
    assert run_name(_hydra(tmp_path, RunMode.RUN, single)) == "views=left"
    assert run_name(_hydra(tmp_path, RunMode.RUN, ["logger=wandb"])) == "3"  # nothing overridden: the directory
