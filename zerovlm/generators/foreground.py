"""Foreground masks from a transformers image-segmentation model, to remove the background before Zero-1-to-3
(the reference demo does this with carvekit). The foreground is every segment whose label is not one of
`background_labels`."""

from __future__ import annotations

import numpy as np
from PIL import Image

from zerovlm.files import checkpoint_digest


class Foreground:
    def __init__(self, model: str, background_labels=("background",), revision: str | None = None) -> None:
        from transformers import pipeline

        self.model, self.revision = model, revision
        self.background = set(background_labels)
        self.segment = pipeline("image-segmentation", model=model, revision=revision)
        self.weights = checkpoint_digest(model, revision)  # once, after loading: asked for every view

    def fingerprint(self) -> dict:
        return {"segmenter": self.model, "revision": self.revision, "weights": self.weights,
                "background_labels": sorted(self.background)}

    def mask(self, image: Image.Image) -> np.ndarray:
        """H x W bool: True on the foreground."""
        mask = np.zeros((image.height, image.width), dtype=bool)
        for segment in self.segment(image.convert("RGB")):
            if segment["label"] not in self.background:
                mask |= np.asarray(segment["mask"]) > 127
        return mask
