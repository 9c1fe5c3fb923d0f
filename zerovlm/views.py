"""View sets: named camera poses, the seeded random pose, and the stage that turns a sample into its views.

A pose is relative to the input camera in Zero-1-to-3's convention (degrees; radius offset). ``origin`` is the
input image itself. Every other view comes from the generator through the content-addressed cache.
"""

from __future__ import annotations

import copy
import logging
import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from zerovlm.cache import CorruptEntry, ViewCache
from zerovlm.data.sample import Sample
from zerovlm.seeding import derived_seed

ORIGIN = "origin"
log = logging.getLogger(__name__)


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
    """The reference demo's random view: polar = arcsin(U(-1,1))*160/pi, azimuth = U(-150, 150), each rounded to
    whole degrees as the demo does (int(np.round(...)))."""
    rng = np.random.default_rng(seed)
    polar = int(np.round(math.asin(rng.uniform(-1.0, 1.0)) * 160.0 / math.pi))
    azimuth = int(np.round(rng.uniform(-150.0, 150.0)))
    return Pose(name, float(polar), float(azimuth), 0.0, label)


def resolve_poses(pose_cfgs, image_key: str, seed: int) -> list[Pose]:
    """The concrete poses of a view set for one image (Sample.image_key): a random pose is drawn from a seed of the
    image, so every statement about an image sees the same random view (the paper's Ra-V is one per image)."""
    poses = []
    for p in pose_cfgs:
        if p.get("random", False):
            poses.append(random_pose(derived_seed(seed, image_key, p["name"]), p["name"], p.get("label")))
        else:
            poses.append(Pose(p["name"], float(p.get("polar", 0)), float(p.get("azimuth", 0)),
                              float(p.get("radius", 0)), p.get("label")))
    return poses


class ViewMaker:
    """Samples -> [(pose, image)] each, for a view set: origin as given, other views generated once and cached.

    The views a batch of samples misses go to the generator in one call, so it can batch them; a view two
    statements about one image share is generated once."""

    can_generate = True  # False in a reader whose generator is a model: its views wait for the device

    def __init__(self, poses, generator, cache: ViewCache, seed: int = 0) -> None:
        self.pose_cfgs = [dict(p) for p in poses]
        if not self.pose_cfgs:
            raise ValueError("views.poses is empty: a view set needs at least one pose")
        self.generator, self.cache, self.seed = generator, cache, seed
        self.generated = 0
        self.cached = 0
        self.corrupt = 0  # cache entries that could not be read, made again
        # generated views are encoded and written by a thread, off the model's path; until written, served from here
        self._pending: dict[str, Image.Image] = {}
        self._writes: dict[str, Future] = {}
        self._writer: ThreadPoolExecutor | None = None

    def reader(self) -> ViewMaker:
        """A view maker for the DataLoader's workers: reads the cache, generates only with a generator that is not
        a model (the oracle renders on the CPU), counts its own views."""
        reader = copy.copy(self)
        reader.generated = reader.cached = reader.corrupt = 0
        reader._pending, reader._writes, reader._writer = {}, {}, None
        reader.can_generate = not isinstance(self.generator, torch.nn.Module)
        return reader

    def flush(self) -> None:
        """Wait until every generated view is in the cache (raising a failed write's error)."""
        for key in list(self._writes):
            self._finish(key)

    def _finish(self, key: str) -> None:
        self._writes.pop(key).result()
        self._pending.pop(key)

    def __getstate__(self) -> dict:  # a worker's copy does not take the writer thread along
        return {**self.__dict__, "_writer": None, "_writes": {}, "_pending": {}}

    def _put(self, key: str, image: Image.Image) -> None:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zerovlm-view-cache")
        self._pending[key] = image
        self._writes[key] = self._writer.submit(self.cache.put, key, image)
        for done in [k for k, w in self._writes.items() if w.done()]:
            self._finish(done)
        while len(self._writes) > 256:  # bounded memory when writing is slower than generating
            self._finish(next(iter(self._writes)))

    def _key(self, condition: str, pose: Pose, seed: int) -> str:
        return self.cache.key(generator=self.generator.fingerprint(), condition=condition,
                              pose=[pose.polar, pose.azimuth, pose.radius],
                              seed=seed if self.generator.stochastic else None)

    def __call__(self, sample: Sample) -> list[tuple[Pose, Image.Image]]:
        return self.batch([sample])[0]

    def batch(self, samples: list[Sample]) -> list[list[tuple[Pose, Image.Image]]] | None:
        """Each sample's views; None (and nothing counted) when a view is missing that this maker cannot make."""
        from zerovlm.generators.base import ViewRequest

        poses = [resolve_poses(self.pose_cfgs, s.image_key, self.seed) for s in samples]
        cached_before = self.cached
        corrupt: list[str] = []
        found: dict[str, Image.Image] = {}
        missing: dict[str, ViewRequest] = {}
        keys: list[list[str | None]] = []
        for sample, sample_poses in zip(samples, poses, strict=True):
            keys.append([])
            condition = None
            for pose in sample_poses:
                if pose.name == ORIGIN:
                    keys[-1].append(None)
                    continue
                condition = condition or self.generator.condition_digest(sample)
                # seeded by what is generated, not by the statement: statements about one image share its views
                seed = derived_seed(self.seed, condition, pose.polar, pose.azimuth, pose.radius)
                key = self._key(condition, pose, seed)
                keys[-1].append(key)
                if key in found or key in missing:  # another statement about the same image in this batch
                    self.cached += 1
                    continue
                try:
                    hit = self._pending[key] if key in self._pending else self.cache.get(key)
                except CorruptEntry as entry:  # never fed to a model: made again, counted
                    hit = None
                    corrupt.append(str(entry.path))
                if hit is None:
                    missing[key] = ViewRequest(sample, pose, seed)
                else:
                    found[key] = hit
                    self.cached += 1
        if missing and not self.can_generate:
            self.cached = cached_before
            return None
        if corrupt:
            self.corrupt += len(corrupt)
            log.warning("%d cached views could not be read (truncated or corrupt) and are made again: %s",
                        len(corrupt), ", ".join(corrupt))
        if missing:
            for key, image in zip(missing, self.generator.generate(list(missing.values())), strict=True):
                self._put(key, image)
                found[key] = image
                self.generated += 1
        return [[(pose, sample.image if key is None else found[key]) for pose, key in zip(sp, sk, strict=True)]
                for sample, sp, sk in zip(samples, poses, keys, strict=True)]

