"""View sets: named camera poses, the seeded random pose, and the stage that turns a sample into its views.

A pose is relative to the input camera in Zero-1-to-3's convention (degrees; radius offset). ``origin`` is the
input image itself. Every other view comes from the generator through the content-addressed cache.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from zerovlm.cache import ViewCache, image_digest
from zerovlm.data.sample import Sample
from zerovlm.seeding import derived_seed

ORIGIN = "origin"


@dataclass(frozen=True)
class Pose:
    name: str
    polar: float = 0.0
    azimuth: float = 0.0
    radius: float = 0.0
    label: str | None = None

    @property
    def display(self) -> str:
        """How prompts call this view ("left view image", "original image")."""
        return self.label or f"{self.name} view image"


def random_pose(seed: int, name: str = "random", label: str | None = None) -> Pose:
    """The reference demo's random view: polar = arcsin(U(-1,1))*160/pi, azimuth = U(-150, 150)."""
    rng = np.random.default_rng(seed)
    polar = math.asin(rng.uniform(-1.0, 1.0)) * 160.0 / math.pi
    azimuth = rng.uniform(-150.0, 150.0)
    return Pose(name, float(polar), float(azimuth), 0.0, label)


def resolve_poses(pose_cfgs, sample_id: str, seed: int) -> list[Pose]:
    """The concrete poses of a view set for one sample (random poses drawn from a per-sample seed)."""
    poses = []
    for p in pose_cfgs:
        if p.get("random", False):
            poses.append(random_pose(derived_seed(seed, sample_id, p["name"]), p["name"], p.get("label")))
        else:
            poses.append(Pose(p["name"], float(p.get("polar", 0)), float(p.get("azimuth", 0)),
                              float(p.get("radius", 0)), p.get("label")))
    return poses


class ViewMaker:
    """Sample -> [(pose, image)] for a view set: origin as given, other views generated once and cached."""

    def __init__(self, poses, generator, cache: ViewCache, seed: int = 0) -> None:
        self.pose_cfgs = [dict(p) for p in poses]
        if not self.pose_cfgs:
            raise ValueError("views.poses is empty: a view set needs at least one pose")
        self.generator, self.cache, self.seed = generator, cache, seed
        self.generated = 0
        self.cached = 0

    def __call__(self, sample: Sample) -> list[tuple[Pose, Image.Image]]:
        poses = resolve_poses(self.pose_cfgs, sample.id, self.seed)
        images: dict[str, Image.Image] = {}
        missing: list[tuple[Pose, str, int]] = []
        condition = None
        for pose in poses:
            if pose.name == ORIGIN:
                images[pose.name] = sample.image
                continue
            condition = condition or self.generator.condition_digest(sample)
            gen_seed = derived_seed(self.seed, sample.id, pose.name, "generate")
            key = self.cache.key(
                generator=self.generator.fingerprint(), condition=condition,
                pose=[pose.polar, pose.azimuth, pose.radius], seed=gen_seed if self.generator.stochastic else None,
            )
            hit = self.cache.get(key)
            if hit is None:
                missing.append((pose, key, gen_seed))
            else:
                images[pose.name] = hit
                self.cached += 1
        if missing:
            generated = self.generator.generate(sample, [m[0] for m in missing], [m[2] for m in missing])
            for (pose, key, _), image in zip(missing, generated, strict=True):
                self.cache.put(key, image)
                images[pose.name] = image
                self.generated += 1
        return [(pose, images[pose.name]) for pose in poses]


__all__ = ["Pose", "ViewMaker", "derived_seed", "image_digest", "random_pose", "resolve_poses"]
