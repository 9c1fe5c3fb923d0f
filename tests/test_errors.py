"""Mistakes a user makes, each answered by one message that names the setting to change, before any data or model
is loaded; folders that cannot be made or filled are named with the setting that moves them."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from zerovlm.files import writing_into


def zerovlm(*args: str, cache) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zerovlm", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={**os.environ, "ZEROVLM_CACHE": str(cache)})


@pytest.mark.parametrize(("args", "message"), [
    (["layout=separate", "views=four"], "layout=separate gives the 4 views as separate images, but "
                                        "backbone=tiny_llava takes one image per prompt: use layout=grid"),
    (["layout.cell_size=-5"], "layout.cell_size=-5, layout.gap=8, layout.label_height=20: a cell is at least 1 pixel"),
    (["views=left", 'prompt.single_generated="Centered on the {thing}. {question}"'],
     "prompt.single_generated names {thing}, which it does not have: it can use {object}, {question}, {subject}, "
     "{view}"),
])
def test_a_setting_mistake_is_one_message_before_anything_loads(tmp_path, args, message):
    proc = zerovlm(f"hydra.run.dir={tmp_path / 'run'}", *args, cache=tmp_path / "cache")
    assert proc.returncode != 0 and message in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and proc.stderr.count(message.split(":")[0]) == 1
    assert len((proc.stdout + proc.stderr).strip().splitlines()) <= 5
    assert not (tmp_path / "cache" / "models").exists()  # no model was made or loaded


@pytest.mark.parametrize("multirun", [False, True])
def test_a_run_or_sweep_folder_that_cannot_be_made_is_named_with_its_setting(tmp_path, multirun):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    setting = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    proc = zerovlm(*(["-m"] if multirun else []), f"{setting}={blocker / 'out'}", cache=tmp_path / "cache")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"{blocker / 'out'} cannot be written (Not a directory): set {setting} to a folder " \
                                  "this job may write"


def test_a_full_disk_names_the_folder_and_leaves_no_half_written_file(tmp_path, monkeypatch):
    from test_paired import job

    import zerovlm.results.tidy
    from zerovlm.results.report import write_report

    job(tmp_path, 0, [True, False])
    job(tmp_path, 1, [True, True], views="left")

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zerovlm.results.tidy, "write_bytes_atomic", full)
    with pytest.raises(OSError, match=rf"No space left on device while writing into {tmp_path}: free space there, "
                                      r"or set hydra.sweep.dir to another folder"):
        write_report(tmp_path)
    assert not (tmp_path / "results.csv").exists() and not (tmp_path / "report.md").exists()
    with pytest.raises(FileNotFoundError):  # other errors pass unchanged
        with writing_into(tmp_path, "x"):
            raise FileNotFoundError("gone")
