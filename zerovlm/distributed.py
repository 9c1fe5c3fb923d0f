"""Lightning DDP for Hydra jobs: every rank of a job works in that job's one output directory.

Lightning's DDP launcher re-runs the command line for ranks > 0; under a Hydra multirun that command is the
whole sweep. Here the extra ranks of a job run `python -m zerovlm.worker JOB_DIR`, which loads the resolved
config the job wrote there. Processes started by SLURM or torchrun are left to them (Lightning's cluster
environments). After the job, the process group and the DDP environment variables are removed so the next
job of a sweep starts clean.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

DDP_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE", "GROUP_RANK", "PL_GLOBAL_SEED")


class _JobDirLauncher(_SubprocessScriptLauncher):
    def __init__(self, cluster_environment, num_processes: int, num_nodes: int, job_dir: Path) -> None:
        super().__init__(cluster_environment, num_processes, num_nodes)
        self.job_dir = job_dir

    def _call_children_scripts(self) -> None:
        self._check_can_spawn_children()
        self.procs = []
        env = self.cluster_environment
        os.environ.update(MASTER_ADDR=env.main_address, MASTER_PORT=str(env.main_port), NODE_RANK=str(env.node_rank()),
                          LOCAL_RANK=str(env.local_rank()), WORLD_SIZE=str(self.num_processes * self.num_nodes))
        for local_rank in range(1, self.num_processes):
            child_env = dict(os.environ, LOCAL_RANK=str(local_rank))
            command = [sys.executable, "-m", "zerovlm.worker", str(self.job_dir)]
            self.procs.append(subprocess.Popen(command, env=child_env))


class JobDDPStrategy(DDPStrategy):
    """DDP (popen) whose extra local ranks run `zerovlm.worker` in the job directory."""

    def __init__(self, job_dir: str | Path, **kwargs) -> None:
        super().__init__(**kwargs)
        self.job_dir = Path(job_dir)

    def _configure_launcher(self) -> None:
        super()._configure_launcher()
        if type(self._launcher) is _SubprocessScriptLauncher:
            self._launcher = _JobDirLauncher(self.cluster_environment, self.num_processes, self.num_nodes, self.job_dir)


def device_count(accelerator: str, devices) -> int:
    if isinstance(devices, (list, tuple)):
        return len(devices)
    if isinstance(devices, str) and devices.strip().lstrip("-").isdigit():
        devices = int(devices)
    if devices in ("auto", -1):
        if accelerator in ("gpu", "cuda", "auto"):
            import torch

            return max(1, torch.cuda.device_count())
        return 1
    return int(devices)


def build_trainer(trainer_cfg, job_dir: str | Path, callbacks: list, description: str = "predict"):
    """Instantiate the configured Trainer; multi-process `auto`/`ddp` becomes JobDDPStrategy. Its progress bar
    (unless trainer.enable_progress_bar=false) is described as `description`."""
    from hydra.utils import instantiate

    from zerovlm.progress import JobProgressBar

    strategy = trainer_cfg.get("strategy", "auto")
    processes = device_count(trainer_cfg.get("accelerator", "auto"), trainer_cfg.get("devices", 1))
    if strategy in ("auto", "ddp") and processes * int(trainer_cfg.get("num_nodes", 1)) > 1:
        strategy = JobDDPStrategy(job_dir)
    # the sampler deals whole images to the ranks itself (batching.py)
    if trainer_cfg.get("enable_progress_bar", True):
        callbacks = [*callbacks, JobProgressBar(description)]
    return instantiate(trainer_cfg, strategy=strategy, callbacks=callbacks, default_root_dir=str(job_dir),
                       use_distributed_sampler=False)


@contextmanager
def clean_job_environment():
    """Restore the DDP environment variables and drop the process group when a job ends."""
    saved = {k: os.environ.get(k) for k in DDP_ENV}
    try:
        yield
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
