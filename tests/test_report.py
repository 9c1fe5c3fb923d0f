"""The sweep table and the W&B step that must never fail a run."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from zerovlm.results.report import CHANCE_NOTE, collect, main, write_report
from zerovlm.results.wandb_report import log_to_wandb, summary_metrics

INTERVAL = {"low": 0.301, "high": 0.954, "method": "bootstrap over images", "level": 0.95, "resamples": 2000,
            "groups": 2}
METRICS = {"n": 4, "accuracy": 0.75, "unparsed": 1, "tiny_random_backbone": True, "majority": 0.75,
           "interval": INTERVAL, "skipped": {"missing_image": 2},
           "splits": {"dev": {"n": 2, "accuracy": 0.5, "majority": 0.5}, "test": {"n": 2, "accuracy": 1.0}},
           "negative_types": {"none": {"accuracy": 1.0}},
           "relations": {"left of": {"n": 4, "accuracy": 0.75, "unparsed": 1}}}


def _job(sweep, num, overrides, accuracy):
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / "metrics.json").write_text(json.dumps({**METRICS, "accuracy": accuracy}))


def test_report_has_a_row_per_job_and_a_column_per_swept_option(tmp_path, capsys):
    for num, (views, prompt) in enumerate([("origin", "plain"), ("origin", "view"), ("left", "plain")]):
        _job(tmp_path, num, [f"views={views}", f"prompt={prompt}"], 0.5 + num / 10)
    _job(tmp_path, 10, ["views=left", "prompt=view"], 0.9)
    for num in (0, 1, 2, 10):  # an option set alike in every job is named once, not given a column
        overrides = tmp_path / str(num) / ".hydra" / "overrides.yaml"
        overrides.write_text(yaml.safe_dump([*yaml.safe_load(overrides.read_text()), "experiment=demo"]))
    main([str(tmp_path)])
    out = capsys.readouterr().out
    assert "Same in every job: experiment=demo\n" in out
    assert "| job | views | prompt | n | accuracy | baseline | dev acc | test acc | unparsed | skipped |" in out
    assert "| 0 | origin | plain | 4 | 0.500 [0.301, 0.954] | 0.750 (majority) | 0.500 | 1.000 | 1 | 2 |" in out
    assert "95 % interval: a bootstrap over images (2000 resamples, seed 0)." in out
    assert CHANCE_NOTE in out and f"Sweep directory: {tmp_path.resolve()}" in out
    with open(tmp_path / "results.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["scope"] == "overall"]
    assert all(r["experiment"] == "demo" for r in rows)  # the CSV keeps every column
    assert [(r["job"], r["views"], r["prompt"], float(r["accuracy"])) for r in rows] == [
        ("0", "origin", "plain", 0.5), ("1", "origin", "view", 0.6), ("2", "left", "plain", 0.7),
        ("10", "left", "view", 0.9)]
    assert rows[0]["unparsed"] == "1" and float(rows[0]["low"]) == 0.301 and float(rows[0]["high"]) == 0.954
    assert (float(rows[0]["baseline"]), rows[0]["baseline_kind"]) == (0.75, "majority")
    assert not (tmp_path / "report.csv").exists()
    assert (tmp_path / "report.md").read_text().startswith("Same in every job: experiment=demo\n\n| job |")


def test_report_adds_calibrated_and_whatsup_columns_when_jobs_have_them(tmp_path):
    _job(tmp_path, 0, ["backbone.scoring=likelihood"], 0.5)
    metrics = json.loads((tmp_path / "0" / "metrics.json").read_text())
    metrics.update(calibrated={"threshold": 0.7, "dev_accuracy": 0.8, "test_accuracy": 0.75, "test_n": 2},
                   pair_accuracy=0.25, set_accuracy=0.0)
    (tmp_path / "0" / "metrics.json").write_text(json.dumps(metrics))
    _job(tmp_path, 1, ["backbone.scoring=generate"], 0.5)
    columns, rows, *_ = collect(tmp_path)
    assert columns[-5:] == ["test acc (dev threshold)", "pair acc", "set acc", "unparsed", "skipped"]
    assert rows[0]["test acc (dev threshold)"] == "0.750" and "pair acc" not in rows[1]


def test_report_of_an_empty_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no job directory"):
        write_report(tmp_path)


def test_summary_metrics_are_flat():
    assert summary_metrics(METRICS) == {"accuracy": 0.75, "n": 4, "unparsed": 1, "majority": 0.75,
                                        "accuracy_low": 0.301, "accuracy_high": 0.954,
                                        "interval_method": "bootstrap over images", "skipped": 2,
                                        "dev/accuracy": 0.5, "dev/n": 2, "dev/majority": 0.5,
                                        "test/accuracy": 1.0, "test/n": 2, "negative_type/none/accuracy": 1.0}


def test_a_wandb_failure_does_not_fail_the_run(tmp_path, caplog):
    bad = {"_target_": "lightning.pytorch.loggers.WandbLogger", "offline": True, "save_dir": str(tmp_path),
           "mode": "no-such-mode"}
    assert log_to_wandb(bad, {}, METRICS, [], tmp_path) is False
    assert "W&B logging failed" in caplog.text


def test_options_a_preset_chose_get_columns_when_they_differ(tmp_path):
    for num, (row, views, prompt) in enumerate([("left", "left", "plain"), ("left_vp", "left", "view")]):
        _job(tmp_path, num, [f"+paper_table3={row}", "experiment=paper_table3"], 0.5)
        choices = {"paper_table3": row, "experiment": "paper_table3", "views": views, "prompt": prompt,
                   "hydra/launcher": "basic"}
        (tmp_path / str(num) / ".hydra" / "hydra.yaml").write_text(
            yaml.safe_dump({"hydra": {"runtime": {"choices": choices}}}))
    columns, rows, *_ = collect(tmp_path)
    assert columns[:5] == ["job", "paper_table3", "experiment", "prompt", "n"]  # views is the same in both
    assert [r["prompt"] for r in rows] == ["plain", "view"]


def test_a_failed_job_is_listed_with_its_error_and_options_not_overridden_come_from_its_config(tmp_path):
    _job(tmp_path, 0, ["views=left", "dataset.num_scenes=4"], 0.5)
    failed = tmp_path / "1"
    (failed / ".hydra").mkdir(parents=True)
    (failed / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(["views=right"]))
    (failed / "config.yaml").write_text(yaml.safe_dump({"dataset": {"num_scenes": 24}}))
    (failed / "error.json").write_text(json.dumps({"type": "FileNotFoundError", "last_line": "no image x.jpg"}))
    text = write_report(tmp_path)
    assert "| 1 | right | 24 | failed: FileNotFoundError: no image x.jpg |" in text
    assert "1 of 2 jobs failed or left no result: see their zerovlm.log." in text
    with open(tmp_path / "results.csv") as f:
        overall = [r for r in csv.DictReader(f) if r["scope"] == "overall"]
    assert [(r["job"], r["status"]) for r in overall] == [("0", "ok"),
                                                           ("1", "failed: FileNotFoundError: no image x.jpg")]
    assert overall[1]["accuracy"] == ""  # no number for a job that has none


def test_a_folder_of_sweeps_gets_one_report_per_sweep(tmp_path, capsys):
    for sweep, views in (("2026-01-01_10-00-00", "left"), ("2026-01-02_10-00-00", "right")):
        _job(tmp_path / sweep, 0, [f"views={views}"], 0.5)
        (tmp_path / sweep / "multirun.yaml").write_text("{}")
    main([str(tmp_path)])
    out = capsys.readouterr().out
    assert out.count("Sweep directory:") == 2 and f"## {tmp_path / '2026-01-01_10-00-00'}" in out
    assert (tmp_path / "2026-01-02_10-00-00" / "report.md").exists() and not (tmp_path / "report.md").exists()


def test_a_sweep_of_render_or_compare_views_jobs_gets_its_table(tmp_path):
    for num, metrics in enumerate([{"n": 8, "views_generated": 24}, {"n": 8, "psnr": 12.3456, "mae": 0.21}]):
        job = tmp_path / str(num)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"stage={['render', 'compare_views'][num]}"]))
        (job / "metrics.json").write_text(json.dumps(metrics))
    text = write_report(tmp_path)
    assert "| job | stage | n | psnr | mae |" in text and "| 1 | compare_views | 8 | 12.346 | 0.21 |" in text
