"""End to end through the CLI: the default run with W&B offline, a 2 x 2 multirun, 2-process DDP on CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import ROOT, SHARED_VSR, needs_vsr, read_jsonl, run_cli
from PIL import Image
from test_wandb import logged_table, read_offline_run

from zerovlm.data.synthetic import SyntheticDataset
from zerovlm.results.wandb_report import summary_metrics

pytestmark = pytest.mark.slow
SMALL = ["dataset.num_scenes=8"]
N_SMALL = len(SyntheticDataset(num_scenes=8, splits=["dev", "test"]))
# one split of 16 statements: dataset.limit=N gives N samples (a limit applies to each split)
ONE_SPLIT = ["dataset.num_scenes=32", "dataset.splits=[test]"]


def _job_outputs(job: Path, n: int) -> tuple[list[dict], dict]:
    rows = read_jsonl(job / "predictions.jsonl")
    metrics = json.loads((job / "metrics.json").read_text())
    assert len(rows) == len({r["id"] for r in rows}) == metrics["n"] == n
    assert sum(r["correct"] for r in rows) == metrics["correct"]
    assert sum(m["n"] for m in metrics["splits"].values()) == n
    with Image.open(job / "samples.png") as im:
        assert im.width >= 256 and im.height >= 256
    return rows, metrics


def test_default_run_with_wandb_offline(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(f"hydra.run.dir={run_dir}", "logger=wandb", *SMALL)
    rows, metrics = _job_outputs(run_dir, N_SMALL)
    console = proc.stderr + proc.stdout
    assert "its answers are at chance" in console
    # the libraries' start-up lines are kept out; the job's progress and its one final line are there
    for noise in ("GPU available", "TPU available", "litlogger", "LeafSpec", "Loading weights", "anonymous setting",
                  "srun", "Run summary"):
        assert noise not in console, noise
    assert "evaluate: 100%" in console
    (final,) = [line for line in console.splitlines() if "][zerovlm.run][INFO] - accuracy " in line]
    assert f"n={N_SMALL}, majority baseline" in final and "unparsed 0, skipped 0; views generated 0, cached 0" in final
    assert f"outputs in {run_dir}" in final
    assert metrics["tiny_random_backbone"] is True and metrics["world_size"] == 1
    assert metrics["setting"] == {"stage": "evaluate", "dataset": "synthetic", "view_set": "origin",
                                  "generator": "oracle", "layout": "grid", "prompt_name": "view",
                                  "backbone": "tiny_llava", "scoring": "likelihood", "seed": 0, "prior": None}
    seconds = metrics["seconds"]
    assert set(seconds) >= {"loader_read", "loader_views", "loader_stitch", "loader_prompt", "loader_inputs",
                            "backbone", "setup", "total"}
    # the steps account for the job's time: reading and decoding the images (synthetic scenes are rendered then)
    # is one of them, not a gap between them
    steps = sum(v for k, v in seconds.items() if k not in ("setup", "total"))
    assert seconds["loader_read"] > seconds["loader_stitch"] and steps > 0.5 * (seconds["total"] - seconds["setup"])
    row = rows[0]
    assert row["prompt"].startswith("This is the original image. Is the following statement")
    assert row["model_input"] == f"USER: <image>\n{row['prompt']} ASSISTANT:"
    assert row["views"] == [{"name": "origin", "polar": 0.0, "azimuth": 0.0, "radius": 0.0, "label": "original image"}]
    assert 0 <= row["p_yes"] <= 1 and row["prediction"] == (row["p_yes"] > 0.5)
    config = (run_dir / "config.yaml").read_text()
    assert "${" not in config  # resolved: what every rank ran
    run = read_offline_run(run_dir)  # wandb's own reader
    assert (run["name"], run["group"]) == ("dataset.num_scenes=8", None)  # its overrides but logger=wandb
    assert {"dataset=synthetic", "views=origin", "prompt=view", "tiny_random_backbone"} <= set(run["tags"])
    assert run["config"]["dataset.num_scenes"] == 8 and run["config"]["backbone.name"] == "tiny_llava"
    for key in ["accuracy", "accuracy_low", "test/accuracy", "negative_type/relation_swap/accuracy"]:
        assert run["summary"][key] == pytest.approx(summary_metrics(metrics)[key]), key
    relations, _ = logged_table(run, "relations")
    assert relations["columns"] == ["relation", "n", "accuracy", "unparsed"]
    assert {r[0]: r[1] for r in relations["data"]} == {k: m["n"] for k, m in metrics["relations"].items()}
    predictions, _ = logged_table(run, "predictions")
    assert predictions["columns"][:3] == ["id", "split", "statement"] and predictions["columns"][-1] == "input"
    assert [r[0] for r in predictions["data"]] == [r["id"] for r in rows]
    pictured = [r[0] for r in predictions["data"] if r[-1] is not None]
    assert len(pictured) == len(list((run_dir / "inputs").glob("*.png"))) == 8
    assert {"metrics.json", "predictions.jsonl"} <= {f for a in run["artifacts"] if a["type"] == "predictions"
                                                    for f in a["files"]}


def test_two_by_two_multirun_shares_one_sweep_directory_and_the_view_cache(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", "views=origin,left", "prompt=plain,view", f"hydra.sweep.dir={sweep}", *SMALL,
                   env={"ZEROVLM_CACHE": str(tmp_path / "cache")})
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1", "2", "3"]
    metrics = [_job_outputs(job, N_SMALL)[1] for job in jobs]
    assert [(m["setting"]["view_set"], m["setting"]["prompt_name"]) for m in metrics] == [
        ("origin", "plain"), ("origin", "view"), ("left", "plain"), ("left", "view")]
    # a scene's left view is generated once: for its first statement; its second statement and the next job
    # that shows it take it from the cache
    scenes = N_SMALL // 2
    assert [(m["views_generated"], m["views_cached"]) for m in metrics] == [(0, 0), (0, 0), (scenes, scenes),
                                                                           (0, N_SMALL)]
    left_view = read_jsonl(jobs[3] / "predictions.jsonl")[0]
    assert left_view["prompt"].startswith("This is a 3D single-view image generated from the original image.")
    assert "| job | views | prompt |" in proc.stdout and f"Sweep directory: {sweep.resolve()}" in proc.stdout
    results = pd.read_parquet(sweep / "results.parquet")
    assert sorted(results.loc[results["scope"] == "overall", "job"]) == ["0", "1", "2", "3"]
    assert set(results["scope"]) >= {"overall", "split", "relation", "negative_type", "label"}
    # the console: a progress bar per job named k of N (views/s where views are shown), and one line per job
    console = proc.stdout + proc.stderr
    assert all(f"job {k}/4 evaluate: 100%" in console for k in (1, 2, 3, 4))
    assert "views/s=" not in console.split("job 3/4 evaluate")[0] and "views/s=" in console  # only with views
    finals = [line for line in console.splitlines() if "][zerovlm.run][INFO] - job " in line]
    assert [line.split(" - ")[1].split(":")[0] for line in finals] == ["job 1/4", "job 2/4", "job 3/4", "job 4/4"]
    assert all(f"n={N_SMALL}, majority baseline" in line and f"outputs in {sweep}/" in line for line in finals)
    # each job against the job with views=origin prompt=plain, and both pictures
    assert "| 0 | origin | plain |" in proc.stdout and "| baseline |" in proc.stdout and "(job 0) |" in proc.stdout
    for picture in ("report.png", "report_paired.png"):
        with Image.open(sweep / picture) as im:
            assert im.width > 400 and im.height > 200

    report = Path(sys.executable).parent / "zerovlm-report"  # the console script, as installed
    if report.exists():
        import subprocess

        out = subprocess.run([str(report), str(sweep)], capture_output=True, text=True, check=True).stdout
        assert "| 3 | left | view |" in out


def test_two_process_ddp_scores_every_sample_once_and_matches_one_process(tmp_path):
    odd = ["dataset.limit=7", *ONE_SPLIT]
    run_cli(f"hydra.run.dir={tmp_path / 'one'}", *odd)
    run_cli(f"hydra.run.dir={tmp_path / 'two'}", "trainer.devices=2", *odd)
    one, _ = _job_outputs(tmp_path / "one", 7)
    two, metrics = _job_outputs(tmp_path / "two", 7)
    assert metrics["world_size"] == 2 and metrics["duplicates_removed"] == 0
    shard_sizes = sorted(len(read_jsonl(p)) for p in (tmp_path / "two" / "shards").glob("predictions.rank*.jsonl"))
    assert shard_sizes == [3, 4]
    assert [r["id"] for r in one] == [r["id"] for r in two]
    assert [r["prediction"] for r in one] == [r["prediction"] for r in two]
    assert [r["p_yes"] for r in one] == pytest.approx([r["p_yes"] for r in two], abs=1e-6)
    assert not (tmp_path / "two" / "outputs").exists()
    # fewer samples than ranks: the idle rank scores a copy of the first, removed at the merge
    run_cli(f"hydra.run.dir={tmp_path / 'single'}", "trainer.devices=2", "dataset.limit=1", *ONE_SPLIT)
    rows, metrics = _job_outputs(tmp_path / "single", 1)
    assert (metrics["world_size"], metrics["duplicates_removed"]) == (2, 1) and rows[0]["id"] in {r["id"] for r in one}


def test_ddp_inside_a_multirun_keeps_one_directory_per_job(tmp_path):
    sweep = tmp_path / "sweep"
    run_cli("-m", "prompt=plain,view", "trainer.devices=2", "dataset.limit=5", *ONE_SPLIT, "logger=wandb",
            f"hydra.sweep.dir={sweep}", "hydra.callbacks.report.baseline='prompt=plain'")  # a sweep of prompts
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir() and p.name != "wandb")  # wandb/: the summary run
    assert jobs == ["0", "1"]
    loggers = []
    for job in jobs:
        _, metrics = _job_outputs(sweep / job, 5)
        assert metrics["world_size"] == 2
        assert len(list((sweep / job / "wandb").glob("offline-run-*"))) == 1  # rank 0 alone logs
        loggers.append(yaml.safe_load((sweep / job / "config.yaml").read_text())["logger"])
    assert loggers[0]["group"] == loggers[1]["group"] == "sweep"  # one W&B group per sweep
    assert [lg["name"] for lg in loggers] == ["prompt=plain", "prompt=view"]  # the swept override
    assert [read_offline_run(sweep / job)["name"] for job in jobs] == ["prompt=plain", "prompt=view"]
    summary = read_offline_run(sweep)  # the sweep's own run: its report table and pictures
    assert summary["name"] == "summary" and summary["group"] == "sweep"
    table, _ = logged_table(summary, "report")
    scope = table["columns"].index("scope")  # the tidy results: a row per job and scope
    assert [row[0] for row in table["data"] if row[scope] == "overall"] == ["0", "1"]
    accuracy = table["columns"].index("accuracy")
    assert all(isinstance(row[accuracy], float) for row in table["data"])  # numbers as numbers
    assert {"figure/report", "figure/report_paired"} <= {k.split(".")[0] for k in summary["summary"]}


def test_generate_scoring_end_to_end(tmp_path):
    run_cli(f"hydra.run.dir={tmp_path}", "backbone.scoring=generate", "views=four", "dataset.limit=4", *ONE_SPLIT)
    rows, metrics = _job_outputs(tmp_path, 4)
    assert all(isinstance(r["raw"], str) and r["p_yes"] is None for r in rows)
    assert metrics["unparsed"] == sum(r["prediction"] is None for r in rows)
    assert [v["name"] for v in rows[0]["views"]] == ["origin", "left", "right", "random"]
    with Image.open(tmp_path / "inputs" / f"{rows[0]['id']}.png") as im:
        assert im.size == (520, 520)  # 2 x 2 grid of 256 px cells, 8 px apart


@needs_vsr
@pytest.mark.parametrize("task", ["original", "zerovlm"])
def test_vsr_run_with_placeholder_images(tmp_path, coco_dir, task):
    run_cli(f"hydra.run.dir={tmp_path}", "dataset=vsr_random", f"paths.vsr_splits_dir={SHARED_VSR}",
            f"paths.coco_dir={coco_dir}", "dataset.splits=[dev,test]", "dataset.limit=9", f"dataset.task={task}",
            "views=origin", "prompt=view")
    rows, metrics = _job_outputs(tmp_path, 18)
    # the limit keeps the first 9 samples of each split, so test is scored too
    assert {k: m["n"] for k, m in metrics["splits"].items()} == {"dev": 9, "test": 9}
    assert metrics["categories"] and sum(m["n"] for m in metrics["categories"].values()) == 18
    assert metrics["skipped"] == {}
    if task == "original":
        assert rows[0]["statement"] == json.loads((SHARED_VSR / "random" / "dev.jsonl").open().readline())["caption"]
        assert set(metrics["negative_types"]) <= {"none", "dataset"}
    else:
        assert set(metrics["negative_types"]) == {"none", "relation_swap", "object_swap"}


@pytest.mark.parametrize("backbone", ["tiny_llava", "tiny_clip"])
def test_whatsup_caption_choice_run(tmp_path, whatsup_dir, backbone):
    run_cli(f"hydra.run.dir={tmp_path}", "dataset=whatsup_a", f"paths.whatsup_dir={whatsup_dir}",
            f"backbone={backbone}", "dataset.task=original", "dataset.splits=[dev,test]", "backbone.batch_size=3")
    rows, metrics = _job_outputs(tmp_path, 24)
    assert metrics["task"] == "caption_choice" and metrics["pairs"] == 12 and metrics["sets"] == 6
    assert all(len(r["scores"]) == 4 and r["label"] == 0 for r in rows)
    assert set(metrics["relations"]) == {"on", "under", "left of", "right of"}


def test_missing_images_are_skipped_and_counted_in_metrics(tmp_path, whatsup_dir):
    data = tmp_path / "release"
    (data / "controlled_images").mkdir(parents=True)
    (data / "controlled_images_dataset.json").write_text((whatsup_dir / "controlled_images_dataset.json").read_text())
    for image in sorted((whatsup_dir / "controlled_images").iterdir())[:5]:
        (data / "controlled_images" / image.name).write_bytes(image.read_bytes())
    proc = run_cli(f"hydra.run.dir={tmp_path / 'run'}", "dataset=whatsup_a", f"paths.whatsup_dir={data}",
                   "dataset.on_missing=skip", "dataset.splits=[dev,test]")
    _, metrics = _job_outputs(tmp_path / "run", 5 * 4)
    assert metrics["skipped"] == {"missing_image": (24 - 5) * 4}
    console = proc.stdout + proc.stderr  # said on the console, loudly when most of the data is gone
    assert "76 samples of the dataset were skipped (missing_image 76) and 20 scored: MOST OF THE DATA" in console


TINY_GEN = ["generator=tiny_zero123", "generator.steps=2", "views=four", "dataset.num_scenes=4"]


def _cache_files(cache):
    return sorted((cache / "views").rglob("*.png"))


def test_render_stage_fills_the_cache_on_two_ranks_and_evaluation_then_generates_nothing(tmp_path):
    env = {"ZEROVLM_CACHE": str(tmp_path / "cache")}
    n = len(SyntheticDataset(num_scenes=4, splits=["dev", "test"]))
    run_cli(f"hydra.run.dir={tmp_path / 'render'}", "stage=render", "trainer.devices=2", *TINY_GEN, env=env)
    render = json.loads((tmp_path / "render" / "metrics.json").read_text())
    assert render["n"] == n and render["world_size"] == 2 and "accuracy" not in render
    assert render["seconds"]["loader_read"] > 0  # reading the scenes is timed in a render job too
    # left, right and random once per image (two statements each: the random pose is drawn per image)
    unique = n // 2 * 3
    files = _cache_files(tmp_path / "cache")
    assert len(files) == unique and render["views_generated"] + render["views_cached"] == 3 * n
    assert render["views_generated"] >= unique  # two ranks may both make a view before either has cached it
    for f in files:
        with Image.open(f) as im:
            im.verify()  # whole files only, whatever the two ranks did
    assert not list((tmp_path / "cache" / "views").rglob("*.tmp"))

    run_cli(f"hydra.run.dir={tmp_path / 'again'}", "stage=render", *TINY_GEN, env=env)
    again = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert (again["views_generated"], again["views_cached"]) == (0, 3 * n)

    run_cli(f"hydra.run.dir={tmp_path / 'eval'}", *TINY_GEN, "prompt=view", env=env)
    rows, metrics = _job_outputs(tmp_path / "eval", n)
    assert (metrics["views_generated"], metrics["views_cached"]) == (0, 3 * n)
    assert rows[0]["prompt"].startswith("The original image in the upper left corner, the left view image")


def test_oracle_gap_experiment_compares_generated_and_true_views(tmp_path):
    run_cli(f"hydra.run.dir={tmp_path}", "experiment=oracle_gap", "generator.steps=2", "dataset.num_scenes=4",
            env={"ZEROVLM_CACHE": str(tmp_path / "cache")})
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    dataset = SyntheticDataset(num_scenes=4, splits=["dev", "test"])
    n, images = len(dataset), len({dataset[i].image_key for i in range(len(dataset))})
    assert metrics["n"] == 3 * n and set(metrics["poses"]) == {"left", "right", "random"}
    assert metrics["views_generated"] == 3 * images < 3 * n  # one random view per image, as left and right
    assert all(0 < m["psnr"] < 40 and 0 < m["mae"] < 1 for m in metrics["poses"].values())
    rows = read_jsonl(tmp_path / "predictions.jsonl")
    assert len(rows) == 3 * n and {r["pose"]["name"] for r in rows} == {"left", "right", "random"}
    with Image.open(tmp_path / "samples.png") as im:
        assert im.width >= 256


def test_predictions_do_not_depend_on_batch_size(tmp_path):
    for batch in (1, 8):
        run_cli(f"hydra.run.dir={tmp_path / str(batch)}", f"backbone.batch_size={batch}", "views=four", *SMALL)
    one, _ = _job_outputs(tmp_path / "1", N_SMALL)
    eight, _ = _job_outputs(tmp_path / "8", N_SMALL)
    assert [r["prediction"] for r in one] == [r["prediction"] for r in eight]
    # float32: padding and batched matmuls reorder sums, so p_yes moves in the 6th decimal, predictions never here
    assert [r["p_yes"] for r in one] == pytest.approx([r["p_yes"] for r in eight], abs=1e-5)


IMAGE_TOKEN = {"tiny_smolvlm": "<image>", "tiny_qwen25_vl": "<|image_pad|>", "tiny_llava_onevision": "<image>"}


@pytest.mark.parametrize("backbone", ["tiny_smolvlm", pytest.param("tiny_qwen25_vl", marks=pytest.mark.torchvision),
                                      pytest.param("tiny_llava_onevision", marks=pytest.mark.torchvision)])
def test_separate_views_to_a_multi_image_backbone(tmp_path, backbone):
    run_cli(f"hydra.run.dir={tmp_path}", f"backbone={backbone}", "layout=separate", "views=four", "prompt=view",
            "dataset.limit=4", *ONE_SPLIT)
    rows, _ = _job_outputs(tmp_path, 4)
    assert rows[0]["prompt"].startswith("The original image as the first image, the left view image as the second "
                                        "image, the right view image as the third image, and the random view image "
                                        "as the fourth image. Based on these four images.")
    assert rows[0]["model_input"].count(IMAGE_TOKEN[backbone]) == 4


def test_spatialpin_prior_in_the_prompt_rendered_once_then_read_from_the_cache(tmp_path):
    env = {"ZEROVLM_CACHE": str(tmp_path / "cache")}
    run_cli(f"hydra.run.dir={tmp_path / 'render'}", "stage=render", "prior=spatialpin_oracle", *SMALL, env=env)
    render = json.loads((tmp_path / "render" / "metrics.json").read_text())
    assert render["prior_counts"]["priors_computed"] == N_SMALL - render["prior_counts"].get("priors_cached", 0)
    run_cli(f"hydra.run.dir={tmp_path / 'eval'}", "prior=spatialpin_oracle", "prompt=plain", *SMALL, env=env)
    rows, metrics = _job_outputs(tmp_path / "eval", N_SMALL)
    assert metrics["setting"]["prior"] == "spatialpin_oracle"
    assert metrics["prior_counts"] == {"priors_cached": N_SMALL}  # the render stage computed them all
    first = rows[0]
    assert first["prompt"].startswith("3D information about the objects, estimated from the image.")
    assert first["prompt"].endswith(f'Is the following statement about the image true? "{first["statement"]}" '
                                    "Answer yes or no.")
    assert "Obj 1 (" in first["model_input"] and first["prior_scene"]["kind"] == "metric"
    assert first["prior"] == "spatialpin_oracle" and first["prior_text"] in first["prompt"]
    swapped = [r for r in rows if r["negative_type"] == "object_swap"]
    assert swapped and all("not found in the image" in r["prompt"] for r in swapped)


def test_frozen_clip_on_true_false_statements(tmp_path):
    run_cli(f"hydra.run.dir={tmp_path}", "backbone=tiny_clip", "prompt=plain", "dataset.limit=6", *ONE_SPLIT)
    rows, metrics = _job_outputs(tmp_path, 6)
    assert metrics["unparsed"] == 0 and all(" | " in r["model_input"] for r in rows)


def test_a_crashed_job_resumed_in_its_directory_equals_an_uninterrupted_one(tmp_path):
    odd = ["dataset.limit=7", "views=left", *ONE_SPLIT]
    run_cli(f"hydra.run.dir={tmp_path / 'whole'}", *odd)
    run_cli(f"hydra.run.dir={tmp_path / 'crashed'}", *odd)
    crashed = tmp_path / "crashed"
    shard = crashed / "shards" / "predictions.rank0.jsonl"
    lines = shard.read_text().splitlines()
    shard.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])  # killed while writing its 4th row
    for output in ("predictions.jsonl", "metrics.json"):
        (crashed / output).unlink()
    run_cli(f"hydra.run.dir={crashed}", "trainer.devices=2", *odd)  # resumed on two processes
    whole, _ = _job_outputs(tmp_path / "whole", 7)
    resumed, metrics = _job_outputs(crashed, 7)
    assert (metrics["resumed_samples"], metrics["partial_lines_dropped"], metrics["world_size"]) == (3, 1, 2)
    assert [(r["id"], r["prediction"]) for r in resumed] == [(r["id"], r["prediction"]) for r in whole]
    assert [r["p_yes"] for r in resumed] == pytest.approx([r["p_yes"] for r in whole], abs=1e-5)

    proc = subprocess.run([sys.executable, "-m", "zerovlm", f"hydra.run.dir={crashed}", "prompt=plain", *odd],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode != 0 and "made by another setting than this job's" in proc.stderr
    assert "(prompt=view there, plain now)" in proc.stderr  # which option differs


def test_a_sweep_run_again_with_another_setting_keeps_its_results_labelled_by_what_made_them(tmp_path):
    """The refused job's directory keeps the setting of its predictions; the report says the later run was refused."""
    sweep = tmp_path / "sweep"
    run_cli("-m", "views=origin,left", "prompt=view", f"hydra.sweep.dir={sweep}", *SMALL)
    before = {p: (sweep / "0" / p).read_bytes() for p in ("config.yaml", "job.yaml", "metrics.json")}
    proc = subprocess.run([sys.executable, "-m", "zerovlm", "-m", "views=origin,left", "prompt=plain",
                           f"hydra.sweep.dir={sweep}", *SMALL], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0 and "(prompt=view there, plain now)" in proc.stderr
    assert {p: (sweep / "0" / p).read_bytes() for p in before} == before  # what made the predictions, as it was
    report = (sweep / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| 0 ") or line.startswith("| 1 ")]
    refused = "ok; a later run with another setting was refused (prompt=view there, plain now)"
    assert len(rows) == 2 and all(f"| {refused} |" in r for r in rows)
    same = next(line for line in report.splitlines() if line.startswith("Same in every job:"))
    assert "prompt=view" in same.split()  # labelled by the setting that made the predictions
    assert "jobs failed" not in report


def test_a_rank_that_fails_ends_the_job_instead_of_hanging_it(tmp_path, whatsup_dir):
    import shutil
    import time

    data = tmp_path / "release"
    shutil.copytree(whatsup_dir, data)
    (data / "controlled_images" / "mug_under_plate.jpeg").write_bytes(b"cut short")  # the 2nd: rank 1's sample
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "zerovlm", f"hydra.run.dir={tmp_path / 'run'}", "dataset=whatsup_a",
         f"paths.whatsup_dir={data}", "dataset.task=original", "dataset.splits=[dev,test]", "dataset.limit=2",
         "sort_by_length=false",
         "backbone.batch_size=1", "trainer.devices=2"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, timeout=240)
    assert proc.returncode != 0
    assert time.monotonic() - start < 120
    assert "mug_under_plate.jpeg exists but cannot be decoded" in proc.stderr + proc.stdout
    assert not (tmp_path / "run" / "metrics.json").exists()
    log = (tmp_path / "run" / "zerovlm.log").read_text()  # the failing rank's error, in the job's own log
    assert "the job failed on rank 1" in log and "mug_under_plate.jpeg exists but cannot be decoded" in log


def test_submitit_local_with_several_tasks_is_refused_not_hung():
    from omegaconf import OmegaConf

    from zerovlm.run import check_launcher

    local = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
    with pytest.raises(ValueError, match=r"tasks_per_node=2: .*trainer=ddp trainer.devices=2"):
        check_launcher(OmegaConf.create({"launcher": {"_target_": local, "tasks_per_node": 2}}))
    check_launcher(OmegaConf.create({"launcher": {"_target_": local, "tasks_per_node": 1}}))
    check_launcher(OmegaConf.create({"launcher": {"_target_": local.replace("Local", "Slurm"), "tasks_per_node": 4}}))


def test_paper_table3_runs_its_eleven_settings_on_one_set_of_samples(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("-m", "experiment=paper_table3", "dataset=synthetic", "generator=oracle", "dataset.num_scenes=4",
                   f"hydra.sweep.dir={sweep}", env={"ZEROVLM_CACHE": str(tmp_path / "cache")})
    jobs = sorted((p for p in sweep.iterdir() if p.is_dir()), key=lambda p: int(p.name))
    n = len(SyntheticDataset(num_scenes=4, splits=["test"]))
    outputs = [_job_outputs(job, n) for job in jobs]
    settings = [(m["setting"]["view_set"], m["setting"]["prompt_name"]) for _, m in outputs]
    assert settings == [("origin", "plain"), ("left", "plain"), ("right", "plain"), ("random", "plain"),
                        ("left", "view"), ("right", "view"), ("random", "view"), ("multi", "plain"),
                        ("origin_left", "view"), ("origin_left_right", "view"), ("four", "view")]
    assert len({tuple(r["id"] for r in rows) for rows, _ in outputs}) == 1  # every setting on the same samples
    four = outputs[10][0][0]
    assert four["prompt"].startswith("The original image in the upper left corner, the left view image in the upper "
                                     "right corner, the right view image in the lower left corner, and the random "
                                     "view image in the lower right corner. Based on these four images.")
    assert "| job | paper_table3 | prompt | views |" in proc.stdout


@pytest.mark.parametrize("table", ["paper_table2", "paper_table3"])
def test_launch_scripts_run_from_the_repository_root_without_an_activated_environment(tmp_path, table):
    if not (Path(__file__).parents[1] / ".venv" / "bin" / "zerovlm").exists():
        pytest.skip("the launchers fall back to the repository's .venv (make install), which is not here")
    sweep = tmp_path / "sweep"
    # no environment on PATH, and an empty PATH entry: the current directory, whose zerovlm/ is the package folder
    env = {"PATH": "/usr/bin:/bin:", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline",
           "ZEROVLM_CACHE": str(tmp_path / "cache")}
    extra = ["+paper_table3=left_vp"] if table == "paper_table3" else []  # one row: the launcher is under test
    proc = subprocess.run(["bash", f"experiments/{table}.sh", "tiny_llava", "dataset=synthetic", "generator=oracle",
                           "dataset.num_scenes=4", f"hydra.sweep.dir={sweep}", *extra],
                          cwd=Path(__file__).parents[1], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (sweep / "0" / "metrics.json").exists() and f"Sweep directory: {sweep}" in proc.stdout


def test_a_sweep_with_a_failing_job_still_ends_with_its_table_and_a_non_zero_status(tmp_path):
    sweep = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, "-m", "zerovlm", "-m", "dataset.num_scenes=4,0", f"hydra.sweep.dir={sweep}"],
                          cwd=Path(__file__).parents[1], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ZEROVLM_CACHE": str(tmp_path / "cache")})
    assert proc.returncode != 0
    assert "| 0 | 4 | ok | 4 |" in proc.stdout
    assert "| 1 | 0 | failed: ValueError: dataset=synthetic selected no samples" in proc.stdout
    assert "1 of 2 jobs failed" in proc.stdout and f"Sweep directory: {sweep.resolve()}" in proc.stdout
    log = (sweep / "1" / "zerovlm.log").read_text()
    assert "the job failed" in log and "Traceback (most recent call last)" in log


def test_a_killed_sweep_run_again_in_its_directory_finishes_only_what_was_left(tmp_path):
    """SIGKILL of the whole multirun mid-job; the same command with hydra.sweep.dir=<that sweep> leaves the
    finished job as it was, resumes the unfinished one from its shards, and ends as an uninterrupted run."""
    import os
    import signal
    import time

    sweep = tmp_path / "sweep"
    command = [sys.executable, "-m", "zerovlm", "-m", f"hydra.sweep.dir={sweep}", "dataset.num_scenes=320",
               "dataset.splits=[test]", "dataset.limit=4,160", "backbone.batch_size=1", "prompt=plain"]
    root = Path(__file__).resolve().parent.parent
    killed = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    shard = sweep / "1" / "shards" / "predictions.rank0.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (shard.exists() and shard.read_text().count("\n") >= 5):
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert (sweep / "0" / "metrics.json").exists() and not (sweep / "1" / "metrics.json").exists()
    done_before = (sweep / "0" / "shards" / "predictions.rank0.jsonl").read_text()

    subprocess.run(command, cwd=root, check=True, capture_output=True, timeout=300)
    first = json.loads((sweep / "0" / "metrics.json").read_text())
    second = json.loads((sweep / "1" / "metrics.json").read_text())
    assert first["resumed_samples"] == 4 and (sweep / "0" / "shards" / "predictions.rank0.jsonl").read_text() \
        == done_before  # nothing recomputed
    assert 5 <= second["resumed_samples"] < 160 and second["n"] == 160
    run_cli(f"hydra.run.dir={tmp_path / 'whole'}", "dataset.num_scenes=320", "dataset.splits=[test]",
            "dataset.limit=160",
            "backbone.batch_size=1", "prompt=plain")
    resumed, whole = read_jsonl(sweep / "1" / "predictions.jsonl"), read_jsonl(tmp_path / "whole" / "predictions.jsonl")
    assert [(r["id"], r["prediction"]) for r in resumed] == [(r["id"], r["prediction"]) for r in whole]
    assert [r["p_yes"] for r in resumed] == pytest.approx([r["p_yes"] for r in whole], abs=1e-6)


def test_a_rank_killed_mid_job_fails_the_job_in_seconds_and_a_rerun_completes_it(tmp_path):
    import os
    import signal
    import time

    job = tmp_path / "job"
    long_job = ["dataset.num_scenes=240", "dataset.splits=[test]", "dataset.limit=120", "backbone.batch_size=1",
                "prompt=plain"]
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-m", "zerovlm", f"hydra.run.dir={job}", "trainer.devices=2", *long_job],
                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shard = job / "shards" / "predictions.rank1.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (shard.exists() and shard.read_text().count("\n") >= 5):
        time.sleep(0.05)
    worker = next(int(pid) for pid in os.listdir("/proc") if pid.isdigit() and b"zerovlm.worker" in
                  Path(f"/proc/{pid}/cmdline").read_bytes() and str(job).encode() in Path(f"/proc/{pid}/cmdline")
                  .read_bytes())
    os.kill(worker, signal.SIGKILL)
    killed_at = time.monotonic()
    assert proc.wait(timeout=120) != 0 and time.monotonic() - killed_at < 60  # no hang on the dead rank
    assert not (job / "metrics.json").exists()
    run_cli(f"hydra.run.dir={job}", "trainer.devices=2", *long_job)
    run_cli(f"hydra.run.dir={tmp_path / 'whole'}", *long_job)
    resumed, metrics = _job_outputs(job, 120)
    whole, _ = _job_outputs(tmp_path / "whole", 120)
    assert metrics["resumed_samples"] >= 5
    assert [(r["id"], r["prediction"]) for r in resumed] == [(r["id"], r["prediction"]) for r in whole]
    assert [r["p_yes"] for r in resumed] == pytest.approx([r["p_yes"] for r in whole], abs=1e-5)
