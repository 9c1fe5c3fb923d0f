from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from PIL import Image

from zerovlm.cache import image_digest
from zerovlm.data.sample import Sample


@dataclass(frozen=True)
class ViewRequest:
    """One view to make: this sample seen from this pose, with this seed."""

    sample: Sample
    pose: object  # zerovlm.views.Pose
    seed: int


class ViewGenerator(ABC):
    """Renders samples from new camera poses.

    `fingerprint` and `condition_digest` together must name everything that determines the pixels besides the
    pose and seed: they form the cache key, so a view is never generated twice and never served stale.
    `generate` receives every missing view of a batch of samples at once, so a model can batch them.
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
    def generate(self, requests: list[ViewRequest]) -> list[Image.Image]:
        """One image per request, in order."""
