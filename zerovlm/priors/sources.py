"""Where depth and object locations come from: a transformers model, or for synthetic scenes the oracle.

Depth: `DepthEstimator` wraps AutoModelForDepthEstimation (Depth Anything V2 by default). A relative model
(Depth Anything's default heads) predicts inverse depth up to scale: it is turned into depth as 1 / disparity,
scaled so the median is 1, and the text says the units are relative. A metric model (Depth Anything metric,
ZoeDepth; `depth_estimation_type: metric` in its config) predicts metres.

Objects: `ZeroShotDetector` wraps transformers' zero-shot-object-detection pipeline (OWLv2, Grounding DINO);
the best box per name, or none. Boxes become masks of their inner half (the object, less the background).

Oracle: the synthetic scene rendered with its exact depth and object masks.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from zerovlm.data.sample import Sample
from zerovlm.files import checkpoint_digest


class DepthEstimator:
    def __init__(self, model: str, revision: str | None = None, kind: str | None = None,
                 tiny_random: bool = False, seed: int = 0) -> None:
        import torch
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        if tiny_random:
            from zerovlm.priors.tiny import ensure_tiny_depth_anything

            ensure_tiny_depth_anything(model, seed)
        self.model_id, self.revision = model, revision
        self.processor = AutoImageProcessor.from_pretrained(model, revision=revision)
        self.model = AutoModelForDepthEstimation.from_pretrained(model, revision=revision).eval()
        self.weights = checkpoint_digest(model, revision)  # once, after loading: asked for every sample
        self.kind = kind or getattr(self.model.config, "depth_estimation_type", None) or "relative"
        self.torch = torch

    def to(self, device) -> None:
        self.model.to(device)

    def fingerprint(self) -> dict:
        return {"depth": self.model_id, "revision": self.revision, "kind": self.kind,
                "weights": self.weights}

    def depth(self, image: Image.Image) -> np.ndarray:
        torch = self.torch
        inputs = self.processor(images=image, return_tensors="pt").to(self.model.device)
        with torch.no_grad():
            predicted = self.model(**inputs).predicted_depth[:, None].float()
        resized = torch.nn.functional.interpolate(predicted, size=(image.height, image.width), mode="bicubic",
                                                  align_corners=False)[0, 0].cpu().numpy()
        if self.kind == "metric":
            return resized
        disparity = np.clip(resized - resized.min(), 1e-6, None) + 1e-3 * max(float(np.ptp(resized)), 1e-6)
        depth = 1.0 / disparity
        return depth / np.median(depth)


class ZeroShotDetector:
    def __init__(self, model: str, revision: str | None = None, threshold: float = 0.1,
                 tiny_random: bool = False, seed: int = 0) -> None:
        from transformers import pipeline

        if tiny_random:
            from zerovlm.priors.tiny import ensure_tiny_owlv2

            ensure_tiny_owlv2(model, seed)
        self.model_id, self.revision, self.threshold = model, revision, threshold
        self.pipe = pipeline("zero-shot-object-detection", model=model, revision=revision)
        self.weights = checkpoint_digest(model, revision)

    def to(self, device) -> None:
        import torch

        self.pipe.model.to(device)
        self.pipe.device = torch.device(device)

    def fingerprint(self) -> dict:
        return {"detector": self.model_id, "revision": self.revision, "threshold": self.threshold,
                "weights": self.weights}

    def boxes(self, image: Image.Image, names: list[str]) -> dict[str, tuple[int, int, int, int] | None]:
        found: dict[str, tuple[float, tuple[int, int, int, int]]] = {}
        if not names:  # a question that names no object (BLINK's camera motion, CV-Bench's counts)
            return {}
        queries = {self.query(n): n for n in names}
        for hit in self.pipe(image, candidate_labels=list(queries), threshold=self.threshold):
            box, label = hit["box"], queries[hit["label"]]
            if label not in found or hit["score"] > found[label][0]:
                found[label] = (hit["score"], (box["xmin"], box["ymin"], box["xmax"], box["ymax"]))
        return {n: found[n][1] if n in found else None for n in names}

    def query(self, name: str) -> str:
        """The name as the detector can read it: its text encoder takes a fixed number of tokens (OWLv2: 16), so a
        long referring expression ("red hat of the person in red in the back") keeps its first words that fit."""
        limit = getattr(getattr(self.pipe.model.config, "text_config", None), "max_position_embeddings", None)
        words = name.split()
        while limit and len(words) > 1 and len(self.pipe.tokenizer(" ".join(words))["input_ids"]) > limit:
            words.pop()
        return " ".join(words)


class BoxSegmenter:
    """SAM (transformers' SamModel) turning a detector's box into the object's mask, inside that box."""

    def __init__(self, model: str, revision: str | None = None, tiny_random: bool = False, seed: int = 0) -> None:
        import torch
        from transformers import SamModel, SamProcessor

        if tiny_random:
            from zerovlm.priors.tiny import ensure_tiny_sam

            ensure_tiny_sam(model, seed)
        self.model_id, self.revision, self.torch = model, revision, torch
        self.processor = SamProcessor.from_pretrained(model, revision=revision)
        self.model = SamModel.from_pretrained(model, revision=revision).eval()
        self.weights = checkpoint_digest(model, revision)

    def to(self, device) -> None:
        self.model.to(device)

    def fingerprint(self) -> dict:
        return {"segmenter": self.model_id, "revision": self.revision, "weights": self.weights}

    def mask(self, image: Image.Image, box: tuple[int, int, int, int]) -> np.ndarray:
        inputs = self.processor(images=image, input_boxes=[[list(map(float, box))]], return_tensors="pt")
        with self.torch.no_grad():
            out = self.model(**inputs.to(self.model.device), multimask_output=False)
        masks = self.processor.image_processor.post_process_masks(out.pred_masks.cpu(), inputs["original_sizes"].cpu(),
                                                                  inputs["reshaped_input_sizes"].cpu())
        return masks[0][0, 0].numpy().astype(bool) & box_mask((image.height, image.width), box, inner=1.0)


def box_mask(shape: tuple[int, int], box: tuple[int, int, int, int], inner: float = 0.5) -> np.ndarray:
    """The inner `inner` fraction of a box, as a mask: mostly the object, little background."""
    x0, y0, x1, y1 = box
    cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * inner / 2, (y1 - y0) * inner / 2
    mask = np.zeros(shape, dtype=bool)
    mask[max(0, round(cy - hh)):max(0, round(cy + hh)) + 1, max(0, round(cx - hw)):max(0, round(cx + hw)) + 1] = True
    return mask


class OracleScene:
    """Exact depth (scene units, taken as metres) and object masks of a synthetic scene."""

    kind = "metric"

    def fingerprint(self) -> dict:
        from zerovlm.render import RENDERER_VERSION

        return {"oracle": RENDERER_VERSION}

    @staticmethod
    def scene_of(sample: Sample) -> dict:
        scene = sample.meta.get("scene")
        if scene is None:
            raise ValueError(f"sample {sample.id}: prior.depth=oracle / prior.detector=oracle need a synthetic "
                             "scene; use a depth model and a detector for photos")
        return scene

    @staticmethod
    def layers(sample: Sample) -> tuple[np.ndarray, np.ndarray, list[str]]:
        from zerovlm.data.synthetic import scene_objects
        from zerovlm.render import Camera, render_layers

        scene = OracleScene.scene_of(sample)
        objects = scene_objects(scene)
        _, depth, index = render_layers(objects, Camera(**scene["camera"]), sample.image.size[0])
        return depth, index, [o.name for o in objects]
