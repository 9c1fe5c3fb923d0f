"""The evaluation as a LightningModule: sample -> views -> stitched picture -> prompt -> backbone answer.

`Trainer.predict` runs it on every device; each batch returns one row per sample (everything needed to trace
the number: exact prompt, model input, views with their actual poses) and the pictures exactly as the backbone
received them (one image, or a list of them for layout=separate).
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict
from time import perf_counter

import lightning.pytorch as pl
import torch

from zerovlm.data.sample import Sample
from zerovlm.prompts import PromptBuilder
from zerovlm.stitch import Layout
from zerovlm.views import ViewMaker


class ViewStageModule(pl.LightningModule):
    """What every stage shares: the view maker (a generator that is a model is registered, so Lightning moves it
    to the device), an optional 3D prior moved beside it, and seconds spent per step of the pipeline."""

    def __init__(self, views: ViewMaker, prior=None) -> None:
        super().__init__()
        self.views, self.prior = views, prior
        if isinstance(views.generator, torch.nn.Module):
            self.generator = views.generator
        self.seconds: dict[str, float] = defaultdict(float)

    def on_predict_start(self) -> None:
        if self.prior is not None:  # its models are not submodules: put them beside the rest
            self.prior.to(self.device)

    @contextmanager
    def timed(self, name: str):
        start = perf_counter()
        yield
        self.seconds[name] += perf_counter() - start


class SpatialQAModule(ViewStageModule):
    def __init__(self, views: ViewMaker, layout: Layout, prompt: PromptBuilder, backbone, setting: dict,
                 prior=None) -> None:
        super().__init__(views, prior)
        self.layout, self.prompt, self.backbone = layout, prompt, backbone
        self.setting = setting  # names of the options that produced every row (view set, prompt, ...)

    def predict_step(self, batch: list[Sample], batch_idx: int = 0) -> dict:
        with self.timed("views"):
            views = self.views.batch(batch)
        with self.timed("stitch"):
            pictures = [self.layout.stitch([im for _, im in v], [p.display for p, _ in v]) for v in views]
        with self.timed("prior"):
            priors = [self.prior(s) for s in batch] if self.prior is not None else [(None, None)] * len(batch)
        with self.timed("prompt"):
            prompts = [self.prompt(s, [p for p, _ in v], self.layout, text)
                       for s, v, (text, _) in zip(batch, views, priors, strict=True)]
        choice = batch[0].options is not None
        with self.timed("backbone"):
            if choice:
                answers = self.backbone.choose(pictures, prompts, [s.options for s in batch])
            else:
                answers = self.backbone.score(pictures, prompts, batch)
        rows = []
        for sample, view, prompt, answer, (_, scene) in zip(batch, views, prompts, answers, priors, strict=True):
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
            if scene is not None:
                row["prior"] = scene  # the 3D objects behind the prior's text (the text is in the prompt)
            if choice:
                row.update(options=sample.options, scores=answer["scores"], pair=sample.meta.get("pair"))
            rows.append(row)
        return {"rows": rows, "pictures": pictures}
