"""Stages that make views without asking a VLM anything, as LightningModules run by Trainer.predict.

- render: fill the view cache for a dataset x view set on every device, so an evaluation sweep over prompts,
  layouts and backbones never waits on diffusion (a repeated render generates nothing).
- compare_views: on synthetic scenes, how far the generator's views are from the true ones the oracle renders
  (PSNR and mean absolute error per pose): how much of a perfect 3D model's views the generator delivers.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from PIL import Image

from zerovlm.batching import read_seconds
from zerovlm.data.sample import Sample
from zerovlm.generators.base import ViewRequest
from zerovlm.generators.oracle import OracleRenderer
from zerovlm.predict import ViewStageModule, no_silent_stop
from zerovlm.stitch import Layout
from zerovlm.views import ORIGIN, ViewMaker

# the pictures the view stages keep (inputs/): unlabelled, samples.png names each view under its tile
COMPARE_LAYOUT = Layout("grid", 128, 4)


def render_layout(layout: Layout) -> Layout:
    """A render job's views in a grid of the configured layout's cells."""
    return Layout("grid", layout.cell_size, layout.gap, layout.background)


class RenderViewsModule(ViewStageModule):
    """Views (and, with a prior configured, the 3D priors) of every sample, into their caches."""

    def __init__(self, views: ViewMaker, layout: Layout, prior=None) -> None:
        super().__init__(views, prior)
        self.layout = render_layout(layout)

    @no_silent_stop
    def predict_step(self, batch: list[Sample], batch_idx: int = 0) -> dict:
        self.seconds["loader_read"] += read_seconds(batch)  # reading and decoding the samples' images, in the loader
        with self.timed("views"):
            views = self.views.batch(batch)
        rows = [{"id": s.id, "split": s.split, "statement": s.statement, "views": [asdict(p) for p, _ in v]}
                for s, v in zip(batch, views, strict=True)]
        if self.prior is not None:
            with self.timed("prior"):
                for row, sample in zip(rows, batch, strict=True):
                    row["prior_scene"] = self.prior.scene(sample)
        pictures = [self.layout.stitch([im for _, im in v]) for v in views]  # samples.png names the views
        return {"rows": rows, "pictures": pictures}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


class OracleGapModule(ViewStageModule):
    """Each generated view beside the oracle's true one; the generator's view is resized to the oracle's size."""

    def __init__(self, views: ViewMaker) -> None:
        super().__init__(views)
        self.oracle = OracleRenderer()
        self.layout = COMPARE_LAYOUT

    @no_silent_stop
    def predict_step(self, batch: list[Sample], batch_idx: int = 0) -> dict:
        self.seconds["loader_read"] += read_seconds(batch)
        with self.timed("views"):
            views = self.views.batch(batch)
        rows, pictures = [], []
        for sample, sample_views in zip(batch, views, strict=True):
            generated = [(p, im) for p, im in sample_views if p.name != ORIGIN]
            truth = self.oracle.generate([ViewRequest(sample, p, 0) for p, _ in generated])
            resized = []
            for k, ((pose, image), true) in enumerate(zip(generated, truth, strict=True)):
                image = image.convert("RGB").resize(true.size, Image.Resampling.BICUBIC)
                a, b = np.asarray(image), np.asarray(true)
                resized.append(image)
                rows.append({"id": f"{sample.id}/{pose.name}", "sample": sample.id, "split": sample.split,
                             "view": k, "pose": asdict(pose), "psnr": psnr(a, b),  # view: its tile in the picture
                             "mae": float(np.mean(np.abs(a.astype(int) - b.astype(int))) / 255)})
            # generated views above the true ones (a 2 x 3 grid for left, right, random)
            pictures.append(self.layout.stitch(resized + truth) if generated else None)
        return {"rows": rows, "pictures": pictures}


def view_gap_metrics(rows: list[dict]) -> dict:
    if not rows:
        raise ValueError("compare_views: the view set has no pose besides origin, so nothing was compared")
    by_pose: dict[str, list[dict]] = {}
    for r in rows:
        by_pose.setdefault(r["pose"]["name"], []).append(r)

    def summary(group: list[dict]) -> dict:
        finite = [r["psnr"] for r in group if np.isfinite(r["psnr"])]
        return {"n": len(group), "psnr": float(np.mean(finite)) if finite else float("inf"),
                "mae": float(np.mean([r["mae"] for r in group])), "identical": len(group) - len(finite)}

    return {**summary(rows), "poses": {k: summary(v) for k, v in sorted(by_pose.items())}}
