from __future__ import annotations

from abc import ABC, abstractmethod

from PIL import Image

from zerovlm.cache import image_digest
from zerovlm.data.sample import Sample


class ViewGenerator(ABC):
    """Renders a sample from new camera poses.

    `fingerprint` and `condition_digest` together must name everything that determines the pixels besides the
    pose and seed: they form the cache key, so a view is never generated twice and never served stale.
    `generate` receives all missing poses of one sample at once so a model can batch them.
    """

    name: str
    stochastic: bool = True  # False when the seed cannot change the pixels (then it is left out of the key)

    @abstractmethod
    def fingerprint(self) -> dict:
        """The generator's identity and every setting that changes its output."""

    def condition_digest(self, sample: Sample) -> str:
        """What the generator is conditioned on; by default the input image's pixels."""
        return image_digest(sample.image)

    @abstractmethod
    def generate(self, sample: Sample, poses: list, seeds: list[int]) -> list[Image.Image]:
        """One image per pose."""
