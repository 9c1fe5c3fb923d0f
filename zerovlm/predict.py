"""The evaluation as a LightningModule: sample -> views -> stitched picture -> prompt -> backbone answer.

`Trainer.predict` runs it on every device; each batch returns one row per sample (everything needed to trace
the number: exact prompt, model input, views with their actual poses) and the pictures exactly as the backbone
received them (one image, or a list of them for layout=separate).
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import asdict
from time import perf_counter

import lightning.pytorch as pl
import torch

from zerovlm.backbones.answers import parse_choice
from zerovlm.collate import Batch, PrepareBatch
from zerovlm.data.choice import CHOICE_FIELDS
from zerovlm.prompts import PromptBuilder
from zerovlm.stitch import Layout
from zerovlm.views import ViewMaker


def no_silent_stop(step):
    """A StopIteration escaping a step (from a library's exhausted iterator) would end Lightning's predict loop as
    if the data had run out, leaving samples unscored without an error: raise it as the error it is."""
    @functools.wraps(step)
    def checked(self, batch, batch_idx: int = 0):
        try:
            return step(self, batch, batch_idx)
        except StopIteration as error:
            raise RuntimeError(f"{type(self).__name__}.predict_step raised StopIteration on batch {batch_idx} "
                               f"(samples {[s.id for s in batch][:4]}...)") from error

    return checked


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
        return self.views_made()

    def views_made(self) -> dict[str, int]:
        """The same counts so far, without waiting on the writes (for the progress bar)."""
        return {name: getattr(self.views, name) + self.loader_views[name]
                for name in ("generated", "cached", "corrupt")}

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
        self.prepare = PrepareBatch(views, layout, prompt, getattr(backbone, "inputs", None), prior is not None,
                                    generate=getattr(backbone, "scoring", None) == "generate")

    def transfer_batch_to_device(self, batch, device, dataloader_idx: int):
        return batch  # the backbone moves its prepared tensors itself (non-blocking, from pinned memory)

    @no_silent_stop
    def predict_step(self, batch: Batch, batch_idx: int = 0) -> dict:
        if not isinstance(batch, Batch):  # a plain list of samples (called directly)
            batch = self.prepare(list(batch))
        self.loader_views.update(batch.view_counts)
        self.prepare.finish(batch, self.views, self.prior)
        for name, seconds in batch.seconds.items():
            self.seconds[name] += seconds
        samples, choices = batch.samples, batch.choices
        choice = samples[0].options is not None  # caption choice or a multiple-choice question
        with self.timed("backbone"):
            if batch.inputs is not None:
                answers = self.backbone.answer_prepared(batch.inputs, batch.pictures, batch.prompts, choices)
            elif choices is not None:
                answers = self.backbone.choose(batch.pictures, batch.prompts, choices)
            else:
                answers = self.backbone.score(batch.pictures, batch.prompts, samples)
        if choice and choices is None:  # generated answers to multiple-choice questions: read for the option
            answers = [{**a, "prediction": parse_choice(a["raw"], s.options), "scores": None}
                       for a, s in zip(answers, samples, strict=True)]
        rows = []
        for sample, view, prompt, answer, (text, scene) in zip(samples, batch.views, batch.prompts, answers,
                                                                batch.priors, strict=True):
            label = sample.answer if choice else sample.label
            prediction = answer["prediction"]
            row = {
                "id": sample.id, "image": sample.image_key, "split": sample.split,
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
            if sample.question is not None:  # what the benchmark's own scoring reads (metrics.choice_metrics)
                row.update(question=sample.question,
                           answered_by="generated text" if choices is None else self.prompt.choice_answer,
                           **{k: sample.meta[k] for k in CHOICE_FIELDS if k in sample.meta})
            rows.append(row)
        return {"rows": rows, "pictures": batch.pictures}
