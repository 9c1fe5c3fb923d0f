"""What a job prints: the progress bar's pace in a log file, "job k/N" in a sweep, the libraries' noise kept out."""

import logging
from types import SimpleNamespace

from hydra.types import RunMode
from omegaconf import OmegaConf

from zerovlm.console import SWEEP_SIZE, job_label, quiet_libraries, sweep_size
from zerovlm.progress import LOG_INTERVAL, JobProgressBar


def test_in_a_log_file_the_bar_is_redrawn_at_most_every_interval_and_at_the_end(monkeypatch):
    bar = JobProgressBar("job 1/2 evaluate")
    monkeypatch.setattr(JobProgressBar, "is_enabled", property(lambda self: True))
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    clock = iter([100.0, 100.0, 100.0 + LOG_INTERVAL / 2, 100.0 + LOG_INTERVAL + 1, 100.0 + LOG_INTERVAL + 1])
    monkeypatch.setattr("zerovlm.progress.time.monotonic", lambda: next(clock))
    assert [bar._should_update(n, 10) for n in (1, 2, 3)] == [True, False, True]  # first, then 30 s later
    assert bar._should_update(10, 10)  # the last batch always
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert bar._should_update(4, 10)  # on a terminal: Lightning's own pace


def test_a_sweep_names_each_job_k_of_n(monkeypatch):
    config = OmegaConf.create({"hydra": {
        "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
                    "params": {"views": "origin,left,right"}},
        "overrides": {"task": ["prompt=plain,view", "dataset.limit=4"]}}})
    assert sweep_size(config) == 6
    config.hydra.sweeper._target_ = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert sweep_size(config) is None
    monkeypatch.setenv(SWEEP_SIZE, "6")
    assert job_label(SimpleNamespace(mode=RunMode.MULTIRUN, job=SimpleNamespace(num=2))) == "job 3/6"
    assert job_label(SimpleNamespace(mode=RunMode.RUN, job=SimpleNamespace(num=0))) == ""


def test_the_libraries_start_up_lines_are_kept_out_and_other_records_kept(caplog):
    quiet_libraries()
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
        logger.info("GPU available: False, used: False")
        logger.info("💡 Tip: For seamless cloud logging ...")
        logger.info("Restoring states from the checkpoint")
    assert [r.getMessage() for r in caplog.records] == ["Restoring states from the checkpoint"]


def test_resuming_with_another_setting_names_what_differs(tmp_path):
    import pytest

    from zerovlm.writer import check_signature

    setting = {"dataset": {"name": "synthetic", "limit": 7}, "prompt": {"name": "view", "multi": "x"}, "seed": 0}
    check_signature(tmp_path, setting)
    check_signature(tmp_path, setting)  # the same setting resumes
    other = {"dataset": {"name": "synthetic", "limit": 6}, "prompt": {"name": "plain", "multi": "y"}, "seed": 1}
    with pytest.raises(RuntimeError, match=r"another setting than this job's \(dataset.limit=7 there, 6 now; "
                                           r"prompt=view there, plain now; seed=0 there, 1 now\)"):
        check_signature(tmp_path, other)
