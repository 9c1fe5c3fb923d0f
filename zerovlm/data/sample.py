from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image

TRUE_STATEMENT = "none"  # negative_type of a true statement
DATASET_NEGATIVE = "dataset"  # a false statement written by the dataset's annotators
NEGATIVE_TYPES = ("relation_swap", "object_swap")


@dataclass
class Sample:
    """One true/false spatial statement about one image; or a caption choice (`options`, `answer`); or a
    multiple-choice question (`question`, `options`, `answer`; `statement` repeats the question)."""

    id: str
    split: str
    image: Image.Image
    statement: str
    label: bool
    relation: str
    subject: str
    object: str
    negative_type: str = TRUE_STATEMENT  # relation_swap | object_swap (derived), dataset (the dataset's own)
    category: str | None = None  # a relation's meta-category (VSR), reported per category
    options: list[str] | None = None  # caption choice: the candidate captions (then `answer` indexes the right one)
    answer: int | None = None
    question: str | None = None  # a multiple-choice question about the image (its choices in `options`)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def image_key(self) -> str:
        """What names the sample's image in its dataset (statements about one image share it): meta["image"],
        else the sample's own id."""
        return str(self.meta.get("image", self.id))
