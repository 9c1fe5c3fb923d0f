"""The oracle: the true view of a synthetic scene from the new camera, an upper bound for any 3D model."""

from __future__ import annotations

import hashlib
import json

from PIL import Image

from zerovlm.data.sample import Sample
from zerovlm.data.synthetic import scene_objects
from zerovlm.generators.base import ViewGenerator
from zerovlm.render import RENDERER_VERSION, Camera, render


class OracleRenderer(ViewGenerator):
    stochastic = False

    def __init__(self, name: str = "oracle") -> None:
        self.name = name

    def fingerprint(self) -> dict:
        return {"generator": "oracle", "renderer": RENDERER_VERSION}

    @staticmethod
    def _scene(sample: Sample) -> dict:
        if "scene" not in sample.meta:
            raise ValueError(
                f"sample {sample.id}: generator=oracle renders the true view of a synthetic scene, and this "
                "sample has none. Use a generator that works from the image (generator=zero123) for photos."
            )
        return sample.meta["scene"]

    def condition_digest(self, sample: Sample) -> str:
        scene = json.dumps(self._scene(sample), sort_keys=True)
        return hashlib.sha256(f"{scene}|{sample.image.size}".encode()).hexdigest()

    def generate(self, requests: list) -> list[Image.Image]:
        views = []
        for r in requests:
            scene = self._scene(r.sample)
            camera = Camera(**scene["camera"]).moved(r.pose.polar, r.pose.azimuth, r.pose.radius)
            views.append(render(scene_objects(scene), camera, r.sample.image.size[0]))
        return views
