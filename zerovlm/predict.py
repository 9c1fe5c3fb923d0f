"""The evaluation as a LightningModule: sample -> views -> stitched picture -> prompt -> backbone answer.

`Trainer.predict` runs it on every device; each batch returns one row per sample (everything needed to trace
the number: exact prompt, model input, views with their actual poses) and the pictures exactly as the backbone
received them (one image, or a list of them for layout=separate).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import asdict
from time import perf_counter

import lightning.pytorch as pl
import torch

from zerovlm.collate import Batch, PrepareBatch
from zerovlm.prompts import PromptBuilder
from zerovlm.stitch import Layout
from zerovlm.views import ViewMaker


class ViewStageModule(pl.LightningModule):
    """What every stage shares: the view maker (a generator that is a model is registered, so Lightning moves it
    to the device), an optional 3D prior moved beside it, views generated / cached and seconds spent per step
    of the pipeline (those of the DataLoader's workers under `loader_<step>`)."""

    def __init__(self, views: ViewMaker, prior=None) -> None:
        super().__init__()
        self.views, self.prior = views, prior
        if isinstance(views.generator, torch.nn.Module):
            self.generator = views.generator
        self.seconds: dict[str, float] = defaultdict(float)
        self.loader_views: Counter = Counter()  # views the workers read from the cache (or rendered on the CPU)

    def on_predict_start(self) -> None:
        if self.prior is not None:  # its models are not submodules: put them beside the rest
            self.prior.to(self.device)

    def view_counts(self) -> dict[str, int]:
        """Views generated, read from the cache, and found corrupt there (made again) by this rank, in this process
        and in its loader's workers."""
        self.views.flush()  # every generated view written to the cache
        return {name: getattr(self.views, name) + self.loader_views[name]
                for name in ("generated", "cached", "corrupt")}

    def views_made(self) -> dict[str, int]:
        """Views generated and read from the cache so far by this rank (for the progress bar; not waiting on
        the writes)."""
        return {name: getattr(self.views, name) + self.loader_views[name] for name in ("generated", "cached")}

    @contextmanager
    def timed(self, name: str):
        start = perf_counter()
        yield
        self.seconds[name] += perf_counter() - start


class SpatialQAModule(ViewStageModule):
    """Batches come from `PrepareBatch` (collate.py), made as far as the CPU could in the loader's workers; the
    step finishes them (views to generate, the prior) and runs the backbone."""

    def __init__(self, views: ViewMaker, layout: Layout, prompt: PromptBuilder, backbone, setting: dict,
                 prior=None) -> None:
        super().__init__(views, prior)
        self.layout, self.prompt, self.backbone = layout, prompt, backbone
        self.setting = setting  # names of the options that produced every row (view set, prompt, ...)
        self.prepare = PrepareBatch(views, layout, prompt, getattr(backbone, "inputs", None), prior is not None)

    def transfer_batch_to_device(self, batch, device, dataloader_idx: int):
        return batch  # the backbone moves its prepared tensors itself (non-blocking, from pinned memory)

    def predict_step(self, batch: Batch, batch_idx: int = 0) -> dict:
        if not isinstance(batch, Batch):  # a plain list of samples (called directly)
            batch = self.prepare(list(batch))
        self.loader_views.update(batch.view_counts)
        self.prepare.finish(batch, self.views, self.prior)
        for name, seconds in batch.seconds.items():
            self.seconds[name] += seconds
        samples, options = batch.samples, batch.options()
        choice = options is not None
        with self.timed("backbone"):
            if batch.inputs is not None:
                answers = self.backbone.answer_prepared(batch.inputs, batch.pictures, batch.prompts, options)
            elif choice:
                answers = self.backbone.choose(batch.pictures, batch.prompts, options)
            else:
                answers = self.backbone.score(batch.pictures, batch.prompts, samples)
        rows = []
        for sample, view, prompt, answer, (text, scene) in zip(samples, batch.views, batch.prompts, answers,
                                                                batch.priors, strict=True):
            label = sample.answer if choice else sample.label
            prediction = answer["prediction"]
            row = {
                "id": sample.id, "image": sample.meta.get("image", sample.id), "split": sample.split,
                "label": label, "prediction": prediction,
                "correct": prediction is not None and prediction == label,
                "p_yes": answer["p_yes"], "raw": answer["raw"],
                "statement": sample.statement, "relation": sample.relation, "negative_type": sample.negative_type,
                "category": sample.category, "subject": sample.subject, "object": sample.object,
                "prompt": prompt, "model_input": answer["model_input"],
                "views": [asdict(p) for p, _ in view], **self.setting,
            }
            if scene is not None:  # the prior's text (also inside the prompt) and the 3D objects behind it
                row.update(prior_text=text, prior_scene=scene)
            if choice:
                row.update(options=sample.options, scores=answer["scores"], pair=sample.meta.get("pair"))
            rows.append(row)
        return {"rows": rows, "pictures": batch.pictures}
