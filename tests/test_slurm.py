"""Sweeps on a real SLURM (tests/slurm_cluster.py: two nodes on this machine) through `hydra/launcher=slurm`:
2 nodes x 1 task and 1 node x 2 tasks score every sample once, as one process does; a job preempted mid-run is
requeued and resumes from its shards to the same predictions. `make test-slurm` runs these (root, apt)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT, read_jsonl, run_cli
from slurm_cluster import Cluster, unavailable

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
JOB = ["dataset.num_scenes=32", "dataset.splits=[test]", "dataset.limit=6", "prompt=plain"]  # 6 samples
CPU_DDP = ["trainer=ddp", "trainer.accelerator=cpu", "hydra.launcher.cpus_per_task=1",
           "hydra.launcher.timeout_min=10"]


@pytest.fixture(scope="module")
def cluster():
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="zerovlm-slurm-"))).up()
    yield cluster
    cluster.down()


def assert_same_predictions(job: Path, reference: Path) -> None:
    rows, expected = read_jsonl(job / "predictions.jsonl"), read_jsonl(reference / "predictions.jsonl")
    assert [(r["id"], r["prediction"]) for r in rows] == [(r["id"], r["prediction"]) for r in expected]
    assert [r["p_yes"] for r in rows] == pytest.approx([r["p_yes"] for r in expected], abs=1e-5)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    job = tmp_path_factory.mktemp("one") / "job"
    run_cli(f"hydra.run.dir={job}", *JOB)
    return job


@pytest.mark.parametrize(("nodes", "tasks"), [(2, 1), (1, 2)])
def test_a_sweep_on_slurm_scores_every_sample_once_as_one_process(cluster, one_process, tmp_path, nodes, tasks):
    sweep = tmp_path / "sweep"
    run_cli("-m", "hydra/launcher=slurm", f"hydra.sweep.dir={sweep}", *CPU_DDP, f"trainer.num_nodes={nodes}",
            f"trainer.devices={tasks}", *JOB, "seed=0,1", env=cluster.env, timeout=600)
    for job in ("0", "1"):
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert metrics["world_size"] == 2 and metrics["n"] == 6 and metrics["duplicates_removed"] == 0
        shards = sorted((sweep / job / "shards").glob("predictions.rank*.jsonl"))
        assert len(shards) == 2 and sum(len(read_jsonl(s)) for s in shards) == 6  # each sample scored once
    assert_same_predictions(sweep / "0", one_process)


def test_a_preempted_job_is_requeued_and_resumes_from_its_shards(cluster, tmp_path):
    """SIGUSR2 (what SLURM sends before a preemption or the time limit) mid-run: submitit requeues the job, which
    scores only what its shards lack and ends with the predictions of an uninterrupted run."""
    long_job = ["dataset.num_scenes=160", "dataset.limit=160", "prompt=plain", "backbone.batch_size=1"]
    run_cli(f"hydra.run.dir={tmp_path / 'whole'}", *long_job)
    sweep = tmp_path / "sweep"
    command = [sys.executable, "-m", "zerovlm", "-m", "hydra/launcher=slurm", f"hydra.sweep.dir={sweep}", *CPU_DDP,
               "trainer.devices=1", *long_job]
    launcher = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **cluster.env}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    shard = sweep / "0" / "shards" / "predictions.rank0.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (shard.exists() and shard.read_text().count("\n") >= 10):
        time.sleep(0.1)
    assert shard.exists(), launcher.communicate(timeout=60)[0][-4000:]
    job_id = cluster.run("squeue", "-h", "-o", "%i").split()[0]
    cluster.run("scancel", "--signal=USR2", job_id)
    output, _ = launcher.communicate(timeout=600)
    assert launcher.returncode == 0, output[-6000:]
    metrics = json.loads((sweep / "0" / "metrics.json").read_text())
    assert 10 <= metrics["resumed_samples"] < 160, metrics  # scored before the signal, kept
    assert_same_predictions(sweep / "0", tmp_path / "whole")
    logs = "".join(p.read_text() for p in (sweep / ".submitit").rglob("*.err"))
    assert "Caught signal SIGUSR2" in logs and "DUE TO JOB REQUEUE" in logs, logs[-4000:]
