"""A batch's CPU work, done in the DataLoader's worker processes while the device runs the batch before it.

`PrepareBatch` is the loader's collate function: for a list of samples it reads their views from the cache,
stitches the pictures, writes the prompts and makes the backbone's model input (chat template, image
preprocessing, tokens; pinned for a non-blocking copy to the GPU). It stops at the first step that needs a model:
a view the cache lacks (the generator runs on the device) or a 3D prior (its models too); the LightningModule
finishes those batches with the same functions (`finish`), so a batch's result never depends on where it was
prepared. With `num_workers=0` it all runs in the main process, in the same order.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from time import perf_counter

from zerovlm.batching import read_seconds
from zerovlm.data.sample import Sample
from zerovlm.prompts import PromptBuilder
from zerovlm.stitch import Layout
from zerovlm.views import ViewMaker


@dataclass
class Batch:
    samples: list[Sample]
    views: list | None = None  # per sample, [(Pose, image)]
    pictures: list | None = None  # per sample, what the backbone sees: one image, or a list (layout=separate)
    priors: list | None = None  # per sample, (the prior's text, its scene) or (None, None)
    prompts: list[str] | None = None
    choices: list[list[str]] | None = None  # per sample, what the backbone scores as the answer (None: yes/no, text)
    inputs: object = None  # the backbone's prepared model input
    view_counts: Counter = field(default_factory=Counter)  # views generated / cached while preparing
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # the loader's as loader_<step>

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self):
        return iter(self.samples)

    def pin_memory(self) -> Batch:
        if self.inputs is not None:
            self.inputs = self.inputs.pin_memory()
        return self



class PrepareBatch:
    """samples -> Batch, as far as the CPU can take it without a model."""

    def __init__(self, views: ViewMaker, layout: Layout, prompt: PromptBuilder, backbone_inputs=None,
                 prior: bool = False, generate: bool = False) -> None:
        self.views = views.reader()
        self.layout, self.prompt, self.backbone_inputs, self.prior = layout, prompt, backbone_inputs, prior
        self.generate = generate  # multiple-choice answers are then generated and read for a letter

    def choices(self, samples: list[Sample]) -> list[list[str]] | None:
        if samples[0].options is None or (self.generate and samples[0].question is not None):
            return None
        return [self.prompt.answers(s) for s in samples]

    def __call__(self, samples: list[Sample]) -> Batch:
        batch = Batch(samples, choices=self.choices(samples))
        batch.seconds["read"] += read_seconds(samples)  # reading and decoding the samples' images
        start = perf_counter()
        self.views.generated = self.views.cached = self.views.corrupt = 0
        batch.views = self.views.batch(samples)
        batch.view_counts.update(generated=self.views.generated, cached=self.views.cached,
                                 corrupt=self.views.corrupt)
        batch.seconds["views"] += perf_counter() - start
        if batch.views is not None and not self.prior:
            self.finish(batch)
        batch.seconds = defaultdict(float, {f"loader_{name}": s for name, s in batch.seconds.items()})
        return batch

    def finish(self, batch: Batch, views: ViewMaker | None = None, prior=None) -> Batch:
        """Whatever is left to do: the views (generating the missing ones with `views`), the 3D prior, the
        pictures, the prompts and the model input."""
        def timed(name, fn):
            start = perf_counter()
            value = fn()
            batch.seconds[name] += perf_counter() - start
            return value

        samples = batch.samples
        if batch.views is None:
            batch.views = timed("views", lambda: views.batch(samples))
        if batch.pictures is None:
            batch.pictures = timed("stitch", lambda: [self.layout.stitch([im for _, im in v],
                                                                         [p.display for p, _ in v])
                                                      for v in batch.views])
        if batch.priors is None:
            batch.priors = timed("prior", lambda: [prior(s) for s in samples] if prior is not None
                                 else [(None, None)] * len(samples))
        if batch.prompts is None:
            batch.prompts = timed("prompt", lambda: [self.prompt(s, [p for p, _ in v], self.layout, text)
                                                     for s, v, (text, _) in zip(samples, batch.views, batch.priors,
                                                                                strict=True)])
        if batch.inputs is None and self.backbone_inputs is not None:
            batch.inputs = timed("inputs", lambda: self.backbone_inputs.prepare(batch.pictures, batch.prompts,
                                                                                batch.choices))
        return batch
