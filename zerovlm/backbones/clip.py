"""A contrastive backbone (CLIP family through transformers): a caption's score is its image-text similarity.

It answers caption choice (What'sUp's own task, `dataset.task=original`): the caption most similar to the
picture wins; a tie at the top is no answer. It cannot say whether one statement is true, so true/false
datasets ask a VLM backbone instead (the error says so).
"""

from __future__ import annotations

import torch

from zerovlm.backbones.tiny import ensure_tiny_model


class CLIPBackbone(torch.nn.Module):
    def __init__(self, name: str, model: str, revision: str | None = None, tiny_random: str | None = None,
                 batch_size: int = 16, dtype: str = "float32", scoring: str = "similarity", seed: int = 0) -> None:
        super().__init__()
        from transformers import AutoModel, AutoProcessor

        if tiny_random:
            ensure_tiny_model(tiny_random, model, seed)
        self.name, self.batch_size, self.scoring, self.tiny_random = name, batch_size, scoring, bool(tiny_random)
        self.processor = AutoProcessor.from_pretrained(model, revision=revision)
        self.model = AutoModel.from_pretrained(model, revision=revision, dtype=getattr(torch, dtype)).eval()

    def score(self, pictures: list, prompts: list[str]) -> list[dict]:
        raise ValueError(f"backbone {self.name} scores image-caption similarity: it answers caption choice "
                         "(What'sUp with dataset.task=original), not whether one statement is true; use a VLM "
                         "backbone for true/false tasks")

    @torch.no_grad()
    def choose(self, pictures: list, prompts: list[str], options: list[list[str]]) -> list[dict]:
        if any(isinstance(p, list) for p in pictures):
            raise ValueError(f"backbone {self.name} takes one image: use a stitched layout, not layout=separate")
        captions = [c for opts in options for c in opts]
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
