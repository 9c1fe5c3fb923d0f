"""SpatialPIN-style 3D prior: the statement's objects located in 3D, described in text for the prompt.

For each sample: the depth map (a depth model, or the oracle's exact depth on synthetic scenes), the subject's and
the object's masks (a zero-shot detector's boxes, refined by SAM when `segmenter` is set, or the oracle's
masks), back-projected to 3D (geometry.py);
each object's centre, size and nearest other object per direction, and the camera's shot angle from the ground.
The geometry is cached per image and names like views (a prior is computed once); the wording is the yaml's
templates, applied each time, so changing it needs no recomputation.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from zerovlm.cache import ViewCache, image_digest
from zerovlm.data.sample import Sample
from zerovlm.priors.geometry import Object3D, back_project, closest_per_direction, locate, shot_angle
from zerovlm.priors.sources import BoxSegmenter, DepthEstimator, OracleScene, ZeroShotDetector, box_mask

ORACLE = "oracle"


class SpatialPrior:
    def __init__(self, name: str = "spatialpin", depth: str = ORACLE, detector: str = ORACLE,
                 depth_revision: str | None = None, detector_revision: str | None = None,
                 depth_tiny_random: bool = False, detector_tiny_random: bool = False,
                 segmenter: str | None = None, segmenter_revision: str | None = None,
                 segmenter_tiny_random: bool = False,
                 detector_threshold: float = 0.1, fov: float = 60.0,
                 shot_tilted: float = 30.0, shot_steep: float = 60.0, cache_dir: str | None = None,
                 templates: dict | None = None, seed: int = 0) -> None:
        self.name, self.fov, self.shot = name, fov, (shot_tilted, shot_steep)
        self.oracle = OracleScene()
        self.depth = self.oracle if depth == ORACLE else DepthEstimator(depth, depth_revision,
                                                                        tiny_random=depth_tiny_random, seed=seed)
        self.detector = self.oracle if detector == ORACLE else ZeroShotDetector(
            detector, detector_revision, detector_threshold, tiny_random=detector_tiny_random, seed=seed)
        self.segmenter = BoxSegmenter(segmenter, segmenter_revision, segmenter_tiny_random, seed) if segmenter else None
        self.cache = ViewCache(cache_dir) if cache_dir else None
        self.templates = dict(templates or {})
        self.counts: Counter = Counter()  # objects not found, computed vs cached: reported in metrics.json

    def to(self, device) -> SpatialPrior:
        """Put the depth, detection and segmentation models on `device` (the rank's GPU under Lightning)."""
        for source in (self.depth, self.detector, self.segmenter):
            if source is not None and hasattr(source, "to"):
                source.to(device)
        return self

    def fingerprint(self) -> dict:
        return {"prior": "spatialpin", "depth": self.depth.fingerprint(), "detector": self.detector.fingerprint(),
                "segmenter": self.segmenter.fingerprint() if self.segmenter else None,
                "fov": self.fov, "shot": list(self.shot)}

    def scene(self, sample: Sample) -> dict:
        """{"objects": [{name, center, size}], "shot": ..., "pitch": ..., "kind": metric | relative}, cached."""
        # the statement's two objects, or those a question names (data/choice.py says how they are found)
        names = [n for n in dict.fromkeys(sample.meta.get("objects") or [sample.subject, sample.object]) if n]
        if isinstance(self.depth, OracleScene) or isinstance(self.detector, OracleScene):
            condition = json.dumps(OracleScene.scene_of(sample), sort_keys=True)
        else:
            condition = image_digest(sample.image)
        key = ViewCache.key(prior=self.fingerprint(), condition=condition, names=names)
        cached = self.cache.get_json(key) if self.cache is not None else None
        if cached is not None:
            self.counts["priors_cached"] += 1
            return cached
        result = self._compute(sample, names)
        self.counts["priors_computed"] += 1
        if self.cache is not None:
            self.cache.put_json(key, result)
        return result

    def _compute(self, sample: Sample, names: list[str]) -> dict:
        shape = (sample.image.height, sample.image.width)
        if isinstance(self.depth, OracleScene) or isinstance(self.detector, OracleScene):
            true_depth, index, scene_names = OracleScene.layers(sample)
        depth = true_depth if isinstance(self.depth, OracleScene) else self.depth.depth(sample.image)
        if isinstance(self.detector, OracleScene):
            masks = {n: (index == scene_names.index(n)) if n in scene_names else None for n in names}
            ground = (index == -1) & np.isfinite(true_depth)
        else:
            boxes = self.detector.boxes(sample.image, names)
            masks = {n: None if b is None else self.segmenter.mask(sample.image, b) if self.segmenter
                     else box_mask(shape, b) for n, b in boxes.items()}
            ground = np.zeros(shape, dtype=bool)
            ground[2 * shape[0] // 3:] = True  # the image's bottom third, off the objects' boxes
            for b in boxes.values():
                if b is not None:
                    ground[max(0, int(b[1])):int(b[3]) + 1, max(0, int(b[0])):int(b[2]) + 1] = False
        objects = []
        for n in names:
            if masks[n] is None or not masks[n].any():
                self.counts["objects_not_found"] += 1
                objects.append(Object3D(n, None, None))
            else:
                objects.append(locate(n, back_project(depth, masks[n], self.fov)))
        shot, pitch = shot_angle(depth, ground, self.fov, *self.shot)
        return {"objects": [o.__dict__ for o in objects], "shot": shot, "pitch": pitch, "kind": self.depth.kind}

    def text(self, scene: dict) -> str:
        t = self.templates
        metric = scene["kind"] == "metric"

        def amount(value: float) -> str:  # metres -> cm; relative units with two decimals
            return f"{value * 100:.0f}" if metric else f"{value:.2f}"

        unit = t["unit_metric"] if metric else t["unit_relative"]
        objects = [Object3D(**o) for o in scene["objects"]]
        lines = [t["preamble"].format(units=t["units_metric"] if metric else t["units_relative"])]
        for i, (obj, nearest) in enumerate(zip(objects, closest_per_direction(objects), strict=True), start=1):
            if obj.center is None:
                lines.append(t["missing"].format(index=i, name=obj.name))
                continue
            closest = ", ".join(t["closest"].format(direction=d, index=j + 1, name=objects[j].name,
                                                    distance=amount(dist), unit=unit)
                                for d, (j, dist) in nearest.items())
            x, y, z = (amount(c) for c in obj.center)
            w, d, h = (amount(s) for s in obj.size)
            lines.append(t["object"].format(index=i, name=obj.name, x=x, y=y, z=z, width=w, depth=d, height=h,
                                            unit=unit, closest=closest or t["no_neighbour"]))
        lines.append(t["shot"].format(shot=scene["shot"]))
        return "\n".join(lines)

    def __call__(self, sample: Sample) -> tuple[str, dict]:
        scene = self.scene(sample)
        return self.text(scene), scene
