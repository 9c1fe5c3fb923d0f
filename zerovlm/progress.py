"""The job's progress bar: Lightning's tqdm bar for the stage, described as "job 3/8 evaluate" in a sweep, with
samples/s and, where views are made, views/s. `trainer.enable_progress_bar=false` turns it off."""

from __future__ import annotations

import sys
import time

from lightning.pytorch.callbacks import TQDMProgressBar

LOG_INTERVAL = 30.0  # seconds between redraws where the console is a log file (SLURM's)


class JobProgressBar(TQDMProgressBar):
    """Lightning's bar over the stage's batches, described by the job and its stage, with samples/s and views/s
    as a postfix. Where the console is not a terminal (a SLURM log), it redraws at most every 30 s and at the end."""

    def __init__(self, description: str) -> None:
        super().__init__()
        self.description = description
        self.samples, self.drawn = 0, float("-inf")

    @property
    def predict_description(self) -> str:
        return self.description

    def init_predict_tqdm(self):
        bar = super().init_predict_tqdm()
        bar.unit = "batch"
        return bar

    def on_predict_start(self, trainer, pl_module) -> None:
        super().on_predict_start(trainer, pl_module)
        self.samples, self.drawn = 0, float("-inf")

    def _should_update(self, current: int, total) -> bool:
        """Lightning's rule (every refresh_rate batches and the last); off a terminal, at most every 30 s."""
        if not super()._should_update(current, total):
            return False
        if sys.stdout.isatty() or current == total:
            return True
        if time.monotonic() - self.drawn < LOG_INTERVAL:
            return False
        self.drawn = time.monotonic()
        return True

    def on_predict_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        super().on_predict_batch_start(trainer, pl_module, batch, batch_idx, dataloader_idx)
        if self.predict_progress_bar is not None:  # one loader: no "DataLoader 0" after the job's name
            self.predict_progress_bar.set_description(self.description, refresh=False)

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self.samples += len(batch)
        bar = self.predict_progress_bar
        if bar is not None and not bar.disable and (elapsed := bar.format_dict["elapsed"]) > 0:  # off on ranks > 0
            views = pl_module.views_made()
            postfix = {"samples/s": f"{self.samples / elapsed:.2f}"}
            if views["generated"] + views["cached"]:  # views shown besides the original (new or from the cache)
                postfix["views/s"] = f"{(views['generated'] + views['cached']) / elapsed:.2f}"
                postfix["new views"] = views["generated"]
            bar.set_postfix(postfix, refresh=False)
        super().on_predict_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)
