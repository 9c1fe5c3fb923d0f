"""What a job prints, besides its progress bar (progress.py): the job's name in a sweep ("job 3/8"), the
libraries' start-up lines kept out, and the job log's file naming its path when it cannot be written.

- `quiet_libraries` drops what every job would otherwise print and no researcher acts on: Lightning's device
  summary ("GPU available: ...") and litlogger tip, its `srun` hint (zerovlm reaches SLURM through submitit),
  torch's LeafSpec deprecation inside Lightning, and transformers' "Loading weights" bars. Warnings that
  matter still show.
"""

from __future__ import annotations

import logging
import os
import warnings

from hydra.experimental.callback import Callback

SWEEP_SIZE = "ZEROVLM_SWEEP_SIZE"  # the number of jobs of the running sweep, set when it starts (report.py)
LIGHTNING_NOISE = ("GPU available:", "TPU available:", "HPU available:", "💡 Tip:")
WARNING_NOISE = (
    r"The `srun` command is available on your system but is not used",
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)


class _DropLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(LIGHTNING_NOISE)


def quiet_libraries() -> None:
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines())
    for message in WARNING_NOISE:
        warnings.filterwarnings("ignore", message=message)
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def sweep_size(config) -> int | None:
    """How many jobs Hydra's basic sweeper makes of this multirun (its `hydra.sweeper.params` and the command
    line's sweeps, parsed and split as it does); None for other sweepers (Optuna, Ax: their trials decide)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeper = config.hydra.sweeper
    if not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
        return None
    lines = [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]
    lines += list(config.hydra.overrides.task)
    try:
        overrides = OverridesParser.create().parse_overrides(lines)
        return sum(len(batch) for batch in BasicSweeper.split_arguments(overrides, None))
    except Exception:  # noqa: BLE001 - a glob over a config group needs Hydra's config loader: no count then
        return None


def job_label(hydra_cfg) -> str:
    """"job 3/8" in a sweep (Hydra numbers jobs from 0), "" in a single run."""
    from hydra.types import RunMode

    if hydra_cfg is None or hydra_cfg.mode != RunMode.MULTIRUN:
        return ""
    size = os.environ.get(SWEEP_SIZE)
    return f"job {hydra_cfg.job.num + 1}/{size}" if size else f"job {hydra_cfg.job.num + 1}"


class JobLogFile(logging.FileHandler):
    """The job's zerovlm.log (Hydra's file handler), failing with the path and the setting to change when it
    cannot be opened, where the logging module would only say "Unable to configure handler 'file'"."""

    def __init__(self, filename, mode: str = "a", encoding: str | None = None, delay: bool = False) -> None:
        try:
            super().__init__(filename, mode, encoding, delay)
        except OSError as error:
            raise PermissionError(f"{filename} cannot be written ({error.strerror or error}): set hydra.run.dir "
                                  "(hydra.sweep.dir in a multirun) to a folder this job may write") from None


class OutputFolders(Callback):
    """Before Hydra makes a run's or a sweep's folder: one that cannot be made or written ends the command with a
    message naming it and the setting to change (Hydra's own error is a traceback). Hydra turns a callback's
    exception into a warning and goes on, so this exits (SystemExit passes through)."""

    def on_run_start(self, config, **kwargs) -> None:
        _creatable(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config, **kwargs) -> None:
        _creatable(config.hydra.sweep.dir, "hydra.sweep.dir")


def _creatable(folder: str, setting: str) -> None:
    import sys

    from zerovlm.files import check_writable

    try:
        check_writable(folder, setting)
    except PermissionError as error:
        sys.stderr.write(f"{error}\n")
        raise SystemExit(1) from None
