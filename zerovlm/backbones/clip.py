"""A contrastive backbone (CLIP family through transformers): a caption's score is its image-text similarity.

It answers caption choice (What'sUp's own task, `dataset.task=original`): the caption most similar to the
picture wins; a tie at the top is no answer.

A true/false statement it scores against its counterpart with the opposite relation ("The cat is left of the
dog." vs "The cat is right of the dog."): p_yes is the softmax weight of the statement over the pair, with CLIP's
own logit scale. A statement whose relation has no opposite (data/relations.py), or whose relation words are
not in its text, gets no answer: it is counted as unparsed, never guessed. This is this project's protocol for
a frozen CLIP on true/false data, stated here because the ZeroVLM paper does not spell out its own.
"""

from __future__ import annotations

import torch

from zerovlm.backbones.hf import load_processor, mean_colour, pad_to_square
from zerovlm.backbones.tiny import ensure_tiny_model
from zerovlm.data.relations import OPPOSITES
from zerovlm.data.task import replace_phrase


class CLIPBackbone(torch.nn.Module):
    def __init__(self, name: str, model: str, revision: str | None = None, tiny_random: str | None = None,
                 batch_size: int = 16, dtype: str = "float32", scoring: str = "similarity",
                 image_backend: str | None = "pil", pad_to_square: bool = False, seed: int = 0) -> None:
        super().__init__()
        from transformers import AutoModel

        if tiny_random:
            ensure_tiny_model(tiny_random, model, seed)
        self.name, self.batch_size, self.scoring, self.tiny_random = name, batch_size, scoring, bool(tiny_random)
        self.processor = load_processor(name, model, revision, image_backend=image_backend)
        self.square = mean_colour(self.processor.image_processor) if pad_to_square else None
        self.model = AutoModel.from_pretrained(model, revision=revision, dtype=getattr(torch, dtype)).eval()

    def score(self, pictures: list, prompts: list[str], samples=None) -> list[dict]:
        if samples is None:
            raise ValueError(f"backbone {self.name} scores a statement against its opposite: it needs the samples")
        pairs = []
        for sample in samples:
            opposite = OPPOSITES.get(sample.relation)
            counterpart = replace_phrase(sample.statement, sample.relation, opposite) if opposite else None
            pairs.append([sample.statement, counterpart] if counterpart else None)
        scorable = [i for i, p in enumerate(pairs) if p is not None]
        results = self.choose([pictures[i] for i in scorable], [prompts[i] for i in scorable],
                              [pairs[i] for i in scorable]) if scorable else []
        out = [{"model_input": None, "p_yes": None, "prediction": None, "raw": "no opposite relation to compare"}
               for _ in samples]
        for i, result in zip(scorable, results, strict=True):
            p_yes = float(torch.softmax(torch.tensor(result["scores"]), dim=0)[0])
            out[i] = {"model_input": f"{pairs[i][0]} | {pairs[i][1]}", "p_yes": p_yes, "prediction": p_yes > 0.5,
                      "raw": None}
        return out

    @torch.no_grad()
    def choose(self, pictures: list, prompts: list[str], options: list[list[str]]) -> list[dict]:
        if any(isinstance(p, list) for p in pictures):
            raise ValueError(f"backbone {self.name} takes one image: use a stitched layout, not layout=separate")
        captions = [c for opts in options for c in opts]
        if self.square is not None:
            pictures = [pad_to_square(p, self.square) for p in pictures]
        inputs = self.processor(text=captions, images=pictures, return_tensors="pt", padding=True,
                                truncation=True).to(self.model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        similarity = self.model(**inputs).logits_per_image.float()  # (images, all captions)
        out, start = [], 0
        for i, opts in enumerate(options):
            mine = similarity[i, start:start + len(opts)].tolist()
            start += len(opts)
            winners = [k for k, s in enumerate(mine) if s == max(mine)]
            out.append({"model_input": None, "scores": mine, "prediction": winners[0] if len(winners) == 1 else None,
                        "p_yes": None, "raw": None})
        return out
